/**
 * Timestamps in the store: **ISO-8601 UTC text with fixed millisecond precision**,
 * `2030-01-31T12:00:00.000Z` — exactly what `Date.prototype.toISOString()` writes for the
 * years 0000–9999. Every value has the same width and field order, so text comparison and
 * `ORDER BY` are chronological on both engines (on PostgreSQL the columns use the `"C"`
 * collation, so the comparison is bytewise there as it is in SQLite), the values read back
 * unchanged on both, and they are already the wire format of every `*At` field.
 */

/** A stored timestamp: ISO-8601 UTC, millisecond precision, `Z` suffix. */
export type Timestamp = string;

/** What the repositories accept as a time: a `Date`, or any ISO-8601 date-time with a zone. */
export type TimeInput = Date | string;

const STORED = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MIN_MS = Date.parse('0000-01-01T00:00:00.000Z');
const MAX_MS = Date.parse('9999-12-31T23:59:59.999Z');

/**
 * The stored form of `value`. Strings must carry a zone (`Z` or an offset) — a local time
 * would mean different instants on different machines; offsets are converted to UTC.
 *
 * @throws TypeError for an invalid date, a zone-less string, or a year outside 0000–9999
 *   (whose ISO form would not sort as text)
 * @example
 * toTimestamp('2030-01-31T13:00:00+01:00') // '2030-01-31T12:00:00.000Z'
 */
export function toTimestamp(value: TimeInput): Timestamp {
  let ms: number;
  if (value instanceof Date) {
    ms = value.getTime();
  } else if (typeof value === 'string') {
    if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(value.trim())) throw new TypeError('storage: a timestamp string needs a time zone (Z or ±hh:mm)');
    ms = Date.parse(value);
  } else {
    throw new TypeError('storage: a timestamp must be a Date or an ISO-8601 string');
  }
  if (!Number.isFinite(ms)) throw new TypeError('storage: invalid timestamp');
  if (ms < MIN_MS || ms > MAX_MS) throw new TypeError('storage: timestamps must lie in the years 0000–9999');
  return new Date(ms).toISOString();
}

/** Like {@link toTimestamp}, passing `null`/`undefined` through as `null`. */
export function toTimestampOrNull(value: TimeInput | null | undefined): Timestamp | null {
  return value === null || value === undefined ? null : toTimestamp(value);
}

/** True when `value` is already in the stored form. */
export function isStoredTimestamp(value: unknown): value is Timestamp {
  return typeof value === 'string' && STORED.test(value) && toTimestamp(value) === value;
}
