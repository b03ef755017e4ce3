/**
 * The per-spool hash chain: each row's `prevHash` is {@link auditRowDigest} of the previous
 * row of the same spool, computed over the wire row only (CONTRACT.md "Audit row", `prevHash`
 * included), so `mosaic federation audit verify` can recompute it from `GET /api/admin/audit`
 * rows. The stored `hash` column is the row's own digest; `detail` is not covered.
 */
import { auditRowDigest, type AuditRow } from '@mosaic/federation-core';

/** The wire fields of an audit row, in the contract's order — nothing else is hashed or sent. */
export function toWireRow(row: AuditRow): AuditRow {
  return {
    id: row.id,
    at: row.at,
    requestId: row.requestId,
    callerRequestId: row.callerRequestId,
    traceId: row.traceId,
    grantId: row.grantId,
    peer: row.peer,
    subjectUserId: row.subjectUserId,
    adminTokenName: row.adminTokenName,
    verb: row.verb,
    resource: row.resource,
    queryHash: row.queryHash,
    outcome: row.outcome,
    statusCode: row.statusCode,
    rowsOut: row.rowsOut,
    bytesOut: row.bytesOut,
    latencyMs: row.latencyMs,
    prevHash: row.prevHash,
  };
}

/** The chain digest of a row (its wire fields only). */
export function rowDigest(row: AuditRow): string {
  return auditRowDigest(toWireRow(row));
}

/** Where a chain breaks: the first row that does not fit. */
export interface ChainBreak {
  /** The row at which the break shows. */
  readonly id: string;
  /** That row's time (so a person can find it). */
  readonly at: string;
  /**
   * `edited`: the row's content no longer matches its stored digest.
   * `missing`: the row's `prevHash` is not the digest of the row before it — a row between
   * them was deleted (or the row before was rewritten together with its digest).
   */
  readonly reason: 'missing' | 'edited';
}

/** The verdict over one spool's rows. */
export type ChainVerdict = { readonly ok: true; readonly rows: number } | { readonly ok: false; readonly rows: number; readonly firstBreak: ChainBreak };

/** A row as {@link verifyChain} reads it: a wire row, optionally with its stored digest. */
export type ChainRow = AuditRow & { readonly hash?: string | null };

/** Options of {@link verifyChain} / {@link ChainVerifier}. */
export interface ChainOptions {
  /**
   * The `prevHash` the first row must carry: `null` when the rows start at the spool's first
   * row (a deleted first row is then caught), a digest when they continue a known row.
   * Left out: the first row's `prevHash` is taken as is (the rows before it may have been
   * archived).
   */
  readonly expectFirstPrevHash?: string | null;
}

/** Walks one spool's rows in order, one at a time, and keeps the first break. */
export class ChainVerifier {
  #rows = 0;
  #prev: string | null | undefined;
  #break: ChainBreak | undefined;

  constructor(options: ChainOptions = {}) {
    this.#prev = options.expectFirstPrevHash;
  }

  push(row: ChainRow): void {
    this.#rows++;
    if (this.#break !== undefined) return;
    const digest = rowDigest(row);
    if (row.hash !== undefined && row.hash !== null && row.hash !== digest) {
      this.#break = { id: row.id, at: row.at, reason: 'edited' };
      return;
    }
    if (this.#prev !== undefined && row.prevHash !== this.#prev) {
      this.#break = { id: row.id, at: row.at, reason: 'missing' };
      return;
    }
    this.#prev = digest;
  }

  /** The digest of the last row that fitted (what the next row's `prevHash` must be). */
  get tail(): string | null | undefined {
    return this.#prev;
  }

  result(): ChainVerdict {
    return this.#break === undefined ? { ok: true, rows: this.#rows } : { ok: false, rows: this.#rows, firstBreak: this.#break };
  }
}

/**
 * Verify the rows of one spool, in chain (arrival) order, e.g. `storage.audit.chain(spool)`.
 * A deleted row shows as `missing` at the row after it; an edited row as `edited` at itself
 * when its stored `hash` is at hand, else as `missing` at the row after it.
 */
export function verifyChain(rows: Iterable<ChainRow>, options: ChainOptions = {}): ChainVerdict {
  const v = new ChainVerifier(options);
  for (const row of rows) v.push(row);
  return v.result();
}
