/**
 * The federation read verbs over real mTLS: a real gateway (store, CA, enrollment) and a
 * federation listener carrying the verbs, built here until the lead wires them into
 * `startGateway`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCsr, exportPrivateKeyPem, generateKeyPair } from '@mosaic/federation-core';
import { makeServerCert, makeTestCa } from '@mosaic/federation-core/test-support/pki';
import { AuditSpool } from '../audit/spool.js';
import { MemoryRateLimiter } from '../limits/index.js';
import { Metrics } from '../metrics.js';
import { cleanupTestGateways, startTestGateway, type TestGateway } from '../test-support/gateway.js';
import { GrantCache } from './grant-cache.js';
import { FederationListener } from './listener.js';
import { registerPublicRoutes } from './public-routes.js';
import { ANONYMOUS_AUDITED_PER_MINUTE, registerFederationVerbs } from './verbs.js';

const MARKER = 'ZQXMARKER7731';

const SEED = {
  users: [
    { id: 'alice', name: 'Alice' },
    { id: 'bob', name: 'Bob' },
  ],
  teams: [
    { id: 'T1', name: 'One' },
    { id: 'T2', name: 'Two' },
    { id: 'T3', name: 'Three' },
  ],
  memberships: [
    { teamId: 'T1', userId: 'alice' },
    { teamId: 'T2', userId: 'alice' },
    { teamId: 'T2', userId: 'bob' },
  ],
  resources: {
    tasks: [
      { id: 'a-p1', ownerUserId: 'alice', title: 'Ship the release', body: 'alice personal' },
      { id: 'a-p2', ownerUserId: 'alice', title: 'Pay rent' },
      { id: 'b-p1', ownerUserId: 'bob', title: 'Bob secret ship plan', body: 'bob only' },
      { id: 't1-1', teamId: 'T1', title: 'T1 ship task' },
      { id: 't2-1', teamId: 'T2', title: 'T2 ship task' },
      { id: 't3-1', teamId: 'T3', title: 'T3 ship task' },
    ],
    credentials: [{ id: 'c-1', ownerUserId: 'alice', title: 'ship password', body: 'hunter2' }],
  },
};

const BASE_SCOPE = { resources: ['tasks', 'notes'], excluded_resources: ['credentials'], max_rows_per_query: 2 };

interface Enrolled {
  grantId: string;
  certPem: string;
  keyPem: string;
  serialHex?: string;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown> & { error?: { code: string; message: string; requestId: string } };
  text: string;
}

let work: TestGateway;
let listener: FederationListener;
let spool: AuditSpool;
let grantCache: GrantCache;
let metrics: Metrics;
let serverCaPem: string;
let baseUrl: string;
let spoolDir: string;
const revoked = new Set<string>();
let handshakes = 0;
const agents: Agent[] = [];

async function enroll(subjectUserId: string, peerName: string, scope: unknown): Promise<Enrolled> {
  const grant = await work.admin.createGrant({ subjectUserId, peerName, scope } as never);
  const { enrollmentUrl } = await work.admin.createToken(grant.id);
  const token = enrollmentUrl.slice(enrollmentUrl.lastIndexOf('/') + 1);
  const keys = await generateKeyPair({ extractable: true });
  const agent = new Agent({ connect: { ca: work.gateway.ca.caCertPem, servername: 'localhost' } });
  try {
    const res = await request(`${work.gateway.federationUrl.replace('127.0.0.1', 'localhost')}/api/federation/v1/enroll/${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ csrPem: await createCsr({ keys }) }),
      dispatcher: agent,
    });
    const body = (await res.body.json()) as { certPem: string };
    expect(res.statusCode).toBe(200);
    return { grantId: grant.id, certPem: body.certPem, keyPem: await exportPrivateKeyPem(keys.privateKey) };
  } finally {
    await agent.close();
  }
}

function agentFor(who: Enrolled): Agent {
  const agent = new Agent({ connect: { ca: serverCaPem, cert: who.certPem, key: who.keyPem, servername: 'localhost', maxCachedSessions: 0 }, connections: 1 });
  agents.push(agent);
  return agent;
}

async function call(agent: Agent, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer> {
  const res = await request(`${baseUrl}/api/federation/v1${path}`, {
    method,
    dispatcher: agent,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text === '' ? {} : (JSON.parse(text) as Answer['body']), text };
}

const ids = (a: Answer) => ((a.body.items ?? []) as Array<{ id: string }>).map((i) => i.id).sort();

beforeAll(async () => {
  work = await startTestGateway({ name: 'work' });
  await work.admin.seed(SEED);
  const serverCa = await makeTestCa({ commonName: 'verbs test server CA' });
  const serverCert = await makeServerCert(serverCa, ['localhost', '127.0.0.1']);
  serverCaPem = serverCa.certPem;
  spoolDir = mkdtempSync(join(tmpdir(), 'mosaic-verbs-'));
  spool = AuditSpool.open({ dataDir: spoolDir });
  metrics = new Metrics();
  grantCache = new GrantCache(work.gateway.storage.grants);
  const storage = work.gateway.storage;
  listener = await FederationListener.create({
    tls: { certPem: serverCert.certPem, keyPem: serverCert.keyPem, caPem: work.gateway.ca.caCertPem },
    logger: pino({ level: 'silent' }),
    isSerialRevoked: (serial) => revoked.has(serial),
    routes: (app) => {
      registerPublicRoutes(app, { ca: work.gateway.ca, grants: work.gateway.grants, metrics });
      registerFederationVerbs(app, {
        name: 'work',
        storage,
        revocation: { isRevoked: (serial) => revoked.has(serial) },
        spool,
        metrics,
        limiter: new MemoryRateLimiter(),
        cursorKey: randomBytes(32),
        queryHashKey: randomBytes(32),
        grantCache,
      });
    },
  });
  listener.app.server.on('secureConnection', () => handshakes++);
  const addr = await listener.listen('127.0.0.1', 0);
  baseUrl = `https://localhost:${addr.port}`;
}, 60_000);

afterAll(async () => {
  for (const a of agents) await a.close().catch(() => undefined);
  await listener?.close();
  await spool?.close();
  await cleanupTestGateways();
  if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
});

describe('federation verbs over mTLS', () => {
  let alice: Enrolled;
  let aliceT1: Enrolled;
  let bob: Enrolled;
  let a: Agent;

  beforeAll(async () => {
    alice = await enroll('alice', 'home', BASE_SCOPE);
    aliceT1 = await enroll('alice', 'home-t1', { resources: ['tasks'], excluded_resources: [], filters: { tasks: { include_teams: ['T1'], include_personal: false } }, max_rows_per_query: 100 });
    bob = await enroll('bob', 'bobs-home', { resources: ['tasks'], excluded_resources: [], max_rows_per_query: 100 });
    a = agentFor(alice);
  }, 60_000);

  it('capabilities answers the grant scope with _source and an x-request-id', async () => {
    const r = await call(a, 'GET', '/capabilities');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ server: 'work', resources: ['tasks', 'notes'], excluded_resources: ['credentials'], max_rows_per_query: 2, rate_limit_per_minute: 60, _source: 'work' });
    expect(r.headers['x-request-id']).toEqual(expect.any(String));
  });

  it("list returns exactly the subject's rows ∩ scope, capped, paged with a cursor", async () => {
    const p1 = await call(a, 'POST', '/list/tasks', { limit: 100 });
    expect(p1.status).toBe(200);
    expect(p1.body._source).toBe('work');
    expect((p1.body.items as unknown[]).length).toBe(2); // max_rows_per_query
    expect(p1.body.nextCursor).toEqual(expect.any(String));
    const p2 = await call(a, 'POST', '/list/tasks', { limit: 100, cursor: p1.body.nextCursor });
    expect(p2.status).toBe(200);
    expect(p2.body.nextCursor).toBeNull();
    expect([...ids(p1), ...ids(p2)].sort()).toEqual(['a-p1', 'a-p2', 't1-1', 't2-1']);
  });

  it('include_teams: [T1] excludes T2 rows the subject sees natively, and personal rows when include_personal is false', async () => {
    const r = await call(agentFor(aliceT1), 'POST', '/list/tasks', {});
    expect(r.status).toBe(200);
    expect(ids(r)).toEqual(['t1-1']);
    const g = await call(agentFor(aliceT1), 'POST', '/get/tasks/t2-1');
    expect(g.status).toBe(404);
  });

  it("a cert for another grant cannot read another subject's rows", async () => {
    const b = agentFor(bob);
    const r = await call(b, 'POST', '/list/tasks', {});
    expect(ids(r)).toEqual(['b-p1', 't2-1']);
    expect((await call(b, 'POST', '/get/tasks/a-p1')).status).toBe(404);
    const s = await call(b, 'POST', '/search/tasks', { query: 'ship' });
    expect((s.body.hits as Array<{ item: { id: string } }>).map((h) => h.item.id).sort()).toEqual(['b-p1', 't2-1']);
  });

  it('an excluded resource is 403 on list, get and search, whatever the id; unknown names are 404', async () => {
    for (const [path, body] of [
      ['/list/credentials', {}],
      ['/get/credentials/c-1', undefined],
      ['/get/credentials/does-not-exist', undefined],
      ['/search/credentials', { query: 'ship' }],
    ] as const) {
      const r = await call(a, 'POST', path, body);
      expect(r.status, path).toBe(403);
      expect(r.body.error?.code).toBe('RESOURCE_DENIED');
      expect(r.text).not.toContain('hunter2');
    }
    expect((await call(a, 'POST', '/list/Tasks', {})).status).toBe(404);
    expect([400, 404]).toContain((await call(a, 'POST', '/list/tasks%2F..', {})).status);
    expect([400, 404]).toContain((await call(a, 'POST', '/get/tasks%2F../a-p1')).status);
  });

  it('an invisible row and a missing row give identical 404 bodies (apart from the request id)', async () => {
    const invisible = await call(a, 'POST', '/get/tasks/b-p1');
    const missing = await call(a, 'POST', '/get/tasks/no-such-row');
    expect(invisible.status).toBe(404);
    expect(missing.status).toBe(404);
    const strip = (x: Answer) => ({ ...x.body.error, requestId: undefined });
    expect(strip(invisible)).toEqual(strip(missing));
    expect(invisible.text).not.toContain('b-p1');
    const visible = await call(a, 'POST', '/get/tasks/a-p1');
    expect(visible.body).toMatchObject({ item: { id: 'a-p1', ownerUserId: 'alice' }, _source: 'work' });
  });

  it('search ranks over visible rows only and caps the answer', async () => {
    const r = await call(a, 'POST', '/search/tasks', { query: 'ship', limit: 50 });
    expect(r.status).toBe(200);
    const hits = r.body.hits as Array<{ item: { id: string }; score: number }>;
    expect(hits.length).toBe(2); // max_rows_per_query
    for (const h of hits) expect(['a-p1', 't1-1', 't2-1']).toContain(h.item.id);
    expect(r.text).not.toContain('b-p1');
  });

  it('a tampered, foreign or stale-scope cursor is 400 CURSOR_INVALID', async () => {
    const p1 = await call(a, 'POST', '/list/tasks', {});
    const cursor = p1.body.nextCursor as string;
    const [body, tag] = cursor.split('.') as [string, string];
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), afterId: 'a' })).toString('base64url');
    for (const bad of [`${forged}.${tag}`, `${body}.${tag.slice(0, -2)}AA`, 'garbage', `${body}`]) {
      const r = await call(a, 'POST', '/list/tasks', { cursor: bad });
      expect(r.status).toBe(400);
      expect(r.body.error?.code).toBe('CURSOR_INVALID');
    }
    // another grant's cursor
    const other = await enroll('alice', 'home-cur', BASE_SCOPE);
    const oa = agentFor(other);
    expect((await call(oa, 'POST', '/list/tasks', { cursor })).body.error?.code).toBe('CURSOR_INVALID');
    // another scope version of the same grant
    await work.admin.updateGrant(alice.grantId, { scope: { ...BASE_SCOPE, max_rows_per_query: 3 } } as never);
    grantCache.invalidate(alice.grantId);
    expect((await call(a, 'POST', '/list/tasks', { cursor })).body.error?.code).toBe('CURSOR_INVALID');
    await work.admin.updateGrant(alice.grantId, { scope: BASE_SCOPE } as never);
    grantCache.invalidate(alice.grantId);
  });

  it('every request is exactly one spool row with a queryHash and never the query text', async () => {
    const before = spool.unshipped(100_000).length;
    const answers = [
      await call(a, 'POST', '/search/tasks', { query: `ship ${MARKER}` }),
      await call(a, 'POST', '/search/credentials', { query: `ship ${MARKER}` }),
      await call(a, 'POST', '/get/tasks/no-such-row'),
      await call(a, 'POST', '/list/tasks', { limit: 'x' }),
      await call(a, 'GET', '/capabilities'),
    ];
    expect(answers.map((r) => r.status)).toEqual([200, 403, 404, 400, 200]);
    const rows = spool.unshipped(100_000).map((r) => r.record);
    expect(rows.length - before).toBe(answers.length);
    const mine = rows.slice(before);
    expect(mine.map((r) => r.requestId)).toEqual(answers.map((x) => x.headers['x-request-id']));
    expect(mine.map((r) => r.outcome)).toEqual(['allowed', 'denied', 'denied', 'denied', 'allowed']);
    for (const row of mine) {
      expect(row.queryHash).toMatch(/^[0-9a-f]{64}$/);
      expect(row).toMatchObject({ grantId: alice.grantId, peer: 'home', subjectUserId: 'alice' });
    }
    expect(mine[0]).toMatchObject({ verb: 'search', resource: 'tasks', statusCode: 200 });
    expect(mine[0]!.rowsOut).toBeGreaterThan(0);
    expect(mine[0]!.bytesOut).toBe(Buffer.byteLength(answers[0]!.text));
    for (const f of [spool.file, `${spool.file}-wal`]) {
      if (existsSync(f)) expect(readFileSync(f).includes(MARKER), f).toBe(false);
    }
    expect(JSON.stringify(rows)).not.toContain(MARKER);
  });

  it('the 61st request in a minute is 429 with Retry-After, audited, and another grant is not slowed', async () => {
    const g = await enroll('alice', 'burst', BASE_SCOPE);
    const ag = agentFor(g);
    const before = spool.unshipped(100_000).length;
    for (let i = 0; i < 60; i++) expect((await call(ag, 'GET', '/capabilities')).status).toBe(200);
    const r = await call(ag, 'POST', '/list/tasks', {});
    expect(r.status).toBe(429);
    expect(r.body.error?.code).toBe('RATE_LIMITED');
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    const rows = spool.unshipped(100_000).slice(before).map((x) => x.record);
    expect(rows.length).toBe(61);
    expect(rows.at(-1)).toMatchObject({ outcome: 'rate_limited', statusCode: 429, grantId: g.grantId });
    expect((await call(a, 'GET', '/capabilities')).status).toBe(200);
    // a limit edit applies on the next request, without a restart
    await work.admin.updateGrant(g.grantId, { scope: { ...BASE_SCOPE, rate_limit_per_minute: 6000 } } as never);
    grantCache.invalidate(g.grantId);
    await new Promise((res) => setTimeout(res, 50));
    expect((await call(ag, 'GET', '/capabilities')).status).toBe(200);
  });

  it('a revoked grant is refused with 403 on an already open keep-alive socket, which is then closed', async () => {
    const g = await enroll('alice', 'to-revoke', BASE_SCOPE);
    const ag = agentFor(g);
    const h0 = handshakes;
    expect((await call(ag, 'GET', '/capabilities')).status).toBe(200);
    expect(handshakes).toBe(h0 + 1);
    await work.admin.revokeGrant(g.grantId, 'test');
    // our listener is not the gateway's: no socket of ours was closed by the revoke
    expect(listener.sockets.openPeerSockets).toBeGreaterThanOrEqual(1);
    grantCache.invalidate(g.grantId);
    const r = await call(ag, 'POST', '/list/tasks', {});
    expect(handshakes).toBe(h0 + 1); // same socket
    expect(r.status).toBe(403);
    expect(r.body.error?.code).toBe('GRANT_REVOKED');
    expect(r.headers.connection).toBe('close');
    // the serial is now in the revoked set too: a new connection ends at the handshake
    for (const s of await work.gateway.storage.certs.revokedSerials()) revoked.add(s);
    await expect(call(ag, 'GET', '/capabilities')).rejects.toMatchObject({ code: expect.stringMatching(/UND_ERR_SOCKET|ECONNRESET/) });
  });

  it('a revoked serial on an open socket is 403 even while the grant is active', async () => {
    const g = await enroll('alice', 'serial-revoke', BASE_SCOPE);
    const ag = agentFor(g);
    expect((await call(ag, 'GET', '/capabilities')).status).toBe(200);
    const grant = await work.gateway.storage.grants.get(g.grantId);
    revoked.add(grant!.certSerial!);
    const r = await call(ag, 'GET', '/capabilities');
    expect(r.status).toBe(403);
    expect(r.body.error?.code).toBe('GRANT_REVOKED');
  });

  it('a spool that cannot be written turns every federation answer into 503 AUDIT_UNAVAILABLE', async () => {
    const failing = await startFailingSpoolListener(alice);
    expect(failing.status).toBe(503);
    expect((failing.body as { error: { code: string } }).error.code).toBe('AUDIT_UNAVAILABLE');
  });
});

/** A second listener over work's store with the given spool (and revoked set), wired like the gateway. */
async function startSpoolListener(spoolImpl: AuditSpool, revokedSerials: Set<string> = new Set()) {
  const serverCa = await makeTestCa({ commonName: 'spool test CA' });
  const serverCert = await makeServerCert(serverCa, ['localhost']);
  const listenerMetrics = new Metrics();
  let verbs: ReturnType<typeof registerFederationVerbs> | undefined;
  const l = await FederationListener.create({
    tls: { certPem: serverCert.certPem, keyPem: serverCert.keyPem, caPem: work.gateway.ca.caCertPem },
    logger: pino({ level: 'silent' }),
    isSerialRevoked: (serial) => revokedSerials.has(serial),
    refuse: () => verbs?.refuse,
    routes: (app) => {
      verbs = registerFederationVerbs(app, {
        name: 'work',
        storage: work.gateway.storage,
        revocation: { isRevoked: (serial) => revokedSerials.has(serial) },
        spool: spoolImpl,
        metrics: listenerMetrics,
        limiter: new MemoryRateLimiter(),
        cursorKey: randomBytes(32),
        queryHashKey: randomBytes(32),
        grantCache: new GrantCache(work.gateway.storage.grants),
      });
    },
  });
  const addr = await l.listen('127.0.0.1', 0);
  return { listener: l, metrics: listenerMetrics, url: `https://localhost:${addr.port}/api/federation/v1`, caPem: serverCa.certPem };
}

