/**
 * The requesting side's live links to its peers: one {@link FederationClient} per peer (made
 * lazily from the stored record, key unsealed in memory only), one {@link CircuitBreaker} per
 * peer, and one shared {@link ResponseCache} for `list`/`get` answers (never `search`).
 *
 * What a failed call means is decided here, because the client alone cannot tell:
 * - the peer **answered** with an error (status < 500): it is up — a half-open circuit closes,
 *   an outage ends; `403 GRANT_REVOKED` makes the peer `revoked`, `403 GRANT_EXPIRED`
 *   `degraded`, and either flushes its cache;
 * - the connection was **closed right after the handshake** (`PeerRefusedCertificateError`):
 *   a refused certificate and a network hiccup look the same under TLS 1.3, so the peer's CRL
 *   is fetched over its pinned CA (no client cert) and verified; our serial listed → the peer
 *   is `revoked` (persisted), its cache flushed, the breaker not charged; not listed, or no
 *   CRL to be had → a network failure like any other;
 * - anything else (refused, timed out, TLS, a 5xx, an answer over the size limit or off the
 *   schema) is a **network failure**: it feeds the breaker and starts or extends an outage.
 *
 * The offline signal: an outage starts at the first network failure after a call that
 * reached the peer (or since start) and ends at the next call that reaches it. Its start logs
 * one `federation offline: <peer>` warning, its end one `federation back online: <peer>`;
 * the circuit opening and closing inside it are not separate signals (debug lines only). The
 * open outage is in `/api/admin/status` (`peers[].offlineSince`) and doctor's `peers.reachable`.
 *
 * Nothing a peer sends is written to the store: only the peer's own state metadata (state,
 * lastSuccessAt, lastFailureAt, a bounded printable lastError).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  canonicalJson,
  CircuitBreaker,
  CircuitOpenError,
  codedError,
  FederationRequestError,
  isMosaicError,
  peerCrlEntry,
  PeerRefusedCertificateError,
  printable,
  quoteForDisplay,
  ResponseCache,
  type CapabilitiesResponse,
  type CircuitState,
  type FederationClient,
  type FederationCredentials,
  type GetResponse,
  type ListResponse,
  type SearchResponse,
  type VerbResult,
} from '@mosaic/federation-core';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { PeerRecord, Storage } from '../storage/index.js';
import type { PeerClients } from './peer-clients.js';

/** Tunables of the requesting side (defaults per CONTRACT.md / issue 5). */
export interface PeerConnectionOptions {
  /** TTL of cached list/get answers (default 30 s). */
  cacheTtlMs?: number;
  /** Entries the shared cache holds at most (default 1 000). */
  cacheMaxEntries?: number;
  /** Consecutive network failures that open a peer's circuit (default 5). */
  failureThreshold?: number;
  /** How long an open circuit fails fast before one half-open probe (default 30 s). */
  cooldownMs?: number;
  /** One call to a peer, connect to last byte (default 5 s). */
  requestTimeoutMs?: number;
  /** The CRL check after a closed handshake (default 3 s). */
  crlTimeoutMs?: number;
  /**
   * `lastSuccessAt` / `lastFailureAt` are written at most this often per peer (default 5 s),
   * except when the state changes (an outage starts or ends, a peer becomes revoked/degraded/active).
   */
  metadataWriteIntervalMs?: number;
  /** Clock (ms since the epoch). */
  now?: () => number;
}

/** Per-call context: extra headers (`traceparent`, `x-request-id`) for this call only. */
export interface PeerCallContext {
  headers?: Record<string, string>;
}

/** One peer's link as the status report and doctor see it. */
export interface PeerLinkHealth {
  circuit: CircuitState;
  /** ISO time the current outage started, or null when the peer is not known to be offline. */
  offlineSince: string | null;
  /** Network failures in the current outage. */
  failedCalls: number;
  /** The error that started the current outage (printable, bounded). */
  offlineError: string | null;
  /**
   * The peer's clock minus ours (ms, positive: the peer is ahead), from the `Date` header of
   * the last non-cached successful call; 0 within the header's resolution (±2 s); null before
   * any reading. In memory only.
   */
  clockSkewMs: number | null;
  /**
   * The median latency (ms, connect to last byte) of the calls that reached the peer in the
   * recent window ({@link LATENCY_WINDOW_CALLS} calls, none older than {@link LATENCY_WINDOW_MS});
   * cached answers are not calls. Null with no call in the window. In memory only.
   */
  latencyP50Ms: number | null;
}

