/**
 * Cross-replica invalidation on PostgreSQL: `LISTEN`/`NOTIFY` on one dedicated connection.
 *
 * Replicas sharing a store keep a few things in memory for speed: the revoked serials the
 * listener checks at every handshake, the admin token hashes, the short-TTL grant cache. A
 * change made through one replica (a revoke, a grant edit, a renewal, an admin token) is
 * announced with `pg_notify`; every other replica applies it at once — refusing the revoked
 * serials and closing their live sockets, dropping the grant from its cache, reloading the
 * tokens.
 *
 * Notifications are a fast path, never the guarantee:
 * - Revokes and admin-token changes are notified *inside* the committing transaction
 *   (`inTransaction`): PostgreSQL delivers them exactly when, and only if, it commits — no window
 *   where the change is committed but not announced (a crash, a dropped connection).
 * - Other events (`publish`) are sent after commit through the store's pool, not through the
 *   LISTEN connection, so a LISTEN connection that is down does not drop them.
 * - The LISTEN connection proves itself: every `heartbeatMs` it notifies itself, and without the
 *   echo within `deadAfterMs` (a silently dead TCP connection, a pooler in transaction mode that
 *   does not keep LISTEN) it counts as down and is replaced.
 * - Whatever happens to NOTIFY, the gateway re-reads the admin tokens and revoked serials every
 *   second anyway (gateway.ts): the documented bound does not rest on this class.
 *
 * Why PostgreSQL and not Redis pub/sub: the state of record is in PostgreSQL, so a replica that
 * can hear PostgreSQL is exactly a replica that can authorize; Redis is allowed to be down (rate
 * limits degrade) without authorization going stale. The connection reconnects on its own
 * (250 ms doubling to 2 s); after every connection — the first one too — `onResync` reloads
 * everything, and only once it succeeded does the connection count as up.
 *
 * @example
 * const inv = new SharedInvalidation({ databaseUrl, scope: ca.caPin, logger, onEvent, onResync, send });
 * await inv.start();
 * await storage.transaction(async (tx) => { …; await inv.inTransaction(tx, [{ kind: 'tokens' }]); });
 * inv.publish({ kind: 'grant', grantId });
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';

/** The channel every replica listens on (one per database; `scope` tells deployments apart). */
export const INVALIDATION_CHANNEL = 'mosaic_invalidate';

/** What changed. Serials are lowercase hex, as the revoked set holds them. */
export type InvalidationEvent =
  /** Serials revoked (committed): refuse them and close their sockets. */
  | { readonly kind: 'revoked'; readonly serials: readonly string[] }
  /** A grant was revoked or its subject removed: close every socket of it. */
  | { readonly kind: 'grant-closed'; readonly grantId: string }
  /** A grant was edited, revoked, re-enrolled or renewed: read it again. */
  | { readonly kind: 'grant'; readonly grantId: string }
  /** A renewal scheduled a revocation (the superseded serial, 10 minutes on). */
  | { readonly kind: 'scheduled' }
  /** Admin tokens were created or revoked. */
  | { readonly kind: 'tokens' };

/** Sends one notification on `channel` (the gateway: `select pg_notify(…)` through the store's pool). */
export type NotifySender = (channel: string, payload: string) => Promise<void>;

/** What `inTransaction` needs of a transaction: the store's `meta.notify` (delivered at commit). */
export interface NotifyingTransaction {
  readonly meta: { notify(channel: string, payload: string): Promise<void> };
}

export interface SharedInvalidationOptions {
  readonly databaseUrl: string;
  /** Tells deployments sharing one database apart (the CA pin): events of another are ignored. */
  readonly scope: string;
  readonly logger: Logger;
  /** An event another replica published. */
  onEvent(event: InvalidationEvent): void;
  /** After every connection, the first one too: reload everything (events sent meanwhile were lost). */
  onResync(): Promise<void>;
  /** How `publish` and the heartbeat send (default: on the LISTEN connection itself). */
  readonly send?: NotifySender;
  /** Reconnect delays (ms): first, and the cap it doubles up to. Default 250 and 2 000. */
  readonly retryMs?: { readonly first: number; readonly max: number };
  /** Self-notification period (ms, default 1 000) and how long without an echo means down (default 2 000). */
  readonly heartbeat?: { readonly everyMs: number; readonly deadAfterMs: number };
}

/** NOTIFY payloads are limited to 8000 bytes; a revoke of more serials is sent in pieces. */
const MAX_SERIALS_PER_EVENT = 100;

