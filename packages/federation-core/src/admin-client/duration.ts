/**
 * Durations as CONTRACT.md writes them — `90s`, `15m`, `12h`, `30d` — for flags such as
 * `--since`, `--older-than`, `--ttl` and `--expires-in`. No heavy imports (the CLI loads it).
 */

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The duration units, smallest first. */
export type DurationUnit = keyof typeof UNIT_MS;

/** A duration: a whole number (at most 9 digits) and one unit letter. */
export const DURATION_PATTERN = /^(\d{1,9})([smhd])$/;

/**
 * A duration in milliseconds, or `null` when `text` is not one (`0s` is a duration of 0).
 *
 * @example
 * parseDuration('90d') // 7_776_000_000
 * parseDuration('90')  // null — a unit is required
 */
export function parseDuration(text: string): number | null {
  const m = DURATION_PATTERN.exec(text.trim());
  if (m === null) return null;
  return Number(m[1]) * UNIT_MS[m[2] as DurationUnit];
}

/** A duration in whole days (rounded down), or `null` when `text` is not a duration. */
export function durationDays(text: string): number | null {
  const ms = parseDuration(text);
  return ms === null ? null : Math.floor(ms / UNIT_MS.d);
}

/**
 * A span of seconds in at most 4 columns — `42s`, `5m`, `3h`, `12d`, `3y` — for the CLI's
 * tables and the TUI (negative spans read `0s`).
 */
export function compactSpan(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 1000) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}
