/**
 * Token bucket for per-grant rate limits: pure arithmetic over a small serialisable state,
 * time read from an injected clock. The in-process limiter and the Redis limiter (a Lua
 * script elsewhere) run the same formula, written out below so the two cannot drift.
 *
 * Semantics
 * - Capacity = L, the limit per minute; the bucket refills continuously at L tokens per
 *   60 000 ms (L/60 per second). A new bucket — or a missing one — is full: a full bucket
 *   and no bucket are the same thing, which is what lets idle buckets be dropped.
 * - A request costs n tokens (1 by default) and is allowed when n tokens are there.
 *   A refused request takes nothing.
 * - retryAfterSeconds (refused only) = whole seconds, rounded up and at least 1, until the
 *   n tokens asked for are there (n = 1: until one token is).
 * - Limit change (a grant edit, e.g. 60/min → 600/min) applies on the next request, without
 *   restart and without a reset: the tokens already spent and not yet refilled stay spent.
 *   Raising 60 → 600 right after a burst of 60 leaves 540; lowering 600 → 60 after 10
 *   requests leaves 50; after 590 it leaves a debt of 530 (tokens = -530), repaid at the new
 *   rate before the next request passes. A full bucket stays full; time before the change
 *   refills at the old rate. Neither direction hands out a fresh full bucket (that would let
 *   an edit reset a burst), and a raise is felt at once, not after a minute.
 *   The rebase is exact and reversible (the debt is never clamped away): two replicas that
 *   briefly disagree on the limit, or a lower-then-raise edit, cannot mint tokens by
 *   alternating — the tokens spent stay spent whatever the limit in between.
 * - Clock: time never runs backwards for a bucket. A reading up to one refill period behind
 *   `updatedAt` (replica skew) refills nothing and keeps `updatedAt`; a reading more than a
 *   period behind (the clock was stepped back) re-anchors `updatedAt` to it, so a stepped
 *   clock cannot lock a grant out for longer than a period, and never adds tokens.
 *
 * The formula (P = 60000 ms, L = limit now asked for, n = cost, t = now in ms;
 * stored state T = tokens, u = updatedAt, L0 = limit at the last update; IEEE doubles,
 * evaluated in exactly this order on both sides):
 *
 *   if no state:   T, u, L0 = L, t, L
 *   if t < u - P:  u = t
 *   elapsed = min(max(t - u, 0), max(P, (L0 - T) * P / L0))   -- P, or longer to repay a debt
 *   T = min(L0, T + elapsed * L0 / P)          -- (elapsed * L0) / P
 *   u = max(u, t)
 *   if L ≠ L0:     T = T + L - L0              -- (T + L) - L0; may go below 0 (a debt)
 *   allowed = T ≥ n;  if allowed: T = T - n
 *   remaining = floor(T)
 *   retryAfterSeconds = allowed ? 0 : r = max(1, ceil(((u - t) + (n - T) * P / L) / 1000)),
 *                       then r - 1 when r > 1 and, at t2 = t + (r - 1) * 1000,
 *                       min(L, T + min(max(t2 - u, 0), max(P, (L - T) * P / L)) * L / P) ≥ n
 *                       (rounding can put the wait a hair past a whole second)
 *   store T, u, L (as `tokens`, `updatedAt`, `limit`); the key may expire after (u - t) + (L - T) * P / L ms
 *   (by then the bucket is full again, i.e. equivalent to absent)
 *
 * The same in Redis Lua (KEYS[1] = the grant's bucket, ARGV = L, n). Take `now` from the
 * server's TIME so every replica reads one clock. Pass numbers to redis.call as numbers:
 * Redis formats them with %.17g, where tostring() would round to 14 digits.
 *
 *   local tm = redis.call('TIME')
 *   local t = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
 *   local L, n, P = tonumber(ARGV[1]), tonumber(ARGV[2]), 60000
 *   local s = redis.call('HMGET', KEYS[1], 'tokens', 'updatedAt', 'limit')
 *   local T, u, L0 = tonumber(s[1]), tonumber(s[2]), tonumber(s[3])
 *   if T == nil or u == nil or L0 == nil then T, u, L0 = L, t, L end
 *   if t < u - P then u = t end
 *   local elapsed = math.min(math.max(t - u, 0), math.max(P, (L0 - T) * P / L0))
 *   T = math.min(L0, T + elapsed * L0 / P)
 *   u = math.max(u, t)
 *   if L ~= L0 then T = T + L - L0 end
 *   local allowed, retry = 0, 0
 *   if T >= n then T = T - n; allowed = 1
 *   else retry = math.max(1, math.ceil(((u - t) + (n - T) * P / L) / 1000))
 *     if retry > 1 then
 *       local t2 = t + (retry - 1) * 1000
 *       local e2 = math.min(math.max(t2 - u, 0), math.max(P, (L - T) * P / L))
 *       if math.min(L, T + e2 * L / P) >= n then retry = retry - 1 end
 *     end
 *   end
 *   redis.call('HSET', KEYS[1], 'tokens', T, 'updatedAt', u, 'limit', L)
 *   redis.call('PEXPIRE', KEYS[1], math.ceil((u - t) + (L - T) * P / L))
 *   return { allowed, math.floor(T), retry }
 *
 * Check a Lua port differentially: random sequences of (t, L, n) through it and through
 * {@link takeTokens} must give the same results and states.
 */
