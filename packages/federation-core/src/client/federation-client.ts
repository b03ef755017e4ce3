import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { Agent, errors as undiciErrors, request, type Dispatcher } from 'undici';
import { CircuitBreaker, type CircuitBreakerOptions } from './breaker.js';
import { ResponseCache } from './cache.js';
import {
  FederationRequestError,
  PeerRefusedCertificateError,
  PeerResponseInvalidError,
  PeerTlsError,
  PeerUnreachableError,
} from './errors.js';
import {
  canonicalJson,
  capabilitiesResponseSchema,
  enrollResponseSchema,
  errorEnvelopeSchema,
  getResponseSchema,
  listResponseSchema,
  searchResponseSchema,
  type CapabilitiesResponse,
  type EnrollResponse,
  type GetResponse,
  type ListResponse,
  type SearchResponse,
} from '../protocol/index.js';
import type { ZodType } from 'zod';
import { parseRequestId } from '../protocol/identifiers.js';

/** Path prefix of every federation route. */
export const FEDERATION_PREFIX = '/api/federation/v1';

export interface FederationCredentials {
  /**
   * Our client certificate (PEM), issued by the peer's CA — followed by the intermediates that
   * lead to it when the peer's pinned root does not sign leaves itself (Step-CA mode).
   */
  certPem: string;
  /** Our private key (PEM). It never leaves this process. */
  keyPem: string;
}

export interface FederationClientOptions extends FederationCredentials {
  /** Local name of the peer: used in errors, the breaker and `_source` tags. */
  peerName: string;
  /** Base URL of the peer's federation listener, e.g. `https://work.example.net:8443` (a path prefix, `https://h/prefix`, is kept). */
  endpoint: string;
  /** The peer's CA certificate (PEM): the only trust anchor for this connection. */
  caPem: string;
  /** The grant our certificate carries: part of every cache key. */
  grantId: string;
  /** TLS server name to verify (default: the endpoint's host). */
  servername?: string;
  /** Per-request time limit, connect to last byte (default 10 s). */
  timeoutMs?: number;
  /** Largest answer accepted (default 8 MiB); a larger one is refused. */
  maxResponseBytes?: number;
  /** Circuit breaker: an instance, options for a new one, or false for none. */
  breaker?: CircuitBreaker | CircuitBreakerOptions | false;
  /** Response cache for list/get: an instance (shareable across peers), or false. Default: a private cache. */
  cache?: ResponseCache | false;
  /** Extra headers per request (e.g. `traceparent`); called for each request. */
  headers?: () => Record<string, string>;
  /** Offer HTTP/2 (default false). */
  allowH2?: boolean;
}

/** What every verb returns: the validated body, whether it came from the cache, and timing. */
export interface VerbResult<T> {
  body: T;
  cached: boolean;
  status: number;
  requestId: string | null;
  latencyMs: number;
  /**
   * The peer's clock when it answered (ms since the epoch, from its `Date` header; 1 s
   * resolution), or null when the header is absent or unreadable. A cached result keeps the
   * reading of the call that filled the cache: a past reading, not one to judge skew by.
   */
  serverDate: number | null;
}

export interface ListOptions {
  limit?: number;
  cursor?: string;
}

const TLS_ERROR_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'HOSTNAME_MISMATCH',
  'CERT_CHAIN_TOO_LONG',
  'PATH_LENGTH_EXCEEDED',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'ERR_TLS_CERT_ALTNAME_FORMAT',
  'MOSAIC_SERVER_CERT_INVALID',
]);

/**
 * The mTLS client of one peer: a keep-alive undici `Agent` that trusts only the peer's
 * pinned CA and checks the host name, typed verbs whose answers are size-limited and
 * schema-checked, a circuit breaker, and a 30-second cache for list/get (never search).
 *
 * @example
 * const client = new FederationClient({ peerName: 'work', endpoint, caPem, certPem, keyPem, grantId });
 * const { body } = await client.list('tasks', { limit: 50 });
 */