/** The latency window: the last this many calls that reached the peer … */
export const LATENCY_WINDOW_CALLS = 50;
/** … none older than this. */
export const LATENCY_WINDOW_MS = 10 * 60_000;

/** The median of `samples` (ms, rounded), or null when there are none. */
export function medianLatency(samples: readonly number[]): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return Math.round(sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2);
}

/** HTTP `Date` has 1 s resolution: a skew this small is no skew. */
export const CLOCK_SKEW_NOISE_MS = 2_000;
const SKEW_YELLOW_MS = 60_000;
/** Certificates are backdated a few minutes: past this a fresh one may read as not yet valid. */
const SKEW_RED_MS = 5 * 60_000;

/**
 * Doctor's `peers.clock_skew` from each peer's last reading: yellow over 60 s, red over 5 min.
 *
 * @example
 * clockSkewCheck([{ name: 'work', clockSkewMs: 120_000 }]) // ['peers.clock_skew', 'yellow', 'work is 2 min ahead', 'sync this host's clock …']
 */
export function clockSkewCheck(
  peers: ReadonlyArray<{ name: string; clockSkewMs: number | null }>,
): [id: string, status: 'green' | 'yellow' | 'red', message: string, remediation: string | null] {
  const read = peers.filter((p): p is { name: string; clockSkewMs: number } => p.clockSkewMs !== null);
  const off = read.filter((p) => Math.abs(p.clockSkewMs) > SKEW_YELLOW_MS).sort((a, b) => Math.abs(b.clockSkewMs) - Math.abs(a.clockSkewMs));
  if (off.length === 0) {
    return ['peers.clock_skew', 'green', read.length === 0 ? 'no peer reading yet' : `${read.length} peer${read.length === 1 ? '' : 's'} within 60 s`, null];
  }
  const red = off.some((p) => Math.abs(p.clockSkewMs) > SKEW_RED_MS);
  const message = off.map((p) => `${p.name} is ${skewText(Math.abs(p.clockSkewMs))} ${p.clockSkewMs > 0 ? 'ahead' : 'behind'}`).join('; ');
  return [
    'peers.clock_skew',
    red ? 'red' : 'yellow',
    red ? `${message} (past 5 min a fresh certificate may read as not yet valid)` : message,
    "sync this host's clock (chrony/systemd-timesyncd) or ask the peer's admin to",
  ];
}

function skewText(ms: number): string {
  return ms < 90_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;
}

interface Outage {
  since: number;
  failures: number;
  error: string;
}

interface Connection {
  readonly name: string;
  readonly grantId: string;
  /** Cache entries of this peer are keyed (and flushed) by this. */
  readonly scope: string;
  readonly client: FederationClient;
  readonly breaker: CircuitBreaker;
  /** The certificate the client presents now: its serial and notBefore (ms). */
  serial: string;
  certNotBefore: number;
  /** Bumped on every flush: an answer that was in flight across a flush is not cached. */
  generation: number;
  outage: Outage | null;
  lastSuccessWrite: number;
  lastFailureWrite: number;
  /** See {@link PeerLinkHealth.clockSkewMs}. */
  clockSkewMs: number | null;
  /** Latencies of the last calls that reached the peer, oldest first (see {@link PeerLinkHealth.latencyP50Ms}). */
  latencies: Array<{ at: number; ms: number }>;
}

const LAST_ERROR_MAX = 500;

/**
 * CRL reasons that mean "this certificate was replaced", not "the grant was revoked". The
 * serving side writes `superseded` for the previous serial of a renewal and of a
 * re-enrollment; a revoked grant (admin revoke, deleted user) is `cessationOfOperation`, so
 * that one — and every other reason, or none — stays a revocation.
 */
const REPLACED_REASONS: ReadonlySet<string> = new Set(['superseded']);

