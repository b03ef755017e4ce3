/**
 * The local audit spool: `<dataDir>/audit-spool.db`, SQLite in WAL mode. Every decision is
 * written here before its answer leaves (SECURITY.md "Audit never drops and never lies");
 * the shipper then moves rows to the main store.
 *
 * - `durability: 'normal'` (default): `synchronous=NORMAL` (no fsync: a committed row is in
 *   the WAL, which survives `kill -9`), written on the calling thread with group commit per
 *   turn of the event loop: the rows appended during one turn (the requests answered
 *   together) go in one transaction at its end (`setImmediate`). `append` resolves once its
 *   transaction committed — about 40 % cheaper per row than one autocommit insert each
 *   (`pnpm bench`, docs/benchmarks.md).
 * - `durability: 'full'`: `synchronous=FULL` (survives power loss) with group commit on a
 *   worker thread: rows that arrive while a commit is in flight go together in the next
 *   transaction, and the fsync never blocks the event loop. `append` resolves once its
 *   transaction committed.
 *
 * Rows are hash-chained per spool: `prevHash` is the digest ({@link rowDigest}) of this
 * spool's previous row; the spool's id is random, made once and kept in the file. Shipped rows
 * are deleted, except the newest, which keeps the chain's tail across restarts.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import type { AuditRow } from '@mosaic/federation-core';
import type { Logger } from 'pino';
import { auditRowId } from '../services/audit.js';
import { loadNodeSqlite } from '../storage/sqlite.js';
import type { AuditRecord } from '../storage/index.js';
import { toTimestamp } from '../storage/time.js';
import { rowDigest } from './chain.js';
import { auditUnavailable, reasonOf } from './errors.js';

/** The spool file's name inside the data dir. */
export const AUDIT_SPOOL_FILE_NAME = 'audit-spool.db';

/** How often an unavailable spool tries to reopen (on append), at most (ms). */
const REOPEN_INTERVAL_MS = 1_000;

export type AuditDurability = 'normal' | 'full';

export interface AuditSpoolOptions {
  dataDir: string;
  /** `normal` (default): WAL + `synchronous=NORMAL`; `full`: `synchronous=FULL` with group commit off the main thread. */
  durability?: AuditDurability | undefined;
  /** Cap on the spool file (bytes): past it, `append` fails with AUDIT_UNAVAILABLE (as on a full disk). */
  maxSizeBytes?: number | undefined;
  logger?: Logger | undefined;
  /** File name inside `dataDir` (default {@link AUDIT_SPOOL_FILE_NAME}). */
  fileName?: string | undefined;
}

/** What a caller hands to {@link AuditSpool.append}: a row; `id`, `at` are filled in when missing, `prevHash` is always the spool's. */
export type SpoolEntry = Omit<AuditRow, 'id' | 'at' | 'prevHash'> & {
  id?: string | undefined;
  at?: string | Date | undefined;
  prevHash?: string | null | undefined;
  /** Detail of an admin mutation (JSON text), never a request body. Not covered by the chain. */
  detail?: string | null | undefined;
};

/** A spooled row waiting to ship, with its spool sequence. */
export interface SpooledRow {
  readonly seq: number;
  readonly record: AuditRecord;
}

/** Counters of the spool, for metrics and doctor. */
export interface SpoolStatus {
  readonly available: boolean;
  readonly durability: AuditDurability;
  readonly file: string;
  readonly spool: string | null;
  /** Rows written since start. */
  readonly appended: number;
  /** Appends refused (AUDIT_UNAVAILABLE) since start. */
  readonly appendFailures: number;
  readonly lastError: string | null;
  /** Unshipped rows. */
  readonly backlog: number;
}

interface PendingRow {
  readonly params: [string, string, string];
  readonly record: AuditRecord;
  readonly resolve: (r: AuditRecord) => void;
  readonly reject: (e: unknown) => void;
}

type Op =
  | { kind: 'insert'; rows: PendingRow[] }
  | { kind: 'ship'; seq: number; resolve: () => void; reject: (e: unknown) => void };

const SCHEMA = `
CREATE TABLE IF NOT EXISTS spool_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS spool_rows (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  hash TEXT NOT NULL,
  shipped INTEGER NOT NULL DEFAULT 0,
  body TEXT NOT NULL
);`;