export class FederationClient {
  readonly peerName: string;
  readonly endpoint: URL;
  readonly grantId: string;
  readonly breaker: CircuitBreaker | null;
  readonly cache: ResponseCache | null;
  private readonly options: FederationClientOptions;
  /**
   * What cache entries are keyed and flushed by: the grant id is chosen by the serving side,
   * so it is qualified with our own name for the peer — a shared cache can never serve one
   * peer's answer to another that claims the same grant id.
   */
  private readonly cacheScope: string;
  private agent: Agent;
  private closed = false;

  constructor(options: FederationClientOptions) {
    this.options = options;
    this.peerName = options.peerName;
    this.grantId = options.grantId;
    this.endpoint = parseEndpoint(options.endpoint);
    this.breaker =
      options.breaker === false ? null : options.breaker instanceof CircuitBreaker ? options.breaker : new CircuitBreaker(options.peerName, options.breaker);
    this.cache = options.cache === false ? null : (options.cache ?? new ResponseCache());
    this.cacheScope = JSON.stringify([options.peerName, options.grantId]);
    this.agent = this.makeAgent(options);
  }

  /** GET capabilities: what this grant may read. Counts against the grant's rate limit. */
  capabilities(): Promise<VerbResult<CapabilitiesResponse>> {
    return this.call('GET', '/capabilities', undefined, capabilitiesResponseSchema);
  }

  /** List rows of a resource (one page). Cached for the cache's TTL. */
  list(resource: string, options: ListOptions = {}): Promise<VerbResult<ListResponse>> {
    const body: Record<string, unknown> = {};
    if (options.limit !== undefined) body.limit = options.limit;
    if (options.cursor !== undefined) body.cursor = options.cursor;
    return this.cached('list', resource, body, () => this.call('POST', `/list/${pathSegment(resource)}`, body, listResponseSchema));
  }

  /** Get one row by id. Cached for the cache's TTL. */
  get(resource: string, id: string): Promise<VerbResult<GetResponse>> {
    return this.cached('get', resource, { id }, () =>
      this.call('POST', `/get/${pathSegment(resource)}/${pathSegment(id)}`, {}, getResponseSchema),
    );
  }

  /** Keyword search over the rows the grant may see. Never cached. */
  search(resource: string, query: string, options: { limit?: number } = {}): Promise<VerbResult<SearchResponse>> {
    const body: Record<string, unknown> = { query };
    if (options.limit !== undefined) body.limit = options.limit;
    return this.call('POST', `/search/${pathSegment(resource)}`, body, searchResponseSchema);
  }

  /** Ask for a new certificate for the same grant (only accepted while renewal is due). */
  renew(csrPem: string): Promise<VerbResult<EnrollResponse>> {
    return this.call('POST', '/renew', { csrPem }, enrollResponseSchema);
  }

  /**
   * Swap in new credentials (after a renewal) atomically: requests already in flight finish
   * on the old connection and certificate, every later request uses the new ones. The cache
   * of this grant is flushed.
   */
  async updateCredentials(credentials: FederationCredentials): Promise<void> {
    const old = this.agent;
    this.agent = this.makeAgent({ ...this.options, ...credentials });
    Object.assign(this.options, credentials);
    this.cache?.flushGrant(this.cacheScope);
    await old.close();
  }

