/**
 * The audit trail and the rate limit through real gateways (SECURITY.md cases 25, 26, 27, 30,
 * 38): every federation request — allowed, denied, rate limited, failed, refused without a
 * certificate — is exactly one audit row, matched to its answer by `x-request-id`; the query
 * never reaches the store, only its keyed hash; the hash chain catches a deleted or edited
 * row; a stalled main store slows no answer and loses no row; and a gateway process killed
 * (`kill -9`) or stopped (SIGTERM) under load keeps "answered ⇒ audited".
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { request, type Agent } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRow } from '@mosaic/federation-core';
import type { AdminClient } from '@mosaic/federation-core/admin-client';
import { AUDIT_SPOOL_FILE_NAME } from '../audit/index.js';
import { SQLITE_FILE_NAME } from '../storage/sqlite.js';
import { childHome, enrollRawPeer, killChildGateway, startChildGateway, startLoad, type ChildGateway, type ChildHome, type Load, type RawPeer } from '../test-support/child-gateway.js';
import { describeEachEngine } from '../test-support/engines.js';
import { FEDERATION_SEED, startFederation, type FederationHarness, type PeerLink, type RawAnswer } from '../test-support/federation.js';

const MARKER = 'ZQXMARKER7731';
const SCOPE = { resources: ['tasks', 'notes'], excluded_resources: ['credentials'], max_rows_per_query: 100 };
const FAST = { ...SCOPE, rate_limit_per_minute: 6000 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const requestIdOf = (a: { headers: RawAnswer['headers'] }): string => String(a.headers['x-request-id']);

/**
 * Poll `GET /api/admin/audit` until every request id has a row (or `timeoutMs` passes);
 * the rows of those ids, and how long after the call they were all visible.
 */
async function auditRowsOf(admin: AdminClient, requestIds: readonly string[], options: { timeoutMs?: number; grant?: string } = {}): Promise<{ rows: AuditRow[]; ms: number }> {
  const started = Date.now();
  const wanted = new Set(requestIds);
  for (;;) {
    const { items } = await admin.audit({ limit: 10_000, ...(options.grant === undefined ? {} : { grant: options.grant }) });
    const rows = items.filter((r) => wanted.has(r.requestId));
    const ms = Date.now() - started;
    if (new Set(rows.map((r) => r.requestId)).size === wanted.size || ms > (options.timeoutMs ?? 5_000)) return { rows, ms };
    await sleep(25);
  }
}

/** Rows grouped by a key (request id, caller id). */
function groupBy(rows: readonly AuditRow[], key: (r: AuditRow) => string | null): Map<string | null, AuditRow[]> {
  const out = new Map<string | null, AuditRow[]>();
  for (const r of rows) out.set(key(r), [...(out.get(key(r)) ?? []), r]);
  return out;
}