/** On the wire: origin, scope, and the event — or `p: 1` for a heartbeat. */
interface Wire {
  readonly o: string;
  readonly s: string;
  readonly e?: InvalidationEvent;
  readonly p?: 1;
}

function isEvent(value: unknown): value is InvalidationEvent {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  switch (e.kind) {
    case 'revoked':
      return Array.isArray(e.serials) && e.serials.every((s) => typeof s === 'string' && /^[0-9a-f]{1,64}$/.test(s));
    case 'grant':
    case 'grant-closed':
      return typeof e.grantId === 'string' && e.grantId.length > 0 && e.grantId.length <= 256;
    case 'scheduled':
    case 'tokens':
      return true;
    default:
      return false;
  }
}

/** `event` in pieces that fit a NOTIFY payload. */
function split(event: InvalidationEvent): InvalidationEvent[] {
  if (event.kind !== 'revoked' || event.serials.length <= MAX_SERIALS_PER_EVENT) return [event];
  return Array.from({ length: Math.ceil(event.serials.length / MAX_SERIALS_PER_EVENT) }, (_, i) => ({
    kind: 'revoked' as const,
    serials: event.serials.slice(i * MAX_SERIALS_PER_EVENT, (i + 1) * MAX_SERIALS_PER_EVENT),
  }));
}

/**
 * `fn` made coalescing: a call while a run is in flight schedules one more run after it (any
 * number of calls meanwhile share that one run). Every caller's promise settles with a run that
 * started after its call.
 *
 * @example
 * const reload = coalesced(() => verifier.reload(read));
 * void reload(); void reload(); void reload(); // two reads at most
 */
export function coalesced(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  const run = (): Promise<void> => {
    const p = fn().finally(() => {
      if (running === p) running = null;
    });
    running = p;
    return p;
  };
  return () => {
    if (running === null) return run();
    queued ??= running
      .catch(() => undefined)
      .then(() => {
        queued = null;
        return run();
      });
    return queued;
  };
}

/** One dedicated LISTEN connection, reconnecting until `close()`. */
export class SharedInvalidation {
  readonly #options: SharedInvalidationOptions;
  /** This process's id: its own notifications come back to it and are skipped (heartbeats: counted). */
  readonly #origin = randomUUID();
  #client: pg.Client | null = null;
  #closed = false;
  #retryTimer: NodeJS.Timeout | null = null;
  #heartbeatTimer: NodeJS.Timeout | null = null;
  #lastEcho = 0;
  #delay: number;
  #connected = false;
  #received = 0;
  #reconnects = 0;
  #connections = 0;
  #sending: Promise<void> = Promise.resolve();

  constructor(options: SharedInvalidationOptions) {
    this.#options = options;
    this.#delay = options.retryMs?.first ?? 250;
  }

  /** True while the LISTEN connection is up, resynced, and echoing its heartbeat. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Events received from other replicas since start. */
  get received(): number {
    return this.#received;
  }

  /** Successful reconnections after the first connection. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** Connect and LISTEN; a failure here is retried in the background (the poll covers meanwhile). */
  async start(): Promise<void> {
    await this.#connect();
  }