import { RateLimitArgumentInvalid, RateLimitInvalid, RateLimitStateInvalid } from './errors.js';

/** The refill period: a bucket refills completely in one minute, whatever its limit. */
export const REFILL_PERIOD_MS = 60_000;
/** The largest limit accepted: elapsed · limit (≤ 6·10^13) then stays an exact integer in a double. */
export const MAX_LIMIT_PER_MINUTE = 1_000_000_000;

/** A clock reading milliseconds; `Date` and `performance` both fit. */
export interface Clock {
  now(): number;
}

/** The whole state of a bucket: JSON-serialisable, three numbers, the same fields as the Redis hash. */
export interface BucketState {
  /** Tokens in the bucket at `updatedAt` (fractional), at most `limit`; below 0 after a limit was lowered (a debt). */
  tokens: number;
  /** Clock reading (ms) the tokens were computed for. */
  updatedAt: number;
  /** The limit per minute the bucket was last computed under. */
  limit: number;
}

/** The answer to one request. */
export interface TakeResult {
  /** Whether the request may proceed. */
  allowed: boolean;
  /** Whole tokens left after this request (for a `RateLimit-Remaining` header). */
  remaining: number;
  /** 0 when allowed; otherwise whole seconds (≥ 1, rounded up) until the request would be allowed (the `Retry-After` header). */
  retryAfterSeconds: number;
}

/** Refuse anything but a whole number of requests per minute in 1..1e9. */
export function checkLimit(limitPerMinute: number): number {
  if (!Number.isSafeInteger(limitPerMinute) || limitPerMinute < 1 || limitPerMinute > MAX_LIMIT_PER_MINUTE) {
    throw new RateLimitInvalid(String(limitPerMinute));
  }
  return limitPerMinute;
}

function checkNow(now: number): number {
  if (!Number.isFinite(now)) throw new RateLimitArgumentInvalid(`clock reading ${String(now)} is not a finite number of milliseconds`);
  return now;
}

/**
 * Validate a bucket state read from storage (JSON, a Redis hash): finite numbers, tokens
 * at most limit (and no lower than -MAX_LIMIT_PER_MINUTE), a valid limit. Returns a clean copy.
 *
 * @example
 * const state = parseBucketState(JSON.parse(stored));
 */
export function parseBucketState(value: unknown): BucketState {
  if (typeof value !== 'object' || value === null) throw new RateLimitStateInvalid('it is not an object');
  const { tokens, updatedAt, limit } = value as Record<string, unknown>;
  if (typeof limit !== 'number' || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT_PER_MINUTE) {
    throw new RateLimitStateInvalid('limit is not a whole number in 1..1e9');
  }
  if (typeof updatedAt !== 'number' || !Number.isFinite(updatedAt)) throw new RateLimitStateInvalid('updatedAt is not a finite number');
  if (typeof tokens !== 'number' || !Number.isFinite(tokens) || tokens < -MAX_LIMIT_PER_MINUTE || tokens > limit) {
    throw new RateLimitStateInvalid('tokens is not a number within -1e9..limit');
  }
  return { tokens, updatedAt, limit };
}

/**
 * The bucket brought up to `now` under `limitPerMinute`: refilled, and re-based on the new
 * limit if it changed (spent tokens stay spent). Takes nothing. `undefined` = full bucket.
 *
 * @example
 * const s = advanceBucket(stored, 600, Date.now()); // s.tokens available right now
 */
