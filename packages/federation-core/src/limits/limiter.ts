/**
 * The in-process rate limiter: one token bucket per grant id, for a single gateway
 * process (replicas share buckets through Redis instead, with the same arithmetic).
 *
 * Unlike an LRU (`@fastify/rate-limit` keeps 5 000 keys and would evict live counters past
 * 5 000 grants), nothing is ever evicted for space. The only buckets dropped are those
 * idle for a full refill period: such a bucket is full, and a full bucket is exactly
 * equivalent to no bucket, so dropping it changes no answer. Memory is one Map entry with
 * three numbers per grant active within the last minute.
 */
import { type BucketState, type Clock, isIdle, takeTokens, type TakeResult } from './bucket.js';
import { RateLimitArgumentInvalid } from './errors.js';

/** Options of a {@link GrantRateLimiter}. */
export interface GrantRateLimiterOptions {
  /** Time source in ms; default `Date`. Tests inject a fake one. */
  clock?: Clock;
  /**
   * Buckets examined for cleanup on each `take` (default 2). The examination walks the map
   * round-robin, so every bucket is looked at once every size/sweepBatch requests, at a
   * constant cost per request; `sweep()` does a full pass on demand (e.g. on a timer).
   */
  sweepBatch?: number;
}

/**
 * Per-grant token buckets in a `Map`. The limit comes with each request — read from the
 * grant (cache) at that moment — so a grant edit applies on the next request, without a
 * restart and without resetting the grant's bucket.
 *
 * @example
 * const limiter = new GrantRateLimiter();
 * const r = limiter.take(grant.id, grant.scope.rate_limit_per_minute ?? 60);
 * if (!r.allowed) return reply.code(429).header('retry-after', String(r.retryAfterSeconds)).send(…);
 */
export class GrantRateLimiter {
  readonly #buckets = new Map<string, BucketState>();
  readonly #clock: Clock;
  readonly #sweepBatch: number;
  #cursor: Iterator<[string, BucketState]> | undefined;

  constructor(options: GrantRateLimiterOptions = {}) {
    this.#clock = options.clock ?? Date;
    const batch = options.sweepBatch ?? 2;
    if (!Number.isSafeInteger(batch) || batch < 0) throw new RateLimitArgumentInvalid(`sweepBatch ${String(batch)} is not a whole number ≥ 0`);
    this.#sweepBatch = batch;
  }

  /**
   * One request of `grantId` under its current `limitPerMinute`, costing `cost` tokens.
   *
   * @example
   * limiter.take('0d6f…', 60); // { allowed: true, remaining: 59, retryAfterSeconds: 0 }
   */
  take(grantId: string, limitPerMinute: number, cost = 1): TakeResult {
    if (typeof grantId !== 'string' || grantId.length === 0) throw new RateLimitArgumentInvalid('grant id must be a non-empty string');
    const now = this.#clock.now();
    const { state, result } = takeTokens(this.#buckets.get(grantId), limitPerMinute, now, cost);
    this.#buckets.set(grantId, state);
    this.#sweepSome(now, this.#sweepBatch);
    return result;
  }

  /** The stored state of a grant's bucket (a copy), or `undefined` when it has none (= full). */
  peek(grantId: string): BucketState | undefined {
    const state = this.#buckets.get(grantId);
    return state === undefined ? undefined : { ...state };
  }

  /** Drop a grant's bucket: for a revoked or deleted grant, never as a "reset" of a live one. */
  forget(grantId: string): boolean {
    return this.#buckets.delete(grantId);
  }

  /** Buckets held (grants active within about the last refill period). */
  get size(): number {
    return this.#buckets.size;
  }

  /** A full pass: drop every bucket idle for a refill period (all full). Returns how many. */
  sweep(): number {
    const now = this.#clock.now();
    let dropped = 0;
    for (const [grantId, state] of this.#buckets) {
      if (isIdle(state, now)) {
        this.#buckets.delete(grantId);
        dropped++;
      }
    }
    return dropped;
  }

  /** Examine up to `count` buckets, continuing round-robin where the last call stopped. */
  #sweepSome(now: number, count: number): void {
    for (let i = 0; i < count; i++) {
      this.#cursor ??= this.#buckets.entries();
      const next = this.#cursor.next();
      if (next.done === true) {
        this.#cursor = undefined;
        return;
      }
      const [grantId, state] = next.value;
      // Map iterators are live: this is the bucket's state as it is now.
      if (isIdle(state, now)) this.#buckets.delete(grantId);
    }
  }
}
