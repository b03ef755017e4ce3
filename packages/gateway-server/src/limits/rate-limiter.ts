/**
 * The gateway's per-grant rate limiter, behind one interface: in-process by default
 * ({@link MemoryRateLimiter}), shared by every replica in Redis/Valkey with `REDIS_URL`
 * (`RedisRateLimiter`). Both run federation-core's token-bucket formula, so they answer alike.
 */
import { GrantRateLimiter, type TakeResult } from '@mosaic/federation-core';

/** What the federation verbs need from a rate limiter. */
export interface RateLimiter {
  /** `memory`: this process only; `redis`: shared through Redis (falls back to per-process while it is unreachable). */
  readonly kind: 'memory' | 'redis';
  /**
   * One request of `grantId` under its current `limitPerMinute` (read from the grant per
   * request, so an edit applies on the next one), costing `cost` tokens (default 1).
   */
  take(grantId: string, limitPerMinute: number, cost?: number): Promise<TakeResult>;
  /** Drop a grant's bucket (a revoked or deleted grant), never as a reset of a live one. */
  forget?(grantId: string): Promise<void> | void;
  /** Release connections and timers. */
  close(): Promise<void>;
}

/**
 * The in-process limiter behind the {@link RateLimiter} interface.
 *
 * @example
 * const limiter = new MemoryRateLimiter();
 * const r = await limiter.take(grant.id, 60); // { allowed: true, remaining: 59, retryAfterSeconds: 0 }
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly kind = 'memory' as const;
  readonly #limiter: GrantRateLimiter;

  constructor(limiter: GrantRateLimiter = new GrantRateLimiter()) {
    this.#limiter = limiter;
  }

  take(grantId: string, limitPerMinute: number, cost = 1): Promise<TakeResult> {
    // A throw (bad argument) becomes a rejection, as from the Redis limiter.
    return new Promise((resolve) => resolve(this.#limiter.take(grantId, limitPerMinute, cost)));
  }

  forget(grantId: string): void {
    this.#limiter.forget(grantId);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
