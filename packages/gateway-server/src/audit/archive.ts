/**
 * The audit rollover: rows older than the retention window (90 days by default) move from
 * `audit_log` to `audit_log_archive`, where `GET /api/admin/audit` and `audit verify` still
 * read them. Run by `POST /api/admin/audit/archive` (`mosaic federation audit archive`) and
 * by the gateway's daily housekeeping.
 */
import { AUDIT_RETENTION_DAYS } from '@mosaic/federation-core';
import type { Storage } from '../storage/index.js';

const DAY_MS = 86_400_000;

/** What an archive run did (`moved`) or would do (`wouldMove`), and its cutoff. */
export type ArchiveOutcome = { moved: number; cutoff: string } | { wouldMove: number; cutoff: string };

/** Options of {@link archiveAudit}. */
export interface ArchiveOptions {
  /** Rows with `at` more than this many days ago move (default {@link AUDIT_RETENTION_DAYS}). */
  olderThanDays?: number | undefined;
  /** Count only. */
  dryRun?: boolean | undefined;
  /** The clock (tests). */
  now?: Date | undefined;
}

/** The `at` before which rows move: `olderThanDays` whole days before `now`. */
export function archiveCutoff(olderThanDays: number = AUDIT_RETENTION_DAYS, now: Date = new Date()): string {
  if (!Number.isSafeInteger(olderThanDays) || olderThanDays < 1) throw new RangeError('olderThanDays must be a whole number ≥ 1');
  return new Date(now.getTime() - olderThanDays * DAY_MS).toISOString();
}

/** Move (or, with `dryRun`, count) the rows older than the window. */
export async function archiveAudit(storage: Pick<Storage, 'audit'>, options: ArchiveOptions = {}): Promise<ArchiveOutcome> {
  const cutoff = archiveCutoff(options.olderThanDays, options.now);
  if (options.dryRun === true) return { wouldMove: await storage.audit.countOlderThan(cutoff), cutoff };
  return { moved: await storage.audit.archiveOlderThan(cutoff), cutoff };
}
