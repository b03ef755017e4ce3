import { Command, Option } from 'commander';
import { DURATION_PATTERN, parseDuration, type AdminClient, type AuditFilter } from '@mosaic/federation-core/admin-client';
import type { AuditOutcome, AuditRow } from '@mosaic/federation-core';
import { adminClient, outputOptions, type GlobalOptions } from '../../../context.js';
import { ExitCode, printResult, UsageError, type OutputOptions } from '../../../output.js';
import { unknownCommand } from '../unknown.js';
import { auditHeader, auditLine, renderAuditTable } from './render.js';

const OUTCOMES = ['allowed', 'denied', 'rate_limited', 'error'] as const;

interface ListFlags {
  since?: string;
  grant?: string;
  peer?: string;
  verb?: string;
  outcome?: AuditOutcome;
  limit?: string;
  follow?: boolean;
}

/** What `audit` asks for: the API's filter, and the row cap. */
export interface AuditListOptions {
  filter: AuditFilter;
  follow: boolean;
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** Flags → options, with usage errors a person can act on. */
export function parseListFlags(flags: ListFlags): AuditListOptions {
  const filter: AuditFilter = {};
  if (flags.since !== undefined) {
    if (!DURATION_PATTERN.test(flags.since) && !(ISO_DATE_TIME.test(flags.since) && Number.isFinite(Date.parse(flags.since)))) {
      throw new UsageError(`--since: "${flags.since}" is neither a duration nor an ISO date-time`, 'e.g. --since 15m, --since 30d, or --since 2030-01-31T00:00:00Z');
    }
    filter.since = flags.since;
  }
  if (flags.grant !== undefined) {
    if (!/^[0-9a-f-]{4,36}$/.test(flags.grant)) throw new UsageError(`--grant: "${flags.grant}" is not a grant id`, 'pass a grant id or a unique prefix of at least 4 characters (see `mosaic federation grant list`)');
    filter.grant = flags.grant;
  }
  if (flags.peer !== undefined) filter.peer = flags.peer;
  if (flags.verb !== undefined) filter.verb = flags.verb;
  if (flags.outcome !== undefined) filter.outcome = flags.outcome;
  if (flags.limit !== undefined) {
    const n = /^\d{1,5}$/.test(flags.limit) ? Number(flags.limit) : NaN;
    if (!(n >= 1 && n <= 10_000)) throw new UsageError(`--limit: "${flags.limit}" is not a number from 1 to 10000`, 'e.g. --limit 50');
    filter.limit = n;
  }
  return { filter, follow: flags.follow === true };
}

/** Whether a streamed row passes the filters (the stream itself is unfiltered). */
export function matchesFilter(row: AuditRow, filter: AuditFilter, sinceMs: number | null): boolean {
  if (filter.peer !== undefined && row.peer !== filter.peer) return false;
  if (filter.verb !== undefined && row.verb !== filter.verb) return false;
  if (filter.outcome !== undefined && row.outcome !== filter.outcome) return false;
  if (filter.grant !== undefined && !(row.grantId ?? '').startsWith(filter.grant)) return false;
  if (sinceMs !== null && Date.parse(row.at) < sinceMs) return false;
  return true;
}

/**
 * The live tail: rows as they are written, until Ctrl-C (exit 130) or `--limit` rows. One
 * JSON object per line with --json, else table lines under one header.
 */
async function follow(admin: AdminClient, options: AuditListOptions, out: OutputOptions): Promise<number> {
  const { filter } = options;
  const since = filter.since === undefined ? null : DURATION_PATTERN.test(filter.since) ? Date.now() - parseDuration(filter.since)! : Date.parse(filter.since);
  const abort = new AbortController();
  let interrupted = false;
  let connected = false;
  let firstError: Error | undefined;
  const onSignal = () => {
    interrupted = true;
    abort.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    let shown = 0;
    const stream = admin.auditStream({
      signal: abort.signal,
      onConnect: () => {
        if (!connected && !out.json && !out.quiet) process.stdout.write(`${auditHeader(out.color)}\n`);
        connected = true;
      },
      onDisconnect: (err) => {
        if (!connected) {
          // Never connected: say so now rather than retry forever.
          firstError = err instanceof Error ? err : new Error(String(err));
          abort.abort();
          return;
        }
        if (!out.quiet) process.stderr.write(`mosaic: the audit stream dropped (${(err as Error).message}); reconnecting…\n`);
      },
    });
    for await (const row of stream) {
      if (!matchesFilter(row, filter, since)) continue;
      process.stdout.write(out.json ? `${JSON.stringify(row)}\n` : `${auditLine(row, { now: Date.now(), color: out.color })}\n`);
      if (filter.limit !== undefined && ++shown >= filter.limit) break;
    }
  } finally {
    abort.abort();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (firstError !== undefined) throw firstError;
  return interrupted ? ExitCode.cancelled : ExitCode.ok;
}

/** `mosaic federation audit` — list (or follow) audit rows; `verify` and `archive` hang under it. */
export function auditCommand(version: string, run: (fn: () => Promise<number | void>) => void): Command {
  const cmd = new Command('audit')
    .description('the audit trail of this gateway: every federation request and admin change')
    .option('--since <iso|duration>', 'rows at or after this time, or this long ago (90s, 15m, 12h, 30d)')
    .option('--grant <id>', 'rows of this grant (id or unique prefix)')
    .option('--peer <name>', 'rows of this peer')
    .option('--verb <verb>', 'rows of this verb (list, get, search, enroll, admin.grant.revoke, …)')
    .addOption(new Option('--outcome <outcome>', 'rows with this outcome').choices(OUTCOMES))
    .option('--limit <n>', 'at most n rows (default 100); with --follow: stop after n rows')
    .option('-f, --follow', 'keep printing rows as they are written, until Ctrl-C (with --json: one JSON object per line)')
    .addHelpText(
      'after',
      `
Examples:
  mosaic federation audit --since 1h --outcome denied
  mosaic federation audit --peer home --limit 20 --json | jq '.items[].verb'
  mosaic federation audit --follow
  mosaic federation audit verify
  mosaic federation audit archive --older-than 90d --dry-run

Rows are newest first; rows moved to the archive (after 90 days) are included when --since
reaches back to them. "No rows" is exit 0.`,
    )
    .allowExcessArguments(true)
    .action((flags: ListFlags, c: Command) =>
      run(async () => {
        if (c.args.length > 0) throw unknownCommand(c);
        const g = c.optsWithGlobals<GlobalOptions>();
        const out = outputOptions(g);
        const options = parseListFlags(flags);
        const admin = adminClient(g, version);
        if (options.follow) return follow(admin, options, out);
        const list = await admin.audit(options.filter);
        if (list.items.length === 0 && !out.json) {
          if (!out.quiet) process.stderr.write('no audit rows match\n');
          return ExitCode.ok;
        }
        printResult(out, list, () => renderAuditTable(list.items, { now: Date.now(), color: out.color }));
        return ExitCode.ok;
      }),
    );
  return cmd;
}
