/**
 * The federation read verbs: `capabilities`, `list`, `get`, `search` (mTLS only).
 *
 * Every request goes through the same pipeline, in this order (each step can only refuse):
 *   1. identity — the socket's certificate (parsed once per socket by the listener) against the
 *      grant read now (short-TTL cache, invalidated on change): serial not revoked and the
 *      grant's current one, grant known/active/unexpired, cert unexpired, subject bound;
 *   2. rate limit — the grant's token bucket under its scope's `rate_limit_per_minute`;
 *   3. scope ∩ native RBAC — `evaluateScope` with the subject's teams read now;
 *   4. the provider — ONE query with the visibility condition in its WHERE clause.
 * Whatever the outcome, one audit row is in the spool before the answer leaves (spool down →
 * 503 AUDIT_UNAVAILABLE). The row carries a keyed hash of the request parameters, never them.
 */
import { createSecretKey } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  DEFAULT_RATE_LIMIT_PER_MINUTE,
  GrantRateLimiter,
  codedError,
  evaluateScope,
  getRequestSchema,
  parseCsr,
  pinsEqual,
  renewRequestSchema,
  spkiPin,
  spkiPinFromSpki,
  isMosaicError,
  leafOfChain,
  listRequestSchema,
  queryHash,
  resourceDecision,
  scopeCapabilities,
  searchRequestSchema,
  type AuditOutcome,
  type FederationVerb,
  type QueryHashParams,
  type RowsAllowed,
} from '@mosaic/federation-core';
import type { AuditSpool } from '../audit/spool.js';
import { issueOptionsFor, type GatewayCa } from '../ca/index.js';
import type { Metrics } from '../metrics.js';
import type { RateLimiter } from '../limits/index.js';
import { isStorageUnreachable, type GrantRecord, type ResourceRow, type Storage } from '../storage/index.js';
import { decodeCursor, encodeCursor } from './cursor.js';
import type { GrantCache } from './grant-cache.js';
import { FEDERATION_PREFIX, type RefusalHandler } from './listener.js';
import { anonymousBudgetKey } from './proxy-protocol.js';

/** The audited mTLS verbs: the four read verbs and renewal, and `unknown` for any other path. */
type AuditedVerb = FederationVerb | 'renew' | 'unknown';

/** Refusals of clients without a valid identity audited per address and minute; more are counted only. */
export const ANONYMOUS_AUDITED_PER_MINUTE = 60;
/** …and at most this many in all, whatever the addresses (beyond: counted, not written). */
export const ANONYMOUS_AUDITED_TOTAL_PER_MINUTE = 600;

const ROUTE_VERBS: ReadonlySet<string> = new Set(['capabilities', 'list', 'get', 'search', 'renew']);

/** The verb a request path names (`/api/federation/v1/<verb>/…`), or `unknown`. */
function verbOfPath(url: string): AuditedVerb {
  const path = url.split('?', 1)[0]!;
  if (!path.startsWith(`${FEDERATION_PREFIX}/`)) return 'unknown';
  const word = path.slice(FEDERATION_PREFIX.length + 1).split('/', 1)[0]!;
  return ROUTE_VERBS.has(word) ? (word as AuditedVerb) : 'unknown';
}

/** How long the previous certificate keeps working after a renewal (CONTRACT.md). */
export const RENEWAL_OVERLAP_MS = 10 * 60_000;

/**
 * When a certificate's renewal is due (CONTRACT.md, one policy for everyone): once 2/3 of its
 * lifetime has passed, and never later than 7 days before it expires.
 */
export function renewalDueAtMs(notBefore: number, notAfter: number): number {
  return Math.min(notBefore + ((notAfter - notBefore) * 2) / 3, notAfter - 7 * 86_400_000);
}

