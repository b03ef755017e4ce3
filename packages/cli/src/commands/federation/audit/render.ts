/**
 * How audit rows and verdicts look on a terminal: an 80-column table with relative times,
 * the chain verdict, the archive result. Pure functions of their input (and `now`), the same
 * on a TTY and in a pipe; colour only when the caller says so.
 */
import type { AuditVerifyReport } from '@mosaic/federation-core/admin-client';
import type { AuditArchiveResult, AuditOutcome, AuditRow } from '@mosaic/federation-core';
import { paint, type Style } from '../../../output.js';
import { displayed, fit, plural, relativeTime, shortTime } from '../../../render/text.js';

// Shared with the other renderers (packages/cli/src/render/text.ts); re-exported for existing callers.
export { relativeTime, shortTime, TABLE_WIDTH } from '../../../render/text.js';

interface Column {
  title: string;
  width: number;
  right?: boolean;
  cell: (row: AuditRow, now: number) => string;
}

const COLUMNS: Column[] = [
  { title: 'WHEN', width: 8, cell: (r, now) => relativeTime(r.at, now) },
  { title: 'WHO', width: 11, cell: (r) => (r.adminTokenName !== null ? `admin:${r.adminTokenName}` : (r.peer ?? '—')) },
  { title: 'VERB', width: 18, cell: (r) => r.verb },
  { title: 'RESOURCE', width: 8, cell: (r) => r.resource ?? '—' },
  { title: 'OUTCOME', width: 12, cell: (r) => r.outcome },
  { title: 'CODE', width: 4, right: true, cell: (r) => String(r.statusCode) },
  { title: 'ROWS', width: 5, right: true, cell: (r) => String(r.rowsOut) },
  { title: 'MS', width: 6, right: true, cell: (r) => formatMs(r.latencyMs) },
];

const OUTCOME_STYLE: Record<AuditOutcome, Style> = { allowed: 'green', denied: 'red', rate_limited: 'yellow', error: 'magenta' };

function formatMs(ms: number): string {
  if (ms < 10) return ms.toFixed(1);
  return String(Math.round(ms));
}

/** The header line of the table. */
export function auditHeader(color: boolean): string {
  const line = COLUMNS.map((c) => fit(c.title, c.width, c.right)).join(' ').trimEnd();
  return paint(color, 'dim', line);
}

/** One row of the table (outcome coloured when `color`). */
export function auditLine(row: AuditRow, options: { now: number; color: boolean }): string {
  return COLUMNS.map((c) => {
    const text = fit(c.cell(row, options.now), c.width, c.right);
    return c.title === 'OUTCOME' ? paint(options.color, OUTCOME_STYLE[row.outcome] ?? 'dim', text) : text;
  })
    .join(' ')
    .trimEnd();
}

/** The whole table, rows in the order given. */
export function renderAuditTable(rows: readonly AuditRow[], options: { now: number; color: boolean }): string {
  return [auditHeader(options.color), ...rows.map((r) => auditLine(r, options))].join('\n');
}

/** `audit verify` for a person: one line when intact, one line per broken spool otherwise. */
export function renderVerify(report: AuditVerifyReport, options: { now: number; color: boolean }): string {
  const rows = report.spools.reduce((n, s) => n + s.rows, 0);
  const spools = report.spools.filter((s) => s.chained).length;
  if (report.ok) return `${paint(options.color, 'green', '✔')} audit chain intact: ${plural(rows, 'row')} in ${plural(spools, 'spool')}`;
  const lines: string[] = [];
  for (const s of report.spools) {
    const b = s.firstBreak;
    if (b === undefined) continue;
    // id, time and spool are stored values, written by whoever could write the rows
    const id = displayed(b.id);
    const when = `${displayed(shortTime(b.at))}, ${relativeTime(b.at, options.now)}`;
    const what =
      b.reason === 'edited'
        ? `row ${id} (${when}) was edited: its content no longer matches its hash`
        : `the row before ${id} (${when}) is missing: deleted, or rewritten together with its hash`;
    lines.push(`${paint(options.color, 'red', '✖')} audit chain broken in spool ${displayed(s.spool ?? '(none)')}: ${what}`);
  }
  const broken = report.spools.filter((s) => s.firstBreak !== undefined).length;
  lines.push(`checked ${plural(rows, 'row')} in ${plural(spools, 'spool')}; ${plural(broken, 'chain')} broken`);
  return lines.join('\n');
}

/** `audit archive` for a person. */
export function renderArchive(result: AuditArchiveResult, olderThan: string): string {
  const before = displayed(shortTime(result.cutoff));
  if ('wouldMove' in result) return `would archive ${plural(result.wouldMove, 'audit row')} older than ${olderThan} (before ${before}); nothing changed (dry run)`;
  return `archived ${plural(result.moved, 'audit row')} older than ${olderThan} (before ${before}); they stay readable with \`mosaic federation audit --since <time>\``;
}
