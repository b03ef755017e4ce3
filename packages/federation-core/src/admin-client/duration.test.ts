import { describe, expect, it } from 'vitest';
import { compactSpan, durationDays, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['12h', 43_200_000],
    ['30d', 2_592_000_000],
    [' 90d ', 7_776_000_000],
    ['0s', 0],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['90', 'd', '1.5d', '-1d', '90D', '1w', '9999999999d', '', '90 d'])('"%s" is not a duration', (text) => {
    expect(parseDuration(text)).toBeNull();
  });

  it('counts whole days', () => {
    expect(durationDays('90d')).toBe(90);
    expect(durationDays('36h')).toBe(1);
    expect(durationDays('nope')).toBeNull();
  });
});

describe('compactSpan', () => {
  it.each([
    [-5, '0s'],
    [42.9, '42s'],
    [300, '5m'],
    [3 * 3600, '3h'],
    [47 * 3600, '47h'],
    [12 * 86_400, '12d'],
    [1100 * 86_400, '3y'],
  ])('%d s reads %s, in at most 4 columns', (seconds, text) => {
    expect(compactSpan(seconds)).toBe(text);
  });
});