/** A bounded, printable error text for `lastError` and sources: never a key, a body or a row. */
export function errorText(err: unknown): string {
  if (isMosaicError(err)) return printable(err.message, LAST_ERROR_MAX);
  return 'unexpected error (see the gateway log)';
}

export interface PeerConnectionsDeps {
  storage: Storage;
  peerClients: PeerClients;
  logger: Logger;
  metrics?: Metrics;
  options?: PeerConnectionOptions;
}

/**
 * Live links to the peers. Every federation call of the requesting side goes through here.
 *
 * @example
 * const { body, cached } = await connections.list(record, 'tasks', { limit: 50 }, { headers: { traceparent } });
 */
export class PeerConnections {
  readonly cache: ResponseCache;
  readonly options: Required<Omit<PeerConnectionOptions, 'now'>>;
  private readonly now: () => number;
  private readonly connections = new Map<string, Connection>();
  /** Headers of the call being made (read by every client's `headers` hook). */
  private readonly callHeaders = new AsyncLocalStorage<Record<string, string>>();
  private closed = false;

  constructor(private readonly deps: PeerConnectionsDeps) {
    const o = deps.options ?? {};
    this.now = o.now ?? Date.now;
    this.options = {
      cacheTtlMs: o.cacheTtlMs ?? 30_000,
      cacheMaxEntries: o.cacheMaxEntries ?? 1_000,
      failureThreshold: o.failureThreshold ?? 5,
      cooldownMs: o.cooldownMs ?? 30_000,
      requestTimeoutMs: o.requestTimeoutMs ?? 5_000,
      crlTimeoutMs: o.crlTimeoutMs ?? 3_000,
      metadataWriteIntervalMs: o.metadataWriteIntervalMs ?? 5_000,
    };
    this.cache = new ResponseCache({ ttlMs: this.options.cacheTtlMs, maxEntries: this.options.cacheMaxEntries, now: this.now });
  }

  // ── verbs ────────────────────────────────────────────────────────────────────────────

  /** `capabilities` of the peer (never cached). */
  capabilities(record: PeerRecord, context: PeerCallContext = {}): Promise<VerbResult<CapabilitiesResponse>> {
    return this.call(record, context, null, (c) => c.capabilities());
  }

  /** One page of `resource` (cached for the cache's TTL). */
  list(record: PeerRecord, resource: string, options: { limit?: number; cursor?: string } = {}, context: PeerCallContext = {}): Promise<VerbResult<ListResponse>> {
    const params: Record<string, unknown> = {};
    if (options.limit !== undefined) params.limit = options.limit;
    if (options.cursor !== undefined) params.cursor = options.cursor;
    return this.call(record, context, { verb: 'list', resource, params }, (c) => c.list(resource, options));
  }

  /** One row (cached for the cache's TTL; a 404 is not cached). */
  get(record: PeerRecord, resource: string, id: string, context: PeerCallContext = {}): Promise<VerbResult<GetResponse>> {
    return this.call(record, context, { verb: 'get', resource, params: { id } }, (c) => c.get(resource, id));
  }

  /** Keyword search: never cached. */
  search(record: PeerRecord, resource: string, query: string, options: { limit?: number } = {}, context: PeerCallContext = {}): Promise<VerbResult<SearchResponse>> {
    return this.call(record, context, null, (c) => c.search(resource, query, options));
  }

  // ── lifecycle ────────────────────────────────────────────────────────────────────────

  /** The peer's circuit as of now (`closed` for a peer not called since start). */
  circuit(name: string): CircuitState {
    return this.connections.get(name)?.breaker.state ?? 'closed';
  }

  /** The peer's link health (circuit and the current outage, if any). */
  health(name: string): PeerLinkHealth {
    const c = this.connections.get(name);
    return {
      circuit: c?.breaker.state ?? 'closed',
      offlineSince: c?.outage ? new Date(c.outage.since).toISOString() : null,
      failedCalls: c?.outage?.failures ?? 0,
      offlineError: c?.outage?.error ?? null,
      clockSkewMs: c?.clockSkewMs ?? null,
      latencyP50Ms: c === undefined ? null : this.latencyP50(c),
    };
  }

