/**
 * Scale-out (issue 9): two gateway replicas of **work** as real `mosaic gateway start`
 * processes on one real PostgreSQL and one real redis-server, behind a real HAProxy running
 * `infra/haproxy.cfg`. Without PostgreSQL, redis-server or haproxy the suite is skipped with
 * the reason — except under `CI=true`, where that is a failure.
 */
import { X509Certificate } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIT_SPOOL_FILE_NAME } from '../audit/index.js';
import { CI } from '../test-support/engines.js';
import { postgresAvailability, startPostgres, type PostgresServer } from '../test-support/postgres.js';
import { redisAvailability, startRedis, type RedisServer } from '../test-support/redis.js';
import { startTestGateway } from '../test-support/gateway.js';
import { FEDERATION_SEED } from '../test-support/federation.js';
import { openStorage } from '../storage/index.js';
import { enrollRawPeer, startLoad, type RawPeer } from '../test-support/child-gateway.js';
import {
  federationCall,
  federationClient,
  freePort,
  haproxyAvailability,
  holdConnection,
  makeReplicas,
  percentile,
  presentedCertificate,
  restartReplica,
  startHaproxy,
  startReplicas,
  stopReplicas,
  type Replica,
} from './harness.js';

const SCOPE = { resources: ['tasks', 'notes'], excluded_resources: ['credentials'], max_rows_per_query: 100 };
const FAST = { ...SCOPE, rate_limit_per_minute: 6000 };

const missing = [
  postgresAvailability().available ? null : 'PostgreSQL',
  redisAvailability().available ? null : 'redis-server',
  haproxyAvailability().available ? null : 'haproxy',
].filter((x): x is string => x !== null);

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== null && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Audit rows in the shared store whose caller request id starts with `tag-`. */
async function auditCount(databaseUrl: string, tag: string): Promise<{ rows: number; callerIds: Set<string> }> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const r = await c.query<{ c: string }>('select caller_request_id as c from audit_log where caller_request_id like $1', [`${tag}-%`]);
    return { rows: r.rows.length, callerIds: new Set(r.rows.map((x) => x.c)) };
  } finally {
    await c.end();
  }
}

/** The replicas' LISTEN connections on the store's database. */
async function listeners(databaseUrl: string): Promise<number> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const r = await c.query("select 1 from pg_stat_activity where application_name = 'mosaic-gateway-listen' and datname = current_database()");
    return r.rowCount ?? 0;
  } finally {
    await c.end();
  }
}

function unshippedOnDisk(dataDir: string): number {
  const db = new DatabaseSync(join(dataDir, AUDIT_SPOOL_FILE_NAME), { readOnly: true });
  try {
    return Number((db.prepare('select count(*) as n from spool_rows where shipped = 0').get() as { n: number }).n);
  } finally {
    db.close();
  }
}