export function advanceBucket(state: BucketState | undefined, limitPerMinute: number, now: number): BucketState {
  const L = checkLimit(limitPerMinute);
  const t = checkNow(now);
  if (state === undefined) return { tokens: L, updatedAt: t, limit: L };
  let { tokens: T, updatedAt: u } = state;
  const L0 = state.limit;
  if (t < u - REFILL_PERIOD_MS) u = t;
  const elapsed = Math.min(Math.max(t - u, 0), Math.max(REFILL_PERIOD_MS, ((L0 - T) * REFILL_PERIOD_MS) / L0));
  T = Math.min(L0, T + (elapsed * L0) / REFILL_PERIOD_MS);
  u = Math.max(u, t);
  // Never clamped: clamping a debt to 0 and re-adding on a raise would mint tokens.
  if (L !== L0) T = T + L - L0;
  return { tokens: T, updatedAt: u, limit: L };
}

/**
 * One request against a bucket: the pure core of the limiter. Returns the next state (to
 * store) and the answer. `undefined` state = full bucket.
 *
 * @example
 * const { state, result } = takeTokens(stored, grant.scope.rate_limit_per_minute ?? 60, Date.now());
 * if (!result.allowed) reply.code(429).header('retry-after', String(result.retryAfterSeconds));
 */
export function takeTokens(
  state: BucketState | undefined,
  limitPerMinute: number,
  now: number,
  cost = 1,
): { state: BucketState; result: TakeResult } {
  const next = advanceBucket(state, limitPerMinute, now);
  if (!Number.isSafeInteger(cost) || cost < 1 || cost > next.limit) {
    throw new RateLimitArgumentInvalid(`cost ${String(cost)} is not a whole number of tokens within 1..${next.limit}`);
  }
  if (next.tokens >= cost) {
    next.tokens -= cost;
    return { state: next, result: { allowed: true, remaining: Math.max(0, Math.floor(next.tokens)), retryAfterSeconds: 0 } };
  }
  const waitMs = next.updatedAt - now + ((cost - next.tokens) * REFILL_PERIOD_MS) / next.limit;
  let retry = Math.max(1, Math.ceil(waitMs / 1000));
  // Rounding in the token arithmetic can put the wait a hair past a whole second
  // (40 000.000000000004 ms → 41 s): one second less when the bucket's own arithmetic already
  // allows the request then — never less than that (never an under-estimate).
  if (retry > 1 && advanceBucket(next, next.limit, now + (retry - 1) * 1000).tokens >= cost) retry -= 1;
  return {
    state: next,
    result: { allowed: false, remaining: Math.max(0, Math.floor(next.tokens)), retryAfterSeconds: retry },
  };
}

/**
 * True when a bucket has been idle long enough to be full again (a refill period, longer when
 * it carries a debt), so it may be dropped: a dropped bucket comes back full, exactly as it
 * would have been.
 */
export function isIdle(state: BucketState, now: number): boolean {
  return now - state.updatedAt >= Math.max(REFILL_PERIOD_MS, ((state.limit - state.tokens) * REFILL_PERIOD_MS) / state.limit);
}

/** Options of a {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Requests per minute: the capacity, refilled over one minute. */
  limitPerMinute: number;
  /** Time source in ms; default `Date`. Tests inject a fake one. */
  clock?: Clock;
  /** A stored state to continue from (validated); default: a full bucket. */
  state?: BucketState;
}

/**
 * One token bucket over an injected clock — {@link takeTokens} with its state kept.
 *
 * @example
 * const bucket = new TokenBucket({ limitPerMinute: 60, clock: { now: () => fakeNow } });
 * bucket.take(); // { allowed: true, remaining: 59, retryAfterSeconds: 0 }
 */
export class TokenBucket {
  #state: BucketState;
  #limit: number;
  readonly #clock: Clock;

  constructor(options: TokenBucketOptions) {
    this.#clock = options.clock ?? Date;
    this.#limit = checkLimit(options.limitPerMinute);
    this.#state = options.state === undefined ? advanceBucket(undefined, this.#limit, this.#clock.now()) : parseBucketState(options.state);
  }

  /** The limit per minute in force. */
  get limitPerMinute(): number {
    return this.#limit;
  }

  /** Take `n` tokens (default 1) if they are there. */
  take(n = 1): TakeResult {
    const { state, result } = takeTokens(this.#state, this.#limit, this.#clock.now(), n);
    this.#state = state;
    return result;
  }

  /** Change the limit now (a grant edit): spent tokens stay spent, see the module comment. */
  setLimit(limitPerMinute: number): void {
    this.#state = advanceBucket(this.#state, limitPerMinute, this.#clock.now());
    this.#limit = this.#state.limit;
  }

  /** Tokens available now (fractional), taking nothing. */
  available(): number {
    return advanceBucket(this.#state, this.#limit, this.#clock.now()).tokens;
  }

  /** The state to store (a copy); continue with `new TokenBucket({ …, state })`. */
  toJSON(): BucketState {
    return { ...this.#state };
  }
}
