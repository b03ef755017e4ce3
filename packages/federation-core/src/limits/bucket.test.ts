import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  advanceBucket,
  type BucketState,
  checkLimit,
  isIdle,
  MAX_LIMIT_PER_MINUTE,
  parseBucketState,
  REFILL_PERIOD_MS,
  takeTokens,
  TokenBucket,
} from './bucket.js';
import { RateLimitArgumentInvalid, RateLimitInvalid, RateLimitStateInvalid } from './errors.js';

/** A clock the test moves by hand. */
class FakeClock {
  constructor(public t = 1_700_000_000_000) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

describe('TokenBucket — 60 per minute', () => {
  it('allows 60 at once, refuses the 61st with Retry-After 1 s, and allows again once a token is back', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ limitPerMinute: 60, clock });
    for (let i = 1; i <= 60; i++) expect(bucket.take()).toEqual({ allowed: true, remaining: 60 - i, retryAfterSeconds: 0 });
    expect(bucket.take()).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
    clock.advance(999);
    expect(bucket.take()).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
    clock.advance(1);
    expect(bucket.take()).toEqual({ allowed: true, remaining: 0, retryAfterSeconds: 0 });
    expect(bucket.take().allowed).toBe(false);
  });

  it('refills continuously at limit/60 per second, never beyond capacity', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ limitPerMinute: 60, clock });
    bucket.take(60);
    clock.advance(500);
    expect(bucket.available()).toBeCloseTo(0.5, 12);
    expect(bucket.take()).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
    clock.advance(29_500);
    expect(bucket.available()).toBe(30);
    expect(bucket.take()).toEqual({ allowed: true, remaining: 29, retryAfterSeconds: 0 });
    clock.advance(3_600_000);
    expect(bucket.available()).toBe(60);
    expect(bucket.take()).toEqual({ allowed: true, remaining: 59, retryAfterSeconds: 0 });
  });

  it('a request spread evenly at the limit rate is always allowed', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ limitPerMinute: 60, clock });
    bucket.take(60);
    for (let i = 0; i < 600; i++) {
      clock.advance(1000);
      expect(bucket.take().allowed).toBe(true);
    }
  });
});

