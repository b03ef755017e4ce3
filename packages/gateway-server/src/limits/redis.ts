/**
 * Per-grant rate limits shared by every replica through Redis/Valkey (`REDIS_URL`).
 *
 * One bucket per grant, a hash at `mosaic:rl:<gateway name>:<grant id>` (the name lets several
 * deployments share one Redis), updated by one atomic Lua script — the formula of
 * federation-core's `bucket.ts`, verbatim from its doc comment, with the server's TIME as the
 * clock, so in-process and Redis answers agree. EVALSHA first, EVAL when the server answers
 * NOSCRIPT (a restart or SCRIPT FLUSH emptied its cache). Keys expire once their bucket is
 * full again; live buckets are never evicted for space by us (configure Redis with
 * `maxmemory-policy noeviction`, see docs/setup.md).
 *
 * Rate limits degrade, they never fail closed: while Redis is unreachable or errors, each
 * request is answered by a local in-process bucket (limits are per-replica until it is back),
 * with one warning per outage, one line at recovery, and a count of the requests so answered.
 */
import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { checkLimit, GrantRateLimiter, isGrantId, parseBucketState, RateLimitArgumentInvalid, type BucketState, type TakeResult } from '@mosaic/federation-core';
import type { RateLimiter } from './rate-limiter.js';

/** The token-bucket script: bucket.ts's doc comment, line for line (KEYS[1] = bucket, ARGV = L, n). */
export const TAKE_SCRIPT = [
  "local tm = redis.call('TIME')",
  'local t = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)',
  'local L, n, P = tonumber(ARGV[1]), tonumber(ARGV[2]), 60000',
  "local s = redis.call('HMGET', KEYS[1], 'tokens', 'updatedAt', 'limit')",
  'local T, u, L0 = tonumber(s[1]), tonumber(s[2]), tonumber(s[3])',
  'if T == nil or u == nil or L0 == nil then T, u, L0 = L, t, L end',
  'if t < u - P then u = t end',
  'local elapsed = math.min(math.max(t - u, 0), math.max(P, (L0 - T) * P / L0))',
  'T = math.min(L0, T + elapsed * L0 / P)',
  'u = math.max(u, t)',
  'if L ~= L0 then T = T + L - L0 end',
  'local allowed, retry = 0, 0',
  'if T >= n then T = T - n; allowed = 1',
  'else retry = math.max(1, math.ceil(((u - t) + (n - T) * P / L) / 1000))',
  '  if retry > 1 then',
  '    local t2 = t + (retry - 1) * 1000',
  '    local e2 = math.min(math.max(t2 - u, 0), math.max(P, (L - T) * P / L))',
  '    if math.min(L, T + e2 * L / P) >= n then retry = retry - 1 end',
  '  end',
  'end',
  "redis.call('HSET', KEYS[1], 'tokens', T, 'updatedAt', u, 'limit', L)",
  "redis.call('PEXPIRE', KEYS[1], math.ceil((u - t) + (L - T) * P / L))",
  'return { allowed, math.floor(T), retry }',
].join('\n');

const TAKE_SHA = createHash('sha1').update(TAKE_SCRIPT).digest('hex');

/** The log line of an outage (one per outage) and of the recovery. */
export const REDIS_DOWN_MESSAGE = 'redis unreachable: rate limits are per-replica until it is back';
export const REDIS_BACK_MESSAGE = 'redis reachable again: rate limits are shared across replicas';

/** While degraded and connected, how often one request tries Redis again (the others stay local). */
const PROBE_INTERVAL_MS = 1_000;

/** What doctor and metrics show of the shared limiter. */
export interface RedisLimiterHealth {
  /** `host:port` — never the URL, which may carry a password. */
  target: string;
  /** False while requests are answered by the local fallback (or Redis did not answer a PING now). */
  reachable: boolean;
  /** When the current outage began (ISO), null when none. */
  degradedSince: string | null;
  /** Requests answered by the local fallback since start. */
  fallbacks: number;
  /** The last error seen from Redis (no credentials), null when none. */
  lastError: string | null;
}

