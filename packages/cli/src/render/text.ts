/**
 * Text helpers every human renderer of the CLI shares: values made safe for a terminal,
 * columns of a fixed width, relative times ("3h ago", "in 6d"), and a small 80-column table.
 * Pure functions of their input (and `now`); colour only when the caller says so.
 */
import { compactSpan as span, TERMINAL_UNSAFE } from '@mosaic/federation-core/admin-client';
import { paint, type Style } from '../output.js';

/** The widest line a table writes. */
export const TABLE_WIDTH = 80;

/**
 * A value read from a gateway as it may be written to a terminal: every control, bidi,
 * separator or zero-width character shown as `?`. Whoever can write to the store (SECURITY.md case 38) must not
 * be able to rewrite what the operator reads (case 35), e.g. a forged "✔ audit chain intact".
 * @example displayed('r1\r\u001b[2K✔ ok') // 'r1??[2K✔ ok'
 */
export function displayed(text: string): string {
  return text.replace(TERMINAL_UNSAFE, '?');
}

/** `text` in exactly `width` columns: control characters shown as `?`, cut with `…`. */
export function fit(text: string, width: number, right = false): string {
  const clean = displayed(text);
  const cut = clean.length > width ? `${clean.slice(0, Math.max(0, width - 1))}…` : clean;
  return right ? cut.padStart(width) : cut.padEnd(width);
}

/** `3 rows`, `1 row`. */
export const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * How long ago `at` was, in at most 8 columns: `now`, `42s ago`, `5m ago`, `3h ago`, `12d ago`, `2y ago`.
 * @example relativeTime('2030-01-01T00:00:00Z', Date.parse('2030-01-01T03:00:00Z')) // '3h ago'
 */
export function relativeTime(at: string, now: number): string {
  const t = Date.parse(at);
  if (!Number.isFinite(t)) return '?';
  const s = Math.floor((now - t) / 1000);
  if (s < 5) return 'now';
  return `${span(s)} ago`;
}

/**
 * A time relative to now in either direction: `in 6d`, `in 3h`, `now`, `2d ago`; `null` → `never`.
 * @example relativeWhen('2030-01-07T00:00:00Z', Date.parse('2030-01-01T00:00:00Z')) // 'in 6d'
 */
export function relativeWhen(at: string | null | undefined, now: number, never = 'never'): string {
  if (at === null || at === undefined) return never;
  const t = Date.parse(at);
  if (!Number.isFinite(t)) return '?';
  // Whole seconds rounded up: a grant made with --expires-in 90d reads `in 90d`, not `in 89d`.
  const s = Math.ceil((t - now) / 1000);
  if (s >= 5) return `in ${span(s)}`;
  return relativeTime(at, now);
}

/** A time as people read it: `2030-01-31 12:00:00Z`. */
export function shortTime(at: string): string {
  return at.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** A column of {@link renderTable}. */
export interface Column<R> {
  title: string;
  width: number;
  right?: boolean;
  cell: (row: R) => string;
  /** Style of a cell (colour on a TTY only). */
  style?: (row: R) => Style | undefined;
}

/** One line of a table: cells fitted to their columns, joined by one space, trailing blanks cut. */
export function tableLine<R>(columns: readonly Column<R>[], row: R, color: boolean): string {
  return columns
    .map((c) => {
      const text = fit(c.cell(row), c.width, c.right);
      const style = c.style?.(row);
      return style === undefined ? text : paint(color, style, text);
    })
    .join(' ')
    .trimEnd();
}

/** The header line of a table (dim on a TTY). */
export function tableHeader<R>(columns: readonly Column<R>[], color: boolean): string {
  return paint(color, 'dim', columns.map((c) => fit(c.title, c.width, c.right)).join(' ').trimEnd());
}

/** A whole table: header and rows in the order given. */
export function renderTable<R>(columns: readonly Column<R>[], rows: readonly R[], color: boolean): string {
  return [tableHeader(columns, color), ...rows.map((r) => tableLine(columns, r, color))].join('\n');
}

/** `label   value` lines with the labels padded to one width (for `show`-style output). */
export function keyValues(pairs: ReadonlyArray<readonly [string, string]>, options: { indent?: number; color: boolean }): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length)) + 2;
  const pad = ' '.repeat(options.indent ?? 2);
  return pairs.map(([k, v]) => `${pad}${paint(options.color, 'dim', k.padEnd(width))}${v}`).join('\n');
}