export interface FederationVerbDeps {
  /** This gateway's name: `_source` and `capabilities.server`. */
  name: string;
  storage: Storage;
  revocation: { isRevoked(serial: string): boolean };
  spool: AuditSpool;
  metrics: Metrics;
  /** Per-grant buckets: in-process, or shared through Redis (`REDIS_URL`). */
  limiter: RateLimiter;
  /** HMAC key of list cursors (32+ random bytes, per deployment). */
  cursorKey: Buffer;
  /** HMAC key of the audit rows' `queryHash` (32+ bytes, per deployment). */
  queryHashKey: Buffer;
  grantCache: GrantCache;
  /** Renewal (`POST /renew`): the CA that issues, and what to tell when serials change. Without it the route is not registered. */
  renewal?: {
    ca: Pick<GatewayCa, 'issueClientCertificate' | 'caCertPem' | 'certChainPem' | 'discardUnrecorded'>;
    /** After a renewal committed: the previous serials stop working at `at`. */
    onRenewed(grantId: string, revokedSerials: readonly string[], at: Date): void;
  };
  /** Clock in ms (default `Date.now`). */
  now?: () => number;
}

/** A refusal decided by the pipeline: status, code, message, and what to do with the socket. */
class Refusal extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly extra: { headers?: Record<string, string>; closeSocket?: boolean; remediation?: string } = {},
  ) {
    super(message);
  }
}

/** What one request produced, before it is audited and sent. */
interface Outcome {
  status: number;
  body: unknown;
  rowsOut: number;
  headers?: Record<string, string> | undefined;
  closeSocket?: boolean | undefined;
}

/** What the audit row knows about the caller (filled in as the pipeline learns it). */
interface AuditContext {
  grantId: string | null;
  peer: string | null;
  subjectUserId: string | null;
}

const MAX_ID_LENGTH = 256;
const MAX_AUDIT_RESOURCE = 64;

function item(row: ResourceRow): Record<string, unknown> {
  const out: Record<string, unknown> = { id: row.id, title: row.title };
  if (row.body !== null) out.body = row.body;
  out.ownerUserId = row.ownerUserId;
  out.teamId = row.teamId;
  out.createdAt = row.createdAt;
  out.updatedAt = row.updatedAt;
  return out;
}

function errorBody(req: FastifyRequest, code: string, message: string, remediation?: string): unknown {
  const error: Record<string, unknown> = { code, message, requestId: req.id };
  if (remediation !== undefined) error.remediation = remediation;
  return { error };
}

/** The request parameters for `queryHash`: verb and resource from the path, known body fields of plain types. */
function hashParams(verb: AuditedVerb, req: FastifyRequest): QueryHashParams {
  const params: Record<string, unknown> = { verb };
  const p = (req.params ?? {}) as { resource?: unknown; id?: unknown };
  if (typeof p.resource === 'string') params.resource = p.resource;
  if (typeof p.id === 'string') params.id = p.id;
  const body = req.body;
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    for (const k of ['query', 'limit', 'cursor'] as const) {
      const v = (body as Record<string, unknown>)[k];
      if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) params[k] = v;
    }
  }
  return params as QueryHashParams;
}

function outcomeOf(status: number): AuditOutcome {
  if (status < 400) return 'allowed';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'error';
  return 'denied';
}

function validationRefusal(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): Refusal {
  // Paths and messages only: never the values sent.
  const details = issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message }));
  const err = new Refusal(400, 'VALIDATION_FAILED', 'the request body is not valid for this verb');
  (err as Refusal & { details?: unknown }).details = details;
  return err;
}

/** What the verbs hand back to the listener. */
export interface FederationVerbs {
  /** Audits a refusal the listener decides itself (401 before any route, 404 no route), then sends it. */
  refuse: RefusalHandler;
}

/**
 * Register the read verbs (and renewal) on the federation listener's app. With the returned
 * `refuse` given to the listener, every request that reaches its HTTP layer is one audit row.
 */
