import { Command } from 'commander';
import { parseDuration } from '@mosaic/federation-core/admin-client';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { printResult, UsageError } from '../../../output.js';
import { renderArchive } from './render.js';

const DAY_MS = 86_400_000;

/** `--older-than` as whole days (the API's unit). */
export function olderThanDays(text: string): number {
  const ms = parseDuration(text);
  if (ms === null) throw new UsageError(`--older-than: "${text}" is not a duration`, 'write it in whole days, e.g. --older-than 90d (durations are written 90s, 15m, 12h, 30d)');
  if (ms < DAY_MS || ms % DAY_MS !== 0) throw new UsageError(`--older-than: ${text} is not a whole number of days (at least 1d)`, 'e.g. --older-than 90d or --older-than 720h');
  return ms / DAY_MS;
}

/** `mosaic federation audit archive` — move old rows to the archive table (still readable). */
export function auditArchiveCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  return new Command('archive')
    .description('move audit rows older than a window (default 90 days) to the archive; they stay readable and verifiable')
    .option('--older-than <duration>', 'rows older than this move (whole days)', '90d')
    .option('--dry-run', 'only count the rows that would move')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation audit archive --dry-run
  mosaic federation audit archive --older-than 180d

The gateway also does this once a day on its own (90 days). The archive run is itself
recorded in the audit trail, with the admin token's name.`,
    )
    .action((flags: { olderThan: string; dryRun?: boolean }, c: Command) =>
      run(async () => {
        const g = c.optsWithGlobals<GlobalOptions>();
        const days = olderThanDays(flags.olderThan);
        const result = await adminClient(g, version).auditArchive({ olderThanDays: days, ...(flags.dryRun === true ? { dryRun: true } : {}) });
        printResult(outputOptions(g), result, () => renderArchive(result, `${days}d`));
      }),
    );
}