/** A second listener whose spool always refuses. */
async function startFailingSpoolListener(who: Enrolled): Promise<Answer> {
  const fakeSpool = {
    append: () => Promise.reject(Object.assign(new Error('the audit spool cannot be written: disk full'), { code: 'AUDIT_UNAVAILABLE', statusCode: 503 })),
  } as unknown as AuditSpool;
  const l = await startSpoolListener(fakeSpool);
  const agent = new Agent({ connect: { ca: l.caPem, cert: who.certPem, key: who.keyPem, servername: 'localhost', maxCachedSessions: 0 } });
  try {
    const res = await request(`${l.url}/list/tasks`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers, body: JSON.parse(text) as Answer['body'], text };
  } finally {
    await agent.close();
    await l.listener.close();
  }
}

describe('refusals the listener decides, and revocation racing the audit write', () => {
  it('a serial revoked while its audit row is being written: the row stands, the rows never leave (the connection is cut)', async () => {
    const who = await enroll('alice', 'race-revoke', BASE_SCOPE);
    const serial = (await work.gateway.storage.grants.get(who.grantId))!.certSerial!;
    const revokedHere = new Set<string>();
    let appended = 0;
    let onAppend: (() => void) | null = null;
    const racing = {
      append: async (row: Parameters<AuditSpool['append']>[0]) => {
        appended++;
        onAppend?.(); // the revoke lands after the pipeline decided, while the row is written
        return spool.append(row);
      },
    } as unknown as AuditSpool;
    const l = await startSpoolListener(racing, revokedHere);
    const agent = new Agent({ connect: { ca: l.caPem, cert: who.certPem, key: who.keyPem, servername: 'localhost', maxCachedSessions: 0 }, connections: 1 });
    try {
      const ok = await request(`${l.url}/list/tasks`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(ok.statusCode).toBe(200);
      await ok.body.dump();
      onAppend = () => {
        revokedHere.add(serial);
        l.listener.sockets.closeSerials(new Set([serial]));
      };
      const err = (await request(`${l.url}/list/tasks`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: '{}' }).then(
        async (r) => ({ code: `answered ${r.statusCode}: ${await r.body.text()}` }),
        (e: unknown) => e,
      )) as { code?: string };
      expect(err.code).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
      expect(appended).toBe(2);
    } finally {
      await agent.close().catch(() => undefined);
      await l.listener.close();
    }
  });

  it('a client without a certificate: each 401 ends its connection, and past a budget per address refusals are counted, not audited one by one', async () => {
    let appended = 0;
    const counting = {
      append: async (row: Parameters<AuditSpool['append']>[0]) => {
        appended++;
        return spool.append(row);
      },
    } as unknown as AuditSpool;
    const l = await startSpoolListener(counting);
    const agent = new Agent({ connect: { ca: l.caPem, servername: 'localhost', maxCachedSessions: 0 }, connections: 1 });
    let connects = 0;
    agent.on('connect', () => connects++);
    try {
      const total = ANONYMOUS_AUDITED_PER_MINUTE + 15;
      for (let i = 0; i < total; i++) {
        const r = await request(`${l.url}/list/tasks`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body: '{}' });
        expect(r.statusCode).toBe(401);
        expect(r.headers.connection).toBe('close');
        await r.body.dump();
      }
      expect(connects).toBe(total); // every refusal cost a new handshake
      expect(appended).toBe(ANONYMOUS_AUDITED_PER_MINUTE);
      expect([...l.metrics.refusalsUnaudited.values.values()].reduce((a, b) => a + b, 0)).toBe(15);
    } finally {
      await agent.close().catch(() => undefined);
      await l.listener.close();
    }
  });
});