/** Every file under `dir` whose raw bytes contain `needle`. */
function filesContaining(dir: string, needle: string): string[] {
  const bytes = Buffer.from(needle, 'utf8');
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st === undefined) continue; // a temp file that went away meanwhile
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && readFileSync(p).includes(bytes)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A request with a body that is not JSON (the harness's `call` always sends JSON). */
async function postRaw(h: FederationHarness, agent: Agent, path: string, body: string): Promise<RawAnswer> {
  const res = await request(`${h.workUrl}/api/federation/v1${path}`, { method: 'POST', dispatcher: agent, headers: { 'content-type': 'application/json' }, body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: JSON.parse(text) as RawAnswer['body'], text };
}

/** Wait until work's spool has shipped everything (status `audit.spoolBacklog` 0). */
async function drained(admin: AdminClient, timeoutMs = 10_000): Promise<number> {
  const started = Date.now();
  while ((await admin.status()).audit.spoolBacklog > 0) {
    if (Date.now() - started > timeoutMs) throw new Error('the audit spool did not drain');
    await sleep(20);
  }
  return Date.now() - started;
}

describeEachEngine('audit and rate limits through two gateways', (engine) => {
  let h: FederationHarness;
  let workLocation: { dataDir: string } | { databaseUrl: string };
  let alice: PeerLink;
  let agent: Agent;

  beforeAll(async () => {
    h = await startFederation({
      location: async (name) => {
        const loc = await engine.location();
        if (name === 'work') workLocation = loc;
        return loc;
      },
    });
    alice = await h.link({ subjectUserId: 'alice', scope: FAST });
    agent = h.agent(await alice.credentials());
  });
  afterAll(async () => h?.close());

  it('every request — allowed, denied, rate limited, failed — is exactly one audit row, visible within 1 s, matched by x-request-id', async (ctx) => {
    // 2/min: peer add's capabilities check (it proves the link) spends the first token
    const limited = await h.link({ subjectUserId: 'alice', scope: { ...SCOPE, rate_limit_per_minute: 2 }, peerName: 'home-limited' });
    const limitedAgent = h.agent(await limited.credentials());
    const cases: Array<{ name: string; send: () => Promise<RawAnswer>; status: number; outcome: AuditRow['outcome']; verb: string; resource: string | null; grantId: string }> = [
      { name: 'capabilities', send: () => h.call(agent, 'GET', '/capabilities'), status: 200, outcome: 'allowed', verb: 'capabilities', resource: null, grantId: alice.grant.id },
      { name: 'list', send: () => h.call(agent, 'POST', '/list/tasks', { body: {} }), status: 200, outcome: 'allowed', verb: 'list', resource: 'tasks', grantId: alice.grant.id },
      { name: 'get', send: () => h.call(agent, 'POST', '/get/tasks/a-p1', { body: {} }), status: 200, outcome: 'allowed', verb: 'get', resource: 'tasks', grantId: alice.grant.id },
      { name: 'search', send: () => h.call(agent, 'POST', '/search/tasks', { body: { query: `ship ${MARKER}` } }), status: 200, outcome: 'allowed', verb: 'search', resource: 'tasks', grantId: alice.grant.id },
      { name: 'excluded resource', send: () => h.call(agent, 'POST', '/list/credentials', { body: {} }), status: 403, outcome: 'denied', verb: 'list', resource: 'credentials', grantId: alice.grant.id },
      { name: 'invisible row', send: () => h.call(agent, 'POST', '/get/tasks/b-p1', { body: {} }), status: 404, outcome: 'denied', verb: 'get', resource: 'tasks', grantId: alice.grant.id },
      { name: 'bad body', send: () => h.call(agent, 'POST', '/list/tasks', { body: { limit: 'x' } }), status: 400, outcome: 'denied', verb: 'list', resource: 'tasks', grantId: alice.grant.id },
      { name: 'not JSON', send: () => postRaw(h, agent, '/list/tasks', '{"limit": '), status: 400, outcome: 'denied', verb: 'list', resource: 'tasks', grantId: alice.grant.id },
      { name: 'marker cursor', send: () => h.call(agent, 'POST', '/list/tasks', { body: { cursor: `${MARKER}.${MARKER}` } }), status: 400, outcome: 'denied', verb: 'list', resource: 'tasks', grantId: alice.grant.id },
      { name: 'last token of a 2/min grant', send: () => h.call(limitedAgent, 'GET', '/capabilities'), status: 200, outcome: 'allowed', verb: 'capabilities', resource: null, grantId: limited.grant.id },
      { name: 'rate limited', send: () => h.call(limitedAgent, 'POST', '/search/tasks', { body: { query: MARKER } }), status: 429, outcome: 'rate_limited', verb: 'search', resource: 'tasks', grantId: limited.grant.id },
    ];
    const rowsOfGrants = async () => {
      await drained(h.work.admin);
      const { items } = await h.work.admin.audit({ limit: 10_000 });
      return items.filter((r) => r.grantId === alice.grant.id || r.grantId === limited.grant.id).length;
    };
    const before = await rowsOfGrants();
    const answers: RawAnswer[] = [];
    for (const c of cases) answers.push(await c.send());
    expect(answers.map((a) => a.status)).toEqual(cases.map((c) => c.status));
    const ids = answers.map(requestIdOf);
    expect(new Set(ids).size).toBe(ids.length);

    const { rows, ms } = await auditRowsOf(h.work.admin, ids);
    await ctx.annotate(`[${engine.name}] ${cases.length} requests: all rows visible through the admin API ${ms} ms after the last answer`);
    expect(ms).toBeLessThan(1_000);
    const byId = groupBy(rows, (r) => r.requestId);
    cases.forEach((c, i) => {
      const mine = byId.get(ids[i]!) ?? [];
      expect(mine.length, `${c.name}: rows for ${ids[i]}`).toBe(1);
      expect(mine[0], c.name).toMatchObject({ verb: c.verb, resource: c.resource, outcome: c.outcome, statusCode: c.status, grantId: c.grantId, subjectUserId: 'alice' });
      expect(mine[0]!.queryHash, c.name).toMatch(/^[0-9a-f]{64}$/);
      expect(mine[0]!.bytesOut, c.name).toBe(Buffer.byteLength(answers[i]!.text));
    });
    expect(byId.get(ids[1]!)![0]!.rowsOut).toBe((answers[1]!.body.items as unknown[]).length);
    // and no other row for the two grants meanwhile
    expect((await rowsOfGrants()) - before).toBe(cases.length);
  });

  it('a request without a client certificate is 401 and still one audit row', async () => {
    const anonymous = h.agent();
    const answers = [await h.call(anonymous, 'GET', '/capabilities'), await h.call(anonymous, 'POST', '/list/tasks', { body: {} })];
    expect(answers.map((a) => [a.status, a.body.error?.code])).toEqual([
      [401, 'CLIENT_CERT_REQUIRED'],
      [401, 'CLIENT_CERT_REQUIRED'],
    ]);
    const ids = answers.map(requestIdOf);
    const { rows } = await auditRowsOf(h.work.admin, ids, { timeoutMs: 2_000 });
    const byId = groupBy(rows, (r) => r.requestId);
    for (const id of ids) {
      expect(byId.get(id)?.length ?? 0, `rows for the 401 ${id}`).toBe(1);
      expect(byId.get(id)![0]).toMatchObject({ outcome: 'denied', statusCode: 401, grantId: null });
    }
  });

  it('a query and a cursor never reach the store, only their keyed hash: same query → same hash, another → another', async () => {
    const search = (query: string) => h.call(agent, 'POST', '/search/tasks', { body: { query } });
    const answers = [await search(`ship ${MARKER}`), await search(`ship ${MARKER}`), await search('ship something else'), await h.call(agent, 'POST', '/list/tasks', { body: { cursor: MARKER } })];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 400]);
    expect(answers[3]!.text).not.toContain(MARKER);
    const ids = answers.map(requestIdOf);
    const { rows } = await auditRowsOf(h.work.admin, ids);
    const hashOf = (i: number) => rows.find((r) => r.requestId === ids[i])!.queryHash;
    expect(hashOf(0)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashOf(1)).toBe(hashOf(0));
    expect(hashOf(2)).not.toBe(hashOf(0));
    expect(JSON.stringify(rows)).not.toContain(MARKER);
    await drained(h.work.admin);

    // The raw bytes of work's stores: the spool (always in the data dir) and the main store.
    // The request id and the hash are found there (so the scan reads where rows live); the marker is not.
    const stores: string[] = [h.work.dataDir];
    if ('databaseUrl' in workLocation) {
      const text = await withPg(workLocation.databaseUrl, async (c) => {
        const r = await c.query<{ row: string }>('select t::text as row from audit_log t');
        return r.rows.map((x) => x.row).join('\n');
      });
      expect(text).toContain(ids[0]!);
      expect(text).toContain(hashOf(0)!);
      expect(text).not.toContain(MARKER);
      const cluster = engine.server().dir;
      if (cluster !== null) {
        await withPg(workLocation.databaseUrl, (c) => c.query('checkpoint'));
        stores.push(cluster);
      }
    }
    for (const dir of stores) expect(filesContaining(dir, MARKER), dir).toEqual([]);
    expect(stores.flatMap((dir) => filesContaining(dir, ids[0]!)).length).toBeGreaterThan(0);
    expect(stores.flatMap((dir) => filesContaining(dir, hashOf(0)!)).length).toBeGreaterThan(0);
  });

  it('audit verify is intact after traffic, and names the spool and row where a deleted or an edited row breaks the chain', async () => {
    for (let i = 0; i < 6; i++) expect((await h.call(agent, 'POST', '/list/notes', { body: {} })).status).toBe(200);
    await drained(h.work.admin);
    const intact = await h.work.admin.auditVerify();
    expect(intact.ok).toBe(true);
    const db = h.work.gateway.storage.db;
    const chain = (await db.selectFrom('audit_log').select(['id', 'spool', 'status_code']).orderBy('seq').execute()).filter((r) => r.spool !== null);
    const spoolId = chain.at(-1)!.spool!;
    const mine = chain.filter((r) => r.spool === spoolId);
    expect(intact.spools.find((s) => s.spool === spoolId)).toMatchObject({ chained: true, rows: mine.length });
    const k = Math.floor(mine.length / 2);
    const victim = mine[k]!;
    const next = mine[k + 1]!;

    const saved = await db.selectFrom('audit_log').selectAll().where('id', '=', victim.id).executeTakeFirstOrThrow();
    await db.deleteFrom('audit_log').where('id', '=', victim.id).execute();
    try {
      const report = await h.work.admin.auditVerify();
      expect(report.ok).toBe(false);
      expect(report.spools.find((s) => s.spool === spoolId)).toMatchObject({ firstBreak: { id: next.id, reason: 'missing' } });
    } finally {
      await db.insertInto('audit_log').values(saved).execute();
    }
    expect((await h.work.admin.auditVerify()).ok).toBe(true);

    const edited = victim.status_code === 200 ? 500 : 200;
    await db.updateTable('audit_log').set({ status_code: edited }).where('id', '=', victim.id).execute();
    try {
      const report = await h.work.admin.auditVerify();
      expect(report.ok).toBe(false);
      expect(report.spools.find((s) => s.spool === spoolId)).toMatchObject({ firstBreak: { id: victim.id, reason: 'edited' } });
    } finally {
      await db.updateTable('audit_log').set({ status_code: victim.status_code }).where('id', '=', victim.id).execute();
    }
    expect((await h.work.admin.auditVerify()).ok).toBe(true);
  });

  it('the 61st request in a minute is 429 RATE_LIMITED with Retry-After; another grant is not slowed; 600/min applies on the next request', async () => {
    // The bucket starts full (60) at the first request — peer add's capabilities check, which
    // proves the link — and refills at 1/s from then.
    const started = Date.now();
    const burst = await h.link({ subjectUserId: 'alice', scope: SCOPE, peerName: 'home-burst' });
    const cred = await burst.credentials();
    const agents = Array.from({ length: 10 }, () => h.agent(cred));
    expect((await h.call(agents[0]!, 'GET', '/capabilities')).body.rate_limit_per_minute).toBe(60);
    // 70 requests at once (two already spent): 58 pass, plus whatever refilled meanwhile.
    let otherMs = 0;
    const [answers, other] = await Promise.all([
      Promise.all(Array.from({ length: 70 }, (_, i) => h.call(agents[i % agents.length]!, 'POST', '/list/tasks', { body: {} }))),
      // the other grant, during the burst: every request served at once, none refused
      (async () => {
        const out: RawAnswer[] = [];
        for (let i = 0; i < 20; i++) {
          const t = performance.now();
          out.push(await h.call(agent, 'GET', '/capabilities'));
          otherMs = Math.max(otherMs, performance.now() - t);
        }
        return out;
      })(),
    ]);
    const elapsed = Date.now() - started;
    const passed = answers.filter((a) => a.status === 200).length;
    expect(passed).toBeGreaterThanOrEqual(58);
    expect(passed).toBeLessThanOrEqual(58 + Math.floor(elapsed / 1_000));
    const refused = answers.filter((a) => a.status !== 200);
    expect(refused.length).toBe(70 - passed);
    for (const r of refused) {
      expect(r.status).toBe(429);
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      // the envelope of CONTRACT.md, nothing more (no query, no grant detail)
      expect(r.body).toEqual({ error: { code: 'RATE_LIMITED', message: expect.any(String) as unknown, requestId: requestIdOf(r) } });
    }
    expect(other.map((a) => a.status)).toEqual(other.map(() => 200));
    expect(otherMs).toBeLessThan(1_000);
    // each of those answers is one row, the 429s rate_limited
    const { rows } = await auditRowsOf(h.work.admin, answers.map(requestIdOf));
    expect(rows.length).toBe(70);
    expect(rows.filter((r) => r.outcome === 'rate_limited').length).toBe(refused.length);

    // Raised to 600/min: on the very next request, without a restart; the 60 spent stay
    // spent, so 540 are there at once — far more than the old limit.
    await h.work.admin.updateGrant(burst.grant.id, { scope: { ...SCOPE, rate_limit_per_minute: 600 } } as never);
    const now = await h.call(agents[0]!, 'GET', '/capabilities');
    expect(now.status).toBe(200);
    expect(now.body.rate_limit_per_minute).toBe(600);
    const more = await Promise.all(Array.from({ length: 150 }, (_, i) => h.call(agents[i % agents.length]!, 'POST', '/list/tasks', { body: {} })));
    expect(more.filter((a) => a.status !== 200).map((a) => a.status)).toEqual([]);
  });

  it('a stalled main audit store slows no answer; rows wait in the spool and all ship once it is free, none lost or doubled', async (ctx) => {
    await drained(h.work.admin);
    // Stall the main store for real: another connection holds the audit table's lock.
    let release: () => Promise<void>;
    let shipperWaiting: () => Promise<boolean> = () => Promise.resolve(true);
    if ('databaseUrl' in workLocation) {
      const locker = new pg.Client({ connectionString: workLocation.databaseUrl });
      await locker.connect();
      await locker.query('begin');
      await locker.query('lock table audit_log in access exclusive mode');
      release = async () => {
        await locker.query('rollback');
        await locker.end();
      };
      // the shipper's insert is queued behind our lock (not merely not tried yet)
      shipperWaiting = async () => (await locker.query<{ n: number }>("select count(*)::int as n from pg_locks where not granted and relation = 'audit_log'::regclass")).rows[0]!.n > 0;
    } else {
      // The embedded store ships to gateway.db too (openAuditPipeline runs on both engines):
      // a second handle takes its write lock.
      const locker = new DatabaseSync(join(workLocation.dataDir, SQLITE_FILE_NAME));
      locker.exec('BEGIN IMMEDIATE');
      release = () => {
        locker.exec('ROLLBACK');
        locker.close();
        return Promise.resolve();
      };
    }
    let released = false;
    try {
      const cred = await alice.credentials();
      const pool = [agent, ...Array.from({ length: 4 }, () => h.agent(cred))];
      const latencies: number[] = [];
      const answers = await Promise.all(
        pool.map(async (a) => {
          const out: RawAnswer[] = [];
          for (let i = 0; i < 10; i++) {
            const t = performance.now();
            out.push(await h.call(a, 'POST', '/list/tasks', { body: {} }));
            latencies.push(performance.now() - t);
          }
          return out;
        }),
      ).then((x) => x.flat());
      expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
      const slowest = Math.max(...latencies);
      expect(slowest).toBeLessThan(2_000);
      expect(await shipperWaiting()).toBe(true);
      const backlog = (await h.work.admin.status()).audit.spoolBacklog;
      expect(backlog).toBeGreaterThanOrEqual(50);
      expect(Number(/^mosaic_audit_spool_backlog (\d+)$/m.exec(await h.work.admin.metrics())?.[1])).toBeGreaterThanOrEqual(50);

      const unlocked = Date.now();
      released = true;
      await release();
      await drained(h.work.admin, 10_000);
      const ids = answers.map(requestIdOf);
      const { rows, ms } = await auditRowsOf(h.work.admin, ids);
      const shippedIn = Date.now() - unlocked;
      await ctx.annotate(`[${engine.name}] 50 answers while the store was locked, slowest ${Math.round(slowest)} ms; spool backlog ${backlog}; all rows in the store ${shippedIn} ms after the unlock (${ms} ms after the drain)`);
      const byId = groupBy(rows, (r) => r.requestId);
      for (const id of ids) expect(byId.get(id)?.length ?? 0, id).toBe(1);
      // nothing doubled anywhere in the store
      const { items } = await h.work.admin.audit({ limit: 10_000 });
      expect(new Set(items.map((r) => r.id)).size).toBe(items.length);
      expect(new Set(items.map((r) => r.requestId)).size).toBe(items.length);
      expect((await h.work.admin.auditVerify()).ok).toBe(true);
    } finally {
      if (!released) await release();
    }
  });
});

