/**
 * The typed client of a gateway's admin API (and its SSE audit stream), shared by the CLI
 * and the TUI. It imports no zod and no @peculiar/x509 — only types from the protocol module,
 * which are erased — so a CLI command that loads it stays fast.
 *
 * @example
 * const admin = new AdminClient({ baseUrl: 'http://127.0.0.1:8400', token });
 * const { items } = await admin.listGrants({ status: 'active' });
 */
import { MosaicError } from '../errors.js';
import { SseParser } from './sse.js';
import type {
  AddPeerRequest,
  AuditArchiveRequest,
  AuditArchiveResult,
  AuditRow,
  CreateGrantRequest,
  CreateTokenRequest,
  DoctorReport,
  ExplainResponse,
  Grant,
  GrantStatus,
  ListOf,
  Peer,
  PeerCertificate,
  PeerPreview,
  PeerRemoved,
  QueryRequest,
  QueryResponse,
  SeedFile,
  StatusReport,
  TokenResponse,
  UpdateGrantRequest,
  AuditOutcome,
} from '../protocol/types.js';

export { SseParser, type SseEvent } from './sse.js';

export interface AdminClientOptions {
  /** Admin API base URL, e.g. `http://127.0.0.1:8400`. */
  baseUrl: string;
  /** Bearer token. Never logged, never put in an error. */
  token?: string;
  /** Per-request time limit (default 15 s). */
  timeoutMs?: number;
  /** fetch implementation (default: the global one). */
  fetch?: typeof fetch;
  /** Sent as `user-agent`. */
  userAgent?: string;
}

/** An answer of the admin API that was not 2xx, with the server's code. */
export class AdminApiError extends MosaicError {
  readonly status: number;
  readonly requestId: string | null;

  constructor(status: number, code: string, message: string, remediation: string | undefined, requestId: string | null, details?: unknown) {
    super(code, message, status, { remediation: remediation ?? defaultRemediation(status), details });
    this.name = 'AdminApiError';
    this.status = status;
    this.requestId = requestId;
  }
}

/** The gateway could not be reached at all. */
export class GatewayUnreachableError extends MosaicError {
  constructor(baseUrl: string, detail: string, cause?: unknown) {
    super('GATEWAY_UNREACHABLE', `cannot reach the gateway at ${baseUrl}: ${detail}`, 503, {
      cause,
      remediation: 'start it with `mosaic gateway start`, or point at it with --gateway / MOSAIC_GATEWAY_URL / --data-dir',
    });
    this.name = 'GatewayUnreachableError';
  }
}

function defaultRemediation(status: number): string | undefined {
  if (status === 401) return 'pass the admin token with --token-file, MOSAIC_ADMIN_TOKEN, or --data-dir of the running gateway';
  if (status === 403) return 'this admin token may not do that';
  return undefined;
}

export interface GrantListFilter {
  status?: GrantStatus;
  peer?: string;
}

export interface AuditFilter {
  since?: string;
  grant?: string;
  peer?: string;
  verb?: string;
  outcome?: AuditOutcome;
  limit?: number;
}

export interface AuditStreamOptions {
  /** Resume after this row id. */
  lastEventId?: string;
  /** Stop the stream. */
  signal?: AbortSignal;
  /** Delay before reconnecting after a drop (default 1 s, or the server's `retry:`). */
  reconnectDelayMs?: number;
  /** Called when the connection drops and a reconnect is scheduled. */
  onDisconnect?: (err: unknown) => void;
  /** Called when the stream is (re)connected. */
  onConnect?: () => void;
}

/**
 * `GET /api/admin/audit/verify`: per spool, the rows walked (archived ones included) and the
 * first break — `missing`: the row before `id` was deleted (or rewritten with its digest);
 * `edited`: row `id` no longer matches its digest.
 */
export interface AuditVerifyReport {
  ok: boolean;
  spools: Array<{ spool: string | null; rows: number; chained: boolean; firstBreak?: { id: string; at: string; reason: 'missing' | 'edited' } }>;
}

export interface AdminTokenInfo {
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

type Query = Record<string, string | number | boolean | undefined>;

export class AdminClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly userAgent: string | undefined;

