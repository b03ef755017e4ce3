/**
 * Shared rate limits wired into a running gateway (REDIS_URL), over real mTLS, against a real
 * redis-server — including an outage: the server killed mid-run and started again.
 */
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCsr, enrollWithPin, exportPrivateKeyPem, FederationClient, generateKeyPair } from '@mosaic/federation-core';
import { cleanupTestGateways, startTestGateway, type TestGateway } from '../test-support/gateway.js';
import { describeWithRedis } from '../test-support/redis.js';
import { REDIS_BACK_MESSAGE, REDIS_DOWN_MESSAGE } from './redis.js';

const SCOPE = { resources: ['tasks'], excluded_resources: [], max_rows_per_query: 100 };

afterAll(cleanupTestGateways);

/** A new grant of alice on `gw`, enrolled the way a peer does (pinned), as a federation client without cache or breaker. */
async function enrolledClient(gw: TestGateway): Promise<{ grantId: string; client: FederationClient }> {
  const grant = await gw.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE } as never);
  const { enrollmentUrl, caPin } = await gw.admin.createToken(grant.id);
  const keys = await generateKeyPair({ extractable: true });
  const enrolled = await enrollWithPin(enrollmentUrl, caPin, await createCsr({ keys }));
  const client = new FederationClient({
    peerName: 'work',
    endpoint: gw.gateway.federationUrl,
    caPem: enrolled.caPem,
    certPem: enrolled.certPem,
    keyPem: await exportPrivateKeyPem(keys.privateKey),
    grantId: grant.id,
    cache: false,
    breaker: false,
  });
  return { grantId: grant.id, client };
}

/** `n` capabilities calls: how many answered 200; then the next one, which must be refused. */
async function burstThenRefused(client: FederationClient, n: number): Promise<{ ok: number; refused: { status: number; code: string; retryAfterSeconds: number | null } }> {
  let ok = 0;
  for (let i = 0; i < n; i++) if ((await client.capabilities()).status === 200) ok++;
  const refused = (await client.capabilities().then(
    () => ({ status: 200, code: '', retryAfterSeconds: null }),
    (err: unknown) => err,
  )) as { status: number; code: string; retryAfterSeconds: number | null };
  return { ok, refused };
}

describeWithRedis('shared rate limits through a running gateway (REDIS_URL)', (server) => {
  let gw: TestGateway;
  let raw: Redis;
  const lines: Array<{ level: number; msg: string } & Record<string, unknown>> = [];
  const clients: FederationClient[] = [];

  beforeAll(async () => {
    const logger = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
    gw = await startTestGateway({ name: 'work', redisUrl: server().url, logger });
    await gw.admin.seed({ users: [{ id: 'alice', name: 'Alice' }] });
    raw = new Redis(server().url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    raw.on('error', () => undefined);
    await raw.connect();
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    raw.disconnect();
    await gw.stop();
  });

  it('the 61st federation request in a minute is 429 RATE_LIMITED with Retry-After; the bucket lives in Redis under the gateway name', async () => {
    const { grantId, client } = await enrolledClient(gw);
    clients.push(client);
    const { ok, refused } = await burstThenRefused(client, 60);
    expect(ok).toBe(60);
    expect(refused).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(await raw.hgetall(`mosaic:rl:work:${grantId}`)).toMatchObject({ limit: '60' });
    // a per-grant override applies on the next request, without a restart or a reset
    await gw.admin.updateGrant(grantId, { scope: { ...SCOPE, rate_limit_per_minute: 600 } } as never);
    expect((await client.capabilities()).status).toBe(200);
    expect(await raw.hget(`mosaic:rl:work:${grantId}`, 'limit')).toBe('600');
    const doctor = await gw.admin.doctor();
    expect(doctor.checks.find((c) => c.id === 'redis.reachable')).toMatchObject({ status: 'green', remediation: null });
    expect(gw.gateway.metrics.rateLimitFallbacks.values.size).toBe(0);
  });

  it('Redis killed mid-run: still limited per process, one warning, counted in /metrics, doctor yellow; green and shared again once it is back', async () => {
    const { grantId, client } = await enrolledClient(gw);
    clients.push(client);
    await server().kill('SIGKILL');
    const { ok, refused } = await burstThenRefused(client, 60);
    expect(ok).toBe(60);
    expect(refused).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1);

    const warnings = lines.filter((l) => l.msg === REDIS_DOWN_MESSAGE);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, redis: `127.0.0.1:${server().port}`, component: 'rate-limit' });
    const metrics = await gw.admin.metrics();
    expect(metrics).toMatch(/^mosaic_rate_limit_fallbacks_total\{\} (6[1-9]|[7-9]\d|\d{3,})$/m);
    expect(metrics).toMatch(/^mosaic_rate_limit_redis_up 0$/m);
    const doctor = await gw.admin.doctor();
    const check = doctor.checks.find((c) => c.id === 'redis.reachable');
    expect(check).toMatchObject({ status: 'yellow' });
    expect(check?.message).toContain('per-replica');
    expect(check?.remediation).toContain('REDIS_URL');
    expect(doctor.status).not.toBe('green');

    await server().restart();
    const deadline = Date.now() + 10_000;
    while ((await gw.admin.doctor()).checks.find((c) => c.id === 'redis.reachable')?.status !== 'green') {
      if (Date.now() > deadline) throw new Error('doctor did not turn green after redis came back');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(lines.filter((l) => l.msg === REDIS_BACK_MESSAGE)).toHaveLength(1);
    expect(lines.filter((l) => l.msg === REDIS_DOWN_MESSAGE)).toHaveLength(1);
    // shared again: the next request's bucket is in Redis (which came back empty: full buckets)
    expect((await client.capabilities()).status).toBe(200);
    expect(await raw.hgetall(`mosaic:rl:work:${grantId}`)).toMatchObject({ tokens: '59', limit: '60' });
    expect(await gw.admin.metrics()).toMatch(/^mosaic_rate_limit_redis_up 1$/m);
  });

  it('never logs the REDIS_URL', () => {
    expect(JSON.stringify(lines)).not.toContain(server().url);
  });
});

describe('without REDIS_URL', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ name: 'solo' });
  });

  it('rate limits in-process: doctor has no redis.reachable check, /metrics no redis gauge', async () => {
    expect((await gw.admin.doctor()).checks.map((c) => c.id)).not.toContain('redis.reachable');
    expect(await gw.admin.metrics()).not.toContain('mosaic_rate_limit_redis_up');
  });
});