  /** Close the connections (waits for requests in flight). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.agent.close();
  }

  private makeAgent(options: FederationClientOptions): Agent {
    return new Agent({
      connect: {
        ca: options.caPem,
        cert: options.certPem,
        key: options.keyPem,
        servername: options.servername ?? serverNameFor(this.endpoint),
        rejectUnauthorized: true,
        checkServerIdentity: strictServerIdentity,
        minVersion: 'TLSv1.3',
        // A resumed session carries the certificate it was made with; resumption is off on
        // the serving side as well, but we never offer one.
        maxCachedSessions: 0,
        timeout: options.timeoutMs ?? 10_000,
      },
      allowH2: options.allowH2 ?? false,
      keepAliveTimeout: 30_000,
      maxResponseSize: options.maxResponseBytes ?? 8 * 1024 * 1024,
      headersTimeout: options.timeoutMs ?? 10_000,
      bodyTimeout: options.timeoutMs ?? 10_000,
    });
  }

  private async cached<T>(verb: 'list' | 'get', resource: string, params: Record<string, unknown>, fetch: () => Promise<VerbResult<T>>): Promise<VerbResult<T>> {
    const key = { grantId: this.cacheScope, verb, resource, queryHash: canonicalJson(params) };
    const hit = this.cache?.get<VerbResult<T>>(key);
    if (hit !== undefined) return { ...hit, cached: true, latencyMs: 0 };
    const result = await fetch();
    this.cache?.set(key, result);
    return result;
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body: unknown, schema: ZodType<T>): Promise<VerbResult<T>> {
    if (this.closed) throw new PeerUnreachableError(this.peerName, 'client closed');
    const send = () => this.send(method, path, body, schema);
    if (this.breaker === null) return send();
    // Only failures of the link count against the peer: an error envelope below 500 means
    // the peer is up and answered.
    return this.breaker.run(send, (err) => !(err instanceof FederationRequestError && err.status < 500));
  }

  private async send<T>(method: 'GET' | 'POST', path: string, body: unknown, schema: ZodType<T>): Promise<VerbResult<T>> {
    const started = performance.now();
    const headers: Record<string, string> = { accept: 'application/json', ...this.options.headers?.() };
    let payload: string | undefined;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      // One deadline over the whole exchange: undici's own timeouts are per chunk, and a peer
      // dripping one byte at a time would otherwise hold the call (and the breaker) open.
      const signal = AbortSignal.timeout(this.options.timeoutMs ?? 10_000);
      res = await request(federationUrl(this.endpoint, path), { method, headers, body: payload, dispatcher: this.agent, signal });
      text = await res.body.text();
    } catch (err) {
      throw this.mapNetworkError(err);
    }
    const latencyMs = performance.now() - started;
    const requestId = parseRequestId(headerString(res.headers['x-request-id']));
    if (res.statusCode < 200 || res.statusCode >= 300) throw this.mapErrorAnswer(res, text, requestId);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new PeerResponseInvalidError(this.peerName, 'the answer is not JSON');
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new PeerResponseInvalidError(this.peerName, `the answer does not fit the protocol (${first ? `${first.path.join('.') || '(root)'}: ${first.message}` : 'schema'})`);
    }
    return { body: parsed.data, cached: false, status: res.statusCode, requestId, latencyMs, serverDate: parseHttpDate(headerString(res.headers.date)) };
  }

  private mapErrorAnswer(res: Dispatcher.ResponseData, text: string, requestId: string | null): Error {
    let code = res.statusCode >= 500 ? 'PEER_ERROR' : 'PEER_REFUSED';
    let message = `HTTP ${res.statusCode}`;
    try {
      const envelope = errorEnvelopeSchema.safeParse(JSON.parse(text));
      if (envelope.success) {
        // The peer's words: an UPPER_SNAKE code is kept, the message is cut to printable text.
        if (/^[A-Z][A-Z0-9_]{1,63}$/.test(envelope.data.error.code)) code = envelope.data.error.code;
        message = printable(envelope.data.error.message);
      }
    } catch {
      // not JSON: keep the status-derived code; the body is never echoed
    }
    const retryAfter = Number.parseInt(headerString(res.headers['retry-after']) ?? '', 10);
    if (res.statusCode === 403 && (code === 'GRANT_REVOKED' || code === 'GRANT_EXPIRED')) this.cache?.flushGrant(this.cacheScope);
    return new FederationRequestError(this.peerName, res.statusCode, code, message, requestId, Number.isFinite(retryAfter) ? retryAfter : null);
  }

  private mapNetworkError(err: unknown): Error {
    return mapNetworkError(this.peerName, err);
  }
}

/** Map an undici/TLS failure to one of our coded errors, keeping the original as `cause`. */
export function mapNetworkError(peer: string, err: unknown): Error {
  if (err instanceof undiciErrors.ResponseExceededMaxSizeError) return new PeerResponseInvalidError(peer, 'the answer is larger than the limit', { cause: err });
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && TLS_ERROR_CODES.has(code)) {
    return new PeerTlsError(peer, `${code}${code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? ' (the certificate does not name this host)' : ''}`, { cause: err });
  }
  if (err instanceof undiciErrors.SocketError && /other side closed/i.test(err.message)) return new PeerRefusedCertificateError(peer, { cause: err });
  if (typeof code === 'string' && /ECONNRESET/.test(code)) return new PeerRefusedCertificateError(peer, { cause: err });
  if (
    err instanceof undiciErrors.ConnectTimeoutError ||
    err instanceof undiciErrors.HeadersTimeoutError ||
    err instanceof undiciErrors.BodyTimeoutError ||
    (err instanceof Error && (err.name === 'TimeoutError' || (err.name === 'AbortError' && (err.cause as Error | undefined)?.name === 'TimeoutError')))
  ) {
    return new PeerUnreachableError(peer, 'timed out', { cause: err });
  }
  if (typeof code === 'string' && code === 'ECONNREFUSED') return new PeerUnreachableError(peer, 'connection refused (is the gateway running?)', { cause: err });
  const detail = err instanceof Error ? err.message : String(err);
  return new PeerUnreachableError(peer, detail, { cause: err });
}

