/**
 * The shipper: moves spool rows to the main store (`storage.audit.appendMany`, idempotent by
 * row id) in batches, oldest first, and marks them shipped only after the store committed.
 * It never sits on a request's path: a slow or failing store only grows the backlog, and
 * failed batches retry with backoff until they land. Rows a crash left unshipped go on start.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { AuditRecord, Storage } from '../storage/index.js';
import { reasonOf } from './errors.js';
import type { AuditSpool } from './spool.js';

export interface AuditShipperOptions {
  spool: AuditSpool;
  storage: Pick<Storage, 'audit'>;
  logger?: Logger | undefined;
  /**
   * Rows per store transaction (default 100). A batch is read, parsed and bound on the event
   * loop in one go, so its size bounds that pause: with a slow main store the backlog grows and
   * 500-row batches showed in the answers' p99 (`pnpm bench`, slow-store part); 100 rows still
   * drain tens of thousands of rows a second from a healthy store.
   */
  batchSize?: number | undefined;
  /** Rows per store transaction in {@link AuditShipper.flush} (shutdown, migrate-storage; default 500): nobody waits on the event loop then, and a backlog drains 5× faster from a slow store. */
  flushBatchSize?: number | undefined;
  /** How long rows gather before a batch ships (ms, default 20; rows must reach the live tail within 1 s). */
  delayMs?: number | undefined;
  /** First retry after a failed batch (ms, default 100), doubling up to {@link maxBackoffMs}. */
  minBackoffMs?: number | undefined;
  maxBackoffMs?: number | undefined;
  /** A batch the store has not committed after this long counts as failed and is retried (ms, default 30 000). */
  shipTimeoutMs?: number | undefined;
  /** Where shipped rows are announced (default: a new {@link AuditTail}). */
  tail?: AuditTail | undefined;
}

/** Counters of the shipper, for metrics. */
export interface ShipperCounters {
  /** Rows shipped since start. */
  readonly shipped: number;
  /** Batches committed since start. */
  readonly batches: number;
  /** Failed batch attempts since start. */
  readonly failures: number;
  /** Failed attempts in a row (0 when the last one landed). */
  readonly consecutiveFailures: number;
  readonly lastError: string | null;
  readonly lastShippedAt: string | null;
  /** Unshipped rows in the spool. */
  readonly backlog: number;
}

/**
 * The in-process live tail: `rows` is emitted with each batch the main store committed
 * (in spool order). SSE streams use it as a wake-up and read the store.
 */
export class AuditTail extends EventEmitter<{ rows: [AuditRecord[]] }> {
  constructor() {
    super();
    this.setMaxListeners(0);
  }
}

/** Ships one spool to the main store (see the module comment). */
export class AuditShipper {
  readonly tail: AuditTail;
  readonly #spool: AuditSpool;
  readonly #storage: Pick<Storage, 'audit'>;
  readonly #logger: Logger | undefined;
  readonly #batchSize: number;
  readonly #flushBatchSize: number;
  readonly #delayMs: number;
  readonly #minBackoff: number;
  readonly #maxBackoff: number;
  readonly #timeoutMs: number;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #started = false;
  #stopped = false;
  #backoff = 0;
  #unsubscribe: (() => void) | null = null;
  #shipped = 0;
  #batches = 0;
  #failures = 0;
  #consecutive = 0;
  #lastError: string | null = null;
  #lastShippedAt: string | null = null;
  /** In {@link flush}: nobody waits on the event loop for an answer, so batches are bigger. */
  #flushing = false;

  constructor(options: AuditShipperOptions) {
    this.#spool = options.spool;
    this.#storage = options.storage;
    this.#logger = options.logger;
    this.#batchSize = options.batchSize ?? 100;
    this.#flushBatchSize = options.flushBatchSize ?? 500;
    this.#delayMs = options.delayMs ?? 20;
    this.#minBackoff = options.minBackoffMs ?? 100;
    this.#maxBackoff = options.maxBackoffMs ?? 30_000;
    this.#timeoutMs = options.shipTimeoutMs ?? 30_000;
    this.tail = options.tail ?? new AuditTail();
  }