  constructor(options: AdminClientOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new MosaicError('GATEWAY_URL_INVALID', `not a URL: ${options.baseUrl}`, 400, { remediation: 'pass the admin API URL, e.g. --gateway http://127.0.0.1:8400' });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new MosaicError('GATEWAY_URL_INVALID', `the admin API URL must be http(s): ${options.baseUrl}`, 400, { remediation: 'e.g. --gateway http://127.0.0.1:8400' });
    }
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      // A bearer token in clear text over a network is a leaked token.
      throw new MosaicError('GATEWAY_URL_INVALID', `the admin API at ${url.host} must be reached over https (plain http only on loopback)`, 400, {
        remediation: 'use https://, or an SSH tunnel to 127.0.0.1:8400',
      });
    }
    this.baseUrl = url.origin;
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.fetchImpl = options.fetch ?? fetch;
    this.userAgent = options.userAgent;
  }

  // ── gateway ──────────────────────────────────────────────────────────────
  /** Liveness (no auth). */
  health(): Promise<{ status: string }> {
    return this.json('GET', '/health');
  }
  /** Prometheus text. */
  metrics(): Promise<string> {
    return this.text('GET', '/metrics');
  }
  status(): Promise<StatusReport> {
    return this.json('GET', '/api/admin/status');
  }
  doctor(): Promise<DoctorReport> {
    return this.json('GET', '/api/admin/doctor');
  }
  seed(file: SeedFile): Promise<Record<string, unknown>> {
    return this.json('POST', '/api/admin/seed', file);
  }
  removeUser(id: string): Promise<Record<string, unknown>> {
    return this.json('DELETE', `/api/admin/users/${seg(id)}`);
  }
  removeTeamMember(team: string, user: string): Promise<Record<string, unknown>> {
    return this.json('DELETE', `/api/admin/teams/${seg(team)}/members/${seg(user)}`);
  }

  // ── admin tokens ─────────────────────────────────────────────────────────
  createAdminToken(name: string): Promise<{ name: string; token: string }> {
    return this.json('POST', '/api/admin/admin-tokens', { name });
  }
  listAdminTokens(): Promise<ListOf<AdminTokenInfo>> {
    return this.json('GET', '/api/admin/admin-tokens');
  }
  revokeAdminToken(name: string): Promise<Record<string, unknown>> {
    return this.json('DELETE', `/api/admin/admin-tokens/${seg(name)}`);
  }

  // ── grants (serving side) ────────────────────────────────────────────────
  createGrant(body: CreateGrantRequest): Promise<Grant> {
    return this.json('POST', '/api/admin/grants', body);
  }
  listGrants(filter: GrantListFilter = {}): Promise<ListOf<Grant>> {
    return this.json('GET', '/api/admin/grants', undefined, { status: filter.status, peer: filter.peer });
  }
  /** A grant by id or unique prefix (≥ 4 characters). */
  getGrant(idOrPrefix: string): Promise<Grant> {
    return this.json('GET', `/api/admin/grants/${seg(idOrPrefix)}`);
  }
  updateGrant(idOrPrefix: string, body: UpdateGrantRequest): Promise<Grant> {
    return this.json('PATCH', `/api/admin/grants/${seg(idOrPrefix)}`, body);
  }
  revokeGrant(idOrPrefix: string, reason?: string): Promise<Grant> {
    return this.json('POST', `/api/admin/grants/${seg(idOrPrefix)}/revoke`, reason === undefined ? {} : { reason });
  }
  createToken(idOrPrefix: string, body: CreateTokenRequest = {}): Promise<TokenResponse> {
    return this.json('POST', `/api/admin/grants/${seg(idOrPrefix)}/tokens`, body);
  }
  explainGrant(idOrPrefix: string, resource: string): Promise<ExplainResponse> {
    return this.json('GET', `/api/admin/grants/${seg(idOrPrefix)}/explain`, undefined, { resource });
  }

  // ── peers (requesting side) ──────────────────────────────────────────────
  previewPeer(enrollmentUrl: string): Promise<PeerPreview> {
    return this.json('POST', '/api/admin/peers/preview', { enrollmentUrl });
  }
  addPeer(body: AddPeerRequest): Promise<Peer> {
    return this.json('POST', '/api/admin/peers', body);
  }
  listPeers(): Promise<ListOf<Peer>> {
    return this.json('GET', '/api/admin/peers');
  }
  getPeer(name: string): Promise<Peer> {
    return this.json('GET', `/api/admin/peers/${seg(name)}`);
  }
  /** The peer's current client certificate and pinned CA, PEM (public parts only), for `peer inspect`. */
  peerCertificate(name: string): Promise<PeerCertificate> {
    return this.json('GET', `/api/admin/peers/${seg(name)}/certificate`);
  }
  removePeer(name: string): Promise<PeerRemoved> {
    return this.json('DELETE', `/api/admin/peers/${seg(name)}`);
  }
  renewPeer(name: string): Promise<Peer> {
    return this.json('POST', `/api/admin/peers/${seg(name)}/renew`, {});
  }
  query(body: QueryRequest): Promise<QueryResponse> {
    return this.json('POST', '/api/admin/query', body);
  }

  // ── audit ────────────────────────────────────────────────────────────────
  audit(filter: AuditFilter = {}): Promise<ListOf<AuditRow>> {
    return this.json('GET', '/api/admin/audit', undefined, { ...filter });
  }

  /** Walk the audit hash chains in the store: `ok`, and per spool where the first break is. */
  auditVerify(): Promise<AuditVerifyReport> {
    return this.json('GET', '/api/admin/audit/verify');
  }

  /**
   * Move audit rows older than `olderThanDays` (default 90) to the archive table, where they
   * stay queryable; `dryRun` only counts them.
   * @example
   * await admin.auditArchive({ olderThanDays: 90, dryRun: true }) // { wouldMove: 12, cutoff: '…' }
   */
  auditArchive(body: AuditArchiveRequest = {}): Promise<AuditArchiveResult> {
    return this.json('POST', '/api/admin/audit/archive', body);
  }

  /**
   * The live audit tail: yields rows as they are written, forever, reconnecting after a drop
   * with `Last-Event-ID` so no row is missed or repeated. Ends when `signal` aborts.
   */
  async *auditStream(options: AuditStreamOptions = {}): AsyncGenerator<AuditRow, void, undefined> {
    let lastEventId = options.lastEventId ?? null;
    let delay = options.reconnectDelayMs ?? 1_000;
    while (!options.signal?.aborted) {
      const parser = new SseParser();
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream', ...this.authHeaders() };
        if (lastEventId !== null) headers['last-event-id'] = lastEventId;
        let res: Response;
        try {
          res = await this.fetchImpl(this.baseUrl + '/api/admin/audit/stream', { headers, signal: options.signal ?? null, redirect: 'error' });
        } catch (err) {
          if (options.signal?.aborted) return;
          throw new GatewayUnreachableError(this.baseUrl, describeFetchError(err), err);
        }
        if (!res.ok) throw await this.errorFrom(res);
        if (res.body === null) throw new GatewayUnreachableError(this.baseUrl, 'empty event stream');
        options.onConnect?.();
        const decoder = new TextDecoder();
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          for (const event of parser.push(decoder.decode(chunk, { stream: true }))) {
            if (event.retry !== null) delay = event.retry;
            if (event.id !== null) lastEventId = event.id;
            if (event.event !== 'message' && event.event !== 'audit') continue;
            yield JSON.parse(event.data) as AuditRow;
          }
        }
        throw new GatewayUnreachableError(this.baseUrl, 'the event stream ended');
      } catch (err) {
        if (options.signal?.aborted) return;
        // Authentication and other deliberate refusals do not get better by retrying.
        if (err instanceof AdminApiError && err.status < 500) throw err;
        options.onDisconnect?.(err);
        await sleep(delay, options.signal);
      }
    }
  }

  // ── plumbing ─────────────────────────────────────────────────────────────
  private authHeaders(): Record<string, string> {
    return this.token === undefined ? {} : { authorization: `Bearer ${this.token}` };
  }

  private async send(method: string, path: string, body?: unknown, query?: Query, accept = 'application/json'): Promise<Response> {
    const url = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept, ...this.authHeaders() };
    if (this.userAgent) headers['user-agent'] = this.userAgent;
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res: Response;
    try {
      // redirect: 'error' — a redirect could carry the body (an enrollment URL holds a token) elsewhere.
      res = await this.fetchImpl(url, { method, headers, body: payload ?? null, signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' });
    } catch (err) {
      throw new GatewayUnreachableError(this.baseUrl, describeFetchError(err), err);
    }
    if (!res.ok) throw await this.errorFrom(res);
    return res;
  }

  private async json<T>(method: string, path: string, body?: unknown, query?: Query): Promise<T> {
    const res = await this.send(method, path, body, query);
    const text = await res.text();
    if (text === '') return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new AdminApiError(res.status, 'ADMIN_RESPONSE_INVALID', `the gateway answered ${method} ${path} with something that is not JSON`, 'is --gateway pointing at a Mosaic admin API?', null);
    }
  }

  private async text(method: string, path: string): Promise<string> {
    const res = await this.send(method, path, undefined, undefined, 'text/plain');
    return res.text();
  }

  private async errorFrom(res: Response): Promise<AdminApiError> {
    const requestId = res.headers.get('x-request-id');
    let code = res.status === 401 ? 'ADMIN_AUTH_REQUIRED' : res.status === 404 ? 'NOT_FOUND' : res.status >= 500 ? 'INTERNAL' : 'REQUEST_FAILED';
    let message = `the gateway answered HTTP ${res.status}`;
    let remediation: string | undefined;
    let details: unknown;
    try {
      const body = (await res.json()) as { error?: { code?: unknown; message?: unknown; remediation?: unknown; details?: unknown } };
      if (typeof body.error?.code === 'string') code = body.error.code;
      if (typeof body.error?.message === 'string') message = body.error.message;
      if (typeof body.error?.remediation === 'string') remediation = body.error.remediation;
      details = body.error?.details;
    } catch {
      // not JSON: keep the status-derived code
    }
    return new AdminApiError(res.status, code, message, remediation, requestId, details);
  }
}

function seg(value: string): string {
  if (value === '.' || value === '..' || value === '') throw new MosaicError('ARGUMENT_INVALID', `"${value}" is not a valid name or id`, 400);
  return encodeURIComponent(value);
}

function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (cause && typeof cause.code === 'string') {
    if (cause.code === 'ECONNREFUSED') return 'connection refused (is it running?)';
    return cause.code;
  }
  if (err instanceof Error && err.name === 'TimeoutError') return 'timed out';
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

export * from './discovery.js';
export * from './duration.js';
export * from './terminal.js';
// Light helpers for commands that take an enrollment URL or a CA pin (no zod in identifiers.js).
export {
  canonicalCaPin,
  CA_PIN_PATTERN,
  ENROLL_PATH,
  enrollmentUrlProblem,
  redactEnrollmentUrl,
  redactEnrollPath,
  splitEnrollmentUrl,
  type EnrollmentUrlParts,
} from '../protocol/identifiers.js';
