/**
 * The audit trail in the main store. Rows arrive from the local spools (each row's `id`,
 * `prevHash` and `hash` are fixed by its spool; re-shipping a row is a no-op, archived or
 * not) and get the store's arrival sequence `seq`, which orders the live tail: SSE resumes
 * "after id X" by that sequence, so no row is skipped even when a late spool ships older
 * `at` times.
 * Queries for people are newest first by `at` (index `at DESC, seq DESC`).
 *
 * Rows older than the retention window move to `audit_log_archive` (same columns, `seq`
 * kept) and stay readable: {@link AuditRepository.query}, `count`, `get`, `chain` and `walk`
 * read both tables — the archive only when it can hold a matching row — so archiving never
 * hides a row nor reads as a gap in a chain. Only the live tail (`after`, `latestId`) is
 * live-only.
 */
import { CompiledQuery, sql, type Selectable } from 'kysely';
import type { AuditOutcome, AuditRow } from '@mosaic/federation-core';
import { batches, inTransaction, placeholders, toCount, type Executor, type RepoContext } from './sql.js';
import type { AuditColumns, AuditLogTable } from './schema.js';
import { withoutBusyWait } from './sqlite.js';
import { toTimestamp, type Timestamp, type TimeInput } from './time.js';

/** An audit row as stored: the wire row plus its chain digest, spool and detail. */
export interface AuditRecord extends AuditRow {
  /** This row's chain digest (`auditRowDigest`), or null when the spool does not chain. */
  readonly hash: string | null;
  /** The spool whose chain the row belongs to. */
  readonly spool: string | null;
  /** Detail of an admin mutation (JSON text), never a request body. */
  readonly detail: string | null;
}

/** A row to append: `hash`, `spool`, `detail` may be left out. */
export type NewAuditRecord = AuditRow & { hash?: string | null; spool?: string | null; detail?: string | null };

/** Filters of {@link AuditRepository.query} and {@link AuditRepository.count}. */
export interface AuditFilter {
  /** Rows at or after this time. */
  readonly since?: TimeInput | undefined;
  /** Exact grant id (resolve prefixes first). */
  readonly grantId?: string | undefined;
  readonly peer?: string | undefined;
  readonly verb?: string | undefined;
  readonly outcome?: AuditOutcome | undefined;
}

/** Default and largest page of {@link AuditRepository.query}. */
export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 10_000;

const BATCH = 200;

/**
 * How many consecutive `seq` values (so at most how many rows) an archive run moves per
 * transaction: what bounds how long a run holds the store's write lock at a time and, on
 * SQLite, whose statements run on the event loop, the event loop itself. 2 000 rows take
 * 20–50 ms there (a WAL checkpoint included); the total barely differs from larger batches.
 */
export const AUDIT_ARCHIVE_BATCH = 2_000;

/** Every column of both tables, in one order: the two halves of a UNION ALL line up by name, not by table layout. */
const COLUMNS = [
  'seq', 'id', 'at', 'request_id', 'caller_request_id', 'trace_id', 'grant_id', 'peer', 'subject_user_id', 'admin_token_name',
  'verb', 'resource', 'query_hash', 'outcome', 'status_code', 'rows_out', 'bytes_out', 'latency_ms', 'prev_hash', 'hash', 'spool', 'detail',
] as const;

/**
 * The advisory lock (PostgreSQL) that serialises archive runs of several replicas: the
 * namespace of the migration lock ("MOSA"), key 2.
 */
const PG_LOCK_NAMESPACE = 0x4d4f5341;
const PG_LOCK_ARCHIVE = 2;

type AuditTable = 'audit_log' | 'audit_log_archive';

/** The columns an append writes (`seq` is the store's), in {@link toColumns}' order. */
const INSERT_COLUMNS = COLUMNS.filter((c): c is Exclude<(typeof COLUMNS)[number], 'seq'> => c !== 'seq');

const insertTexts = new Map<string, string>();
/** Rows per insert statement: a batch goes as power-of-two pieces of at most this many, so few texts exist. */
const INSERT_PIECE = 128;
/**
 * The shipper's insert of `n` rows as fixed SQL text, made once per (engine, n) — `n` a power
 * of two ≤ {@link INSERT_PIECE}: building it with Kysely on every batch (4 000+ values) cost
 * more than running it (`pnpm bench`).
 */
function insertText(engine: RepoContext['engine'], n: number): string {
  const key = `${engine}:${n}`;
  let text = insertTexts.get(key);
  if (text === undefined) {
    const ph = placeholders(engine);
    const width = INSERT_COLUMNS.length;
    const rows = Array.from({ length: n }, (_, r) => `(${INSERT_COLUMNS.map((_c, c) => ph(r * width + c + 1)).join(', ')})`);
    text = `insert into "audit_log" (${INSERT_COLUMNS.map((c) => `"${c}"`).join(', ')}) values ${rows.join(', ')} on conflict ("id") do nothing returning "seq"`;
    insertTexts.set(key, text);
  }
  return text;
}