export function registerFederationVerbs(app: FastifyInstance, deps: FederationVerbDeps): FederationVerbs {
  const now = deps.now ?? Date.now;
  const { storage, spool, metrics, limiter, grantCache } = deps;
  /** The audit key as a `KeyObject`, made once (HMAC under a raw buffer re-imports the key on every request). */
  const queryHashKey = createSecretKey(deps.queryHashKey);
  /** Serials found not to be their grant's current one, with the serial that was current then. */
  const notCurrent = new Map<string, string | null>();

  /** Step 1: the socket's identity against the grant as it is now. */
  /**
   * `currentOnly`: only the grant's current certificate passes (renewal); with
   * `supersededByRenewal` too, also one superseded by a renewal and still in its overlap (the
   * caller then decides whether it may have the current certificate again).
   */
  async function identify(req: FastifyRequest, ctx: AuditContext, options: { currentOnly?: boolean; supersededByRenewal?: boolean } = {}): Promise<GrantRecord> {
    const peer = req.peer;
    if (peer === null) throw new Refusal(401, 'CLIENT_CERT_REQUIRED', 'this route needs a client certificate issued by this gateway');
    ctx.grantId = peer.grantId;
    ctx.subjectUserId = peer.subjectUserId;
    const close = { closeSocket: true };
    if (deps.revocation.isRevoked(peer.serialHex)) {
      throw new Refusal(403, 'GRANT_REVOKED', 'this client certificate has been revoked', close);
    }
    let grant = await grantCache.get(peer.grantId);
    // A certificate that is not the cached grant's current one may be newer than the cache (renewed
    // or re-enrolled through another replica a moment ago, before its notification arrived here):
    // the grant is read again once per (certificate, current serial) before judging.
    if (grant !== null && grant.certSerial !== peer.serialHex && notCurrent.get(peer.serialHex) !== grant.certSerial) {
      grant = await grantCache.reread(peer.grantId, grant);
      if (grant !== null && grant.certSerial !== peer.serialHex) {
        if (notCurrent.size >= 4_096) notCurrent.clear();
        notCurrent.set(peer.serialHex, grant.certSerial);
      }
    }
    if (grant === null) throw new Refusal(403, 'GRANT_UNKNOWN', 'the grant named in the client certificate is not known here', close);
    ctx.peer = grant.peerName;
    ctx.subjectUserId = grant.subjectUserId;
    if (grant.subjectUserId !== peer.subjectUserId) {
      throw new Refusal(403, 'GRANT_UNKNOWN', "the client certificate's subject is not the grant's subject", close);
    }
    if (grant.status === 'revoked') throw new Refusal(403, 'GRANT_REVOKED', 'the grant has been revoked', close);
    const t = now();
    if (grant.status === 'expired' || (grant.expiresAt !== null && Date.parse(grant.expiresAt) <= t)) {
      throw new Refusal(403, 'GRANT_EXPIRED', 'the grant has expired', close);
    }
    if (grant.status !== 'active') throw new Refusal(403, 'GRANT_UNKNOWN', 'the grant is not active', close);
    if (grant.certSerial === null || grant.certSerial !== peer.serialHex) {
      // After a renewal the previous certificate keeps working until its revocation time
      // (10 minutes), so the requesting side can swap without failing a request.
      const lookUp = options.currentOnly !== true || options.supersededByRenewal === true;
      const previous = lookUp ? await storage.certs.get(peer.serialHex) : null;
      const inOverlap =
        previous !== null &&
        previous.grantId === grant.id &&
        previous.revokedAt !== null &&
        Date.parse(previous.revokedAt) > t &&
        (options.currentOnly !== true || previous.revokeReason === 'superseded');
      if (!inOverlap) throw new Refusal(403, 'GRANT_UNKNOWN', "the client certificate is no longer the grant's current one", close);
    }
    if (!(peer.notAfter > t)) {
      throw new Refusal(403, 'GRANT_EXPIRED', 'the client certificate has expired', {
        ...close,
        remediation: 'ask the serving admin for a re-enrollment token (`grant token --reenroll`)',
      });
    }
    return grant;
  }

  /** Step 2: one token from the grant's bucket (the limit read from the grant now). */
  async function rateLimit(grant: GrantRecord): Promise<void> {
    const r = await limiter.take(grant.id, grant.scope.rate_limit_per_minute ?? DEFAULT_RATE_LIMIT_PER_MINUTE);
    if (!r.allowed) {
      const retry = String(Math.max(1, Math.ceil(r.retryAfterSeconds)));
      throw new Refusal(429, 'RATE_LIMITED', "the grant's request rate limit is exhausted", { headers: { 'retry-after': retry } });
    }
  }

  /** Step 3, row verbs: the resource against the scope first (403 whatever else was sent). */
  function resourceAllowed(grant: GrantRecord, resource: string): void {
    const d = resourceDecision(grant.scope, resource);
    if (!d.allowed) {
      if (d.reason === 'resource.unknown') throw new Refusal(404, 'RESOURCE_UNKNOWN', 'no such resource (names are lower case: tasks, notes, memory, credentials, api_keys)');
      throw new Refusal(403, 'RESOURCE_DENIED', "the resource is outside the grant's scope");
    }
  }

  /** Step 3: scope ∩ the subject's native rights, read now. */
  async function decide(grant: GrantRecord, verb: 'list' | 'get' | 'search', resource: string, limit: number | undefined): Promise<RowsAllowed> {
    const teamIds = await storage.directory.teamIdsOfUser(grant.subjectUserId);
    const d = evaluateScope(grant.scope, { userId: grant.subjectUserId, teamIds }, { verb, resource, limit });
    if (!d.allowed) throw new Refusal(d.statusCode, d.code, d.code === 'RESOURCE_DENIED' ? "the resource is outside the grant's scope" : 'no such resource');
    return d;
  }

  /** Audit, count and send one outcome; the audit row is durable before the answer leaves. */
  async function finish(verb: AuditedVerb, req: FastifyRequest, reply: FastifyReply, ctx: AuditContext, started: number, out: Outcome): Promise<FastifyReply> {
    // Revoked while this request was being served (revoke, re-enrollment, end of a renewal
    // overlap): the answer it was about to get does not leave; 403, then the socket closes.
    if (out.status < 400 && req.peer !== null && deps.revocation.isRevoked(req.peer.serialHex)) {
      out = { status: 403, body: errorBody(req, 'GRANT_REVOKED', 'this client certificate was revoked while the request was served'), rowsOut: 0, closeSocket: true };
    }
    let payload = JSON.stringify(out.body);
    let status = out.status;
    const latencyMs = Math.round((performance.now() - started) * 1000) / 1000;
    const params = (req.params ?? {}) as { resource?: unknown };
    const resource = typeof params.resource === 'string' && params.resource !== '' ? params.resource.slice(0, MAX_AUDIT_RESOURCE) : null;
    // The request's span (the listener ends it with the status code): what was decided, never what was read.
    const span = req.span;
    const errorCode = (out.body as { error?: { code?: unknown } } | null)?.error?.code;
    span?.setAttributes({
      'mosaic.verb': verb,
      'mosaic.resource': resource,
      'mosaic.grant_id': ctx.grantId,
      'mosaic.outcome': outcomeOf(status),
      'error.type': status >= 400 && typeof errorCode === 'string' ? errorCode : undefined,
    });
    try {
      await spool.append({
        requestId: req.id,
        callerRequestId: req.callerRequestId,
        // the span's trace: the caller's when it sent a valid traceparent, else a new one
        traceId: span?.traceId ?? req.traceparent?.traceId ?? null,
        grantId: ctx.grantId,
        peer: ctx.peer,
        subjectUserId: ctx.subjectUserId,
        adminTokenName: null,
        verb,
        resource,
        queryHash: queryHash(queryHashKey, hashParams(verb, req)),
        outcome: outcomeOf(status),
        statusCode: status,
        rowsOut: out.rowsOut,
        bytesOut: Buffer.byteLength(payload, 'utf8'),
        latencyMs,
      });
    } catch (err) {
      metrics.auditUnavailable.inc({});
      req.log.error({ reqId: req.id, err: err instanceof Error ? err.message : String(err) }, 'audit spool unavailable: federation request refused');
      status = 503;
      span?.setAttributes({ 'mosaic.outcome': 'error', 'error.type': 'AUDIT_UNAVAILABLE' });
      payload = JSON.stringify(errorBody(req, 'AUDIT_UNAVAILABLE', 'the audit trail cannot be written; the request was not served'));
      out = { status, body: null, rowsOut: 0, closeSocket: out.closeSocket };
    }
    // Revoked while the row was being written: the row stands (it records the decision taken),
    // but the rows do not leave — the connection is cut without an answer, as a crash would.
    if (status < 400 && req.peer !== null && deps.revocation.isRevoked(req.peer.serialHex)) {
      span?.setAttributes({ 'mosaic.outcome': 'denied', 'error.type': 'GRANT_REVOKED' });
      metrics.observeFederation(verb, 'denied', performance.now() - started);
      reply.hijack();
      req.socket.destroy();
      return reply;
    }
    metrics.observeFederation(verb, outcomeOf(status), performance.now() - started);
    if (status !== 503) for (const [k, v] of Object.entries(out.headers ?? {})) void reply.header(k, v);
    if (out.closeSocket === true) {
      void reply.header('connection', 'close');
      const socket = req.socket as TLSSocket;
      reply.raw.once('finish', () => socket.destroySoon());
    }
    return reply.code(status).type('application/json; charset=utf-8').send(payload);
  }

  /** Run one verb's pipeline and answer, whatever happens. */
  function route(verb: AuditedVerb, run: (req: FastifyRequest, ctx: AuditContext) => Promise<{ body: unknown; rowsOut: number }>) {
    return async (req: FastifyRequest, reply: FastifyReply) => {
      const started = performance.now();
      const ctx: AuditContext = { grantId: null, peer: null, subjectUserId: null };
      let out: Outcome;
      try {
        const r = await run(req, ctx);
        out = { status: 200, body: r.body, rowsOut: r.rowsOut };
      } catch (err) {
        out = toOutcome(req, err);
      }
      return finish(verb, req, reply, ctx, started, out);
    };
  }

  function toOutcome(req: FastifyRequest, err: unknown): Outcome {
    if (err instanceof Refusal) {
      const body = errorBody(req, err.code, err.message, err.extra.remediation) as { error: Record<string, unknown> };
      const details = (err as Refusal & { details?: unknown }).details;
      if (details !== undefined) body.error.details = details;
      return { status: err.statusCode, body, rowsOut: 0, headers: err.extra.headers, closeSocket: err.extra.closeSocket };
    }
    if (isMosaicError(err) && err.statusCode < 500) {
      return { status: err.statusCode, body: errorBody(req, err.code, err.message, err.remediation), rowsOut: 0 };
    }
    if (isMosaicError(err) && (err.statusCode === 502 || err.statusCode === 503 || err.statusCode === 504)) {
      return { status: err.statusCode, body: errorBody(req, err.code, err.message, err.remediation), rowsOut: 0 };
    }
    // The store is unreachable (PostgreSQL down, restarting): authorization fails closed.
    if (isStorageUnreachable(err)) {
      req.log.warn({ reqId: req.id, err: err instanceof Error ? err.message : String(err) }, 'store unreachable: federation request refused');
      return {
        status: 503,
        body: errorBody(req, 'STORAGE_UNAVAILABLE', 'the gateway cannot reach its store; the request was not served', 'retry shortly; the gateway recovers by itself once its database is back'),
        rowsOut: 0,
      };
    }
    const e = err as { name?: string; message?: string; stack?: string };
    req.log.error({ reqId: req.id, err: { type: e.name, message: e.message, stack: e.stack } }, 'federation request failed');
    return { status: 500, body: errorBody(req, 'INTERNAL', `internal error; quote request id ${req.id} to the gateway's admin`), rowsOut: 0 };
  }

  /** Errors before the handler (body too large, not JSON): still one audit row each. */
  function routeErrorHandler(verb: AuditedVerb) {
    return (err: FastifyError, req: FastifyRequest, reply: FastifyReply): void => {
      const started = performance.now();
      const ctx: AuditContext = { grantId: req.peer?.grantId ?? null, peer: null, subjectUserId: req.peer?.subjectUserId ?? null };
      let out: Outcome;
      switch (err.code) {
        case 'FST_ERR_CTP_BODY_TOO_LARGE':
          out = { status: 413, body: errorBody(req, 'BODY_TOO_LARGE', 'the request body is over the 64 KiB limit'), rowsOut: 0 };
          break;
        case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        case 'FST_ERR_CTP_INVALID_JSON_BODY':
        case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
          out = { status: 400, body: errorBody(req, 'BODY_INVALID', 'the request body must be JSON (content-type: application/json)'), rowsOut: 0 };
          break;
        default:
          out = err instanceof SyntaxError || err.statusCode === 400
            ? { status: 400, body: errorBody(req, 'BODY_INVALID', 'the request could not be read'), rowsOut: 0 }
            : toOutcome(req, err);
      }
      // Fastify waits for this reply; `finish` answers whatever the spool does.
      finish(verb, req, reply, ctx, started, out).catch((e: unknown) => {
        req.log.error({ reqId: req.id, err: e instanceof Error ? e.message : String(e) }, 'federation error answer failed');
        if (!reply.sent) void reply.code(500).type('application/json; charset=utf-8').send(JSON.stringify(errorBody(req, 'INTERNAL', 'internal error')));
      });
    };
  }

  const parse = <T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> } } }, body: unknown): T => {
    const r = schema.safeParse(body ?? {});
    if (!r.success) throw validationRefusal(r.error.issues);
    return r.data;
  };

  type RowParams = { resource: string; id?: string };

  app.get(
    `${FEDERATION_PREFIX}/capabilities`,
    { errorHandler: routeErrorHandler('capabilities') },
    route('capabilities', async (req, ctx) => {
      const grant = await identify(req, ctx);
      await rateLimit(grant);
      return { body: { ...scopeCapabilities(grant.scope, deps.name), _source: deps.name }, rowsOut: 0 };
    }),
  );

  app.post(
    `${FEDERATION_PREFIX}/list/:resource`,
    { errorHandler: routeErrorHandler('list') },
    route('list', async (req, ctx) => {
      const grant = await identify(req, ctx);
      await rateLimit(grant);
      const { resource } = req.params as RowParams;
      resourceAllowed(grant, resource);
      const body = parse(listRequestSchema, req.body);
      const d = await decide(grant, 'list', resource, body.limit);
      const binding = { grant: grant.id, resource: d.resource, scopeVersion: grant.scopeVersion };
      const afterId = body.cursor === undefined ? null : decodeCursor(deps.cursorKey, body.cursor, binding, now());
      const page = await storage.resources.listVisible(d.resource, d.visibility, { limit: d.cap, afterId });
      const nextCursor = page.nextAfterId === null ? null : encodeCursor(deps.cursorKey, { ...binding, afterId: page.nextAfterId }, now());
      return { body: { items: page.items.map(item), nextCursor, _source: deps.name }, rowsOut: page.items.length };
    }),
  );

  app.post(
    `${FEDERATION_PREFIX}/get/:resource/:id`,
    { errorHandler: routeErrorHandler('get') },
    route('get', async (req, ctx) => {
      const grant = await identify(req, ctx);
      await rateLimit(grant);
      const { resource, id = '' } = req.params as RowParams;
      resourceAllowed(grant, resource);
      parse(getRequestSchema, req.body);
      const d = await decide(grant, 'get', resource, undefined);
      // One query, visibility in its WHERE clause: missing and invisible are the same 404.
      const row = id === '' || id.length > MAX_ID_LENGTH ? null : await storage.resources.getVisible(d.resource, id, d.visibility);
      if (row === null) throw codedError('NOT_FOUND', 'no row with that id is visible to this grant');
      return { body: { item: item(row), _source: deps.name }, rowsOut: 1 };
    }),
  );

  app.post(
    `${FEDERATION_PREFIX}/search/:resource`,
    { errorHandler: routeErrorHandler('search') },
    route('search', async (req, ctx) => {
      const grant = await identify(req, ctx);
      await rateLimit(grant);
      const { resource } = req.params as RowParams;
      resourceAllowed(grant, resource);
      const body = parse(searchRequestSchema, req.body);
      const d = await decide(grant, 'search', resource, body.limit);
      const hits = await storage.resources.searchVisible(d.resource, d.visibility, body.query, d.cap);
      return { body: { hits: hits.map((h) => ({ item: item(h.row), score: h.score })), _source: deps.name }, rowsOut: hits.length };
    }),
  );

  const renewal = deps.renewal;

  /**
   * `/renew` from the certificate a renewal superseded (still in its overlap): the answer of
   * that renewal was lost (timeout, reset, the requester's store failed). When the CSR is for
   * the key of the grant's current certificate — only the requester that made that key can
   * sign such a CSR — the current certificate is sent again. Anything else is refused as any
   * renewal from a certificate that is not the current one.
   */
  async function renewAgain(req: FastifyRequest, grant: GrantRecord, csrPem: string): Promise<{ body: unknown; rowsOut: number }> {
    const notCurrent = () => new Refusal(403, 'GRANT_UNKNOWN', "the client certificate is no longer the grant's current one", { closeSocket: true });
    let csr: ReturnType<typeof parseCsr>;
    try {
      csr = parseCsr(csrPem);
    } catch {
      throw notCurrent();
    }
    const current = grant.certSerial === null ? null : await storage.certs.get(grant.certSerial);
    if (current?.certPem == null || current.grantId !== grant.id || current.revokedAt !== null) throw notCurrent();
    let sameKey: boolean;
    try {
      sameKey = pinsEqual(spkiPin(leafOfChain(current.certPem)), spkiPinFromSpki(csr.spki));
    } catch {
      sameKey = false;
    }
    if (!sameKey) throw notCurrent();
    req.log.info({ reqId: req.id, grantId: grant.id, serial: current.serial }, 'renewal asked again by the superseded certificate: the current certificate is sent again');
    return {
      body: {
        certPem: leafOfChain(current.certPem),
        certChainPem: current.certPem,
        caCertPem: renewal!.ca.caCertPem,
        grantId: grant.id,
        subjectUserId: grant.subjectUserId,
        serverName: deps.name,
        notAfter: new Date(current.notAfter).toISOString(),
      },
      rowsOut: 0,
    };
  }

  if (renewal !== undefined) {
    app.post(
      `${FEDERATION_PREFIX}/renew`,
      { errorHandler: routeErrorHandler('renew') },
      route('renew', async (req, ctx) => {
        // Only the current certificate renews: an old one in its overlap cannot fork the grant.
        // The one exception is idempotence: the certificate a renewal has just superseded
        // asking again with the key of the current one (the answer of that renewal was lost on
        // the way) gets the current certificate again — nothing issued, nothing revoked.
        const grant = await identify(req, ctx, { currentOnly: true, supersededByRenewal: true });
        await rateLimit(grant);
        const body = parse(renewRequestSchema, req.body);
        if (grant.certSerial !== req.peer!.serialHex) return renewAgain(req, grant, body.csrPem);
        const current = await storage.certs.get(req.peer!.serialHex);
        if (current === null) throw new Refusal(403, 'GRANT_UNKNOWN', 'this certificate was not issued here');
        const t = now();
        const dueAt = renewalDueAtMs(Date.parse(current.notBefore), Date.parse(current.notAfter));
        if (t < dueAt) {
          throw new Refusal(409, 'RENEWAL_NOT_DUE', `renewal is due from ${new Date(dueAt).toISOString()}`, {
            remediation: 'renew once 2/3 of the certificate lifetime has passed (`mosaic federation peer needs-renewal` tells)',
          });
        }
        let csr: ReturnType<typeof parseCsr>;
        try {
          csr = parseCsr(body.csrPem);
        } catch (err) {
          throw new Refusal(400, 'CSR_INVALID', err instanceof Error ? err.message : 'the CSR is not valid');
        }
        let issued: Awaited<ReturnType<GatewayCa['issueClientCertificate']>>;
        try {
          issued = await renewal.ca.issueClientCertificate(issueOptionsFor(grant, csr));
        } catch (err) {
          // Step-CA's failures name its internal URL and its own words: logged here, and the
          // peer is told no more than an enrolling one is.
          if (isMosaicError(err) && err.code.startsWith('STEP_CA_')) {
            req.log.warn({ reqId: req.id, code: err.code, err: err.message }, 'renewal: Step-CA did not issue the certificate');
            throw new Refusal(500, 'INTERNAL', `the certificate could not be issued; quote request id ${req.id} to the gateway's admin`);
          }
          throw err;
        }
        const at = new Date(t + RENEWAL_OVERLAP_MS);
        const revoked = await storage.transaction(async (tx) => {
          const fresh = await tx.grants.get(grant.id);
          if (fresh?.status !== 'active' || fresh.certSerial !== req.peer!.serialHex) {
            throw new Refusal(409, 'GRANT_NOT_ENROLLABLE', 'the grant changed during the renewal; try again');
          }
          // the chain (leaf + Step-CA's intermediate; the leaf alone with the embedded CA)
          await tx.certs.record({ serial: issued.serialHex, grantId: grant.id, notBefore: issued.notBefore, notAfter: issued.notAfter, certPem: renewal.ca.certChainPem(issued.certPem) });
          const serials = await tx.certs.revokeAllExcept(grant.id, issued.serialHex, { at, reason: 'superseded' });
          await tx.grants.activate(grant.id, issued.serialHex);
          return serials;
        }).catch((err: unknown) => {
          // issued but never recorded: with Step-CA, revoked there (best effort, logged)
          void renewal.ca.discardUnrecorded?.(issued.certPem);
          throw err;
        });
        grantCache.invalidate(grant.id);
        renewal.onRenewed(grant.id, revoked, at);
        return {
          body: {
            certPem: issued.certPem,
            certChainPem: renewal.ca.certChainPem(issued.certPem),
            caCertPem: renewal.ca.caCertPem,
            grantId: grant.id,
            subjectUserId: grant.subjectUserId,
            serverName: deps.name,
            notAfter: issued.notAfter.toISOString(),
          },
          rowsOut: 0,
        };
      }),
    );
  }

  // Clients without a valid identity: each refusal is audited up to a budget per address (and
  // ends the connection, so every further try costs a handshake); past it they are counted,
  // not written one by one — an anonymous client cannot fill the audit trail.
  const anonymousBudget = new GrantRateLimiter();
  const unknownRoute = route('unknown', async (req, ctx) => {
    // A peer's request for a path that does not exist: identity and rate limit like any other.
    const grant = await identify(req, ctx);
    await rateLimit(grant);
    throw new Refusal(404, 'ROUTE_NOT_FOUND', 'no such route');
  });
  return {
    refuse: async (req, reply, refusal) => {
      if (req.peer !== null) return unknownRoute(req, reply);
      const body = errorBody(req, refusal.code, refusal.message, refusal.remediation);
      const out: Outcome = { status: refusal.status, body, rowsOut: 0, closeSocket: true };
      // the client's own address, also behind HAProxy (PROXY protocol v2, MOSAIC_PROXY_PROTOCOL_FROM)
      const address = req.clientAddress ?? req.socket.remoteAddress ?? 'unknown';
      // per address (an IPv6 address's /64), and overall: many addresses cannot fill it either
      const audited =
        anonymousBudget.take(anonymousBudgetKey(address), ANONYMOUS_AUDITED_PER_MINUTE).allowed && anonymousBudget.take('all', ANONYMOUS_AUDITED_TOTAL_PER_MINUTE).allowed;
      if (!audited) {
        metrics.refusalsUnaudited.inc({ code: refusal.code });
        req.span?.setAttributes({ 'mosaic.verb': verbOfPath(req.url), 'mosaic.outcome': 'denied', 'error.type': refusal.code });
        void reply.header('connection', 'close');
        reply.raw.once('finish', () => (req.socket as TLSSocket).destroySoon());
        return reply.code(refusal.status).type('application/json; charset=utf-8').send(JSON.stringify(body));
      }
      return finish(verbOfPath(req.url), req, reply, { grantId: null, peer: null, subjectUserId: null }, performance.now(), out);
    },
  };
}