export interface RedisRateLimiterOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…`. */
  url: string;
  /** The gateway's name: part of every key, so deployments sharing one Redis stay apart. */
  name: string;
  logger: Logger;
  /** Called once per request answered by the local fallback (a metric). */
  onFallback?: () => void;
  /** Per-command timeout (default 250 ms): a hung Redis costs a request this much, once. */
  commandTimeoutMs?: number;
  /** TCP/TLS connect timeout (default 2 000 ms). */
  connectTimeoutMs?: number;
  /** The local limiter used while Redis is unreachable (default: a fresh one). */
  fallback?: GrantRateLimiter;
}

/** `host:port` of a Redis URL, for logs and doctor. */
export function redisTarget(url: string): string {
  try {
    const u = new URL(url);
    const host = u.hostname === '' ? '127.0.0.1' : u.hostname;
    return `${host}:${u.port === '' ? '6379' : u.port}`;
  } catch {
    return '(invalid REDIS_URL)';
  }
}

/** The shared limiter: see the module comment. */
export class RedisRateLimiter implements RateLimiter {
  readonly kind = 'redis' as const;
  /** `host:port`, for logs. */
  readonly target: string;
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #logger: Logger;
  readonly #onFallback: () => void;
  readonly #fallback: GrantRateLimiter;
  readonly #secrets: string[];
  #closed = false;
  #degradedSince: number | null = null;
  #fallbacks = 0;
  #fallbacksAtOutage = 0;
  #lastError: string | null = null;
  #probeAt = 0;
  #probing = false;

  constructor(options: RedisRateLimiterOptions) {
    if (!/^[A-Za-z0-9._-]{1,63}$/.test(options.name)) throw new RateLimitArgumentInvalid('the gateway name in rate-limit keys must be 1–63 of [A-Za-z0-9._-]');
    this.target = redisTarget(options.url);
    this.#prefix = `mosaic:rl:${options.name}:`;
    this.#logger = options.logger;
    this.#onFallback = options.onFallback ?? (() => undefined);
    this.#fallback = options.fallback ?? new GrantRateLimiter();
    const parsed = URL.canParse(options.url) ? new URL(options.url) : null;
    this.#secrets = [parsed?.password, parsed?.password ? decodeURIComponent(parsed.password) : undefined].filter((s): s is string => s !== undefined && s !== '');
    this.#client = new Redis(options.url, {
      lazyConnect: true,
      commandTimeout: options.commandTimeoutMs ?? 250,
      connectTimeout: options.connectTimeoutMs ?? 2_000,
      maxRetriesPerRequest: 1,
      // A dead Redis must fail a take at once, not queue it; and a script whose reply was lost
      // may have run: never send it twice.
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      // Keep reconnecting, at most every 2 s, for as long as the gateway runs.
      retryStrategy: (times: number) => Math.min(100 * times, 2_000),
    });
    // Without a listener ioredis prints connection errors to the console.
    this.#client.on('error', (err: Error) => {
      this.#lastError = this.#clean(err);
    });
    this.#client.on('close', () => {
      if (!this.#closed) this.#markDown('the connection closed');
    });
    this.#client.on('ready', () => {
      // Connected (again): the next request tries Redis, and its success ends the outage.
      this.#probeAt = 0;
      if (this.#degradedSince !== null) this.#markUp();
    });
  }

  /** Connect now (the client is lazy); resolves within the connect timeout whatever happens — a failure starts an outage, it does not throw. */
  async connect(): Promise<void> {
    if (this.#client.status !== 'wait') return;
    await this.#client.connect().catch((err: unknown) => this.#markDown(err));
  }

  async take(grantId: string, limitPerMinute: number, cost = 1): Promise<TakeResult> {
    if (!isGrantId(grantId)) throw new RateLimitArgumentInvalid('grant id must be a lowercase UUID');
    const limit = checkLimit(limitPerMinute);
    if (!Number.isSafeInteger(cost) || cost < 1 || cost > limit) {
      throw new RateLimitArgumentInvalid(`cost ${String(cost)} is not a whole number of tokens within 1..${limit}`);
    }
    const probe = this.#degradedSince !== null;
    if (!this.#shouldTry()) return this.#local(grantId, limit, cost);
    if (probe) this.#probing = true;
    try {
      const result = await this.#evalTake(this.#prefix + grantId, limit, cost);
      if (this.#degradedSince !== null) this.#markUp();
      return result;
    } catch (err) {
      this.#markDown(err);
      return this.#local(grantId, limit, cost);
    } finally {
      if (probe) this.#probing = false;
    }
  }

  /** Drop a grant's bucket everywhere (best effort: a missing bucket is a full one). */
  async forget(grantId: string): Promise<void> {
    if (!isGrantId(grantId)) throw new RateLimitArgumentInvalid('grant id must be a lowercase UUID');
    this.#fallback.forget(grantId);
    if (this.#client.status === 'ready') await this.#client.del(this.#prefix + grantId).catch(() => undefined);
  }

  /** The stored state of a grant's bucket in Redis, `undefined` when it has none (= full). */
  async peek(grantId: string): Promise<BucketState | undefined> {
    if (!isGrantId(grantId)) throw new RateLimitArgumentInvalid('grant id must be a lowercase UUID');
    const [tokens, updatedAt, limit] = await this.#client.hmget(this.#prefix + grantId, 'tokens', 'updatedAt', 'limit');
    if (tokens === null || updatedAt === null || limit === null) return undefined;
    return parseBucketState({ tokens: Number(tokens), updatedAt: Number(updatedAt), limit: Number(limit) });
  }

  /** State for doctor: the outage state, and whether Redis answers a PING now. */
  async health(): Promise<RedisLimiterHealth> {
    let pingOk = false;
    if (this.#client.status === 'ready') {
      try {
        pingOk = (await this.#client.ping()) === 'PONG';
      } catch (err) {
        this.#lastError = this.#clean(err);
      }
    }
    return {
      target: this.target,
      reachable: pingOk && this.#degradedSince === null,
      degradedSince: this.#degradedSince === null ? null : new Date(this.#degradedSince).toISOString(),
      fallbacks: this.#fallbacks,
      lastError: this.#lastError,
    };
  }

  /** Whether requests are shared through Redis right now (no I/O). */
  get reachable(): boolean {
    return this.#degradedSince === null && !this.#closed;
  }

  /** Requests answered by the local fallback since start. */
  get fallbacks(): number {
    return this.#fallbacks;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#client.status === 'end' || this.#client.status === 'wait') {
      this.#client.disconnect();
      return;
    }
    await this.#client.quit().catch(() => this.#client.disconnect());
  }

  /** Try Redis for this request? Always when healthy; when degraded, one probe at a time, once connected. */
  #shouldTry(): boolean {
    if (this.#closed) return false;
    if (this.#degradedSince === null) return true;
    if (this.#client.status !== 'ready' || this.#probing || Date.now() < this.#probeAt) return false;
    return true;
  }

  async #evalTake(key: string, limit: number, cost: number): Promise<TakeResult> {
    let reply: unknown;
    try {
      reply = await this.#client.evalsha(TAKE_SHA, 1, key, limit, cost);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      reply = await this.#client.eval(TAKE_SCRIPT, 1, key, limit, cost);
    }
    if (!Array.isArray(reply) || reply.length !== 3 || !reply.every((v) => typeof v === 'number' && Number.isSafeInteger(v))) {
      throw new Error('the rate-limit script answered something other than three integers');
    }
    const [allowed, floorTokens, retry] = reply as [number, number, number];
    return { allowed: allowed === 1, remaining: Math.max(0, floorTokens), retryAfterSeconds: allowed === 1 ? 0 : retry };
  }

  #local(grantId: string, limit: number, cost: number): TakeResult {
    this.#fallbacks++;
    this.#onFallback();
    return this.#fallback.take(grantId, limit, cost);
  }

  #markDown(err: unknown): void {
    const message = typeof err === 'string' ? err : this.#clean(err);
    this.#lastError = message;
    this.#probeAt = Date.now() + PROBE_INTERVAL_MS;
    if (this.#degradedSince !== null || this.#closed) return;
    this.#degradedSince = Date.now();
    this.#fallbacksAtOutage = this.#fallbacks;
    this.#logger.warn({ redis: this.target, err: message }, REDIS_DOWN_MESSAGE);
  }

  #markUp(): void {
    if (this.#degradedSince === null) return;
    const downMs = Date.now() - this.#degradedSince;
    this.#degradedSince = null;
    this.#logger.info({ redis: this.target, downMs, requestsLimitedLocally: this.#fallbacks - this.#fallbacksAtOutage }, REDIS_BACK_MESSAGE);
  }

  /** An error's message with any credential of the URL cut out. */
  #clean(err: unknown): string {
    let message = err instanceof Error ? err.message : String(err);
    for (const s of this.#secrets) message = message.split(s).join('<redacted>');
    return message.slice(0, 300);
  }
}

/** Whether a limiter is the shared one (it has health for doctor). */
export function isRedisLimiter(limiter: RateLimiter): limiter is RedisRateLimiter {
  return limiter.kind === 'redis';
}
