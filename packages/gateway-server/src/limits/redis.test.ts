/**
 * The shared rate limiter against a real redis-server (test-support/redis.ts): the same answers
 * and states as the in-process limiter, one bucket across replicas, no eviction, key expiry,
 * and the outage path — the server killed or frozen mid-run, for real.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrantRateLimiter, type TakeResult } from '@mosaic/federation-core';
import { describeWithRedis, type RedisServer } from '../test-support/redis.js';
import { MemoryRateLimiter } from './rate-limiter.js';
import { REDIS_BACK_MESSAGE, REDIS_DOWN_MESSAGE, RedisRateLimiter, TAKE_SCRIPT } from './redis.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A pino logger whose lines land in an array (parsed). */
function capturingLogger(): { logger: pino.Logger; lines: Array<{ level: number; msg: string } & Record<string, unknown>> } {
  const lines: Array<{ level: number; msg: string } & Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
  return { logger, lines };
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** The Lua block of bucket.ts's doc comment, without the comment prefix. */
function luaOfBucketDoc(): string {
  const source = readFileSync(new URL('../../../federation-core/src/limits/bucket.ts', import.meta.url), 'utf8');
  const lines = source.split('\n');
  const start = lines.findIndex((l) => l.includes("local tm = redis.call('TIME')"));
  const end = lines.findIndex((l, i) => i >= start && l.includes('return { allowed'));
  return lines
    .slice(start, end + 1)
    .map((l) => l.replace(/^ \* {3}/, ''))
    .join('\n');
}

describe('the Redis token-bucket script', () => {
  it("is bucket.ts's documented Lua, line for line", () => {
    expect(TAKE_SCRIPT).toBe(luaOfBucketDoc());
  });
});

describe('MemoryRateLimiter', () => {
  it('answers like GrantRateLimiter, as a promise, and rejects bad arguments', async () => {
    const limiter = new MemoryRateLimiter();
    const id = randomUUID();
    expect(await limiter.take(id, 60)).toEqual({ allowed: true, remaining: 59, retryAfterSeconds: 0 });
    await expect(limiter.take(id, 0)).rejects.toMatchObject({ code: 'RATE_LIMIT_INVALID' });
    limiter.forget(id);
    expect(await limiter.take(id, 60, 60)).toEqual({ allowed: true, remaining: 0, retryAfterSeconds: 0 });
    await limiter.close();
  });
});

describeWithRedis('RedisRateLimiter against a real redis-server', (server: () => RedisServer) => {
  const limiters: RedisRateLimiter[] = [];
  let raw: Redis;
  const open = (name = 'work', extra: Partial<ConstructorParameters<typeof RedisRateLimiter>[0]> = {}) => {
    const l = new RedisRateLimiter({ url: server().url, name, logger: pino({ level: 'silent' }), ...extra });
    limiters.push(l);
    return l;
  };

  beforeAll(async () => {
    raw = new Redis(server().url, { lazyConnect: true });
    raw.on('error', () => undefined); // it sees the outages too
    await raw.connect();
  });
  afterAll(async () => {
    for (const l of limiters) await l.close();
    raw.disconnect();
  });

  it("answers and stores exactly what the in-process limiter does for the same sequence (60 → 600 → 60, cost, retryAfter)", async () => {
    const redis = open('diff');
    await redis.connect();
    // The in-process side reads the instant the script used: its stored updatedAt (the
    // server's TIME only moves forward here, so updatedAt = t of the last take).
    let now = 0;
    const local = new GrantRateLimiter({ clock: { now: () => now } });
    const id = randomUUID();
    const results: Array<{ step: string; redis: TakeResult }> = [];
    const step = async (label: string, limit: number, cost = 1) => {
      const r = await redis.take(id, limit, cost);
      const state = await redis.peek(id);
      now = state!.updatedAt;
      const l = local.take(id, limit, cost);
      expect(r, label).toEqual(l);
      expect(state, label).toEqual(local.peek(id));
      results.push({ step: label, redis: r });
      return r;
    };
    for (let i = 0; i < 60; i++) expect((await step(`burst ${i}`, 60)).allowed).toBe(true);
    const refused = await step('61st', 60);
    expect(refused).toMatchObject({ allowed: false, remaining: 0 });
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    await sleep(1_100); // a token refills
    expect((await step('after a second', 60)).allowed).toBe(true);
    const raised = await step('raised to 600', 600);
    expect(raised.allowed).toBe(true);
    expect(raised.remaining).toBeGreaterThanOrEqual(538);
    for (let i = 0; i < 10; i++) await step(`at 600 #${i}`, 600);
    await step('cost 5 at 600', 600, 5);
    const lowered = await step('back to 60', 60);
    // 600 → 60 with ~524 tokens left: ~524 + 60 - 600 = a debt of ~16 tokens, repaid at 1/s
    expect(lowered).toMatchObject({ allowed: false, remaining: 0 });
    expect(lowered.retryAfterSeconds).toBeGreaterThan(10);
    await sleep(120);
    await step('600 again', 600);
    // then a pseudo-random walk of limits, costs and small pauses
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const limits = [1, 7, 60, 600, 6000];
    for (let i = 0; i < 300; i++) {
      const limit = limits[rand(limits.length)]!;
      await step(`walk ${i}`, limit, 1 + rand(Math.min(limit, 5)));
      if (rand(10) === 0) await sleep(rand(40));
    }
    expect(results.some((r) => !r.redis.allowed)).toBe(true);
    expect(redis.fallbacks).toBe(0);
  });

  it('two replicas share one bucket: the 61st request across both is refused with retryAfter ≥ 1', async () => {
    const a = open('shared');
    const b = open('shared');
    await Promise.all([a.connect(), b.connect()]);
    const id = randomUUID();
    for (let i = 0; i < 60; i++) expect((await (i % 2 === 0 ? a : b).take(id, 60)).allowed).toBe(true);
    for (const replica of [a, b]) {
      const r = await replica.take(id, 60);
      expect(r.allowed).toBe(false);
      expect(r.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    }
    // another deployment on the same Redis (another gateway name) has its own buckets
    const other = open('elsewhere');
    await other.connect();
    expect((await other.take(id, 60)).allowed).toBe(true);
    expect(a.fallbacks + b.fallbacks + other.fallbacks).toBe(0);
  });

  it('10 000 distinct grants: none evicted — a burst on the first grant is still remembered', async () => {
    const limiter = open('many');
    await limiter.connect();
    const first = randomUUID();
    for (let i = 0; i < 60; i++) await limiter.take(first, 60);
    const others = Array.from({ length: 10_000 }, () => randomUUID());
    for (let i = 0; i < others.length; i += 1_000) {
      const batch = await Promise.all(others.slice(i, i + 1_000).map((id) => limiter.take(id, 60)));
      expect(batch.every((r) => r.allowed && r.remaining === 59)).toBe(true);
    }
    expect((await limiter.take(first, 60)).allowed).toBe(false);
    const pipeline = raw.pipeline();
    for (const id of [first, ...others]) pipeline.exists(`mosaic:rl:many:${id}`);
    const exists = (await pipeline.exec())!.map(([, v]) => v as number);
    expect(exists.reduce((s, v) => s + v, 0)).toBe(10_001);
    expect(limiter.fallbacks).toBe(0);
  });

  it('keys expire once the bucket would be full again, and then answer as a full bucket', async () => {
    const limiter = open('ttl');
    await limiter.connect();
    const one = randomUUID();
    await limiter.take(one, 60);
    const key = `mosaic:rl:ttl:${one}`;
    const ttl = await raw.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1_000); // one token at 1/s
    expect(await raw.hgetall(key)).toMatchObject({ tokens: '59', limit: '60' });
    const burst = randomUUID();
    for (let i = 0; i < 60; i++) await limiter.take(burst, 60);
    const full = await raw.pttl(`mosaic:rl:ttl:${burst}`);
    expect(full).toBeGreaterThan(59_000);
    expect(full).toBeLessThanOrEqual(60_000);
    await sleep(1_100);
    expect(await raw.exists(key)).toBe(0);
    expect(await limiter.take(one, 60)).toEqual({ allowed: true, remaining: 59, retryAfterSeconds: 0 });
  });

  it('reloads the script with EVAL after SCRIPT FLUSH (NOSCRIPT), without falling back', async () => {
    const limiter = open('flush');
    await limiter.connect();
    const id = randomUUID();
    await limiter.take(id, 60);
    await raw.script('FLUSH');
    expect(await limiter.take(id, 60)).toMatchObject({ allowed: true, remaining: 58 });
    expect(limiter.fallbacks).toBe(0);
    expect(limiter.reachable).toBe(true);
  });

  it('refuses a grant id that is not a UUID (it becomes a key), and a bad limit or cost, before any I/O', async () => {
    const limiter = open('args');
    await limiter.connect();
    await expect(limiter.take('x:*', 60)).rejects.toMatchObject({ code: 'RATE_LIMIT_ARGUMENT_INVALID' });
    await expect(limiter.take(randomUUID().toUpperCase(), 60)).rejects.toMatchObject({ code: 'RATE_LIMIT_ARGUMENT_INVALID' });
    await expect(limiter.take(randomUUID(), 0)).rejects.toMatchObject({ code: 'RATE_LIMIT_INVALID' });
    await expect(limiter.take(randomUUID(), 60, 61)).rejects.toMatchObject({ code: 'RATE_LIMIT_ARGUMENT_INVALID' });
    expect(() => open('bad:name')).toThrow(/gateway name/);
  });

  it('a Redis that cannot be reached at all: requests are limited per process, one warning naming host:port, never the password', async () => {
    const { logger, lines } = capturingLogger();
    let counted = 0;
    // port 1 on loopback: nothing listens there, the connection is refused at once
    const url = `redis://:s3cret-pw@127.0.0.1:1/0`;
    const limiter = open('nowhere', { url, logger, onFallback: () => counted++, connectTimeoutMs: 200 });
    await limiter.connect();
    const id = randomUUID();
    for (let i = 0; i < 60; i++) expect((await limiter.take(id, 60)).allowed).toBe(true);
    expect((await limiter.take(id, 60)).allowed).toBe(false);
    expect(counted).toBe(61);
    expect(limiter.fallbacks).toBe(61);
    const warnings = lines.filter((l) => l.msg === REDIS_DOWN_MESSAGE);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, redis: '127.0.0.1:1' });
    expect(JSON.stringify(lines)).not.toContain('s3cret-pw');
    expect((await limiter.health()).reachable).toBe(false);
  });

  it('killing redis-server mid-run: still limited per process, exactly one warning, fallbacks counted; shared again once it is back', async () => {
    const { logger, lines } = capturingLogger();
    let counted = 0;
    const limiter = open('outage', { logger, onFallback: () => counted++ });
    await limiter.connect();
    const before = randomUUID();
    for (let i = 0; i < 10; i++) await limiter.take(before, 60);
    expect(counted).toBe(0);

    await server().kill('SIGKILL');
    const id = randomUUID();
    const answers: TakeResult[] = [];
    for (let i = 0; i < 61; i++) answers.push(await limiter.take(id, 60));
    expect(answers.slice(0, 60).every((r) => r.allowed)).toBe(true);
    expect(answers[60]).toMatchObject({ allowed: false });
    expect(answers[60]!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(counted).toBe(61);
    expect(limiter.reachable).toBe(false);
    const health = await limiter.health();
    expect(health).toMatchObject({ reachable: false, fallbacks: 61, target: `127.0.0.1:${server().port}` });
    expect(health.degradedSince).toEqual(expect.any(String));
    // ioredis keeps reconnecting meanwhile: still one warning
    await sleep(600);
    await limiter.take(id, 60);
    expect(lines.filter((l) => l.msg === REDIS_DOWN_MESSAGE)).toHaveLength(1);
    expect(lines.filter((l) => l.level >= 40)).toHaveLength(1);

    await server().restart();
    await waitFor('the limiter to reconnect', () => limiter.reachable);
    expect(lines.filter((l) => l.msg === REDIS_BACK_MESSAGE)).toHaveLength(1);
    const fallbacks = limiter.fallbacks;
    // shared again: the buckets live in Redis (a Redis without persistence comes back empty)
    expect(await limiter.take(id, 60)).toEqual({ allowed: true, remaining: 59, retryAfterSeconds: 0 });
    expect(await limiter.peek(id)).toMatchObject({ tokens: 59, limit: 60 });
    expect(limiter.fallbacks).toBe(fallbacks);
    expect((await limiter.health()).reachable).toBe(true);
    expect(lines.filter((l) => l.msg === REDIS_DOWN_MESSAGE)).toHaveLength(1);
  });

  it('a frozen Redis costs one request the command timeout, then requests stay local until it answers again', async () => {
    const { logger, lines } = capturingLogger();
    const limiter = open('frozen', { logger, commandTimeoutMs: 200 });
    await limiter.connect();
    const id = randomUUID();
    await limiter.take(id, 60);
    server().freeze();
    try {
      let t = performance.now();
      expect((await limiter.take(id, 60)).allowed).toBe(true);
      expect(performance.now() - t).toBeGreaterThanOrEqual(150);
      t = performance.now();
      for (let i = 0; i < 20; i++) await limiter.take(id, 60);
      expect(performance.now() - t).toBeLessThan(150); // no more waiting: local
      expect(limiter.fallbacks).toBe(21);
    } finally {
      server().thaw();
    }
    // the next probe (at most one a second) finds it answering
    await waitFor('recovery', async () => {
      await limiter.take(id, 60);
      return limiter.reachable;
    });
    expect(lines.filter((l) => l.msg === REDIS_DOWN_MESSAGE)).toHaveLength(1);
    expect(lines.filter((l) => l.msg === REDIS_BACK_MESSAGE)).toHaveLength(1);
  });

  it('measures one take: Redis round trip vs in-process (2 000 sequential takes, medians)', async () => {
    const limiter = open('bench');
    await limiter.connect();
    const memory = new MemoryRateLimiter();
    const id = randomUUID();
    const median = async (take: () => Promise<unknown>) => {
      const samples: number[] = [];
      for (let i = 0; i < 2_000; i++) {
        const t = performance.now();
        await take();
        samples.push(performance.now() - t);
      }
      samples.sort((x, y) => x - y);
      return samples[samples.length >> 1]!;
    };
    const redisMs = await median(() => limiter.take(id, 1_000_000_000));
    const memoryMs = await median(() => memory.take(id, 1_000_000_000));
    // Printed for the record (no threshold: machines differ).
    process.stderr.write(`rate limit take, median of 2000: redis ${(redisMs * 1000).toFixed(1)} µs, in-process ${(memoryMs * 1000).toFixed(1)} µs\n`);
    expect(limiter.fallbacks).toBe(0);
  });
});
