/**
 * limits — per-grant rate limits: a pure token bucket (clock injected, state serialisable,
 * the formula shared with the Redis limiter) and the in-process limiter keyed by grant id.
 *
 * @example
 * const limiter = new GrantRateLimiter();
 * const { allowed, retryAfterSeconds } = limiter.take(grantId, scope.rate_limit_per_minute ?? 60);
 */
export {
  REFILL_PERIOD_MS,
  MAX_LIMIT_PER_MINUTE,
  type Clock,
  type BucketState,
  type TakeResult,
  type TokenBucketOptions,
  checkLimit,
  parseBucketState,
  advanceBucket,
  takeTokens,
  isIdle,
  TokenBucket,
} from './bucket.js';
export { type GrantRateLimiterOptions, GrantRateLimiter } from './limiter.js';
export { RateLimitInvalid, RateLimitArgumentInvalid, RateLimitStateInvalid } from './errors.js';