/** Unshipped rows in a stopped gateway's spool file, read by an independent handle. */
function unshippedOnDisk(dataDir: string): number {
  const db = new DatabaseSync(join(dataDir, AUDIT_SPOOL_FILE_NAME), { readOnly: true });
  try {
    return Number((db.prepare('select count(*) as n from spool_rows where shipped = 0').get() as { n: number }).n);
  } finally {
    db.close();
  }
}

/** Rows of a grant in a child gateway's store, once every answered request has one (or after `timeoutMs`). */
async function rowsAfterRestart(gw: ChildGateway, peer: RawPeer, load: Load, tag: string, timeoutMs = 10_000): Promise<AuditRow[]> {
  const answeredIds = [...load.answered.values()].map((a) => a.requestId);
  await auditRowsOf(gw.admin, answeredIds, { timeoutMs, grant: peer.grantId });
  return (await gw.admin.audit({ grant: peer.grantId, limit: 10_000 })).items.filter((r) => r.callerRequestId?.startsWith(`${tag}-`) === true);
}

/**
 * Answered ⇒ exactly one row with that answer's request id and status. Returns the rows of
 * requests that got no answer (in flight when the process went away).
 */
function expectAnsweredAudited(rows: readonly AuditRow[], load: Load): AuditRow[] {
  const byCaller = groupBy(rows, (r) => r.callerRequestId);
  for (const [callerId, answer] of load.answered) {
    const mine = byCaller.get(callerId) ?? [];
    expect(mine.length, `rows for answered ${callerId}`).toBe(1);
    expect(mine[0]).toMatchObject({ requestId: answer.requestId, statusCode: answer.status });
  }
  const unanswered = rows.filter((r) => r.callerRequestId === null || !load.answered.has(r.callerRequestId));
  // each of them is one of our requests that failed, once
  for (const r of unanswered) expect(load.failed.has(r.callerRequestId ?? ''), `row ${r.id} of ${r.callerRequestId}`).toBe(true);
  expect(new Set(unanswered.map((r) => r.callerRequestId)).size).toBe(unanswered.length);
  return unanswered;
}

