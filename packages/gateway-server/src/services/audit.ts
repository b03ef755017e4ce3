import { randomBytes } from 'node:crypto';
import type { AuditRow } from '@mosaic/federation-core';
import type { Logger } from 'pino';
import type { Storage } from '../storage/index.js';

/** An audit row as a caller describes it; ids, time and defaults are filled in here. */
export type AuditEntry = Partial<Omit<AuditRow, 'verb' | 'outcome' | 'statusCode' | 'requestId'>> &
  Pick<AuditRow, 'verb' | 'outcome' | 'statusCode' | 'requestId'>;

let lastMs = 0;
let seq = 0;

/**
 * Row ids that sort in write order: 11 base-36 digits of milliseconds, a 4-digit sequence
 * within the millisecond, and random bits so ids from several processes never collide.
 */
export function auditRowId(now = Date.now()): string {
  if (now === lastMs) seq++;
  else {
    lastMs = now;
    seq = 0;
  }
  return `${now.toString(36).padStart(11, '0')}${seq.toString(36).padStart(4, '0')}-${randomBytes(5).toString('hex')}`;
}

/**
 * Writes admin mutations and enrollments to the audit log. (The federation verbs' durable
 * spool, hash chain and shipper arrive with the serving side; this writer goes straight to
 * the store, in the caller's transaction when given one.)
 */
export class AuditWriter {
  constructor(
    private readonly storage: Storage,
    private readonly logger: Logger,
  ) {}

  row(entry: AuditEntry): AuditRow {
    const at = new Date();
    return {
      id: auditRowId(at.getTime()),
      at: at.toISOString(),
      callerRequestId: null,
      traceId: null,
      grantId: null,
      peer: null,
      subjectUserId: null,
      adminTokenName: null,
      resource: null,
      queryHash: null,
      rowsOut: 0,
      bytesOut: 0,
      latencyMs: 0,
      prevHash: null,
      ...entry,
    };
  }

  /** Append one row; a failure is logged loudly and rethrown (an admin action must not go unaudited). */
  async record(entry: AuditEntry, repos: Pick<Storage, 'audit'> = this.storage): Promise<AuditRow> {
    const row = this.row(entry);
    try {
      await repos.audit.append(row);
    } catch (err) {
      this.logger.error({ err: (err as Error).message, verb: row.verb }, 'audit write failed');
      throw err;
    }
    return row;
  }
}

/** The audit fields that say who asked: our request id, the caller's ids, the admin token's name. */
export function auditActor(actor: { requestId: string; callerRequestId?: string | null; traceId?: string | null; adminTokenName?: string | null }) {
  return {
    requestId: actor.requestId,
    callerRequestId: actor.callerRequestId ?? null,
    traceId: actor.traceId ?? null,
    adminTokenName: actor.adminTokenName ?? null,
  };
}
