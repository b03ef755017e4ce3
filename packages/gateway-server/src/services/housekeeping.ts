/**
 * The gateway's daily housekeeping: the 90-day audit rollover (rows move to the archive,
 * still queryable) and the removal of enrollment tokens long expired. It runs once shortly
 * after start, then every 24 h; the timers never hold the process open, a failure is logged
 * and retried on the next run, and several replicas may run it at once (the archive step
 * queues on a lock; deleting tokens is idempotent).
 */
import type { Logger } from 'pino';
import { AUDIT_RETENTION_DAYS } from '@mosaic/federation-core';
import { archiveAudit } from '../audit/archive.js';
import type { Storage } from '../storage/index.js';

const DAY_MS = 86_400_000;

/**
 * How long an expired enrollment token is kept: a week in which its holder still hears
 * `TOKEN_EXPIRED` (410) rather than `TOKEN_UNKNOWN` (404).
 */
export const EXPIRED_TOKEN_GRACE_MS = 7 * DAY_MS;

export interface HousekeepingOptions {
  storage: Pick<Storage, 'audit' | 'tokens'>;
  logger: Logger;
  /** Audit rows older than this many days move to the archive (default 90). */
  retentionDays?: number | undefined;
  /** Delay before the first run (ms, default 60 000: after start-up, not during it). */
  firstRunMs?: number | undefined;
  /** Between runs (ms, default 24 h). */
  everyMs?: number | undefined;
  /** The clock (tests). */
  now?: (() => Date) | undefined;
}

/** What one run did. */
export interface HousekeepingRun {
  archived: number | null;
  cutoff: string | null;
  expiredTokensDeleted: number | null;
  errors: string[];
}

export interface Housekeeping {
  /** Run now (also what the timer calls); never rejects. Runs do not overlap. */
  runNow(): Promise<HousekeepingRun>;
  /** Clear the timers and wait for a run in progress. */
  stop(): Promise<void>;
}

/** Start the daily housekeeping (see the module comment). */
export function startHousekeeping(options: HousekeepingOptions): Housekeeping {
  const { storage, logger } = options;
  const now = options.now ?? (() => new Date());
  const everyMs = options.everyMs ?? DAY_MS;
  let running: Promise<HousekeepingRun> | null = null;
  let stopped = false;

  const once = async (): Promise<HousekeepingRun> => {
    const run: HousekeepingRun = { archived: null, cutoff: null, expiredTokensDeleted: null, errors: [] };
    const at = now();
    try {
      const result = await archiveAudit(storage, { olderThanDays: options.retentionDays ?? AUDIT_RETENTION_DAYS, now: at });
      if ('moved' in result) {
        run.archived = result.moved;
        run.cutoff = result.cutoff;
        if (result.moved > 0) logger.info({ moved: result.moved, cutoff: result.cutoff }, 'audit rows archived');
      }
    } catch (err) {
      run.errors.push(`audit archive: ${(err as Error).message}`);
      logger.error({ err: (err as Error).message }, 'the daily audit archive failed; it is retried on the next run');
    }
    try {
      run.expiredTokensDeleted = await storage.tokens.deleteExpired(new Date(at.getTime() - EXPIRED_TOKEN_GRACE_MS));
    } catch (err) {
      run.errors.push(`expired tokens: ${(err as Error).message}`);
      logger.warn({ err: (err as Error).message }, 'could not delete expired enrollment tokens');
    }
    return run;
  };

  const runNow = (): Promise<HousekeepingRun> => {
    running ??= once().finally(() => {
      running = null;
    });
    return running;
  };

  let interval: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    if (stopped) return;
    void runNow();
    interval = setInterval(() => void runNow(), everyMs);
    interval.unref();
  }, options.firstRunMs ?? 60_000);
  first.unref();

  return {
    runNow,
    async stop() {
      stopped = true;
      clearTimeout(first);
      if (interval !== undefined) clearInterval(interval);
      await running?.catch(() => undefined);
    },
  };
}
