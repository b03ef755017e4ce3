/**
 * `POST /api/admin/query`: one read on the requesting side, fanned out to the sources it names
 * — `local` (this gateway's own store, under the user's native rights), `federated:<peer>`, or
 * `all` (local + every non-revoked peer of that user) — in parallel, merged.
 *
 * Rules (CONTRACT.md, SECURITY.md):
 * - **Whose peer.** `asUser` U reaches only peers whose `localUserId` is U; naming another
 *   user's peer is refused (403 PEER_NOT_OWNED). Without `asUser`, U is inferred only when
 *   unambiguous: the owner of the one peer named, or — for `local` and `all` — the only
 *   user among the directory's users and the peers' owners; otherwise 400 with path `asUser`.
 * - **Never a failed whole answer** for a source: a source that fails, times out (per-source
 *   deadline) or answers junk is `ok: false` in `sources` with its code, and `partial` is set.
 *   A `get` 404 at a source is `ok: true` with no item.
 * - **`_source` is set here** (`local` / `federated:<our name for the peer>`), from known fields
 *   only: nothing else a peer sends (its own `_source`, extra keys) reaches the answer.
 *   `_cached: true` marks answers served from the 30 s cache, `_score` search hits.
 * - **Nothing from a peer is written** to the store; only peer state metadata (see
 *   peer-connections.ts).
 * - **One audit row per query** (verb `query`): the admin token's name, the user, a keyed
 *   hash of the parameters (never the text), rows out, and the W3C trace id that every peer
 *   call carries in `traceparent`, so the serving side's audit rows share it.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import {
  codedError,
  FEDERATED_SOURCE_PREFIX,
  FederationRequestError,
  isMosaicError,
  LOCAL_SOURCE,
  nativeVisibility,
  parseOrThrow,
  PeerResponseInvalidError,
  PeerUnreachableError,
  printable,
  queryHash,
  queryRequestSchema,
  quoteForDisplay,
  type AuditOutcome,
  type QueryItem,
  type QueryRequest,
  type QueryResponse,
  type QuerySourceStatus,
  type TraceParent,
} from '@mosaic/federation-core';
import type { Logger } from 'pino';
import { FEDERATION_PREFIX } from '../federation/listener.js';
import type { PeerRecord, ResourceRow, Storage } from '../storage/index.js';
import { idOnlyTracing, type Tracing, type TraceSpan } from '../tracing.js';
import { auditActor, type AuditWriter } from './audit.js';
import type { Actor } from './grants.js';
import { errorText, type PeerCallContext, type PeerConnections } from './peer-connections.js';

/** Rows per source when the query gives no `limit`. */
export const DEFAULT_QUERY_LIMIT = 100;

/** Who asked: the admin request, and its caller's trace context when it sent a valid one. */
export interface QueryActor extends Actor {
  traceparent?: TraceParent | null;
}

export interface QueryServiceDeps {
  storage: Storage;
  connections: PeerConnections;
  audit: AuditWriter;
  /** HMAC key of the audit rows' `queryHash` (the deployment's audit key). */
  queryHashKey: Buffer;
  logger: Logger;
  /** Per-source deadline (default 5 s): a source slower than this is reported failed. */
  deadlineMs?: number;
  /** Spans: one per query, a CLIENT span per peer call (default: ids only). */
  tracing?: Tracing;
}

/** Who the query is for and which sources it reads. */
interface Plan {
  asUser: string;
  local: boolean;
  peers: PeerRecord[];
}

interface SourceOutcome {
  status: QuerySourceStatus;
  items: QueryItem[];
}

type Row = { id: string; title: string; body?: string | undefined; ownerUserId?: string | null | undefined; teamId?: string | null | undefined; createdAt?: string | undefined; updatedAt?: string | undefined };

/** A row in the answer: known fields only, tagged here. */
function tagged(row: Row, source: string, extra: { cached?: boolean; score?: number } = {}): QueryItem {
  const out: QueryItem = { id: row.id, title: row.title, _source: source };
  if (row.body !== undefined && row.body !== null) out.body = row.body;
  if (row.ownerUserId !== undefined) out.ownerUserId = row.ownerUserId;
  if (row.teamId !== undefined) out.teamId = row.teamId;
  if (row.createdAt !== undefined) out.createdAt = row.createdAt;
  if (row.updatedAt !== undefined) out.updatedAt = row.updatedAt;
  if (extra.cached === true) out._cached = true;
  if (extra.score !== undefined) out._score = extra.score;
  return out;
}

