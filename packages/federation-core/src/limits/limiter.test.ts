import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type BucketState, REFILL_PERIOD_MS, takeTokens } from './bucket.js';
import { RateLimitArgumentInvalid, RateLimitInvalid } from './errors.js';
import { GrantRateLimiter } from './limiter.js';

class FakeClock {
  constructor(public t = 1_700_000_000_000) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

const GRANT_A = '6f1c0b52-3c1e-4c36-9a55-0b8f6f0f2a11';
const GRANT_B = '0d6f6a43-1a8e-4d2b-8f0e-5b1d9f5c7e22';

describe('GrantRateLimiter (SECURITY.md case 25)', () => {
  it('allows 60 requests in a minute, refuses the 61st with a correct Retry-After', () => {
    const clock = new FakeClock();
    const limiter = new GrantRateLimiter({ clock });
    for (let i = 0; i < 60; i++) {
      expect(limiter.take(GRANT_A, 60).allowed).toBe(true);
      clock.advance(100); // 60 requests within 6 s
    }
    // 6 s have refilled 6 tokens: those go through, then the bucket is empty.
    for (let i = 0; i < 6; i++) expect(limiter.take(GRANT_A, 60).allowed).toBe(true);
    const refused = limiter.take(GRANT_A, 60);
    expect(refused).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
  });

  it('the 61st of an instant burst is refused; Retry-After is exactly when it is allowed', () => {
    const clock = new FakeClock();
    const limiter = new GrantRateLimiter({ clock });
    for (let i = 0; i < 60; i++) expect(limiter.take(GRANT_A, 60)).toMatchObject({ allowed: true, remaining: 59 - i });
    const refused = limiter.take(GRANT_A, 60);
    expect(refused).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
    clock.advance(refused.retryAfterSeconds * 1000 - 1);
    expect(limiter.take(GRANT_A, 60).allowed).toBe(false);
    clock.advance(1);
    expect(limiter.take(GRANT_A, 60).allowed).toBe(true);
  });

  it('refills over injected time', () => {
    const clock = new FakeClock();
    const limiter = new GrantRateLimiter({ clock });
    for (let i = 0; i < 60; i++) limiter.take(GRANT_A, 60);
    clock.advance(15_000);
    let allowed = 0;
    while (limiter.take(GRANT_A, 60).allowed) allowed++;
    expect(allowed).toBe(15);
    clock.advance(10 * REFILL_PERIOD_MS);
    allowed = 0;
    while (limiter.take(GRANT_A, 60).allowed) allowed++;
    expect(allowed).toBe(60); // capacity, not 600
  });

  it("one grant's burst does not affect another grant", () => {
    const clock = new FakeClock();
    const limiter = new GrantRateLimiter({ clock });
    for (let i = 0; i < 60; i++) limiter.take(GRANT_A, 60);
    expect(limiter.take(GRANT_A, 60).allowed).toBe(false);
    for (let i = 0; i < 60; i++) expect(limiter.take(GRANT_B, 60)).toMatchObject({ allowed: true, remaining: 59 - i });
    expect(limiter.take(GRANT_B, 60).allowed).toBe(false);
    expect(limiter.peek(GRANT_A)?.tokens).toBe(0);
  });

  it('a limit change applies on the next request, without restart or reset', () => {
    const clock = new FakeClock();
    const limiter = new GrantRateLimiter({ clock });
    for (let i = 0; i < 60; i++) limiter.take(GRANT_A, 60);
    expect(limiter.take(GRANT_A, 60)).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 1 });
    // The admin edits the grant: 600/min. The 60 already made count against it.
    expect(limiter.take(GRANT_A, 600)).toEqual({ allowed: true, remaining: 539, retryAfterSeconds: 0 });
    let allowed = 1;
    while (limiter.take(GRANT_A, 600).allowed) allowed++;
    expect(allowed).toBe(540);
    expect(limiter.take(GRANT_A, 600).retryAfterSeconds).toBe(1);
    clock.advance(100); // 600/min refills a token every 100 ms
    expect(limiter.take(GRANT_A, 600).allowed).toBe(true);
    // Back down to 60/min: the 600 spent in this minute are a debt of 540 at the lower rate —
    // no fresh bucket, and nothing minted by going down and up again.
    expect(limiter.take(GRANT_A, 60)).toEqual({ allowed: false, remaining: 0, retryAfterSeconds: 541 });
    expect(limiter.take(GRANT_A, 600).allowed).toBe(false);
  });

  it('refuses a bad grant id, limit, cost or sweep batch, storing nothing', () => {
    const limiter = new GrantRateLimiter({ clock: new FakeClock() });
    expect(() => limiter.take('', 60)).toThrow(RateLimitArgumentInvalid);
    expect(() => limiter.take(42 as unknown as string, 60)).toThrow(RateLimitArgumentInvalid);
    expect(() => limiter.take(GRANT_A, 0)).toThrow(RateLimitInvalid);
    expect(() => limiter.take(GRANT_A, 60, 61)).toThrow(RateLimitArgumentInvalid);
    expect(limiter.size).toBe(0);
    expect(() => new GrantRateLimiter({ sweepBatch: -1 })).toThrow(RateLimitArgumentInvalid);
    expect(() => new GrantRateLimiter({ sweepBatch: 1.5 })).toThrow(RateLimitArgumentInvalid);
  });