const INSERT_SQL = 'INSERT INTO spool_rows (id, hash, body) VALUES (?, ?, ?)';
const MARK_SQL = 'UPDATE spool_rows SET shipped = 1 WHERE seq <= ? AND shipped = 0';
const PRUNE_SQL = 'DELETE FROM spool_rows WHERE shipped = 1 AND seq < (SELECT max(seq) FROM spool_rows)';

/** The FULL-durability writer: one connection on a worker thread, one transaction per message. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { DatabaseSync } = require('node:sqlite');
let db, insert, mark, prune;
try {
  db = new DatabaseSync(workerData.file);
  db.exec('PRAGMA busy_timeout = 5000; PRAGMA synchronous = FULL;');
  if (workerData.maxPages) db.exec('PRAGMA max_page_count = ' + Number(workerData.maxPages));
  insert = db.prepare(${JSON.stringify(INSERT_SQL)});
  mark = db.prepare(${JSON.stringify(MARK_SQL)});
  prune = db.prepare(${JSON.stringify(PRUNE_SQL)});
} catch (e) {
  parentPort.postMessage({ fatal: String(e && e.message) });
}
parentPort.on('message', (op) => {
  if (op.kind === 'close') {
    try { db && db.close(); } catch {}
    parentPort.postMessage({ closed: true });
    return;
  }
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      if (op.kind === 'insert') for (const r of op.rows) insert.run(r[0], r[1], r[2]);
      else { mark.run(op.seq); prune.run(); }
      db.exec('COMMIT');
    } catch (e) {
      try { db.exec('ROLLBACK'); } catch {}
      throw e;
    }
    parentPort.postMessage({ ok: true });
  } catch (e) {
    parentPort.postMessage({ ok: false, error: String(e && e.message), code: e && (e.errcode ?? e.code) });
  }
});
`;

function configure(db: DatabaseSync, synchronous: 'NORMAL' | 'FULL', maxPages: number | undefined): void {
  db.exec(`PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous};`);
  if (maxPages !== undefined) db.exec(`PRAGMA max_page_count = ${maxPages}`);
}

interface Opened {
  db: DatabaseSync;
  spoolId: string;
  tail: string | null;
  backlog: number;
  insert: StatementSync;
  mark: StatementSync;
  prune: StatementSync;
  unshipped: StatementSync;
  last: StatementSync;
}

/** The durable local audit spool (see the module comment). */
export class AuditSpool {
  readonly file: string;
  readonly durability: AuditDurability;
  readonly #options: AuditSpoolOptions;
  readonly #logger: Logger | undefined;
  readonly #maxPages: number | undefined;
  #open: Opened | null = null;
  #lastAttempt = 0;
  #lastError: string | null = null;
  #closed = false;
  /** Digest of the newest row handed out (what the next row's prevHash is). */
  #tail: string | null = null;
  /** Digest of the newest durable row (FULL: the tail to fall back to when a commit fails). */
  #committedTail: string | null = null;
  #backlog = 0;
  #appended = 0;
  #appendFailures = 0;
  readonly #listeners = new Set<() => void>();
  // NORMAL mode: the rows of this turn of the event loop, written together at its end
  #batch: PendingRow[] = [];
  #flushScheduled = false;
  // FULL mode
  #worker: Worker | null = null;
  readonly #ops: Op[] = [];
  #inFlight: Op | null = null;
  #pumpScheduled = false;

  private constructor(options: AuditSpoolOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.durability = options.durability ?? 'normal';
    this.file = join(options.dataDir, options.fileName ?? AUDIT_SPOOL_FILE_NAME);
    this.#maxPages = options.maxSizeBytes === undefined ? undefined : Math.max(2, Math.floor(options.maxSizeBytes / 4096));
  }

  /**
   * Open (or create) the spool. Never throws for an unwritable spool: it starts unavailable,
   * every `append` then fails with AUDIT_UNAVAILABLE (and retries opening, at most once a
   * second) — see {@link status}.
   */
  static open(options: AuditSpoolOptions): AuditSpool {
    const spool = new AuditSpool(options);
    spool.#tryOpen();
    return spool;
  }