function toColumns(r: NewAuditRecord): AuditColumns {
  return {
    id: r.id,
    at: toTimestamp(r.at),
    request_id: r.requestId,
    caller_request_id: r.callerRequestId,
    trace_id: r.traceId,
    grant_id: r.grantId,
    peer: r.peer,
    subject_user_id: r.subjectUserId,
    admin_token_name: r.adminTokenName,
    verb: r.verb,
    resource: r.resource,
    query_hash: r.queryHash,
    outcome: r.outcome,
    status_code: r.statusCode,
    rows_out: r.rowsOut,
    bytes_out: r.bytesOut,
    latency_ms: r.latencyMs,
    prev_hash: r.prevHash,
    hash: r.hash ?? null,
    spool: r.spool ?? null,
    detail: r.detail ?? null,
  };
}

const toRecord = (r: AuditColumns): AuditRecord => ({
  id: r.id,
  at: r.at,
  requestId: r.request_id,
  callerRequestId: r.caller_request_id,
  traceId: r.trace_id,
  grantId: r.grant_id,
  peer: r.peer,
  subjectUserId: r.subject_user_id,
  adminTokenName: r.admin_token_name,
  verb: r.verb,
  resource: r.resource,
  queryHash: r.query_hash,
  outcome: r.outcome,
  statusCode: Number(r.status_code),
  rowsOut: Number(r.rows_out),
  bytesOut: Number(r.bytes_out),
  latencyMs: Number(r.latency_ms),
  prevHash: r.prev_hash,
  hash: r.hash,
  spool: r.spool,
  detail: r.detail,
});

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > AUDIT_MAX_LIMIT) throw new RangeError(`storage: limit must be 1..${AUDIT_MAX_LIMIT}`);
}

/** The audit trail. */
export class AuditRepository {
  readonly #db: Executor;
  readonly #engine: RepoContext['engine'];

  constructor(db: Executor, ctx: RepoContext) {
    this.#db = db;
    this.#engine = ctx.engine;
  }

  /** Append one row. @returns false when a row with this id was already stored (re-shipped) */
  async append(row: NewAuditRecord): Promise<boolean> {
    return (await this.appendMany([row])) === 1;
  }