  /** The payloads announcing `event` (pieces of at most 100 serials). */
  payloads(event: InvalidationEvent): string[] {
    if (event.kind === 'revoked' && event.serials.length === 0) return [];
    return split(event).map((e) => JSON.stringify({ o: this.#origin, s: this.#options.scope, e } satisfies Wire));
  }

  /**
   * Announce `events` inside the caller's transaction: PostgreSQL delivers them when it
   * commits, and never if it rolls back. Throws what the store throws (the transaction fails).
   */
  async inTransaction(tx: NotifyingTransaction, events: readonly InvalidationEvent[]): Promise<void> {
    for (const event of events) {
      for (const payload of this.payloads(event)) await tx.meta.notify(INVALIDATION_CHANNEL, payload);
    }
  }

  /**
   * Tell the other replicas of a change that already committed. Never throws; sent through
   * `send` (the store's pool), so the LISTEN connection being down loses nothing. A failed send
   * is logged: the others see the change at their next poll (≤ 1 s).
   */
  publish(event: InvalidationEvent): void {
    for (const payload of this.payloads(event)) {
      // One at a time, in order.
      this.#sending = this.#sending
        .then(() => this.#send(payload))
        .then(
          () => undefined,
          (err: unknown) => {
            this.#options.logger.warn({ kind: event.kind, err: (err as Error).message }, 'invalidation not published (the other replicas poll every second)');
          },
        );
    }
  }

  /** Stop listening and reconnecting. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    this.#stopHeartbeat();
    const client = this.#client;
    this.#client = null;
    this.#connected = false;
    if (client !== null) await client.end().catch(() => undefined);
  }

  async #send(payload: string): Promise<void> {
    if (this.#options.send !== undefined) return this.#options.send(INVALIDATION_CHANNEL, payload);
    const client = this.#client;
    if (client === null) throw new Error('the LISTEN connection is down');
    await client.query('select pg_notify($1, $2)', [INVALIDATION_CHANNEL, payload]);
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({
      connectionString: this.#options.databaseUrl,
      application_name: 'mosaic-gateway-listen',
      keepAlive: true,
      // without it the OS default (about 2 hours) applies before the first probe
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 5_000,
    });
    let lost = false;
    const onLost = (why: string) => {
      if (lost) return;
      lost = true;
      if (this.#client === client) {
        this.#client = null;
        this.#connected = false;
        this.#stopHeartbeat();
      }
      client.removeAllListeners('notification');
      client.end().catch(() => undefined);
      // a silently dead connection would wait for TCP to give up: drop the socket now
      (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream?.destroy?.();
      if (!this.#closed) {
        this.#options.logger.warn({ reason: why }, 'invalidation LISTEN connection lost; reconnecting (polling every second meanwhile)');
        this.#schedule();
      }
    };
    client.on('error', (err: Error) => onLost(err.message));
    client.on('end', () => onLost('connection ended'));
    client.on('notification', (msg) => this.#onNotification(msg));
    try {
      await client.connect();
      await client.query(`LISTEN ${INVALIDATION_CHANNEL}`);
    } catch (err) {
      if (!lost) onLost((err as Error).message);
      return;
    }
    if (this.#closed || lost) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
    // Whatever was published before this LISTEN took effect is lost: read everything again —
    // at the first connection too (the caches were loaded before it). Up only once that worked.
    try {
      await this.#options.onResync();
    } catch (err) {
      onLost(`could not reload after connecting: ${(err as Error).message}`);
      return;
    }
    if (this.#closed || lost) return;
    this.#connected = true;
    this.#delay = this.#options.retryMs?.first ?? 250;
    if (this.#connections++ > 0) {
      this.#reconnects++;
      this.#options.logger.info('invalidation LISTEN connection back; shared state reloaded');
    }
    this.#startHeartbeat(client, onLost);
  }

  #startHeartbeat(client: pg.Client, onLost: (why: string) => void): void {
    const everyMs = this.#options.heartbeat?.everyMs ?? 1_000;
    const deadAfterMs = this.#options.heartbeat?.deadAfterMs ?? 2_000;
    this.#lastEcho = Date.now();
    const ping = JSON.stringify({ o: this.#origin, s: this.#options.scope, p: 1 } satisfies Wire);
    this.#heartbeatTimer = setInterval(() => {
      if (this.#client !== client) return;
      if (Date.now() - this.#lastEcho > deadAfterMs) {
        onLost(`no heartbeat echo for ${deadAfterMs} ms`);
        return;
      }
      // through the same path as publish: an echo proves both sending and listening work
      this.#send(ping).catch(() => undefined);
    }, everyMs);
    this.#heartbeatTimer.unref();
  }

  #stopHeartbeat(): void {
    if (this.#heartbeatTimer !== null) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
  }

  #schedule(): void {
    if (this.#closed || this.#retryTimer !== null) return;
    const delay = this.#delay;
    this.#delay = Math.min(delay * 2, this.#options.retryMs?.max ?? 2_000);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      void this.#connect();
    }, delay);
    this.#retryTimer.unref();
  }

  #onNotification(msg: pg.Notification): void {
    if (msg.channel !== INVALIDATION_CHANNEL || msg.payload === undefined) return;
    let wire: Partial<Wire>;
    try {
      wire = JSON.parse(msg.payload) as Partial<Wire>;
    } catch {
      return;
    }
    if (wire.s !== this.#options.scope) return;
    if (wire.o === this.#origin) {
      if (wire.p === 1) this.#lastEcho = Date.now();
      return;
    }
    if (!isEvent(wire.e)) return;
    this.#received++;
    try {
      this.#options.onEvent(wire.e);
    } catch (err) {
      this.#options.logger.warn({ kind: wire.e.kind, err: (err as Error).message }, 'could not apply an invalidation');
    }
  }
}
