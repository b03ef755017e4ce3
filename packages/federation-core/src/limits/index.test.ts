import { describe, expect, it } from 'vitest';
import * as limits from './index.js';

describe('limits barrel', () => {
  it('offers the bucket, its pure arithmetic and the per-grant limiter', () => {
    for (const name of ['takeTokens', 'advanceBucket', 'parseBucketState', 'isIdle', 'checkLimit', 'TokenBucket', 'GrantRateLimiter']) {
      expect(typeof (limits as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(limits.REFILL_PERIOD_MS).toBe(60_000);
    const limiter = new limits.GrantRateLimiter({ clock: { now: () => 0 } });
    expect(limiter.take('g', 1)).toEqual({ allowed: true, remaining: 0, retryAfterSeconds: 0 });
    expect(limiter.take('g', 1)).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 60 });
  });
});