  #tryOpen(): boolean {
    this.#lastAttempt = Date.now();
    let db: DatabaseSync | undefined;
    try {
      mkdirSync(this.#options.dataDir, { recursive: true, mode: 0o700 });
      const { DatabaseSync: Db } = loadNodeSqlite();
      db = new Db(this.file);
      configure(db, this.durability === 'full' ? 'FULL' : 'NORMAL', this.#maxPages);
      try {
        chmodSync(this.file, 0o600);
      } catch {
        // best effort
      }
      db.exec(SCHEMA);
      db.prepare('INSERT OR IGNORE INTO spool_meta (key, value) VALUES (?, ?)').run('spool', randomBytes(8).toString('hex'));
      const spoolId = (db.prepare('SELECT value FROM spool_meta WHERE key = ?').get('spool') as { value: string }).value;
      const tailRow = db.prepare('SELECT hash FROM spool_rows ORDER BY seq DESC LIMIT 1').get() as { hash: string } | undefined;
      const backlog = Number((db.prepare('SELECT count(*) AS n FROM spool_rows WHERE shipped = 0').get() as { n: number }).n);
      this.#open = {
        db,
        spoolId,
        tail: tailRow?.hash ?? null,
        backlog,
        insert: db.prepare(INSERT_SQL),
        mark: db.prepare(MARK_SQL),
        prune: db.prepare(PRUNE_SQL),
        unshipped: db.prepare('SELECT seq, body FROM spool_rows WHERE shipped = 0 ORDER BY seq LIMIT ?'),
        last: db.prepare('SELECT body FROM spool_rows ORDER BY seq DESC LIMIT 1'),
      };
      this.#tail = this.#committedTail = tailRow?.hash ?? null;
      this.#backlog = backlog;
      this.#lastError = null;
      if (this.durability === 'full') this.#startWorker();
      return true;
    } catch (err) {
      try {
        db?.close();
      } catch {
        // already failing
      }
      this.#open = null;
      this.#lastError = reasonOf(err);
      this.#logger?.error({ err: this.#lastError, file: this.file }, 'audit spool cannot be opened');
      return false;
    }
  }

  #startWorker(): void {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file: this.file, maxPages: this.#maxPages } });
    worker.unref();
    worker.on('message', (msg: { ok?: boolean; error?: string; code?: string | number; fatal?: string; closed?: boolean }) => {
      if (msg.closed === true) return;
      if (msg.fatal !== undefined) {
        this.#workerFailed(`spool writer cannot open the file: ${msg.fatal}`);
        return;
      }
      this.#settle(msg.ok === true ? null : `${msg.error ?? 'write failed'}${msg.code === undefined ? '' : ` (${String(msg.code)})`}`);
    });
    worker.on('error', (err: Error) => this.#workerFailed(`spool writer failed: ${err.message}`));
    worker.on('exit', (code) => {
      if (this.#worker === worker && !this.#closed) this.#workerFailed(`spool writer exited (${code})`);
    });
    this.#worker = worker;
  }

  #workerFailed(reason: string): void {
    this.#lastError = reason;
    this.#logger?.error({ err: reason, file: this.file }, 'audit spool writer failed');
    const worker = this.#worker;
    this.#worker = null;
    void worker?.terminate();
    // Everything queued or in flight fails; the spool reopens on a later append.
    const ops = this.#inFlight === null ? [...this.#ops] : [this.#inFlight, ...this.#ops];
    this.#inFlight = null;
    this.#ops.length = 0;
    for (const op of ops) this.#fail(op, reason);
    try {
      this.#open?.db.close();
    } catch {
      // already failing
    }
    this.#open = null;
  }