describe('retryAfterSeconds', () => {
  it.each([
    // [limit, cost, expected seconds after emptying the bucket]
    [60, 1, 1],
    [1, 1, 60],
    [30, 1, 2],
    [600, 1, 1], // 100 ms, rounded up to the 1 s minimum
    [7, 1, 9], // 8571.4 ms
    [60, 5, 5], // five tokens take five seconds
    [1_000_000_000, 1, 1],
  ])('limit %i/min, cost %i → %i s, and the request is allowed exactly then', (limit, cost, seconds) => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ limitPerMinute: limit, clock });
    bucket.take(limit);
    const refused = bucket.take(cost);
    expect(refused).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: seconds });
    clock.advance(seconds * 1000);
    expect(bucket.take(cost).allowed).toBe(true);
  });

  it('is exact where floating point would round it up a second: limit 1/min, asked at 0, 6 ms and 20 s', () => {
    // 20 s in, a third of a token is there; the rest takes exactly 40 s, though the arithmetic
    // says 40 000.000000000004 ms (fast-check found this history).
    const clock = new FakeClock();
    const bucket = new TokenBucket({ limitPerMinute: 1, clock });
    expect(bucket.take().allowed).toBe(true);
    clock.advance(6);
    expect(bucket.take().retryAfterSeconds).toBe(60);
    clock.advance(19_994);
    expect(bucket.take().retryAfterSeconds).toBe(40);
    clock.advance(39_000);
    expect(bucket.take().allowed).toBe(false);
    clock.advance(1_000);
    expect(bucket.take().allowed).toBe(true);
  });

  it('is never an under-estimate: for any history, waiting Retry-After then asking again is allowed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 1, max: 3 })), { maxLength: 60 }),
        (limit, steps) => {
          const clock = new FakeClock();
          const bucket = new TokenBucket({ limitPerMinute: limit, clock });
          for (const [wait, rawCost] of steps) {
            clock.advance(wait);
            const cost = Math.min(rawCost, limit);
            const r = bucket.take(cost);
            if (!r.allowed) {
              expect(r.retryAfterSeconds).toBeGreaterThanOrEqual(1);
              const probe = new TokenBucket({ limitPerMinute: limit, clock, state: bucket.toJSON() });
              clock.advance(r.retryAfterSeconds * 1000);
              expect(probe.take(cost).allowed).toBe(true);
              // ...and it was not a gross over-estimate: a second earlier would still be refused.
              if (r.retryAfterSeconds > 1) {
                const early = new TokenBucket({ limitPerMinute: limit, clock: { now: () => clock.t - 1000 }, state: bucket.toJSON() });
                expect(early.take(cost).allowed).toBe(false);
              }
              clock.advance(-r.retryAfterSeconds * 1000);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('conformance: never more than L + elapsed·L/60 s allowed in any window', () => {
  it('holds for arbitrary request timings and costs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 1, max: 4 })), { minLength: 1, maxLength: 200 }),
        (limit, steps) => {
          let state: BucketState | undefined;
          let t = 0;
          const allowedAt: { t: number; cost: number }[] = [];
          for (const [wait, rawCost] of steps) {
            t += wait;
            const cost = Math.min(rawCost, limit);
            const out = takeTokens(state, limit, t, cost);
            state = out.state;
            expect(state.tokens).toBeGreaterThanOrEqual(0);
            expect(state.tokens).toBeLessThanOrEqual(limit);
            if (out.result.allowed) allowedAt.push({ t, cost });
          }
          for (let i = 0; i < allowedAt.length; i++) {
            let spent = 0;
            for (let j = i; j < allowedAt.length; j++) {
              spent += allowedAt[j]!.cost;
              const window = allowedAt[j]!.t - allowedAt[i]!.t;
              expect(spent).toBeLessThanOrEqual(limit + (window * limit) / REFILL_PERIOD_MS + 1e-9);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('limit change (a grant edit)', () => {
  const cases: [string, number, number, number, number][] = [
    // [what, old limit, tokens spent before the edit, new limit, tokens available after]
    ['raise after a full burst: the 60 spent stay spent, 540 left at once', 60, 60, 600, 540],
    ['raise on an idle (full) bucket: full under the new limit', 60, 0, 600, 600],
    ['raise after 10 requests', 60, 10, 600, 590],
    ['lower after 10 requests: 50 left', 600, 10, 60, 50],
    ['lower after 590 requests: a debt of 530', 600, 590, 60, -530],
    ['lower on a full bucket: full under the new limit', 600, 0, 60, 60],
    ['same limit: nothing changes', 60, 25, 60, 35],
  ];

  it.each(cases)('%s', (_what, from, spent, to, after) => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ limitPerMinute: from, clock });
    if (spent > 0) bucket.take(spent);
    bucket.setLimit(to);
    expect(bucket.limitPerMinute).toBe(to);
    expect(bucket.available()).toBe(after);
    expect(bucket.toJSON()).toEqual({ tokens: after, updatedAt: clock.t, limit: to });
    // The new rate applies from the edit on: a refill period later it has refilled `to` tokens (capped at the new capacity).
    clock.advance(REFILL_PERIOD_MS);
    expect(bucket.available()).toBe(Math.min(to, after + to));
  });

  it('alternating limits (replicas briefly disagreeing, or lower-then-raise) mints no tokens', () => {
    const clock = new FakeClock();
    let state = takeTokens(undefined, 600, clock.t, 600).state; // a burst of 600 at 600/min
    let extra = 0;
    for (let round = 0; round < 10; round++) {
      for (const limit of [60, 600]) {
        const step = takeTokens(state, limit, clock.t);
        state = step.state;
        if (step.result.allowed) extra++;
      }
    }
    expect(extra).toBe(0);
    expect(advanceBucket(state, 600, clock.t).tokens).toBe(0);
  });

  it('applies through the pure function too: the limit passed with the request wins, rate included', () => {
    const t0 = 0;
    const burst = takeTokens(undefined, 60, t0, 60).state;
    expect(takeTokens(burst, 60, t0, 1).result).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
    const raised = takeTokens(burst, 600, t0, 1);
    expect(raised.result).toEqual({ allowed: true, remaining: 539, retryAfterSeconds: 0 });
    expect(raised.state.limit).toBe(600);
    // Emptied under 600/min, the next token is 100 ms away.
    const empty = takeTokens(raised.state, 600, t0, 539).state;
    expect(takeTokens(empty, 600, t0 + 99, 1).result.allowed).toBe(false);
    expect(takeTokens(empty, 600, t0 + 100, 1).result.allowed).toBe(true);
  });

  it('time before the change refills at the old rate', () => {
    const burst = takeTokens(undefined, 60, 0, 60).state;
    // 10 s at 60/min = 10 tokens, then 540 more from the raise.
    expect(advanceBucket(burst, 600, 10_000).tokens).toBe(550);
  });

  it('edits cannot be used to reset a bucket: 60 → 600 → 60 leaves it where it was', () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ limitPerMinute: 60, clock });
    bucket.take(45);
    bucket.setLimit(600);
    bucket.setLimit(60);
    expect(bucket.available()).toBe(15);
  });
});

describe('state', () => {
  it('is three numbers that survive JSON and continue exactly', () => {
    const clock = new FakeClock();
    const a = new TokenBucket({ limitPerMinute: 60, clock });
    a.take(42);
    clock.advance(1234);
    a.take();
    const stored = JSON.stringify(a);
    expect(Object.keys(JSON.parse(stored) as object).sort()).toEqual(['limit', 'tokens', 'updatedAt']);
    const b = new TokenBucket({ limitPerMinute: 60, clock, state: parseBucketState(JSON.parse(stored)) });
    clock.advance(777);
    const copy = new TokenBucket({ limitPerMinute: 60, clock, state: a.toJSON() });
    for (let i = 0; i < 30; i++) expect(b.take()).toEqual(copy.take());
  });

  it.each([
    ['null', null],
    ['a string', '{"tokens":1}'],
    ['tokens above the limit', { tokens: 61, updatedAt: 0, limit: 60 }],
    ['a debt beyond any limit', { tokens: -1e9 - 1, updatedAt: 0, limit: 60 }],
    ['NaN tokens', { tokens: Number.NaN, updatedAt: 0, limit: 60 }],
    ['tokens as a string', { tokens: '5', updatedAt: 0, limit: 60 }],
    ['missing updatedAt', { tokens: 5, limit: 60 }],
    ['infinite updatedAt', { tokens: 5, updatedAt: Number.POSITIVE_INFINITY, limit: 60 }],
    ['limit 0', { tokens: 0, updatedAt: 0, limit: 0 }],
    ['fractional limit', { tokens: 0, updatedAt: 0, limit: 1.5 }],
    ['missing limit', { tokens: 0, updatedAt: 0 }],
  ])('refuses a stored state with %s', (_what, value) => {
    expect(() => parseBucketState(value)).toThrow(RateLimitStateInvalid);
    if (typeof value === 'object' && value !== null) {
      expect(() => new TokenBucket({ limitPerMinute: 60, state: value as BucketState })).toThrow(RateLimitStateInvalid);
    }
  });

  it('starts full: no state is a full bucket', () => {
    expect(advanceBucket(undefined, 60, 5)).toEqual({ tokens: 60, updatedAt: 5, limit: 60 });
    expect(takeTokens(undefined, 60, 5).result).toEqual({ allowed: true, remaining: 59, retryAfterSeconds: 0 });
  });

  it('is idle exactly when a full refill period has passed, and then it is full', () => {
    const s = takeTokens(undefined, 60, 0, 60).state;
    expect(isIdle(s, REFILL_PERIOD_MS - 1)).toBe(false);
    expect(isIdle(s, REFILL_PERIOD_MS)).toBe(true);
    expect(advanceBucket(s, 60, REFILL_PERIOD_MS).tokens).toBe(60);
  });
});

describe('clock', () => {
  it('a reading behind updatedAt (replica skew) refills nothing, keeps updatedAt and counts the gap in Retry-After', () => {
    const s = takeTokens(undefined, 60, 10_000, 60).state;
    const behind = takeTokens(s, 60, 7_000);
    expect(behind.state.updatedAt).toBe(10_000);
    expect(behind.state.tokens).toBe(0);
    expect(behind.result.retryAfterSeconds).toBe(4); // 3 s until updatedAt, then 1 s for a token
    expect(takeTokens(behind.state, 60, 10_999).result.allowed).toBe(false);
    expect(takeTokens(behind.state, 60, 11_000).result.allowed).toBe(true);
  });

  it('a step back of more than a refill period re-anchors without adding tokens', () => {
    const s = takeTokens(undefined, 60, 1_000_000, 60).state;
    const stepped = advanceBucket(s, 60, 1_000_000 - 3_600_000);
    expect(stepped).toEqual({ tokens: 0, updatedAt: 1_000_000 - 3_600_000, limit: 60 });
    expect(takeTokens(stepped, 60, 1_000_000 - 3_600_000 + 1000).result.allowed).toBe(true);
  });

  it('defaults to Date', () => {
    const bucket = new TokenBucket({ limitPerMinute: 2 });
    expect(Math.abs(bucket.toJSON().updatedAt - Date.now())).toBeLessThan(5000);
    expect(bucket.take().allowed).toBe(true);
  });
});

describe('arguments', () => {
  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_LIMIT_PER_MINUTE + 1, '60' as unknown as number])('refuses the limit %s', (limit) => {
    expect(() => checkLimit(limit)).toThrow(RateLimitInvalid);
    expect(() => new TokenBucket({ limitPerMinute: limit })).toThrow(RateLimitInvalid);
    expect(() => takeTokens(undefined, limit, 0)).toThrow(RateLimitInvalid);
  });

  it('refuses a cost that is not a whole number within 1..limit', () => {
    for (const cost of [0, -1, 1.5, 61, Number.NaN]) expect(() => takeTokens(undefined, 60, 0, cost), String(cost)).toThrow(RateLimitArgumentInvalid);
    expect(takeTokens(undefined, 60, 0, 60).result.allowed).toBe(true);
  });

  it('refuses a clock reading that is not a finite number', () => {
    for (const now of [Number.NaN, Number.POSITIVE_INFINITY]) expect(() => takeTokens(undefined, 60, now)).toThrow(RateLimitArgumentInvalid);
  });
});