function localRow(r: ResourceRow): Row {
  return { id: r.id, title: r.title, body: r.body ?? undefined, ownerUserId: r.ownerUserId, teamId: r.teamId, createdAt: r.createdAt, updatedAt: r.updatedAt };
}

function outcomeOf(status: number): AuditOutcome {
  if (status < 400) return 'allowed';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'error';
  return 'denied';
}

/** A peer's answer holds at most the rows asked for: more is a misbehaving peer, refused (PEER_RESPONSE_INVALID). */
function overLimit(peer: string, count: number, limit: number | undefined, what: string): void {
  if (limit !== undefined && count > limit) throw new PeerResponseInvalidError(peer, `asked for at most ${limit} ${what}, answered with ${count}`);
}

const ms = (since: number) => Math.round((performance.now() - since) * 1000) / 1000;

/** The peer's route each verb calls (`url.template` of its CLIENT span). */
const PEER_ROUTES: Record<QueryRequest['verb'], string> = {
  list: `${FEDERATION_PREFIX}/list/:resource`,
  get: `${FEDERATION_PREFIX}/get/:resource/:id`,
  search: `${FEDERATION_PREFIX}/search/:resource`,
};

export class QueryService {
  private readonly deadlineMs: number;
  private readonly tracing: Tracing;

  /** The audit key as a `KeyObject`, made once (an HMAC under a raw buffer imports the key again on every call). */
  private readonly queryHashKey: KeyObject;

  constructor(private readonly deps: QueryServiceDeps) {
    this.queryHashKey = createSecretKey(deps.queryHashKey);
    this.deadlineMs = deps.deadlineMs ?? 5_000;
    this.tracing = deps.tracing ?? idOnlyTracing();
  }

  /** Run one query. Throws only for the request itself (400, 403, 404) or an audit outage (503). */
  async run(body: unknown, actor: QueryActor): Promise<QueryResponse> {
    const started = performance.now();
    // Our span: the admin caller's trace continued (the CLI may send one), else a new trace.
    // Its trace id is the audit row's; each peer call is a CLIENT span under it.
    const span = this.tracing.startServerSpan('POST /api/admin/query', actor.traceparent ?? null, { 'http.request.method': 'POST', 'http.route': '/api/admin/query' });
    let input: QueryRequest | null = null;
    let plan: Plan | null = null;
    let answer: QueryResponse;
    try {
      input = parseOrThrow(queryRequestSchema, body, { code: 'VALIDATION_FAILED', what: 'query' });
      // what was asked, never the query text, an id or the user
      span.setAttributes({ 'mosaic.verb': input.verb, 'mosaic.resource': input.resource, 'mosaic.source': input.source });
      plan = await this.plan(input);
      const outcomes = await Promise.all([
        ...(plan.local ? [this.local(input, plan.asUser)] : []),
        ...plan.peers.map((peer) => this.federated(input!, peer, span, actor.requestId)),
      ]);
      answer = {
        items: outcomes.flatMap((o) => o.items),
        sources: outcomes.map((o) => o.status),
        partial: outcomes.some((o) => !o.status.ok),
      };
    } catch (err) {
      const status = isMosaicError(err) ? err.statusCode : 500;
      try {
        await this.audited(actor, span.traceId, input, plan, { status, rowsOut: 0, bytesOut: 0, latencyMs: ms(started) });
      } finally {
        span.end(status >= 500 ? 'error' : 'unset', {
          'http.response.status_code': status,
          'mosaic.outcome': outcomeOf(status),
          'error.type': isMosaicError(err) ? err.code : 'INTERNAL',
        });
      }
      throw err;
    }
    try {
      await this.audited(actor, span.traceId, input, plan, {
        status: 200,
        rowsOut: answer.items.length,
        bytesOut: Buffer.byteLength(JSON.stringify(answer), 'utf8'),
        latencyMs: ms(started),
      });
    } catch (err) {
      span.end('error', { 'http.response.status_code': isMosaicError(err) ? err.statusCode : 500, 'mosaic.outcome': 'error', 'error.type': isMosaicError(err) ? err.code : 'INTERNAL' });
      throw err;
    }
    span.end('unset', {
      'http.response.status_code': 200,
      'mosaic.outcome': 'allowed',
      'mosaic.rows_out': answer.items.length,
      'mosaic.partial': answer.partial,
    });
    return answer;
  }

