/**
 * limits — the gateway's per-grant rate limiter: in-process by default, shared through
 * Redis/Valkey when `REDIS_URL` is set (see redis.ts for the degrade-never-fail-closed rules).
 */
import type { Logger } from 'pino';
import { MemoryRateLimiter, type RateLimiter } from './rate-limiter.js';
import { RedisRateLimiter } from './redis.js';

export { MemoryRateLimiter, type RateLimiter } from './rate-limiter.js';
export { isRedisLimiter, redisTarget, RedisRateLimiter, REDIS_BACK_MESSAGE, REDIS_DOWN_MESSAGE, TAKE_SCRIPT, type RedisLimiterHealth, type RedisRateLimiterOptions } from './redis.js';

/** The limiter a gateway runs: Redis when `redisUrl` is set (not yet connected: call `connect()`), else in-process. */
export function createRateLimiter(options: { redisUrl: string | null; name: string; logger: Logger; onFallback?: () => void }): RateLimiter {
  if (options.redisUrl === null) return new MemoryRateLimiter();
  return new RedisRateLimiter({ url: options.redisUrl, name: options.name, logger: options.logger, ...(options.onFallback ? { onFallback: options.onFallback } : {}) });
}
