/**
 * Text helpers for the screens: stored values made safe for a terminal, fixed-width columns,
 * countdowns and "ago" times. Pure functions of their input (and `now`).
 */
import { compactSpan as span, TERMINAL_UNSAFE } from '@mosaic/federation-core/admin-client';

/**
 * A value read from a gateway as it may be drawn: every control, bidi or separator character
 * written out as a visible escape (`\x1b`, `\u202e`), so an operator sees that it was there.
 * @example escapeText('r1\r\u001b[2K ok') // 'r1\\r\\x1b[2K ok'
 */
export function escapeText(value: string | null | undefined): string {
  if (value === null || value === undefined) return '';
  return value.replace(TERMINAL_UNSAFE, (ch) => {
    if (ch === '\n') return '\\n';
    if (ch === '\r') return '\\r';
    if (ch === '\t') return '\\t';
    const code = ch.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** `text` (escaped) in exactly `width` columns, cut with `…`. */
export function fit(text: string | null | undefined, width: number, right = false): string {
  if (width <= 0) return '';
  const clean = escapeText(text);
  // a cut value keeps a blank after its `…`, so the next column never runs into it
  const cut = clean.length > width ? (width < 3 ? clean.slice(0, width) : `${clean.slice(0, width - 2)}… `) : clean;
  return right ? cut.padStart(width) : cut.padEnd(width);
}

/** How long ago `at` was: `now`, `42s`, `5m`, `3h`; `—` when never. */
export function ago(at: string | null | undefined, now: number): string {
  if (!at) return '—';
  const t = Date.parse(at);
  if (!Number.isFinite(t)) return '?';
  const s = (now - t) / 1000;
  return s < 2 ? 'now' : span(s);
}

export type Urgency = 'ok' | 'soon' | 'urgent' | 'expired';

/** Time left until `at`, and how worrying it is (urgent under 3 days, soon under 7). */
export function countdown(at: string | null | undefined, now: number): { text: string; urgency: Urgency } {
  if (!at) return { text: '—', urgency: 'ok' };
  const t = Date.parse(at);
  if (!Number.isFinite(t)) return { text: '?', urgency: 'ok' };
  const s = (t - now) / 1000;
  if (s <= 0) return { text: 'expired', urgency: 'expired' };
  const urgency: Urgency = s < 3 * 86_400 ? 'urgent' : s < 7 * 86_400 ? 'soon' : 'ok';
  return { text: `${span(s)}${urgency === 'ok' ? '' : ' ⚠'}`, urgency };
}

/** `14:02:11` in local time, from an ISO timestamp. */
export function clock(at: string): string {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return '??:??:??';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** `6b1f2c3d…` — the first 8 characters of an id. */
export function shortId(id: string | null | undefined, n = 8): string {
  if (!id) return '—';
  return id.length > n ? `${id.slice(0, n)}…` : id;
}

/** A `sha256:<hex>` pin in groups of four, upper case, for comparing by eye. */
export function groupPin(pin: string): string[] {
  const hex = pin.replace(/^sha256:/, '').toUpperCase();
  const groups = hex.match(/.{1,4}/g) ?? [];
  const lines: string[] = [];
  for (let i = 0; i < groups.length; i += 8) lines.push(groups.slice(i, i + 8).join(' '));
  return lines;
}

/** A latency in ms: `6 ms`, `1.2 s`. */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;
}