  /** Start shipping: now (rows a crash left behind), then whenever rows are appended. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#unsubscribe = this.#spool.onAppend(() => this.#schedule(this.#delayMs));
    this.#schedule(0);
  }

  /** Unshipped rows in the spool. */
  backlog(): number {
    return this.#spool.backlog();
  }

  counters(): ShipperCounters {
    return {
      shipped: this.#shipped,
      batches: this.#batches,
      failures: this.#failures,
      consecutiveFailures: this.#consecutive,
      lastError: this.#lastError,
      lastShippedAt: this.#lastShippedAt,
      backlog: this.#spool.backlog(),
    };
  }

  #schedule(delay: number): void {
    if (this.#stopped || this.#timer !== null || this.#running !== null) return;
    if (this.#backoff > 0) delay = Math.max(delay, this.#backoff);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.#run();
    }, delay);
    this.#timer.unref();
  }

  /** One drain of the spool; a failure schedules a retry with backoff. */
  #run(): Promise<void> {
    if (this.#running !== null) return this.#running;
    const run = (async () => {
      try {
        while (await this.#shipBatch()) {
          // next batch
        }
        this.#backoff = 0;
      } catch (err) {
        this.#failures++;
        this.#consecutive++;
        this.#lastError = reasonOf(err);
        this.#backoff = Math.min(this.#maxBackoff, this.#backoff === 0 ? this.#minBackoff : this.#backoff * 2);
        this.#logger?.warn({ err: this.#lastError, backlog: this.#spool.backlog(), retryInMs: this.#backoff }, 'audit shipping failed; rows stay in the spool');
        throw err;
      } finally {
        this.#running = null;
      }
    })();
    this.#running = run;
    // Rows appended while this drain ran, or a retry after a failure.
    run.then(
      () => {
        if (this.#started && this.#spool.backlog() > 0) this.#schedule(this.#delayMs);
      },
      () => {
        if (this.#started) this.#schedule(this.#backoff);
      },
    );
    return run;
  }

  /** Ship one batch; false when the spool had nothing left. */
  async #shipBatch(): Promise<boolean> {
    const size = this.#flushing ? this.#flushBatchSize : this.#batchSize;
    const batch = this.#spool.unshipped(size);
    if (batch.length === 0) return false;
    const records = batch.map((b) => b.record);
    await withTimeout(this.#storage.audit.appendMany(records), this.#timeoutMs);
    await this.#spool.markShipped(batch.at(-1)!.seq, batch.length);
    this.#shipped += batch.length;
    this.#batches++;
    this.#consecutive = 0;
    this.#lastError = null;
    this.#lastShippedAt = new Date().toISOString();
    this.tail.emit('rows', records);
    return batch.length === size;
  }

  /**
   * Ship everything now (at shutdown, or before reading the store in a test); retries with
   * backoff until the spool is empty or `timeoutMs` (default 10 s) passes.
   * @throws the store's last error when rows are still unshipped at the deadline
   */
  async flush(timeoutMs = 10_000): Promise<void> {
    this.#flushing = true;
    try {
      await this.#flushNow(timeoutMs);
    } finally {
      this.#flushing = false;
    }
  }

  async #flushNow(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    let wait = this.#minBackoff;
    for (;;) {
      try {
        if (this.#running !== null) await this.#running.catch(() => undefined);
        await this.#run();
        if (this.#spool.backlog() === 0 || this.#spool.unshipped(1).length === 0) return;
      } catch (err) {
        if (Date.now() + wait > deadline) throw err;
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(this.#maxBackoff, wait * 2);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`audit flush timed out with ${this.#spool.backlog()} rows unshipped`);
    }
  }

  /** Stop shipping (rows left stay in the spool for the next start). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#started = false;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => undefined);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the main audit store did not commit within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
