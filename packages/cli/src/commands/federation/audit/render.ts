/**
 * How audit rows and verdicts look on a terminal: an 80-column table with relative times,
 * the chain verdict, the archive result. Pure functions of their input (and `now`), the same
 * on a TTY and in a pipe; colour only when the caller says so.
 */
import type { AuditVerifyReport } from '@mosaic/federation-core/admin-client';
import type { AuditArchiveResult, AuditOutcome, AuditRow } from '@mosaic/federation-core';
import { paint, type Style } from '../../../output.js';

/** The widest line the table writes. */
export const TABLE_WIDTH = 80;

interface Column {
  title: string;
  width: number;
  right?: boolean;
  cell: (row: AuditRow, now: number) => string;
}

const COLUMNS: Column[] = [
  { title: 'WHEN', width: 8, cell: (r, now) => relativeTime(r.at, now) },
  { title: 'WHO', width: 11, cell: (r) => r.peer ?? (r.adminTokenName !== null ? `admin:${r.adminTokenName}` : '—') },
  { title: 'VERB', width: 18, cell: (r) => r.verb },
  { title: 'RESOURCE', width: 8, cell: (r) => r.resource ?? '—' },
  { title: 'OUTCOME', width: 12, cell: (r) => r.outcome },
  { title: 'CODE', width: 4, right: true, cell: (r) => String(r.statusCode) },
  { title: 'ROWS', width: 5, right: true, cell: (r) => String(r.rowsOut) },
  { title: 'MS', width: 6, right: true, cell: (r) => formatMs(r.latencyMs) },
];

const OUTCOME_STYLE: Record<AuditOutcome, Style> = { allowed: 'green', denied: 'red', rate_limited: 'yellow', error: 'magenta' };

/** `text` in exactly `width` columns: control characters shown as `?`, cut with `…`. */
function fit(text: string, width: number, right = false): string {
  // eslint-disable-next-line no-control-regex -- a stored resource name is shown, never interpreted
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  const cut = clean.length > width ? `${clean.slice(0, width - 1)}…` : clean;
  return right ? cut.padStart(width) : cut.padEnd(width);
}

function formatMs(ms: number): string {
  if (ms < 10) return ms.toFixed(1);
  return String(Math.round(ms));
}

/**
 * How long ago `at` was, in at most 8 columns: `now`, `42s ago`, `5m ago`, `3h ago`, `12d ago`, `2y ago`.
 * @example relativeTime('2030-01-01T00:00:00Z', Date.parse('2030-01-01T03:00:00Z')) // '3h ago'
 */
export function relativeTime(at: string, now: number): string {
  const t = Date.parse(at);
  if (!Number.isFinite(t)) return '?';
  const s = Math.floor((now - t) / 1000);
  if (s < 5) return 'now';
  if (s < 60) return `${s}s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ago`;
  const d = Math.floor(h / 24);
  if (d < 1000) return `${d}d ago`;
  return `${Math.floor(d / 365)}y ago`;
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

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** A time as people read it: `2030-01-31 12:00:00Z`. */
export function shortTime(at: string): string {
  return at.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
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
    const when = `${shortTime(b.at)}, ${relativeTime(b.at, options.now)}`;
    const what =
      b.reason === 'edited'
        ? `row ${b.id} (${when}) was edited: its content no longer matches its hash`
        : `the row before ${b.id} (${when}) is missing: deleted, or rewritten together with its hash`;
    lines.push(`${paint(options.color, 'red', '✖')} audit chain broken in spool ${s.spool ?? '(none)'}: ${what}`);
  }
  const broken = report.spools.filter((s) => s.firstBreak !== undefined).length;
  lines.push(`checked ${plural(rows, 'row')} in ${plural(spools, 'spool')}; ${plural(broken, 'chain')} broken`);
  return lines.join('\n');
}

/** `audit archive` for a person. */
export function renderArchive(result: AuditArchiveResult, olderThan: string): string {
  const before = shortTime(result.cutoff);
  if ('wouldMove' in result) return `would archive ${plural(result.wouldMove, 'audit row')} older than ${olderThan} (before ${before}); nothing changed (dry run)`;
  return `archived ${plural(result.moved, 'audit row')} older than ${olderThan} (before ${before}); they stay readable with \`mosaic federation audit --since <time>\``;
}