  private latencyP50(c: Connection): number | null {
    const since = this.now() - LATENCY_WINDOW_MS;
    return medianLatency(c.latencies.filter((l) => l.at >= since).map((l) => l.ms));
  }

  /** Drop every cached answer of the peer; returns how many were dropped. */
  flush(name: string): number {
    const c = this.connections.get(name);
    if (c === undefined) return 0;
    c.generation += 1;
    return this.cache.flushGrant(c.scope);
  }

  /**
   * Swap in renewed credentials atomically (the renewal job): requests in flight finish on
   * the old certificate, every later one uses the new; the peer's cache is flushed. A peer
   * without a live client needs nothing: its next client is made from the store.
   */
  async updateCredentials(name: string, credentials: FederationCredentials & { certSerial: string; certNotBefore: Date | string }): Promise<void> {
    const c = this.connections.get(name);
    if (c === undefined) return;
    c.serial = credentials.certSerial;
    c.certNotBefore = new Date(credentials.certNotBefore).getTime();
    this.flush(name);
    await c.client.updateCredentials({ certPem: credentials.certPem, keyPem: credentials.keyPem });
  }

  /** Forget the peer (it was removed): its cache is flushed and its connections closed. */
  async invalidate(name: string): Promise<void> {
    const c = this.connections.get(name);
    if (c === undefined) return;
    this.flush(name);
    this.connections.delete(name);
    await c.client.close();
  }

