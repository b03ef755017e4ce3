import { describe, expect, it } from 'vitest';
import { isStoredTimestamp, toTimestamp, toTimestampOrNull } from './time.js';

describe('timestamps: ISO-8601 UTC text, millisecond precision', () => {
  it.each([
    [new Date('2030-01-31T12:00:00Z'), '2030-01-31T12:00:00.000Z'],
    ['2030-01-31T12:00:00Z', '2030-01-31T12:00:00.000Z'],
    ['2030-01-31T13:00:00.5+01:00', '2030-01-31T12:00:00.500Z'],
    ['2030-01-31t12:00:00.123z', '2030-01-31T12:00:00.123Z'],
    ['0001-01-01T00:00:00.000Z', '0001-01-01T00:00:00.000Z'],
  ])('%s → %s', (input, stored) => {
    expect(toTimestamp(input)).toBe(stored);
    expect(isStoredTimestamp(stored)).toBe(true);
  });

  it.each(['2030-01-31T12:00:00', '2030-01-31', 'yesterday', '', '+010000-01-01T00:00:00.000Z'])('refuses %j', (input) => {
    expect(() => toTimestamp(input)).toThrow(TypeError);
  });

  it('refuses invalid dates and years beyond 9999 (their ISO form would not sort as text)', () => {
    expect(() => toTimestamp(new Date(Number.NaN))).toThrow(TypeError);
    expect(() => toTimestamp(new Date('+010000-01-01T00:00:00Z'))).toThrow(TypeError);
    expect(() => toTimestamp(42 as unknown as Date)).toThrow(TypeError);
  });

  it('sorts as text exactly as in time', () => {
    const times = [0, 1, 999, 1000, 59_999, 86_400_000, 1e12, 4e12, -1e12].map((ms) => new Date(ms));
    const byText = times.map((d) => toTimestamp(d)).sort();
    const byTime = [...times].sort((a, b) => a.getTime() - b.getTime()).map((d) => toTimestamp(d));
    expect(byText).toEqual(byTime);
  });

  it('passes null through', () => {
    expect(toTimestampOrNull(null)).toBeNull();
    expect(toTimestampOrNull(undefined)).toBeNull();
    expect(isStoredTimestamp('2030-01-31T12:00:00Z')).toBe(false);
  });
});
