import { randomIdHex, type AuditRow } from '@mosaic/federation-core';
import type { Logger } from 'pino';
import type { AuditSpool } from '../audit/index.js';

/** An audit row as a caller describes it; ids, time and defaults are filled in here. */
export type AuditEntry = Partial<Omit<AuditRow, 'verb' | 'outcome' | 'statusCode' | 'requestId'>> &
  Pick<AuditRow, 'verb' | 'outcome' | 'statusCode' | 'requestId'> & {
    /** Detail of an admin mutation (JSON text, not covered by the chain), never a request body. */
    detail?: string | null;
  };

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
  return `${now.toString(36).padStart(11, '0')}${seq.toString(36).padStart(4, '0')}-${randomIdHex(5)}`;
}

/**
 * Writes admin mutations and enrollments to the durable audit spool (chained, shipped to the
 * main store by the shipper). The row is durable before the caller answers; when the spool
 * cannot be written the caller fails with 503 AUDIT_UNAVAILABLE rather than act unaudited.
 */
export class AuditWriter {
  constructor(
    private readonly spool: AuditSpool,
    private readonly logger: Logger,
  ) {}

  /**
   * Append one row. Called inside the mutation's transaction, just before it commits, so a
   * mutation whose row could not be written is rolled back.
   */
  async record(entry: AuditEntry, _tx?: unknown): Promise<void> {
    try {
      await this.spool.append({
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
        ...entry,
      });
    } catch (err) {
      this.logger.error({ err: (err as Error).message, verb: entry.verb }, 'audit write failed');
      throw err;
    }
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