  /** Close every client (gateway shutdown). */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.connections.values()];
    this.connections.clear();
    this.cache.flush();
    await Promise.allSettled(all.map((c) => c.client.close()));
  }

  // ── internals ────────────────────────────────────────────────────────────────────────

  /** The live link of `record`, made on first use; a certificate changed in the store (another replica renewed) is swapped in. */
  private connection(record: PeerRecord): Connection {
    let c = this.connections.get(record.name);
    if (c !== undefined && c.grantId !== record.grantId) {
      // removed and added again under the same name (elsewhere): a different link
      void this.invalidate(record.name).catch(() => undefined);
      c = undefined;
    }
    if (c === undefined) {
      const name = record.name;
      const breaker = new CircuitBreaker(name, {
        failureThreshold: this.options.failureThreshold,
        cooldownMs: this.options.cooldownMs,
        now: this.now,
        onStateChange: (to, from) => this.deps.logger.debug({ peer: name, circuit: to, from }, `circuit ${to}: ${name}`),
      });
      const client = this.deps.peerClients.clientFor(record, {
        breaker: false, // the breaker is ours: a revoked certificate must not count against it
        cache: false, // the cache is ours: served before the breaker is asked
        timeoutMs: this.options.requestTimeoutMs,
        headers: () => this.callHeaders.getStore() ?? {},
      });
      c = {
        name,
        grantId: record.grantId,
        scope: JSON.stringify([name, record.grantId]),
        client,
        breaker,
        serial: record.certSerial,
        certNotBefore: Date.parse(record.certNotBefore),
        generation: 0,
        outage: null,
        lastSuccessWrite: 0,
        lastFailureWrite: 0,
        clockSkewMs: null,
        latencies: [],
      };
      this.connections.set(name, c);
    } else if (c.serial !== record.certSerial && Date.parse(record.certNotBefore) > c.certNotBefore) {
      // Only a newer certificate is swapped in: a record read just before this process's own
      // renewal swapped must not swap the old certificate back.
      const creds = this.deps.peerClients.credentialsOf(record);
      c.serial = record.certSerial;
      c.certNotBefore = Date.parse(record.certNotBefore);
      this.flush(record.name);
      // The agent is swapped synchronously; the old one closes once its requests are done.
      c.client.updateCredentials({ certPem: creds.certPem, keyPem: creds.keyPem }).catch((err: unknown) => {
        this.deps.logger.warn({ peer: record.name, err: errorText(err) }, 'closing the previous connection failed');
      });
    }
    return c;
  }

  private async call<T>(
    record: PeerRecord,
    context: PeerCallContext,
    cacheable: { verb: 'list' | 'get'; resource: string; params: Record<string, unknown> } | null,
    run: (client: FederationClient) => Promise<VerbResult<T>>,
  ): Promise<VerbResult<T>> {
    const name = record.name;
    const count = (outcome: string) => this.deps.metrics?.peerRequests.inc({ peer: name, outcome });
    if (this.closed) throw codedError('SHUTTING_DOWN', 'the gateway is shutting down');
    if (record.state === 'revoked') {
      count('revoked');
      throw codedError('GRANT_REVOKED', `${name}: this peer is revoked (${record.lastError ?? 'its grant was revoked'}); nothing was sent`, {
        remediation: `ask ${name}'s admin for a new grant and token, then \`mosaic federation peer remove ${name}\` and \`peer add\` again`,
      });
    }
    const c = this.connection(record);
    const key = cacheable === null ? null : { grantId: c.scope, verb: cacheable.verb, resource: cacheable.resource, queryHash: canonicalJson(cacheable.params) };
    if (key !== null) {
      const hit = this.cache.get<VerbResult<T>>(key);
      if (hit !== undefined) {
        count('cached');
        return { ...hit, cached: true, latencyMs: 0 };
      }
    }
    if (!c.breaker.tryAcquire()) {
      count('circuit_open');
      throw new CircuitOpenError(name, c.breaker.retryInMs());
    }
    const generation = c.generation;
    const sentAt = this.now();
    let result: VerbResult<T>;
    try {
      result = await this.callHeaders.run({ ...context.headers }, () => run(c.client));
    } catch (err) {
      throw await this.failed(c, record, err, count);
    }
    c.breaker.success();
    count('ok');
    if (!result.cached) this.recordLatency(c, result.latencyMs);
    if (!result.cached && result.serverDate !== null) {
      // the peer read its clock about halfway through the exchange
      const skew = result.serverDate - (sentAt + result.latencyMs / 2);
      c.clockSkewMs = Math.abs(skew) <= CLOCK_SKEW_NOISE_MS ? 0 : Math.round(skew);
    }
    await this.reached(c, record, true);
    if (key !== null && generation === c.generation && this.connections.get(name) === c) this.cache.set(key, result);
    return result;
  }

  private recordLatency(c: Connection, ms: number): void {
    c.latencies.push({ at: this.now(), ms });
    if (c.latencies.length > LATENCY_WINDOW_CALLS) c.latencies.splice(0, c.latencies.length - LATENCY_WINDOW_CALLS);
  }

  /** Decide what a failed call means (see the module comment); returns the error to throw. */
  private async failed(c: Connection, record: PeerRecord, err: unknown, count: (outcome: string) => void): Promise<unknown> {
    const name = record.name;
    if (err instanceof FederationRequestError && err.status < 500) {
      // The peer is up and answered: a half-open probe closes the circuit, an outage ends.
      c.breaker.success();
      count('refused');
      if (err.status === 403 && err.code === 'GRANT_REVOKED') {
        await this.markRevoked(c, record, `${name} says the grant is revoked`);
        await this.reached(c, record, false);
      } else if (err.status === 403 && err.code === 'GRANT_EXPIRED') {
        this.flush(name);
        await this.write(name, () => this.deps.storage.peers.recordFailure(name, { error: errorText(err), state: 'degraded' }));
        this.deps.logger.warn({ peer: name, error: errorText(err) }, `federation peer degraded: ${name} (grant or certificate expired)`);
        await this.reached(c, record, false);
      } else {
        // 404 (no such row) and the like are ordinary answers of a working link.
        await this.reached(c, record, err.status === 404);
      }
      return err;
    }
    if (err instanceof PeerRefusedCertificateError) {
      let listed = false;
      let reason: string | undefined;
      let why = 'our serial is not on its CRL';
      try {
        const entry = await peerCrlEntry({
          peerName: name,
          endpoint: record.endpoint,
          caPem: record.caCertPem,
          serialHex: c.serial,
          timeoutMs: this.options.crlTimeoutMs,
        });
        listed = entry !== null;
        reason = entry?.reason;
      } catch (crlErr) {
        why = `its CRL could not be read: ${errorText(crlErr)}`;
      }
      if (listed && reason !== undefined && REPLACED_REASONS.has(reason)) {
        // Our certificate was replaced (a renewal whose answer we never stored, or a
        // re-enrollment elsewhere), not the grant revoked: degraded, and a re-enrollment mends it.
        c.breaker.reset();
        count('superseded');
        const text = `our certificate (serial ${c.serial}) was superseded on ${name} (listed on its CRL as ${reason}): the grant may still be live, but this certificate no longer works; a re-enrollment is needed`;
        const remediation = `ask ${name}'s admin for a re-enrollment token (\`mosaic federation grant token ${record.grantId} --reenroll\`), then \`mosaic federation peer remove ${name}\` and \`peer add\` with it`;
        this.flush(name);
        c.outage = null;
        await this.write(name, () => this.deps.storage.peers.recordFailure(name, { error: printable(`${text} (${remediation})`, LAST_ERROR_MAX), state: 'degraded' }));
        this.deps.logger.warn({ peer: name, serial: c.serial, reason }, `federation peer degraded: ${name} (our certificate was superseded; re-enrollment needed)`);
        return codedError('PEER_REFUSED_CERT', `${name}: ${text}`, { remediation, cause: err });
      }
      if (listed) {
        // Revoked, not unreachable: no breaker count, no outage.
        c.breaker.reset();
        count('revoked');
        await this.markRevoked(c, record, `our certificate (serial ${c.serial}) is on ${name}'s CRL`);
        return codedError('GRANT_REVOKED', `${name}: our certificate (serial ${c.serial}) is on ${name}'s CRL: the grant was revoked`, {
          remediation: `ask ${name}'s admin for a new grant and token, then \`mosaic federation peer remove ${name}\` and \`peer add\` again`,
          cause: err,
        });
      }
      this.deps.logger.debug({ peer: name, why }, 'closed handshake treated as a network failure');
    }
    c.breaker.failure();
    count('failed');
    await this.networkFailure(c, record, err);
    return err;
  }

  private async markRevoked(c: Connection, record: PeerRecord, why: string): Promise<void> {
    this.flush(record.name);
    c.outage = null;
    await this.write(record.name, () => this.deps.storage.peers.recordFailure(record.name, { error: printable(why, LAST_ERROR_MAX), state: 'revoked' }));
    this.deps.logger.warn({ peer: record.name, why }, `federation peer revoked: ${record.name}`);
  }

  /** A call reached the peer: an outage ends (one recovery line); `success` also records lastSuccessAt. */
  private async reached(c: Connection, record: PeerRecord, success: boolean): Promise<void> {
    const t = this.now();
    const ended = c.outage;
    if (ended !== null) {
      c.outage = null;
      this.deps.logger.info(
        { peer: record.name, offlineMs: t - ended.since, failedCalls: ended.failures },
        `federation back online: ${record.name}`,
      );
    }
    if (!success) return;
    // (a peer degraded by a failing renewal stays degraded through reads: no write on every one)
    const healable = record.state === 'degraded' && record.renewalFailedSince === null;
    if (ended !== null || healable || t - c.lastSuccessWrite >= this.options.metadataWriteIntervalMs) {
      c.lastSuccessWrite = t;
      await this.write(record.name, () => this.deps.storage.peers.recordSuccess(record.name));
    }
  }

  /** A network failure: starts an outage (one warning) or extends it; lastFailureAt/lastError recorded. */
  private async networkFailure(c: Connection, record: PeerRecord, err: unknown): Promise<void> {
    const t = this.now();
    const text = errorText(err);
    let started = false;
    if (c.outage === null) {
      c.outage = { since: t, failures: 1, error: text };
      started = true;
      this.deps.logger.warn({ peer: record.name, error: text }, `federation offline: ${record.name}`);
    } else {
      c.outage.failures += 1;
    }
    if (started || t - c.lastFailureWrite >= this.options.metadataWriteIntervalMs) {
      c.lastFailureWrite = t;
      await this.write(record.name, () => this.deps.storage.peers.recordFailure(record.name, { error: text }));
    }
  }

  /** Peer metadata writes never fail a query: a store hiccup or a peer removed meanwhile is logged. */
  private async write(name: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (isMosaicError(err) && err.code === 'PEER_NOT_FOUND') return;
      this.deps.logger.warn({ peer: name, err: err instanceof Error ? err.message : String(err) }, `could not record the state of peer ${quoteForDisplay(name)}`);
    }
  }
}