  /**
   * Append rows in order, in one transaction (the shipper's batch). Rows whose id is already
   * stored — live or archived — are skipped, so a batch shipped twice is stored once, even
   * when its rows were archived in between (a second, live copy would read as a break in
   * `audit verify` and show twice in every query).
   * @returns how many rows were new
   */
  async appendMany(rows: readonly NewAuditRecord[]): Promise<number> {
    if (rows.length === 0) return 0;
    const write = (db: Executor) =>
      inTransaction(db, async (trx) => {
        // PostgreSQL: the archive lock, shared (appends do not wait for each other): no archive
        // batch commits between the archive lookup below and the insert, so a row it moves out
        // of audit_log meanwhile cannot slip back in. (SQLite: writers are serialised anyway.)
        if (this.#engine === 'postgres') await sql`select pg_advisory_xact_lock_shared(${sql.lit(PG_LOCK_NAMESPACE)}, ${sql.lit(PG_LOCK_ARCHIVE)})`.execute(trx);
        let added = 0;
        for (const part of batches(rows, BATCH)) {
          const archived = await trx
            .selectFrom('audit_log_archive')
            .select('id')
            .where('id', 'in', part.map((r) => r.id))
            .execute();
          const skip = new Set(archived.map((r) => r.id));
          const fresh = skip.size === 0 ? part : part.filter((r) => !skip.has(r.id));
          if (fresh.length === 0) continue;
          for (let at = 0; at < fresh.length; ) {
            let n = INSERT_PIECE;
            while (n > fresh.length - at) n >>= 1;
            const values: unknown[] = [];
            for (const r of fresh.slice(at, at + n)) {
              const c = toColumns(r);
              for (const name of INSERT_COLUMNS) values.push(c[name]);
            }
            const result = await trx.executeQuery(CompiledQuery.raw(insertText(this.#engine, n), values));
            added += result.rows.length;
            at += n;
          }
        }
        return added;
      });
    // SQLite: fail at once on another handle's write lock instead of waiting for it with the
    // event loop held (the shipper retries with backoff); see withoutBusyWait.
    return this.#engine === 'sqlite' && !this.#db.isTransaction ? withoutBusyWait(this.#db, write) : write(this.#db);
  }

  /**
   * `table` filtered. The two tables have the same columns, so the archive is typed as the
   * live table here (only `seq`'s generated-ness differs, which a select does not see).
   */
  #filtered(filter: AuditFilter, table: AuditTable = 'audit_log') {
    let q = this.#db.selectFrom(table as 'audit_log');
    if (filter.since !== undefined) q = q.where('at', '>=', toTimestamp(filter.since));
    if (filter.grantId !== undefined) q = q.where('grant_id', '=', filter.grantId);
    if (filter.peer !== undefined) q = q.where('peer', '=', filter.peer);
    if (filter.verb !== undefined) q = q.where('verb', '=', filter.verb);
    if (filter.outcome !== undefined) q = q.where('outcome', '=', filter.outcome);
    return q;
  }

  /**
   * Whether the archive may hold a row at or after `since` (any row when `since` is left
   * out): its newest `at`, one index lookup. Read *after* the live table, so a row archived in
   * between was either seen there or is seen here.
   */
  async #archiveReaches(since: TimeInput | undefined): Promise<boolean> {
    const row = await this.#db.selectFrom('audit_log_archive').select('at').orderBy('at', 'desc').limit(1).executeTakeFirst();
    return row !== undefined && (since === undefined || row.at >= toTimestamp(since));
  }

  /** Both tables filtered, as one UNION ALL (one statement: one snapshot, no row seen twice or missed while a run archives). */
  #both(filter: AuditFilter) {
    return this.#filtered(filter, 'audit_log').select(COLUMNS).unionAll(this.#filtered(filter, 'audit_log_archive').select(COLUMNS));
  }

  /**
   * Rows matching every filter, newest first (`at` DESC, then arrival), at most `limit`
   * (default 100) — archived rows included when the filter reaches back to them.
   */
  async query(filter: AuditFilter & { limit?: number } = {}): Promise<AuditRecord[]> {
    const limit = filter.limit ?? AUDIT_DEFAULT_LIMIT;
    checkLimit(limit);
    const live = await this.#filtered(filter).selectAll().orderBy('at', 'desc').orderBy('seq', 'desc').limit(limit).execute();
    // A full page bounds the answer: at least `limit` matching rows are at or after its last
    // `at` (archiving moves rows, it never removes them), so older archived rows cannot rank.
    const floor = live.length === limit ? live.at(-1)!.at : undefined;
    const since = floor === undefined ? filter.since : filter.since === undefined || toTimestamp(filter.since) < floor ? floor : filter.since;
    if (!(await this.#archiveReaches(since))) return live.map(toRecord);
    const rows = await this.#db.selectFrom(this.#both({ ...filter, since }).as('u')).selectAll().orderBy('at', 'desc').orderBy('seq', 'desc').limit(limit).execute();
    return rows.map(toRecord);
  }

  /** How many rows match the filters, archived ones included. */
  async count(filter: AuditFilter = {}): Promise<number> {
    const live = await this.#filtered(filter).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    if (!(await this.#archiveReaches(filter.since))) return toCount(live.n);
    const row = await this.#db.selectFrom(this.#both(filter).as('u')).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return toCount(row.n);
  }

  /** The row with this id (live or archived), or null. */
  async get(id: string): Promise<AuditRecord | null> {
    const row =
      (await this.#db.selectFrom('audit_log').selectAll().where('id', '=', id).executeTakeFirst()) ??
      (await this.#db.selectFrom('audit_log_archive').selectAll().where('id', '=', id).executeTakeFirst());
    return row === undefined ? null : toRecord(row);
  }

  /**
   * Rows that arrived after the row `afterId`, in arrival order, at most `limit` — for SSE
   * resume with `Last-Event-ID`. `afterId` null: from the first row.
   * @returns null when `afterId` is not (or no longer) in the live table — the caller decides
   *   whether to restart from the tail
   */
  async after(afterId: string | null, limit: number = AUDIT_DEFAULT_LIMIT): Promise<AuditRecord[] | null> {
    checkLimit(limit);
    let from = 0;
    if (afterId !== null) {
      const anchor = await this.#db.selectFrom('audit_log').select('seq').where('id', '=', afterId).executeTakeFirst();
      if (anchor === undefined) return null;
      from = Number(anchor.seq);
    }
    const rows = await this.#db.selectFrom('audit_log').selectAll().where('seq', '>', from).orderBy('seq').limit(limit).execute();
    return rows.map(toRecord);
  }

  /** The id of the last row to arrive (where a fresh live tail starts), or null when empty. */
  async latestId(): Promise<string | null> {
    const row = await this.#db.selectFrom('audit_log').select('id').orderBy('seq', 'desc').limit(1).executeTakeFirst();
    return row?.id ?? null;
  }

  /**
   * Every row of one spool's chain in arrival order — archived rows first, then live ones,
   * one sequence — `limit` at a time after `afterSeq`.
   */
  async chain(spool: string | null, options: { afterSeq?: number; limit?: number } = {}): Promise<(AuditRecord & { seq: number })[]> {
    return this.#bySeq(spool, options);
  }

  /**
   * Every row of every spool (archived and live) in arrival order, `limit` at a time after
   * `afterSeq` — what `audit verify` walks. Paging by `seq` is stable while rows are archived:
   * a row keeps its `seq` when it moves.
   */
  async walk(options: { afterSeq?: number; limit?: number } = {}): Promise<(AuditRecord & { seq: number })[]> {
    return this.#bySeq(undefined, options);
  }

  async #bySeq(spool: string | null | undefined, options: { afterSeq?: number; limit?: number }): Promise<(AuditRecord & { seq: number })[]> {
    const limit = options.limit ?? AUDIT_MAX_LIMIT;
    checkLimit(limit);
    const afterSeq = options.afterSeq ?? 0;
    const branch = (table: AuditTable) => {
      let q = this.#db.selectFrom(table as 'audit_log').select(COLUMNS).where('seq', '>', afterSeq);
      if (spool !== undefined) q = spool === null ? q.where('spool', 'is', null) : q.where('spool', '=', spool);
      return q;
    };
    const rows: Selectable<AuditLogTable>[] = await this.#db
      .selectFrom(branch('audit_log').unionAll(branch('audit_log_archive')).as('u'))
      .selectAll()
      .orderBy('seq')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ ...toRecord(r), seq: Number(r.seq) }));
  }

  /** How many live rows have `at` before `cutoff` (what {@link archiveOlderThan} would move now). */
  async countOlderThan(cutoff: TimeInput): Promise<number> {
    const row = await this.#db.selectFrom('audit_log').select((eb) => eb.fn.countAll().as('n')).where('at', '<', toTimestamp(cutoff)).executeTakeFirstOrThrow();
    return toCount(row.n);
  }

  /**
   * Move rows with `at` before `cutoff` to `audit_log_archive` (the 90-day rollover); how many
   * moved. The rows go in windows of `batchSize` consecutive `seq` values (default
   * {@link AUDIT_ARCHIVE_BATCH}), one transaction each, yielding to the event loop in
   * between: a large backlog never holds the store — nor, on SQLite, every federation answer
   * — for the whole run. The `seq` span is read once; a row that arrives later waits for the
   * next run, and a run that fails part-way leaves what it moved archived.
   *
   * Safe to run on several replicas at once: on PostgreSQL each batch holds an advisory lock
   * (SQLite's `BEGIN IMMEDIATE` does the same), and within a batch a live row is deleted only
   * once its copy is in the archive — a late row shipped between the copy and the delete stays
   * live for the next run instead of being lost, and none is ever in both tables.
   */
  async archiveOlderThan(cutoff: TimeInput, options: { batchSize?: number } = {}): Promise<number> {
    const size = options.batchSize ?? AUDIT_ARCHIVE_BATCH;
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError('storage: batchSize must be a whole number ≥ 1');
    const ts = toTimestamp(cutoff);
    // The arrival span of the rows to move (one range of the `at` index; null: none).
    const span = await this.#db
      .selectFrom('audit_log')
      .select((eb) => [eb.fn.min<number | null>('seq').as('first'), eb.fn.max<number | null>('seq').as('last')])
      .where('at', '<', ts)
      .executeTakeFirstOrThrow();
    if (span.first === null || span.last === null) return 0;
    const first = Number(span.first);
    const last = Number(span.last);
    let moved = 0;
    for (let from = first; from <= last; from += size) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      moved += await this.#archiveWindow(ts, from, Math.min(from + size - 1, last));
    }
    return moved;
  }

  /** One archive transaction: the rows older than `ts` with `seq` in `from..to`. */
  async #archiveWindow(ts: Timestamp, from: number, to: number): Promise<number> {
    return inTransaction(this.#db, async (trx) => {
      if (this.#engine === 'postgres') await sql`select pg_advisory_xact_lock(${sql.lit(PG_LOCK_NAMESPACE)}, ${sql.lit(PG_LOCK_ARCHIVE)})`.execute(trx);
      await trx
        .insertInto('audit_log_archive')
        .columns(COLUMNS)
        .expression((eb) => eb.selectFrom('audit_log').select(COLUMNS).where('seq', '>=', from).where('seq', '<=', to).where('at', '<', ts))
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
      const deleted = await trx
        .deleteFrom('audit_log')
        .where('seq', '>=', from)
        .where('seq', '<=', to)
        .where('at', '<', ts)
        .where((eb) => eb.exists(eb.selectFrom('audit_log_archive as a').select('a.id').whereRef('a.id', '=', 'audit_log.id')))
        .executeTakeFirst();
      return Number(deleted.numDeletedRows);
    });
  }
}