  /** Who the query is for, and which sources it may read. */
  private async plan(input: QueryRequest): Promise<Plan> {
    const { storage } = this.deps;
    const peers = await storage.peers.list();
    if (input.source === LOCAL_SOURCE) {
      const users = input.asUser === undefined ? (await storage.directory.listUsers()).map((u) => u.id) : [];
      return { asUser: input.asUser ?? this.infer(new Set(users), 'the directory has'), local: true, peers: [] };
    }
    if (input.source.startsWith(FEDERATED_SOURCE_PREFIX)) {
      const name = input.source.slice(FEDERATED_SOURCE_PREFIX.length);
      const peer = peers.find((p) => p.name === name);
      if (peer === undefined) {
        throw codedError('PEER_NOT_FOUND', `no peer named ${quoteForDisplay(name)}`, { remediation: 'list them with `mosaic federation peer list`' });
      }
      if (input.asUser !== undefined && peer.localUserId !== input.asUser) {
        throw codedError('PEER_NOT_OWNED', `peer ${quoteForDisplay(name)} belongs to local user ${quoteForDisplay(peer.localUserId)}, not ${quoteForDisplay(input.asUser)}: one local user never reads through another's grant`);
      }
      return { asUser: peer.localUserId, local: false, peers: [peer] };
    }
    // all
    let asUser = input.asUser;
    if (asUser === undefined) {
      const candidates = new Set(peers.map((p) => p.localUserId));
      for (const u of await storage.directory.listUsers()) candidates.add(u.id);
      asUser = this.infer(candidates, 'the directory and the peers name');
    }
    const mine = peers.filter((p) => p.localUserId === asUser && p.state !== 'revoked');
    return { asUser, local: true, peers: mine };
  }

  private infer(candidates: Set<string>, where: string): string {
    if (candidates.size === 1) return [...candidates][0]!;
    const why = candidates.size === 0 ? `${where} no user` : `${where} ${candidates.size} users`;
    throw codedError('VALIDATION_FAILED', `say whose query this is: ${why}, so asUser cannot be inferred`, {
      details: [{ path: 'asUser', message: 'required when more than one local user (or none) could be meant' }],
      remediation: 'pass --as <user id> (asUser in the request body)',
    });
  }

  /** The local provider: U's native rights on this gateway's own store. */
  private async local(input: QueryRequest, asUser: string): Promise<SourceOutcome> {
    const started = performance.now();
    const { storage } = this.deps;
    try {
      const teamIds = await storage.directory.teamIdsOfUser(asUser);
      const visibility = nativeVisibility({ userId: asUser, teamIds });
      let items: QueryItem[];
      if (input.verb === 'list') {
        const page = await storage.resources.listVisible(input.resource, visibility, { limit: input.limit ?? DEFAULT_QUERY_LIMIT });
        items = page.items.map((r) => tagged(localRow(r), LOCAL_SOURCE));
      } else if (input.verb === 'get') {
        const row = await storage.resources.getVisible(input.resource, input.id, visibility);
        items = row === null ? [] : [tagged(localRow(row), LOCAL_SOURCE)];
      } else {
        const hits = await storage.resources.searchVisible(input.resource, visibility, input.query, input.limit ?? DEFAULT_QUERY_LIMIT);
        items = hits.map((h) => tagged(localRow(h.row), LOCAL_SOURCE, { score: h.score }));
      }
      return { status: { source: LOCAL_SOURCE, ok: true, cached: false, latencyMs: ms(started) }, items };
    } catch (err) {
      return this.failedSource(LOCAL_SOURCE, started, err);
    }
  }

  /** One peer, under the per-source deadline: a CLIENT span under the query's, whose traceparent the peer gets. */
  private async federated(input: QueryRequest, peer: PeerRecord, parent: TraceSpan, requestId: string): Promise<SourceOutcome> {
    const client = this.tracing.startClientSpan(`POST ${PEER_ROUTES[input.verb]}`, parent, {
      'http.request.method': 'POST',
      'url.template': PEER_ROUTES[input.verb],
      'mosaic.peer': peer.name,
      'mosaic.verb': input.verb,
      'mosaic.resource': input.resource,
      'mosaic.grant_id': peer.grantId,
    });
    const outcome = await this.federatedCall(input, peer, { headers: { traceparent: client.traceparent(), 'x-request-id': requestId } });
    const error = outcome.status.error;
    client.end(error === undefined ? 'unset' : 'error', { 'mosaic.cached': outcome.status.cached, 'mosaic.outcome': error === undefined ? 'ok' : 'failed', 'error.type': error?.code }, error?.code);
    return outcome;
  }