  it('forget drops a bucket (revoked grant); peek shows a copy', () => {
    const limiter = new GrantRateLimiter({ clock: new FakeClock() });
    limiter.take(GRANT_A, 60);
    const seen = limiter.peek(GRANT_A)!;
    seen.tokens = 1000;
    expect(limiter.peek(GRANT_A)?.tokens).toBe(59);
    expect(limiter.forget(GRANT_A)).toBe(true);
    expect(limiter.forget(GRANT_A)).toBe(false);
    expect(limiter.peek(GRANT_A)).toBeUndefined();
  });

  it('defaults to the Date clock', () => {
    const limiter = new GrantRateLimiter();
    expect(limiter.take(GRANT_A, 1)).toEqual({ allowed: true, remaining: 0, retryAfterSeconds: 0 });
    expect(limiter.take(GRANT_A, 1)).toMatchObject({ allowed: false });
  });
});

describe('GrantRateLimiter memory: cleanup drops only full, idle buckets', () => {
  it('100 000 grants: no live bucket is evicted; idle ones go after a full refill period', () => {
    const clock = new FakeClock();
    const limiter = new GrantRateLimiter({ clock });
    const N = 100_000;
    const id = (i: number): string => `grant-${i}`;
    // Every grant spends its whole minute (cost 60 of 60) within the first second.
    for (let i = 0; i < N; i++) {
      if (i % 10_000 === 0) clock.advance(10);
      expect(limiter.take(id(i), 60, 60).allowed).toBe(true);
    }
    expect(limiter.size).toBe(N);

    clock.advance(30_000);
    expect(limiter.sweep()).toBe(0);
    expect(limiter.size).toBe(N);
    // Every grant still has its own spent bucket: 30 s refilled 30 tokens, not a fresh 60.
    for (let i = 0; i < N; i++) expect(limiter.take(id(i), 60).remaining).toBe(29);
    expect(limiter.size).toBe(N);

    clock.advance(REFILL_PERIOD_MS - 1);
    expect(limiter.sweep()).toBe(0); // a millisecond short of idle for a full period
    clock.advance(1_000);
    expect(limiter.sweep()).toBe(N);
    expect(limiter.size).toBe(0);
    // Gone means full — the same answer the kept bucket would have given.
    expect(limiter.take(id(7), 60).remaining).toBe(59);
  });

  it('the per-request cleanup walks all buckets round-robin and drops only idle ones', () => {
    const clock = new FakeClock();
    const limiter = new GrantRateLimiter({ clock, sweepBatch: 2 });
    for (let i = 0; i < 1000; i++) limiter.take(`idle-${i}`, 60, 60);
    clock.advance(REFILL_PERIOD_MS / 2);
    for (let i = 0; i < 10; i++) limiter.take(`live-${i}`, 60, 60);
    clock.advance(REFILL_PERIOD_MS / 2); // idle-* are now idle for a full period, live-* for half
    for (let i = 0; i < 1200; i++) limiter.take(`live-${i % 10}`, 60, 1);
    expect(limiter.size).toBe(10);
    for (let i = 0; i < 10; i++) expect(limiter.peek(`live-${i}`)).toBeDefined();
  });

  it('sweepBatch 0 turns per-request cleanup off; sweep() still works', () => {
    const clock = new FakeClock();
    const limiter = new GrantRateLimiter({ clock, sweepBatch: 0 });
    limiter.take(GRANT_A, 60);
    clock.advance(REFILL_PERIOD_MS);
    limiter.take(GRANT_B, 60);
    expect(limiter.size).toBe(2);
    expect(limiter.sweep()).toBe(1);
    expect(limiter.peek(GRANT_B)).toBeDefined();
  });

  it('each bucket is three numbers', () => {
    const limiter = new GrantRateLimiter({ clock: new FakeClock() });
    limiter.take(GRANT_A, 60);
    expect(Object.keys(limiter.peek(GRANT_A)!).sort()).toEqual(['limit', 'tokens', 'updatedAt']);
  });

  it('cleanup never changes an answer: same results as buckets kept forever', () => {
    const grants = ['g1', 'g2', 'g3', 'g4'];
    const op = fc.record({
      wait: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 55_000, max: 130_000 })),
      grant: fc.constantFrom(...grants),
      limit: fc.constantFrom(1, 6, 60, 600),
      cost: fc.integer({ min: 1, max: 3 }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 150 }), fc.boolean(), (ops, fullSweeps) => {
        const clock = new FakeClock(0);
        const limiter = new GrantRateLimiter({ clock, sweepBatch: 3 });
        const kept = new Map<string, BucketState>();
        for (const { wait, grant, limit, cost } of ops) {
          clock.advance(wait);
          if (fullSweeps) limiter.sweep();
          const c = Math.min(cost, limit);
          const reference = takeTokens(kept.get(grant), limit, clock.t, c);
          kept.set(grant, reference.state);
          expect(limiter.take(grant, limit, c)).toEqual(reference.result);
        }
      }),
      { numRuns: 300 },
    );
  });
});