  #fail(op: Op, reason: string): void {
    if (op.kind === 'ship') op.reject(new Error(reason));
    else {
      this.#appendFailures += op.rows.length;
      for (const r of op.rows) r.reject(auditUnavailable(reason));
    }
  }

  /** The spool's id (its chain's name), or null while the spool cannot be opened. */
  get id(): string | null {
    return this.#open?.spoolId ?? null;
  }

  /** Be told after rows became durable (the shipper's wake-up). */
  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #notify(): void {
    for (const l of this.#listeners) l();
  }

  #record(entry: SpoolEntry, spoolId: string): AuditRecord {
    const at = entry.at === undefined ? new Date() : entry.at;
    const atMs = at instanceof Date ? at.getTime() : Date.parse(at);
    const row: AuditRow = {
      id: entry.id ?? auditRowId(Number.isFinite(atMs) ? atMs : Date.now()),
      at: toTimestamp(at),
      requestId: entry.requestId,
      callerRequestId: entry.callerRequestId,
      traceId: entry.traceId,
      grantId: entry.grantId,
      peer: entry.peer,
      subjectUserId: entry.subjectUserId,
      adminTokenName: entry.adminTokenName,
      verb: entry.verb,
      resource: entry.resource,
      queryHash: entry.queryHash,
      outcome: entry.outcome,
      statusCode: entry.statusCode,
      rowsOut: entry.rowsOut,
      bytesOut: entry.bytesOut,
      latencyMs: entry.latencyMs,
      prevHash: this.#tail,
    };
    return { ...row, hash: rowDigest(row), spool: spoolId, detail: entry.detail ?? null };
  }

  /**
   * Write a row to the spool; resolves once it is durable (see the module comment), with
   * the row as stored (`id`, `at`, `prevHash`, `hash`, `spool` filled in).
   * @throws AUDIT_UNAVAILABLE (503) when the spool cannot be written — answer 503, never unaudited
   */
  append(entry: SpoolEntry): Promise<AuditRecord> {
    if (this.#closed) return this.#refuse('the spool is closed');
    if (this.#open === null && (Date.now() - this.#lastAttempt < REOPEN_INTERVAL_MS || !this.#tryOpen())) {
      return this.#refuse(this.#lastError ?? 'the spool is not open');
    }
    const open = this.#open!;
    let record: AuditRecord;
    try {
      record = this.#record(entry, open.spoolId);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const params: [string, string, string] = [record.id, record.hash!, JSON.stringify(record)];
    this.#tail = record.hash;
    if (this.durability === 'normal') {
      return new Promise<AuditRecord>((resolve, reject) => {
        this.#batch.push({ params, record, resolve, reject });
        if (!this.#flushScheduled) {
          this.#flushScheduled = true;
          setImmediate(() => this.#flush());
        }
      });
    }
    return new Promise<AuditRecord>((resolve, reject) => {
      const last = this.#ops.at(-1);
      const pending: PendingRow = { params, record, resolve, reject };
      if (last?.kind === 'insert') last.rows.push(pending);
      else this.#ops.push({ kind: 'insert', rows: [pending] });
      this.#schedulePump();
    });
  }

  /**
   * NORMAL mode: write this turn's rows in one transaction; settle each once it committed
   * (or refuse them all, and chain the next row onto the last durable one).
   */
  #flush(): void {
    this.#flushScheduled = false;
    const rows = this.#batch;
    this.#batch = [];
    if (rows.length === 0) return;
    const open = this.#open;
    try {
      if (open === null) throw new Error(this.#lastError ?? 'the spool is not open');
      // Never inside a transaction left open by a failed ROLLBACK: the insert would not be durable when it returns.
      if (open.db.isTransaction) open.db.exec('ROLLBACK');
      if (rows.length === 1) open.insert.run(...rows[0]!.params);
      else {
        open.db.exec('BEGIN IMMEDIATE');
        try {
          for (const r of rows) open.insert.run(...r.params);
          open.db.exec('COMMIT');
        } catch (err) {
          try {
            open.db.exec('ROLLBACK');
          } catch {
            // the transaction is gone already
          }
          throw err;
        }
      }
    } catch (err) {
      const reason = reasonOf(err);
      this.#lastError = reason;
      this.#appendFailures += rows.length;
      this.#tail = this.#committedTail;
      this.#logger?.error({ err: reason, rows: rows.length }, 'audit spool write failed');
      for (const r of rows) r.reject(auditUnavailable(reason, err));
      return;
    }
    this.#committedTail = rows.at(-1)!.record.hash;
    this.#backlog += rows.length;
    this.#appended += rows.length;
    for (const r of rows) r.resolve(r.record);
    this.#notify();
  }

  #refuse(reason: string, cause?: unknown): Promise<never> {
    this.#appendFailures++;
    return Promise.reject(auditUnavailable(reason, cause));
  }

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#inFlight !== null) return;
    this.#pumpScheduled = true;
    // One turn of the event loop gathers the rows of requests answered together.
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#inFlight !== null) return;
    const op = this.#ops.shift();
    if (op === undefined) return;
    const worker = this.#worker;
    if (worker === null) {
      this.#fail(op, this.#lastError ?? 'the spool writer is not running');
      this.#pump();
      return;
    }
    this.#inFlight = op;
    worker.postMessage(op.kind === 'insert' ? { kind: 'insert', rows: op.rows.map((r) => r.params) } : { kind: 'ship', seq: op.seq });
  }

  /** A worker reply for the op in flight: null = committed, else the reason it failed. */
  #settle(error: string | null): void {
    const op = this.#inFlight;
    this.#inFlight = null;
    if (op === null) return;
    if (op.kind === 'ship') {
      if (error === null) op.resolve();
      else op.reject(new Error(error));
    } else if (error === null) {
      this.#committedTail = op.rows.at(-1)!.record.hash;
      this.#backlog += op.rows.length;
      this.#appended += op.rows.length;
      for (const r of op.rows) r.resolve(r.record);
      this.#notify();
    } else {
      this.#lastError = error;
      this.#logger?.error({ err: error, rows: op.rows.length }, 'audit spool write failed');
      this.#fail(op, error);
      // Rows queued behind it were chained onto rows that were never written: refuse them
      // too, and chain the next row onto the last durable one.
      for (let i = this.#ops.length - 1; i >= 0; i--) {
        const queued = this.#ops[i]!;
        if (queued.kind === 'insert') {
          this.#ops.splice(i, 1);
          this.#fail(queued, error);
        }
      }
      this.#tail = this.#committedTail;
    }
    this.#pump();
  }

  /** Up to `limit` unshipped rows, oldest first. */
  unshipped(limit: number): SpooledRow[] {
    const open = this.#open;
    if (open === null) return [];
    const rows = open.unshipped.all(limit) as { seq: number; body: string }[];
    return rows.map((r) => ({ seq: Number(r.seq), record: JSON.parse(r.body) as AuditRecord }));
  }

  /** Mark every row up to `seq` shipped (after the main store committed them) and drop shipped rows but the newest. */
  markShipped(seq: number, count: number): Promise<void> {
    const open = this.#open;
    if (open === null) return Promise.reject(new Error(this.#lastError ?? 'the spool is not open'));
    if (this.durability === 'normal') {
      try {
        open.db.exec('BEGIN IMMEDIATE');
        try {
          open.mark.run(seq);
          open.prune.run();
          open.db.exec('COMMIT');
        } catch (err) {
          open.db.exec('ROLLBACK');
          throw err;
        }
      } catch (err) {
        return Promise.reject(err instanceof Error ? err : new Error(String(err)));
      }
      this.#backlog = Math.max(0, this.#backlog - count);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.#ops.push({
        kind: 'ship',
        seq,
        resolve: () => {
          this.#backlog = Math.max(0, this.#backlog - count);
          resolve();
        },
        reject,
      });
      this.#schedulePump();
    });
  }

  /** The newest row in the spool (shipped or not) — the chain's tail — or null. */
  lastRow(): AuditRecord | null {
    const row = this.#open?.last.get() as { body: string } | undefined;
    return row === undefined ? null : (JSON.parse(row.body) as AuditRecord);
  }

  /** Unshipped rows. */
  backlog(): number {
    return this.#backlog;
  }

  status(): SpoolStatus {
    return {
      available: this.#open !== null && !this.#closed,
      durability: this.durability,
      file: this.file,
      spool: this.id,
      appended: this.#appended,
      appendFailures: this.#appendFailures,
      lastError: this.#lastError,
      backlog: this.#backlog,
    };
  }

  /** Wait for queued writes, then close the file (and the writer thread). Appends after this fail. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flush();
    while (this.#inFlight !== null || this.#ops.length > 0) await new Promise((r) => setTimeout(r, 1));
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = null;
    if (worker !== null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000);
        worker.once('message', () => {
          clearTimeout(timer);
          resolve();
        });
        worker.postMessage({ kind: 'close' });
      });
      await worker.terminate();
    }
    try {
      this.#open?.db.close();
    } catch {
      // closing anyway
    }
    this.#open = null;
  }
}