  private async federatedCall(input: QueryRequest, peer: PeerRecord, context: PeerCallContext): Promise<SourceOutcome> {
    const started = performance.now();
    const source = `${FEDERATED_SOURCE_PREFIX}${peer.name}`;
    const { connections } = this.deps;
    const limit = input.verb === 'get' ? undefined : (input.limit ?? DEFAULT_QUERY_LIMIT);
    try {
      let items: QueryItem[];
      let cached: boolean;
      if (input.verb === 'list') {
        const r = await this.deadline(peer.name, connections.list(peer, input.resource, { limit }, context));
        overLimit(peer.name, r.body.items.length, limit, 'items');
        cached = r.cached;
        items = r.body.items.map((row) => tagged(row, source, { cached }));
      } else if (input.verb === 'get') {
        try {
          const r = await this.deadline(peer.name, connections.get(peer, input.resource, input.id, context));
          // held to the request: the row asked for, not another one
          if (r.body.item.id !== input.id) {
            throw new PeerResponseInvalidError(peer.name, `asked for id ${quoteForDisplay(input.id)}, answered with id ${quoteForDisplay(r.body.item.id)}`);
          }
          cached = r.cached;
          items = [tagged(r.body.item, source, { cached })];
        } catch (err) {
          // no such row there (or not visible to the grant): an answer, not a failure
          if (err instanceof FederationRequestError && err.status === 404) {
            return { status: { source, ok: true, cached: false, latencyMs: ms(started) }, items: [] };
          }
          throw err;
        }
      } else {
        const r = await this.deadline(peer.name, connections.search(peer, input.resource, input.query, limit === undefined ? {} : { limit }, context));
        overLimit(peer.name, r.body.hits.length, limit, 'hits');
        cached = false;
        items = r.body.hits.map((h) => tagged(h.item, source, { score: h.score }));
      }
      return { status: { source, ok: true, cached, latencyMs: ms(started) }, items };
    } catch (err) {
      return this.failedSource(source, started, err);
    }
  }

  /** The call's answer, or PEER_UNREACHABLE once the deadline passes (the call finishes in the background and still updates the peer's state). */
  private deadline<T>(peer: string, call: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PeerUnreachableError(peer, `no answer within ${this.deadlineMs} ms`)), this.deadlineMs);
    });
    call.catch(() => undefined); // a rejection after the deadline is not unhandled
    return Promise.race([call, late]).finally(() => clearTimeout(timer));
  }

  private failedSource(source: string, started: number, err: unknown): SourceOutcome {
    let code = 'INTERNAL';
    let message: string;
    if (isMosaicError(err) && /^[A-Z][A-Z0-9_]{0,63}$/.test(err.code)) {
      code = err.code;
      message = errorText(err);
    } else {
      this.deps.logger.error({ source, err: err instanceof Error ? { type: err.name, message: err.message, stack: err.stack } : String(err) }, 'query source failed unexpectedly');
      message = 'internal error (see the gateway log)';
    }
    return { status: { source, ok: false, cached: false, latencyMs: ms(started), error: { code, message: printable(message, 500) } }, items: [] };
  }

  /** The query's one audit row: durable before the answer leaves (a spool outage fails the query with 503). */
  private async audited(
    actor: QueryActor,
    traceId: string,
    input: QueryRequest | null,
    plan: Plan | null,
    out: { status: number; rowsOut: number; bytesOut: number; latencyMs: number },
  ): Promise<void> {
    const single = plan !== null && !plan.local && plan.peers.length === 1 ? plan.peers[0]! : null;
    let hash: string | null = null;
    if (input !== null) {
      const params: Record<string, unknown> = { verb: input.verb, resource: input.resource, source: input.source };
      if (input.asUser !== undefined) params.asUser = input.asUser;
      if (input.verb === 'get') params.id = input.id;
      if (input.verb === 'search') params.query = input.query;
      if (input.verb !== 'get' && input.limit !== undefined) params.limit = input.limit;
      hash = queryHash(this.queryHashKey, params as { verb: string });
    }
    await this.deps.audit.record({
      ...auditActor({ ...actor, traceId }),
      verb: 'query',
      outcome: outcomeOf(out.status),
      statusCode: out.status,
      resource: input?.resource ?? null,
      subjectUserId: plan?.asUser ?? null,
      peer: single?.name ?? null,
      grantId: single?.grantId ?? null,
      queryHash: hash,
      rowsOut: out.rowsOut,
      bytesOut: out.bytesOut,
      latencyMs: out.latencyMs,
    });
  }
}