/**
 * A peer's endpoint as a base: its origin and any path prefix the serving side is mounted under
 * (as the enrollment URL gave it), without a trailing slash; credentials, query and fragment dropped.
 */
function parseEndpoint(endpoint: string): URL {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new TypeError(`peer endpoint is not a URL: ${endpoint}`);
  }
  if (url.protocol !== 'https:') throw new TypeError(`peer endpoint must be https: ${endpoint}`);
  return new URL(`${url.origin}${url.pathname.replace(/\/+$/, '')}`);
}

/**
 * The URL of a federation route under a peer's endpoint, its path prefix kept — unlike
 * `new URL(path, endpoint)`, which resolves an absolute path against the origin only.
 * Built from the origin as a string, so a prefix can never name another host (`//host/…`).
 *
 * @example
 * federationUrl(new URL('https://h:8443/prefix'), '/list/tasks').href // 'https://h:8443/prefix/api/federation/v1/list/tasks'
 */
export function federationUrl(endpoint: URL, path: string): URL {
  return new URL(`${endpoint.origin}${endpoint.pathname.replace(/\/+$/, '')}${FEDERATION_PREFIX}${path}`);
}

/**
 * Server identity as a PKI reviewer expects it: the name must be in a subjectAltName (no
 * fallback to the subject CN), the certificate must be for TLS servers (EKU serverAuth) and
 * must not be a CA. OpenSSL has already verified the chain against the pinned CA.
 */
export function strictServerIdentity(host: string, cert: PeerCertificate): Error | undefined {
  const fail = (why: string) => Object.assign(new Error(`server certificate refused: ${why}`), { code: 'MOSAIC_SERVER_CERT_INVALID' });
  if (!cert.subjectaltname) return fail('it has no subjectAltName');
  const eku = (cert as PeerCertificate & { ext_key_usage?: string[] }).ext_key_usage;
  if (!eku?.includes('1.3.6.1.5.5.7.3.1')) return fail('it is not a TLS server certificate (no EKU serverAuth)');
  if ((cert as PeerCertificate & { ca?: boolean }).ca === true) return fail('it is a CA certificate');
  return checkServerIdentity(host, cert);
}

/** SNI name for a URL: the host name, or undefined for an IP literal (SNI carries names only). */
export function serverNameFor(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return /^[\d.]+$/.test(host) || host.includes(':') ? undefined : host;
}

/** Peer-supplied text made safe to show: no control, bidi or separator characters, bounded. */
export function printable(text: string, max = 300): string {
  const clean = text.replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, ' ').replace(/\s+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/**
 * One path segment, percent-encoded. `.` and `..` are refused: URL parsing resolves them (even
 * as `%2E%2E`) into another path, so they cannot name a row.
 */
function pathSegment(value: string): string {
  if (value === '.' || value === '..' || value === '') throw new TypeError(`"${value}" cannot be used as a resource or id in a request path`);
  return encodeURIComponent(value);
}

/** An HTTP `Date` header as ms since the epoch, or null when absent or unreadable. */
export function parseHttpDate(value: string | null): number | null {
  if (value === null) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}

function headerString(value: string | string[] | undefined): string | null {
  if (value === undefined) return null;
  return Array.isArray(value) ? (value[0] ?? null) : value;
}

export type { Dispatcher };