// One engine is enough here: what is under test is the spool (always SQLite in the data dir)
// and the process, not the main store.
describe('audit across a real gateway process: kill -9 and SIGTERM under load (SQLite)', () => {
  const WORKERS = 32;
  let home: ChildHome;
  let gw: ChildGateway | undefined;
  let peer: RawPeer;

  beforeAll(async () => {
    home = childHome('mosaic-audit-proc-');
    gw = await startChildGateway(home);
    await gw.admin.seed(FEDERATION_SEED);
    peer = await enrollRawPeer(gw, { subjectUserId: 'alice', peerName: 'home', scope: FAST });
  });
  afterAll(async () => {
    await killChildGateway(gw);
    home?.remove();
  });

  it('kill -9 mid-burst, restart: every answered request has exactly one row; rows of unanswered ones at most the concurrency', async (ctx) => {
    // The main store is held (as a backup or a second tool would hold it) so that every row of
    // the burst is still only in the spool when the process dies: the restart must ship them.
    await drained(gw!.admin);
    const locker = new DatabaseSync(join(home.dataDir, SQLITE_FILE_NAME));
    locker.exec('BEGIN IMMEDIATE');
    let load: Load;
    try {
      load = startLoad(gw!, peer, { workers: WORKERS, tag: 'kill' });
      await load.answeredAtLeast(400);
      const dead = gw!.exited();
      gw!.child.kill('SIGKILL');
      expect((await dead).signal).toBe('SIGKILL');
      await load.done();
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
    }
    const answered = load.answered.size;
    expect(load.failed.size).toBe(WORKERS);
    const inSpool = unshippedOnDisk(home.dataDir);
    expect(inSpool).toBeGreaterThanOrEqual(answered);

    // The restart ships what the spool held (rows appended before the kill, not yet shipped).
    gw = await startChildGateway(home);
    const rows = await rowsAfterRestart(gw, peer, load, 'kill');
    const unanswered = expectAnsweredAudited(rows, load);
    // A row is durable before its answer leaves, so a request in flight at the kill may have
    // its row without its answer: rows ⊇ answered, and the surplus is at most one request
    // per connection (each worker had at most one in flight). Strict equality cannot hold
    // under kill -9.
    expect(unanswered.length).toBeLessThanOrEqual(WORKERS);
    expect(rows.length).toBe(answered + unanswered.length);
    expect(rows.length).toBe(inSpool);
    await ctx.annotate(
      `kill -9 after ${answered} answered requests (${WORKERS} in flight): ${inSpool} rows unshipped in the spool at the kill; ${rows.length} rows after the restart = ${answered} answered + ${unanswered.length} in flight whose row was written before the kill`,
    );
    // the chain survived the kill: the restarted spool continues it
    expect((await gw.admin.auditVerify()).ok).toBe(true);
  });

  it('SIGTERM under load: in-flight requests answered, exit within 5 s, gateway.json removed, every answered request audited', async (ctx) => {
    const load = startLoad(gw!, peer, { workers: 16, tag: 'term' });
    await load.answeredAtLeast(200);
    const stopped = gw!.exited();
    gw!.child.kill('SIGTERM');
    const { code, ms } = await stopped;
    await load.done();
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5_000);
    expect(existsSync(join(home.dataDir, 'gateway.json'))).toBe(false);
    // every answer is a served answer: nothing accepted was cut off or turned away
    const statuses = new Map<number, number>();
    for (const a of load.answered.values()) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    expect([...statuses.keys()]).toEqual([200]);

    // Flushed at shutdown: the spool holds nothing unshipped, the main store has every row.
    expect(unshippedOnDisk(home.dataDir)).toBe(0);
    const store = new DatabaseSync(join(home.dataDir, SQLITE_FILE_NAME), { readOnly: true });
    try {
      const stored = new Set((store.prepare('select caller_request_id as c from audit_log where grant_id = ?').all(peer.grantId) as { c: string | null }[]).map((r) => r.c));
      expect(stored.size).toBeGreaterThan(0);
      for (const callerId of load.answered.keys()) expect(stored.has(callerId), callerId).toBe(true);
    } finally {
      store.close();
    }

    gw = await startChildGateway(home);
    const unanswered = expectAnsweredAudited(await rowsAfterRestart(gw, peer, load, 'term'), load);
    // A graceful stop answers what it accepted: a request that failed had not been taken in.
    expect(unanswered).toEqual([]);
    await ctx.annotate(`SIGTERM after ${load.answered.size} answered requests (16 workers): exit in ${ms} ms, code ${code}; ${load.failed.size} requests refused at the socket, none of them audited`);
  });
});
