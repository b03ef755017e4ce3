/**
 * The audit trail in the main store. Rows arrive from the local spools (each row's `id`,
 * `prevHash` and `hash` are fixed by its spool; re-shipping a row is a no-op) and get the
 * store's arrival sequence `seq`, which orders the live tail: SSE resumes "after id X" by
 * that sequence, so no row is skipped even when a late spool ships older `at` times.
 * Queries for people are newest first by `at` (index `at DESC, seq DESC`).
 */
import type { Selectable } from 'kysely';
import type { AuditOutcome, AuditRow } from '@mosaic/federation-core';
import { batches, inTransaction, toCount, type Executor, type RepoContext } from './sql.js';
import type { AuditColumns, AuditLogTable } from './schema.js';
import { toTimestamp, type TimeInput } from './time.js';

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

  constructor(db: Executor, _ctx: RepoContext) {
    this.#db = db;
  }

  /** Append one row. @returns false when a row with this id was already stored (re-shipped) */
  async append(row: NewAuditRecord): Promise<boolean> {
    return (await this.appendMany([row])) === 1;
  }

  /**
   * Append rows in order, in one transaction (the shipper's batch). Rows whose id is already
   * stored are skipped, so a batch shipped twice is stored once.
   * @returns how many rows were new
   */
  async appendMany(rows: readonly NewAuditRecord[]): Promise<number> {
    if (rows.length === 0) return 0;
    return inTransaction(this.#db, async (trx) => {
      let added = 0;
      for (const part of batches(rows, BATCH)) {
        const result = await trx
          .insertInto('audit_log')
          .values(part.map(toColumns))
          .onConflict((oc) => oc.column('id').doNothing())
          .returning('seq')
          .execute();
        added += result.length;
      }
      return added;
    });
  }

  #filtered(filter: AuditFilter) {
    let q = this.#db.selectFrom('audit_log');
    if (filter.since !== undefined) q = q.where('at', '>=', toTimestamp(filter.since));
    if (filter.grantId !== undefined) q = q.where('grant_id', '=', filter.grantId);
    if (filter.peer !== undefined) q = q.where('peer', '=', filter.peer);
    if (filter.verb !== undefined) q = q.where('verb', '=', filter.verb);
    if (filter.outcome !== undefined) q = q.where('outcome', '=', filter.outcome);
    return q;
  }

  /** Rows matching every filter, newest first (`at` DESC, then arrival), at most `limit` (default 100). */
  async query(filter: AuditFilter & { limit?: number } = {}): Promise<AuditRecord[]> {
    const limit = filter.limit ?? AUDIT_DEFAULT_LIMIT;
    checkLimit(limit);
    const rows = await this.#filtered(filter).selectAll().orderBy('at', 'desc').orderBy('seq', 'desc').limit(limit).execute();
    return rows.map(toRecord);
  }

  /** How many rows match the filters. */
  async count(filter: AuditFilter = {}): Promise<number> {
    const row = await this.#filtered(filter).select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow();
    return toCount(row.n);
  }

  /** The row with this id, or null. */
  async get(id: string): Promise<AuditRecord | null> {
    const row = await this.#db.selectFrom('audit_log').selectAll().where('id', '=', id).executeTakeFirst();
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
   * Every row of one spool's chain in arrival order (for `audit verify`), `limit` at a time
   * after `afterSeq`.
   */
  async chain(spool: string | null, options: { afterSeq?: number; limit?: number } = {}): Promise<(AuditRecord & { seq: number })[]> {
    const limit = options.limit ?? AUDIT_MAX_LIMIT;
    checkLimit(limit);
    let q = this.#db.selectFrom('audit_log').selectAll().where('seq', '>', options.afterSeq ?? 0);
    q = spool === null ? q.where('spool', 'is', null) : q.where('spool', '=', spool);
    const rows: Selectable<AuditLogTable>[] = await q.orderBy('seq').limit(limit).execute();
    return rows.map((r) => ({ ...toRecord(r), seq: Number(r.seq) }));
  }

  /**
   * Move rows with `at` before `cutoff` to `audit_log_archive` in one transaction (the
   * 90-day rollover); how many moved.
   */
  async archiveOlderThan(cutoff: TimeInput): Promise<number> {
    const ts = toTimestamp(cutoff);
    return inTransaction(this.#db, async (trx) => {
      const moved = await trx
        .insertInto('audit_log_archive')
        .columns([
          'seq', 'id', 'at', 'request_id', 'caller_request_id', 'trace_id', 'grant_id', 'peer', 'subject_user_id', 'admin_token_name',
          'verb', 'resource', 'query_hash', 'outcome', 'status_code', 'rows_out', 'bytes_out', 'latency_ms', 'prev_hash', 'hash', 'spool', 'detail',
        ])
        .expression((eb) =>
          eb
            .selectFrom('audit_log')
            .select([
              'seq', 'id', 'at', 'request_id', 'caller_request_id', 'trace_id', 'grant_id', 'peer', 'subject_user_id', 'admin_token_name',
              'verb', 'resource', 'query_hash', 'outcome', 'status_code', 'rows_out', 'bytes_out', 'latency_ms', 'prev_hash', 'hash', 'spool', 'detail',
            ])
            .where('at', '<', ts),
        )
        .onConflict((oc) => oc.column('id').doNothing())
        .executeTakeFirst();
      await trx.deleteFrom('audit_log').where('at', '<', ts).execute();
      return Number(moved.numInsertedOrUpdatedRows ?? 0n);
    });
  }
}