if (missing.length > 0 && !CI) {
  describe.skip(`scale-out — skipped: ${missing.join(', ')} not installed`, () => {
    it.skip(`skipped: ${missing.join(', ')} not installed (Debian: apt-get install postgresql redis-server haproxy)`, () => undefined);
  });
} else {
  describe('scale-out: two replicas on PostgreSQL + Redis behind HAProxy (infra/haproxy.cfg)', () => {
    let server: PostgresServer;
    let redis: RedisServer;
    let databaseUrl: string;
    let lbPort: number;
    let lbUrl: string;
    let haproxy: Awaited<ReturnType<typeof startHaproxy>>;
    let replicas: Replica[] = [];
    let r1: Replica;
    let r2: Replica;
    let peer: RawPeer;

    beforeAll(async () => {
      if (missing.length > 0) throw new Error(`${missing.join(', ')} not installed; CI must run the scale-out suite against real PostgreSQL, redis-server and haproxy`);
      [server, redis] = await Promise.all([startPostgres(), startRedis()]);
      databaseUrl = await server.createDatabase('scale');
      lbPort = await freePort();
      lbUrl = `https://localhost:${lbPort}`;
      replicas = await makeReplicas({ databaseUrl, redisUrl: redis.url, lbPort });
      [r1, r2] = replicas as [Replica, Replica];
      // Both replicas start at the same moment on the empty database.
      await startReplicas(replicas, lbPort);
      haproxy = await startHaproxy(lbPort, replicas.map((r) => r.port));
      await r1.admin.seed(FEDERATION_SEED);
    }, 120_000);

    afterAll(async () => {
      await stopReplicas(replicas);
      await haproxy?.stop();
      await Promise.allSettled([server?.stop(), redis?.stop()]);
    });

    it('two replicas started together on an empty database: one CA, one root token, the same CA pin and server certificate, valid for the HAProxy address', async (ctx) => {
      const pins = replicas.map((r) => (r.gw!.summary as unknown as { caPin: string }).caPin);
      expect(pins[0]).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(pins[1]).toBe(pins[0]);
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      try {
        expect((await c.query('select 1 from ca_state')).rowCount).toBe(1);
        expect((await c.query("select 1 from admin_tokens where name = 'root' and revoked_at is null")).rowCount).toBe(1);
      } finally {
        await c.end();
      }
      // Both present the same certificate, and it is valid for the address peers dial (HAProxy).
      const certs = await Promise.all([...replicas.map((r) => presentedCertificate(r.port)), presentedCertificate(lbPort)]);
      expect(new Set(certs.map((x) => x.fingerprint256)).size).toBe(1);
      const x509 = new X509Certificate(certs[0].raw);
      expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
      expect(x509.checkHost('localhost')).toBe('localhost');
      // each replica holds its dedicated LISTEN connection for cross-replica invalidation
      expect(await listeners(databaseUrl)).toBe(2);
      // The federation URL both replicas announce is HAProxy's.
      for (const r of replicas) expect((r.gw!.summary as unknown as { publicUrl: string }).publicUrl).toBe(`https://127.0.0.1:${lbPort}`);

      // More simultaneous starts on fresh empty databases (in this process: the race is on the store).
      const rounds = 3;
      for (let i = 0; i < rounds; i++) {
        const url = await server.createDatabase('race');
        const secret = r1.home.env.MOSAIC_SECRET!;
        const pair = await Promise.all([startTestGateway({ databaseUrl: url, secret }), startTestGateway({ databaseUrl: url, secret })]);
        try {
          expect(pair[1].gateway.ca.caPin).toBe(pair[0].gateway.ca.caPin);
          expect(pair.filter((g) => g.gateway.ca.created)).toHaveLength(1);
          expect(pair.filter((g) => g.gateway.rootTokenCreated)).toHaveLength(1);
        } finally {
          await Promise.all(pair.map((g) => g.stop()));
        }
      }
      await ctx.annotate(`1 + ${rounds} simultaneous two-replica starts on an empty database: one CA and one root token each time`);
    });

    it('enrollment through replica 1; the same rows through replica 1, replica 2 and HAProxy', async () => {
      peer = await enrollRawPeer({ admin: r1.admin, federationUrl: r1.url }, { subjectUserId: 'alice', peerName: 'home', scope: FAST });
      const answers = await Promise.all([r1.url, r2.url, lbUrl].map((u) => federationCall(u, peer)));
      const ids = answers.map((a) => {
        expect(a?.status).toBe(200);
        return ((a!.body as { items: Array<{ id: string }> }).items ?? []).map((i) => i.id).sort();
      });
      expect(ids[0]!.length).toBeGreaterThan(0);
      expect(ids[1]).toEqual(ids[0]);
      expect(ids[2]).toEqual(ids[0]);
      // the grant made on replica 1 is listed on replica 2
      expect((await r2.admin.getGrant(peer.grantId)).status).toBe('active');

      // Shared keys (derived from the shared MOSAIC_SECRET): a list cursor made by replica 1 is
      // honoured by replica 2, and both hash the same request to the same audit queryHash.
      const first = await federationCall(r1.url, peer, '/list/tasks', { limit: 1 }, 'keys-1');
      const cursor = (first!.body as { nextCursor: string | null }).nextCursor;
      expect(cursor).toEqual(expect.any(String));
      const second = await federationCall(r2.url, peer, '/list/tasks', { limit: 1, cursor }, 'keys-2');
      expect(second?.status).toBe(200);
      const page2 = (second!.body as { items: Array<{ id: string }> }).items.map((i) => i.id);
      expect(page2).toEqual([ids[0]![1]]);
      await federationCall(r2.url, peer, '/list/tasks', { limit: 1 }, 'keys-3');
      const hashes = await until('the three rows to be shipped', async () => {
        const c = new pg.Client({ connectionString: databaseUrl });
        await c.connect();
        try {
          const r = await c.query<{ id: string; h: string }>("select caller_request_id as id, query_hash as h from audit_log where caller_request_id like 'keys-%'");
          return r.rows.length === 3 ? new Map(r.rows.map((x) => [x.id, x.h])) : undefined;
        } finally {
          await c.end();
        }
      });
      expect(hashes.get('keys-3')).toBe(hashes.get('keys-1'));
      expect(hashes.get('keys-2')).not.toBe(hashes.get('keys-1'));
    });

    it('the 61st request in a minute is refused with 429 whichever replica answers it', async (ctx) => {
      const limited = await enrollRawPeer({ admin: r1.admin, federationUrl: r1.url }, { subjectUserId: 'alice', peerName: 'home-rl', scope: { ...SCOPE, rate_limit_per_minute: 60 } });
      const clients = [r1.url, r2.url, lbUrl].map((u) => federationClient(u, limited));
      try {
        // Alternate between the replicas until both have refused. The bucket refills one token
        // a second, so the allowance is 60 plus the seconds this took — per-replica buckets would
        // allow 120.
        const started = performance.now();
        let allowed = 0;
        const refusedBy = new Set<number>();
        for (let i = 0; refusedBy.size < 2 && i < 200; i++) {
          const status = await clients[i % 2]!.call();
          if (status === 200) allowed++;
          else {
            expect(status).toBe(429);
            refusedBy.add(i % 2);
          }
        }
        // and through HAProxy (whichever replica it picks)
        let viaLb = 0;
        for (let i = 0; i < 3 && viaLb !== 429; i++) viaLb = await clients[2]!.call();
        const seconds = (performance.now() - started) / 1000;
        expect(refusedBy.size).toBe(2);
        expect(viaLb).toBe(429);
        expect(allowed).toBeGreaterThanOrEqual(60);
        expect(allowed).toBeLessThanOrEqual(60 + Math.ceil(seconds));
        await ctx.annotate(`${allowed} requests allowed across both replicas in ${seconds.toFixed(2)} s (limit 60/min, refill 1/s), then 429 from replica 1, replica 2 and HAProxy`);
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
    });

    it('a revoke on replica 1 is enforced by replica 2 within 1 s: new requests refused, live sockets closed', async (ctx) => {
      const SAMPLES = 6;
      const refusedMs: number[] = [];
      const closedMs: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const p = await enrollRawPeer({ admin: r1.admin, federationUrl: r1.url }, { subjectUserId: 'alice', peerName: `home-rv${i}`, scope: FAST });
        const held = await holdConnection(r2.port, p);
        try {
          // from the moment the revoke is asked of replica 1 (its own round trip included)
          const t0 = performance.now();
          await r1.admin.revokeGrant(p.grantId, 'scale-out test');
          // replica 2 refuses the certificate (at the handshake, or 403) ...
          await until('replica 2 to refuse the revoked certificate', async () => {
            const a = await federationCall(r2.url, p, '/capabilities');
            return a === null || a.status === 403;
          }, 5_000);
          refusedMs.push(performance.now() - t0);
          // ... and has closed the connection that was open with it
          closedMs.push((await held.closedAt) - t0);
        } finally {
          held.destroy();
        }
      }
      const sortedRefused = [...refusedMs].sort((a, b) => a - b);
      const sortedClosed = [...closedMs].sort((a, b) => a - b);
      const fmt = (xs: number[]) => `min ${xs[0]!.toFixed(1)} · p50 ${percentile(xs, 50).toFixed(1)} · max ${xs.at(-1)!.toFixed(1)} ms`;
      await ctx.annotate(`revoke on replica 1 → replica 2 (${SAMPLES} revokes): refused ${fmt(sortedRefused)}; live socket closed ${fmt(sortedClosed)}`);
      expect(sortedRefused.at(-1)!).toBeLessThan(1_000);
      expect(sortedClosed.at(-1)!).toBeLessThan(1_000);
    });

    /** The status replica `r`'s admin API answers a bearer token with. */
    async function adminStatus(r: Replica, token: string): Promise<number> {
      const res = await fetch(`${r.gw!.summary.adminUrl}/api/admin/admin-tokens`, { headers: { authorization: `Bearer ${token}` } });
      await res.body?.cancel();
      return res.status;
    }

    it('an admin token revoked on replica 1 is refused by replica 2 within 1 s', async (ctx) => {
      const SAMPLES = 5;
      const ms: number[] = [];
      for (let i = 0; i < SAMPLES; i++) {
        const { token } = await r1.admin.createAdminToken(`ops-${i}`);
        await until('replica 2 to accept the new token', async () => (await adminStatus(r2, token)) === 200, 2_000);
        const t0 = performance.now();
        await r1.admin.revokeAdminToken(`ops-${i}`);
        await until('replica 2 to refuse the revoked token', async () => (await adminStatus(r2, token)) === 401, 5_000);
        ms.push(performance.now() - t0);
      }
      const sorted = [...ms].sort((a, b) => a - b);
      await ctx.annotate(`admin token revoked on replica 1 → refused by replica 2 (${SAMPLES} revokes): min ${sorted[0]!.toFixed(1)} · p50 ${percentile(sorted, 50).toFixed(1)} · max ${sorted.at(-1)!.toFixed(1)} ms`);
      expect(sorted.at(-1)!).toBeLessThan(1_000);
    });

    it('with no NOTIFY at all (LISTEN connections killed, changes committed without a notification) the 1 s bound holds by polling', async (ctx) => {
      // What a crash between commit and publish, or a dead LISTEN path, leaves behind: the change
      // is in the store and nobody was told. The replicas re-read tokens and revoked serials anyway.
      const before = await listeners(databaseUrl);
      expect(before).toBe(2);
      const killer = new pg.Client({ connectionString: databaseUrl });
      await killer.connect();
      const store = await openStorage({ databaseUrl, migrate: false });
      try {
        await killer.query("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'mosaic-gateway-listen' and datname = current_database()");
        // both come back by themselves (and would skip the poll if it depended on them)
        await until('both replicas to LISTEN again', async () => (await listeners(databaseUrl)) === 2, 15_000);
        const { token } = await r1.admin.createAdminToken('silent');
        await until('replica 2 to accept the new token', async () => (await adminStatus(r2, token)) === 200, 2_000);
        const p = await enrollRawPeer({ admin: r1.admin, federationUrl: r1.url }, { subjectUserId: 'alice', peerName: 'home-silent', scope: FAST });
        expect((await federationCall(r2.url, p, '/capabilities'))?.status).toBe(200);
        const held = await holdConnection(r2.port, p);
        try {
          // committed straight into the store: no service, no NOTIFY
          const t0 = performance.now();
          await store.adminTokens.revoke('silent');
          await store.certs.revokeAllOfGrant(p.grantId, { reason: 'cessationOfOperation' });
          const [tokenMs, certMs] = await Promise.all([
            until('replica 2 to refuse the token', async () => (await adminStatus(r2, token)) === 401 && performance.now() - t0, 5_000),
            until('replica 2 to refuse the certificate', async () => {
              const a = await federationCall(r2.url, p, '/capabilities');
              return (a === null || a.status === 403) && performance.now() - t0;
            }, 5_000),
          ]);
          const closedMs = (await held.closedAt) - t0;
          await ctx.annotate(`no NOTIFY: replica 2 refused the revoked admin token after ${tokenMs.toFixed(0)} ms, the revoked certificate after ${certMs.toFixed(0)} ms, closed its live socket after ${closedMs.toFixed(0)} ms (poll every 500 ms)`);
          expect(tokenMs).toBeLessThan(1_000);
          expect(certMs).toBeLessThan(1_000);
          expect(closedMs).toBeLessThan(1_000);
        } finally {
          held.destroy();
        }
      } finally {
        await killer.end();
        await store.close();
      }
    });

    it('HAProxy passes the peers\' addresses (PROXY protocol v2): anonymous clients behind it have budgets of their own', async (ctx) => {
      /** One request without a client certificate through HAProxy, from `from`: its status (0: none). */
      const anonymous = async (from: string): Promise<number> => {
        const raw = netConnect({ host: '127.0.0.1', port: lbPort, localAddress: from });
        raw.on('error', () => undefined);
        const s = tlsConnect({ socket: raw, servername: 'localhost', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] });
        let text = '';
        s.on('data', (d: Buffer) => (text += d.toString()));
        s.on('error', () => undefined);
        const closed = new Promise<void>((r) => s.once('close', () => r()));
        s.once('secureConnect', () => s.write('POST /api/federation/v1/list/tasks HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}'));
        await closed;
        return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      };
      /** Refusals each replica counted instead of auditing (its budget per address was spent). */
      const unaudited = async () =>
        Promise.all(
          replicas.map(async (r) =>
            [...(await r.admin.metrics()).matchAll(/^mosaic_federation_refusals_unaudited_total(?:\{[^}]*\})? (\d+)$/gm)].reduce((n, m) => n + Number(m[1]), 0),
          ),
        );
      const start = await unaudited();
      // client A spends its budget on both replicas (HAProxy alternates between them)
      let sent = 0;
      await until('both replicas to stop auditing client A', async () => {
        for (let i = 0; i < 20; i++, sent++) expect(await anonymous('127.0.0.3')).toBe(401);
        const now = await unaudited();
        return now.every((n, i) => n > start[i]!);
      }, 30_000);
      const afterA = await unaudited();
      // client B, through the same HAProxy, is still audited on both
      for (let i = 0; i < 4; i++) expect(await anonymous('127.0.0.4')).toBe(401);
      expect(await unaudited()).toEqual(afterA);
      await ctx.annotate(`${sent} anonymous refusals from 127.0.0.3 through HAProxy spent its budget on both replicas; 4 from 127.0.0.4 were all audited`);
    });

    it('Redis unreachable: rate limits degrade to per-replica buckets and requests keep flowing; shared again once Redis is back', async (ctx) => {
      const LIMIT = 5;
      const scope = { ...SCOPE, rate_limit_per_minute: LIMIT };
      const before = await enrollRawPeer({ admin: r1.admin, federationUrl: r1.url }, { subjectUserId: 'alice', peerName: 'home-redis1', scope });
      await redis.kill();
      // every replica answers alone: LIMIT each, then 429 — never a 5xx for Redis being away
      const per: Record<string, number[]> = {};
      for (const [name, u] of [['r1', r1.url], ['r2', r2.url]] as const) {
        per[name] = [];
        for (let i = 0; i <= LIMIT; i++) per[name].push((await federationCall(u, before, '/capabilities'))?.status ?? 0);
      }
      expect(per.r1).toEqual([...Array<number>(LIMIT).fill(200), 429]);
      expect(per.r2).toEqual([...Array<number>(LIMIT).fill(200), 429]);
      const metrics = await r1.admin.metrics();
      expect(metrics).toMatch(/^mosaic_rate_limit_redis_up(\{\})? 0$/m);

      await redis.restart();
      await until('both replicas to use Redis again', async () => {
        const m = await Promise.all([r1.admin.metrics(), r2.admin.metrics()]);
        return m.every((t) => /^mosaic_rate_limit_redis_up(\{\})? 1$/m.test(t));
      }, 15_000);
      const after = await enrollRawPeer({ admin: r1.admin, federationUrl: r1.url }, { subjectUserId: 'alice', peerName: 'home-redis2', scope });
      const shared: number[] = [];
      for (let i = 0; i <= LIMIT; i++) shared.push((await federationCall(i % 2 === 0 ? r1.url : r2.url, after, '/capabilities'))?.status ?? 0);
      expect(shared).toEqual([...Array<number>(LIMIT).fill(200), 429]);
      await ctx.annotate(`Redis down: ${LIMIT} allowed on each replica (2×${LIMIT} in all) then 429, no 5xx; Redis back: ${LIMIT} across both replicas, then 429`);
    });

    it('SIGTERM to replica 1 under load through HAProxy: no request fails, exit 0, every answer has exactly one audit row in the store', async (ctx) => {
      const load = startLoad({ federationUrl: lbUrl }, peer, { workers: 8, tag: 'term' });
      await load.answeredAtLeast(150);
      const exited = r1.gw!.exited();
      r1.gw!.child.kill('SIGTERM');
      const { code, ms } = await exited;
      const atExit = load.answered.size;
      await load.answeredAtLeast(atExit + 150); // replica 2 carries on alone
      load.stop();
      await load.done();
      expect(code).toBe(0);
      expect([...load.failed]).toEqual([]);
      const statuses = new Set([...load.answered.values()].map((a) => a.status));
      expect([...statuses]).toEqual([200]);
      // replica 1 flushed its spool before exiting; replica 2 ships within moments
      expect(unshippedOnDisk(r1.home.dataDir)).toBe(0);
      const stored = await until('every answered request to be in the store', async () => {
        const s = await auditCount(databaseUrl, 'term');
        return s.rows >= load.answered.size ? s : undefined;
      });
      expect(stored.rows).toBe(load.answered.size);
      for (const id of load.answered.keys()) expect(stored.callerIds.has(id), id).toBe(true);
      await ctx.annotate(`SIGTERM after ${atExit} answers: exit ${code} in ${ms} ms; ${load.answered.size} answered through HAProxy, 0 failed, ${stored.rows} audit rows`);
      // back for the next tests, on the same port
      await restartReplica(r1, replicas, lbPort);
    });

    it('SIGKILL of replica 1 under load: no acknowledged audit row is lost (its spool ships on restart)', async (ctx) => {
      // Hold the main audit table, so the rows of the burst are only in replica 1's spool at the kill.
      const locker = new pg.Client({ connectionString: databaseUrl });
      await locker.connect();
      await locker.query('begin');
      await locker.query('lock table audit_log in exclusive mode');
      let inSpool: number;
      const load = startLoad({ federationUrl: r1.url }, peer, { workers: 8, tag: 'kill' });
      try {
        await load.answeredAtLeast(150);
        const exited = r1.gw!.exited();
        r1.gw!.child.kill('SIGKILL');
        expect((await exited).signal).toBe('SIGKILL');
        await load.done();
        inSpool = unshippedOnDisk(r1.home.dataDir);
      } finally {
        await locker.query('rollback');
        await locker.end();
      }
      expect(inSpool).toBeGreaterThanOrEqual(load.answered.size);
      await restartReplica(r1, replicas, lbPort);
      const stored = await until('the restarted replica to ship its spool', async () => {
        const s = await auditCount(databaseUrl, 'kill');
        return [...load.answered.keys()].every((id) => s.callerIds.has(id)) ? s : undefined;
      });
      // rows ⊇ answers; the surplus is at most one in-flight request per connection
      expect(stored.rows - load.answered.size).toBeLessThanOrEqual(8);
      await ctx.annotate(`kill -9 after ${load.answered.size} answers: ${inSpool} rows in the spool at the kill, ${stored.rows} in the store after the restart`);
    });

    it('PostgreSQL briefly unreachable: authorization fails closed (503 STORAGE_UNAVAILABLE) and recovers by itself; invalidation resubscribes', async (ctx) => {
      const outage = server.outage;
      if (outage === undefined) throw new Error('the PostgreSQL outage needs a server started by the tests');
      expect((await federationCall(r2.url, peer))?.status).toBe(200);
      await outage.halt();
      const halted = performance.now();
      let served = 0;
      const refused: number[] = [];
      try {
        // never answered from stale state: the first request after the stop is refused already
        for (const u of [r1.url, r2.url, lbUrl, r1.url, r2.url]) {
          const a = await federationCall(u, peer);
          // (a replica that crashed would answer nothing: say so)
          expect(a?.status, `${u}; replicas still running: ${replicas.map((r) => r.gw!.child.exitCode === null && r.gw!.child.signalCode === null).join(', ')}`).toBe(503);
          expect((a!.body as { error: { code: string } }).error.code).toBe('STORAGE_UNAVAILABLE');
          refused.push(performance.now() - halted);
        }
        const caps = await federationCall(r2.url, peer, '/capabilities');
        if (caps?.status === 200) served++;
        // capabilities needs only the grant: answered from the ≤ 1 s grant cache at most
        if (performance.now() - halted > 1_000) expect(caps?.status).toBe(503);
      } finally {
        await outage.resume();
      }
      const back = performance.now();
      await until('both replicas to serve again', async () => {
        const a = await Promise.all([federationCall(r1.url, peer), federationCall(r2.url, peer)]);
        return a.every((x) => x?.status === 200);
      }, 15_000);
      const recoveredMs = performance.now() - back;
      // Both LISTEN connections come back by themselves; a revoke on replica 1 reaches replica 2
      // again (through the notification; the 500 ms poll would also do it within 1 s).
      await until('both replicas to LISTEN again', async () => (await listeners(databaseUrl)) === 2, 15_000);
      const p = await enrollRawPeer({ admin: r1.admin, federationUrl: r1.url }, { subjectUserId: 'alice', peerName: 'home-pg', scope: FAST });
      const held = await holdConnection(r2.port, p);
      const t0 = performance.now();
      await r1.admin.revokeGrant(p.grantId, 'after the outage');
      const closed = (await held.closedAt) - t0;
      expect(closed).toBeLessThan(1_000);
      await ctx.annotate(`PostgreSQL stopped: ${refused.length} requests refused 503 STORAGE_UNAVAILABLE (${served} capabilities answered from the grant cache); recovered ${recoveredMs.toFixed(0)} ms after the restart; revoke → replica 2 socket closed in ${closed.toFixed(1)} ms`);
    });
  });
}
