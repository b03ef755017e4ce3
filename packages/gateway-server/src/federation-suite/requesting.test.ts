/**
 * The requesting side between two real gateways (issue 5): `POST /api/admin/query` on home
 * fanning out to its own store and to work over mTLS — merged and tagged, per local user,
 * cached, traced, never persisted — and what home does when work revokes it, goes down, or
 * keeps failing (the circuit breaker, counted at the TCP level).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { pino } from 'pino';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peerRemovedSchema, type QueryItem, type QueryRequest, type QueryResponse } from '@mosaic/federation-core';
import { readAdminTokenFile } from '@mosaic/federation-core/admin-client';
import { TABLES } from '../storage/schema.js';
import type { Storage } from '../storage/index.js';
import { waitForAuditRows } from '../test-support/audit-poll.js';
import { describeEachEngine } from '../test-support/engines.js';
import { startFederation, type FederationHarness, type PeerLink } from '../test-support/federation.js';
import type { TestGateway } from '../test-support/gateway.js';
import { startTcpProxy, type TcpProxy } from '../test-support/tcp-proxy.js';
import { addSpanProcessorForTests } from '../tracing.js';

const WIDE = { resources: ['tasks', 'notes'], excluded_resources: [], max_rows_per_query: 500, rate_limit_per_minute: 6000 };

/** Home's own data: two local users, a team, a row each. */
const HOME_SEED = {
  users: [
    { id: 'alice', name: 'Alice' },
    { id: 'bob', name: 'Bob' },
  ],
  teams: [{ id: 'H1', name: 'Home team' }],
  memberships: [{ teamId: 'H1', userId: 'alice' }],
  resources: {
    tasks: [
      { id: 'h-a1', ownerUserId: 'alice', title: 'home: alice ship list' },
      { id: 'h-b1', ownerUserId: 'bob', title: 'home: bob ship list' },
      { id: 'h-t1', teamId: 'H1', title: 'home: team ship list' },
    ],
  },
};

/** What each subject may read on work under WIDE (their personal rows and their teams'). */
const VISIBLE_ON_WORK: Record<string, string[]> = {
  alice: ['a-p1', 'a-p2', 't1-1', 't2-1', 'n-a1'],
  bob: ['b-p1', 't2-1', 'n-b1'],
  carol: ['c-p1', 't3-1'],
};
/** Work's personal rows by owner. */
const PERSONAL_OWNER: Record<string, string> = { 'a-p1': 'alice', 'a-p2': 'alice', 'b-p1': 'bob', 'c-p1': 'carol', 'n-a1': 'alice', 'n-b1': 'bob' };

const ids = (items: readonly QueryItem[], source?: string) => items.filter((i) => source === undefined || i._source === source).map((i) => i.id).sort();
const refusal = async (p: Promise<unknown>) => (await p.then(() => null, (e: unknown) => e)) as { status: number; code: string; message: string; details?: unknown; requestId: string | null };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Row counts of every table of a store. */
async function rowCounts(storage: Storage): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of [...TABLES, 'schema_migrations'] as const) {
    const row = await storage.db.selectFrom(t).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    out[t] = Number(row.n);
  }
  return out;
}

/** Every byte home keeps: the files under its data dir, and (PostgreSQL) every row of every table as text. */
async function storeText(gw: TestGateway): Promise<string> {
  const parts: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) parts.push(readFileSync(p).toString('latin1'));
    }
  };
  walk(gw.dataDir);
  if (gw.gateway.storage.engine === 'sqlite') {
    // the embedded store lives in the data dir already
    walk(join(gw.gateway.storage.location, '..'));
  } else {
    for (const t of [...TABLES, 'schema_migrations']) {
      const { rows } = await sql<{ r: string }>`select x::text as r from ${sql.table(t)} as x`.execute(gw.gateway.storage.db);
      parts.push(...rows.map((r) => r.r));
    }
  }
  return parts.join('\n');
}

/** Wait until a gateway's audit spool has shipped everything to its main store. */
async function shipped(gw: TestGateway): Promise<void> {
  for (let i = 0; i < 200 && (await gw.admin.status()).audit.spoolBacklog > 0; i++) await sleep(25);
}

/** `POST /api/admin/query` by hand: the answer with its `x-request-id`, and extra headers sent. */
async function rawQuery(gw: TestGateway, body: QueryRequest, headers: Record<string, string> = {}): Promise<{ status: number; body: QueryResponse; requestId: string }> {
  const res = await fetch(`${gw.gateway.adminUrl}/api/admin/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${readAdminTokenFile(gw.dataDir)}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as QueryResponse, requestId: res.headers.get('x-request-id') ?? '' };
}

describeEachEngine('the requesting side between two gateways', (engine) => {
  describe('fan-out, ownership, cache, tracing, persistence', () => {
    let h: FederationHarness;
    let home: TestGateway;
    let alice: PeerLink;
    // every span of home and work (told apart by their resource's gateway name)
    const spans = new InMemorySpanExporter();

    beforeAll(async () => {
      const removeHook = addSpanProcessorForTests(new SimpleSpanProcessor(spans));
      try {
        h = await startFederation({ location: () => engine.location() });
      } finally {
        removeHook();
      }
      home = h.homes[0]!;
      await home.admin.seed(HOME_SEED);
      alice = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work' });
      await h.link({ subjectUserId: 'bob', scope: WIDE, localName: 'work-bob' });
    });
    afterAll(async () => h?.close());

    /** The spans of one trace once home's query, its CLIENT span and work's SERVER span have ended. */
    async function traceChain(traceId: string): Promise<{ query: ReadableSpan; client: ReadableSpan; server: ReadableSpan; all: ReadableSpan[] }> {
      const of = (gateway: string, kind: SpanKind) => (s: ReadableSpan) => s.resource.attributes['mosaic.gateway.name'] === gateway && s.kind === kind;
      for (let i = 0; ; i++) {
        const all = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
        const query = all.filter(of('home', SpanKind.SERVER));
        const client = all.filter(of('home', SpanKind.CLIENT));
        const server = all.filter(of('work', SpanKind.SERVER));
        if (query.length + client.length + server.length === 3 || i === 100) {
          expect([query.length, client.length, server.length]).toEqual([1, 1, 1]);
          expect(all).toHaveLength(3);
          return { query: query[0]!, client: client[0]!, server: server[0]!, all };
        }
        await sleep(20);
      }
    }

    it('peer add proves the link: it read capabilities over mTLS (carrying home\'s traceparent) and stored them', async () => {
      expect(alice.peer).toMatchObject({ state: 'active', localUserId: 'alice', circuit: 'closed', lastSuccessAt: expect.any(String) });
      expect(alice.peer.capabilities).toMatchObject({ server: 'work', resources: ['tasks', 'notes'], max_rows_per_query: 500, rate_limit_per_minute: 6000 });
      // and work audited that first call
      const rows = await waitForAuditRows(h.work.admin, (r) => r.verb === 'capabilities' && r.grantId === alice.grant.id);
      expect(rows).toEqual([expect.objectContaining({ outcome: 'allowed', statusCode: 200 })]);
      // with home's traceparent: work's row and home's CLIENT span of that call share one trace
      const sent = spans.getFinishedSpans().filter((s) => s.name === 'federation capabilities' && s.resource.attributes['mosaic.gateway.name'] === 'home');
      expect(sent.map((s) => s.spanContext().traceId)).toContain(rows[0]!.traceId);
      const server = spans.getFinishedSpans().find((s) => s.resource.attributes['mosaic.gateway.name'] === 'work' && s.spanContext().traceId === rows[0]!.traceId);
      expect(server?.parentSpanContext?.spanId).toBe(sent.find((s) => s.spanContext().traceId === rows[0]!.traceId)!.spanContext().spanId);
    });

    it("source all merges home's own rows and work's, each tagged local / federated:<peer>", async () => {
      const r = await home.admin.query({ verb: 'list', resource: 'tasks', source: 'all', asUser: 'alice' });
      expect(r.partial).toBe(false);
      expect(r.sources).toEqual([
        expect.objectContaining({ source: 'local', ok: true, cached: false }),
        expect.objectContaining({ source: 'federated:work', ok: true, cached: false }),
      ]);
      expect(ids(r.items, 'local')).toEqual(['h-a1', 'h-t1']);
      expect(ids(r.items, 'federated:work')).toEqual(['a-p1', 'a-p2', 't1-1', 't2-1']);
      expect(r.items.every((i) => i._source === 'local' || i._source === 'federated:work')).toBe(true);
      expect(r.items.some((i) => '_cached' in i)).toBe(false);
      // search merges too, with each source's scores
      const s = await home.admin.query({ verb: 'search', resource: 'tasks', query: 'ship', source: 'all', asUser: 'alice' });
      expect(ids(s.items, 'local')).toEqual(['h-a1', 'h-t1']);
      expect(ids(s.items, 'federated:work')).toEqual(['a-p1', 't1-1', 't2-1']);
      expect(s.items.every((i) => typeof i._score === 'number' && i._score > 0)).toBe(true);
    });

    it("two local users on home, each with their own peer, never read through the other's", async () => {
      const b = await home.admin.query({ verb: 'list', resource: 'tasks', source: 'all', asUser: 'bob' });
      expect(b.sources.map((s) => s.source)).toEqual(['local', 'federated:work-bob']);
      expect(ids(b.items, 'local')).toEqual(['h-b1']);
      expect(ids(b.items, 'federated:work-bob')).toEqual(['b-p1', 't2-1']);
      const a = await home.admin.query({ verb: 'search', resource: 'tasks', query: 'ship secret', source: 'all', asUser: 'alice' });
      expect(a.items.map((i) => i.id)).not.toContain('b-p1');
      expect(a.items.map((i) => i.id)).not.toContain('h-b1');
      // bob's row by id, through alice: not there (alice's peer reads alice's rows only)
      const g = await home.admin.query({ verb: 'get', resource: 'tasks', id: 'b-p1', source: 'all', asUser: 'alice' });
      expect(g).toMatchObject({ items: [], partial: false });
      // naming the other's peer is refused, and audited
      const refused = await refusal(home.admin.query({ verb: 'list', resource: 'tasks', source: 'federated:work-bob', asUser: 'alice' }));
      expect(refused).toMatchObject({ status: 403, code: 'PEER_NOT_OWNED' });
      expect(await waitForAuditRows(home.admin, (r) => r.requestId === refused.requestId)).toEqual([
        expect.objectContaining({ verb: 'query', outcome: 'denied', statusCode: 403, adminTokenName: 'root' }),
      ]);
      // without asUser: inferred from the peer named, refused when several users could be meant
      const inferred = await home.admin.query({ verb: 'list', resource: 'tasks', source: 'federated:work-bob' });
      expect(ids(inferred.items)).toEqual(['b-p1', 't2-1']);
      const ambiguous = await refusal(home.admin.query({ verb: 'list', resource: 'tasks', source: 'all' }));
      expect(ambiguous).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
      expect(JSON.stringify(ambiguous.details)).toContain('asUser');
    });

    it('a second identical list within 30 s is served from the cache (_cached); search never is', async (ctx) => {
      // rows of earlier tests may still be shipping: count only what this test caused
      const since = new Date().toISOString();
      const q: QueryRequest = { verb: 'list', resource: 'notes', source: 'federated:work', limit: 7 };
      const first = await home.admin.query(q);
      const second = await home.admin.query(q);
      expect(ids(first.items)).toEqual(['n-a1']);
      expect(first.items[0]).not.toHaveProperty('_cached');
      expect(first.sources[0]).toMatchObject({ ok: true, cached: false });
      expect(second.items).toEqual(first.items.map((i) => ({ ...i, _cached: true })));
      expect(second.sources[0]).toMatchObject({ ok: true, cached: true });
      await ctx.annotate(`[${engine.name}] list from work: ${first.sources[0]!.latencyMs.toFixed(1)} ms, from the cache: ${second.sources[0]!.latencyMs.toFixed(2)} ms`);
      const g1 = await home.admin.query({ verb: 'get', resource: 'notes', id: 'n-a1', source: 'federated:work' });
      const g2 = await home.admin.query({ verb: 'get', resource: 'notes', id: 'n-a1', source: 'federated:work' });
      expect([g1.items[0]?._cached, g2.items[0]?._cached]).toEqual([undefined, true]);
      const s1 = await home.admin.query({ verb: 'search', resource: 'notes', query: 'note', source: 'federated:work' });
      const s2 = await home.admin.query({ verb: 'search', resource: 'notes', query: 'note', source: 'federated:work' });
      for (const s of [s1, s2]) {
        expect(ids(s.items)).toEqual(['n-a1']);
        expect(s.items[0]).not.toHaveProperty('_cached');
        expect(s.sources[0]).toMatchObject({ cached: false });
      }
      // work saw exactly: one list, one get, two searches
      const rows = await waitForAuditRows(h.work.admin, () => true, { filter: { grant: alice.grant.id, since }, count: 4 });
      await new Promise((r) => setTimeout(r, 300)); // a fifth row (a cache miss) would have shipped by now
      expect((await h.work.admin.audit({ grant: alice.grant.id, since, limit: 100 })).items.map((r) => r.verb).sort()).toEqual(['get', 'list', 'search', 'search']);
      expect(rows.length).toBeGreaterThanOrEqual(4);
    });

    it("one traceparent per query reaches work: home's query row and work's list row share the trace id, and the spans chain query → CLIENT → work's SERVER", async () => {
      const r = await rawQuery(home, { verb: 'list', resource: 'notes', source: 'federated:work', limit: 3 });
      expect(r.status).toBe(200);
      expect(r.body.sources[0]).toMatchObject({ ok: true, cached: false });
      const [mine] = await waitForAuditRows(home.admin, (row) => row.requestId === r.requestId);
      expect(mine).toMatchObject({ verb: 'query', outcome: 'allowed', rowsOut: 1, subjectUserId: 'alice', peer: 'work', grantId: alice.grant.id, adminTokenName: 'root' });
      expect(mine!.traceId).toMatch(/^[0-9a-f]{32}$/);
      const workRows = await waitForAuditRows(h.work.admin, (row) => row.traceId === mine!.traceId);
      expect(workRows).toEqual([expect.objectContaining({ verb: 'list', resource: 'notes', grantId: alice.grant.id, outcome: 'allowed', callerRequestId: r.requestId })]);
      // the spans: one trace, query → client → server, each a child of the one before
      const chain = await traceChain(mine!.traceId!);
      expect(chain.query).toMatchObject({ name: 'POST /api/admin/query', parentSpanContext: undefined });
      expect(chain.query.attributes).toMatchObject({ 'mosaic.verb': 'list', 'mosaic.resource': 'notes', 'mosaic.source': 'federated:work', 'mosaic.outcome': 'allowed', 'http.response.status_code': 200 });
      expect(chain.client.parentSpanContext?.spanId).toBe(chain.query.spanContext().spanId);
      expect(chain.client.attributes).toMatchObject({ 'mosaic.peer': 'work', 'mosaic.verb': 'list', 'mosaic.grant_id': alice.grant.id, 'mosaic.cached': false, 'mosaic.outcome': 'ok' });
      expect(chain.server.parentSpanContext).toMatchObject({ spanId: chain.client.spanContext().spanId, isRemote: true });
      expect(chain.server).toMatchObject({ name: 'POST /api/federation/v1/list/:resource' });
      expect(chain.server.attributes).toMatchObject({ 'mosaic.verb': 'list', 'mosaic.resource': 'notes', 'mosaic.grant_id': alice.grant.id, 'mosaic.outcome': 'allowed', 'http.response.status_code': 200 });

      // a caller's own valid traceparent is continued through home to work
      const traceId = randomUUID().replace(/-/g, '');
      const t = await rawQuery(home, { verb: 'search', resource: 'tasks', query: 'release', source: 'federated:work' }, { traceparent: `00-${traceId}-${'1'.repeat(16)}-01` });
      expect(t.body.items.map((i) => i.id)).toEqual(['a-p1']);
      expect(await waitForAuditRows(home.admin, (row) => row.traceId === traceId)).toEqual([expect.objectContaining({ verb: 'query', resource: 'tasks', rowsOut: 1, requestId: t.requestId })]);
      expect(await waitForAuditRows(h.work.admin, (row) => row.traceId === traceId)).toEqual([expect.objectContaining({ verb: 'search', grantId: alice.grant.id, callerRequestId: t.requestId })]);
      const continued = await traceChain(traceId);
      expect(continued.query.parentSpanContext).toMatchObject({ traceId, spanId: '1'.repeat(16), isRemote: true });
      expect(continued.server.parentSpanContext?.spanId).toBe(continued.client.spanContext().spanId);
      // what a span carries: never the query text, nor a row
      const exported = JSON.stringify([...continued.all].map((s) => [s.name, s.attributes]));
      expect(exported).not.toContain('release');
      expect(exported).not.toContain('a-p1');
    });

    it('nothing a peer sends is written to home: row counts of every table and a grep of the whole store, before and after', async () => {
      const marker = `MARKER-${randomUUID()}`;
      await h.work.admin.seed({ resources: { tasks: [{ id: 'marker-row', ownerUserId: 'alice', title: `${marker} title`, body: `${marker} body` }] } });
      await shipped(home);
      const countsBefore = await rowCounts(home.gateway.storage);
      const before = await storeText(home);
      expect(before).toContain('home: alice ship list'); // the grep sees home's rows…
      expect(before).not.toContain(marker); // …and not the marker, yet
      const queries: QueryRequest[] = [
        { verb: 'list', resource: 'tasks', source: 'all', asUser: 'alice', limit: 50 },
        { verb: 'get', resource: 'tasks', id: 'marker-row', source: 'federated:work' },
        { verb: 'search', resource: 'tasks', query: marker, source: 'all', asUser: 'alice' },
      ];
      for (const q of queries) {
        const r = await home.admin.query(q);
        expect(r.items.some((i) => i.id === 'marker-row' && i.title.includes(marker))).toBe(true);
      }
      // the audit rows of those queries are the only new rows (they ship in the background)
      await shipped(home);
      const countsAfter = await rowCounts(home.gateway.storage);
      const { audit_log: auditBefore, ...restBefore } = countsBefore;
      const { audit_log: auditAfter, ...restAfter } = countsAfter;
      expect(restAfter).toEqual(restBefore);
      expect(auditAfter! - auditBefore!).toBe(queries.length);
      // neither the rows nor the search text (only its keyed hash) are anywhere in home's store
      expect(await storeText(home)).not.toContain(marker);
    });

    it("three users on work, each with their own requesting gateway, queried concurrently through POST /api/admin/query, never see each other's personal rows", async () => {
      const links = await Promise.all(
        (['alice', 'bob', 'carol'] as const).map(async (subject) => {
          const gw = await h.startHome(`home-${subject}`);
          const link = await h.link({ subjectUserId: subject, scope: WIDE, home: gw });
          return { subject, gw, link };
        }),
      );
      const rounds = 6;
      const runs = links.flatMap(({ subject, gw }) =>
        Array.from({ length: rounds }, (_, i) => [
          gw.admin.query({ verb: 'list', resource: i % 2 === 0 ? 'tasks' : 'notes', source: 'all', limit: 40 + i }).then((r) => ({ subject, r })),
          gw.admin.query({ verb: 'search', resource: 'tasks', query: 'ship secret notes', source: 'federated:work' }).then((r) => ({ subject, r })),
          gw.admin.query({ verb: 'get', resource: 'tasks', id: ['a-p1', 'b-p1', 'c-p1'][i % 3]!, source: 'federated:work' }).then((r) => ({ subject, r })),
        ]).flat(),
      );
      const results = await Promise.all(runs);
      const seen: Record<string, Set<string>> = { alice: new Set(), bob: new Set(), carol: new Set() };
      for (const { subject, r } of results) {
        expect(r.partial).toBe(false);
        for (const item of r.items) {
          expect(item._source).toBe('federated:work'); // these homes have no rows of their own
          const owner = PERSONAL_OWNER[item.id];
          if (owner !== undefined) expect(owner).toBe(subject);
          if (item.id !== 'marker-row') expect(VISIBLE_ON_WORK[subject]).toContain(item.id);
          seen[subject]!.add(item.id);
        }
      }
      expect([...seen.alice!].sort()).toEqual(expect.arrayContaining(['a-p1', 'a-p2', 'n-a1', 't1-1', 't2-1']));
      expect([...seen.bob!].sort()).toEqual(['b-p1', 'n-b1', 't2-1']);
      expect([...seen.carol!].sort()).toEqual(['c-p1', 't3-1']);
    });

    it("peer add without a name, when the serving gateway's name is taken here, is refused before the token is spent", async () => {
      // home has a peer named "work" already (alice's link above)
      const grant = await h.work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: WIDE } as never);
      const { enrollmentUrl, caPin } = await h.work.admin.createToken(grant.id);
      const countsBefore = await rowCounts(home.gateway.storage);
      const err = await refusal(home.admin.addPeer({ enrollmentUrl, caPin }));
      expect(err).toMatchObject({ status: 409, code: 'PEER_EXISTS' });
      expect(err?.message).toMatch(/"work" exists already.*the token was not used/);
      expect(await rowCounts(home.gateway.storage)).toEqual(countsBefore);
      // the same token still enrolls under another name
      expect(await home.admin.addPeer({ enrollmentUrl, caPin, name: 'work-second' })).toMatchObject({ name: 'work-second', state: 'active' });
      await home.admin.removePeer('work-second');
    });

    it('peer add whose capabilities call fails keeps nothing, says why, and that the token was spent', async () => {
      const grant = await h.work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: WIDE } as never);
      const { enrollmentUrl, caPin } = await h.work.admin.createToken(grant.id);
      // the enrollment goes through (first connection), the mTLS call after it does not
      // (two connections: the unpinned /ca preview, then the pinned enrollment)
      const proxy: TcpProxy = await startTcpProxy(h.work.gateway.federationUrl, (n) => (n <= 2 ? 'forward' : 'reset'));
      try {
        const peersBefore = (await home.admin.listPeers()).items.map((p) => p.name);
        const countsBefore = await rowCounts(home.gateway.storage);
        const err = await refusal(home.admin.addPeer({ enrollmentUrl: proxy.via(enrollmentUrl), caPin, name: 'work-broken' }));
        expect(err.status).toBe(502);
        expect(['PEER_REFUSED_CERT', 'PEER_UNREACHABLE']).toContain(err.code);
        expect(err.message).toMatch(/capabilities/);
        expect(err.message).toMatch(/nothing was kept/);
        expect(err.message).toMatch(/token is spent/);
        expect((err as unknown as { remediation: string }).remediation).toContain(`grant token ${grant.id} --reenroll`);
        expect(proxy.accepted).toBeGreaterThanOrEqual(3);
        expect((await home.admin.listPeers()).items.map((p) => p.name)).toEqual(peersBefore);
        await expect(home.admin.getPeer('work-broken')).rejects.toMatchObject({ status: 404 });
        const { audit_log: _a, ...countsAfter } = await rowCounts(home.gateway.storage);
        const { audit_log: _b, ...rest } = countsBefore;
        expect(countsAfter).toEqual(rest);
        // the token was spent: the grant is active on work; a re-enrollment token recovers
        expect((await h.work.admin.getGrant(grant.id)).status).toBe('active');
        const again = await h.work.admin.createToken(grant.id, { reenroll: true });
        const peer = await home.admin.addPeer({ enrollmentUrl: again.enrollmentUrl, caPin: again.caPin, name: 'work-broken' });
        expect(peer).toMatchObject({ state: 'active', capabilities: expect.objectContaining({ server: 'work' }) });
        // the body is the contract's PeerRemoved
        expect(peerRemovedSchema.parse(await home.admin.removePeer('work-broken'))).toEqual({ name: 'work-broken', removed: true });
      } finally {
        await proxy.close();
      }
    });

    it("revoke on work → home's peer becomes revoked (our serial found on work's CRL) and its cache is flushed", async () => {
      const r = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work-r' });
      const q: QueryRequest = { verb: 'list', resource: 'notes', source: 'federated:work-r', limit: 4 };
      await home.admin.query(q);
      expect((await home.admin.query(q)).sources[0]).toMatchObject({ ok: true, cached: true });
      await h.work.admin.revokeGrant(r.grant.id, 'test');
      // search is never cached: it goes out, is refused at the handshake, and the CRL tells why
      const s = await home.admin.query({ verb: 'search', resource: 'notes', query: 'note', source: 'federated:work-r' });
      expect(s).toMatchObject({ partial: true, items: [], sources: [{ source: 'federated:work-r', ok: false, error: { code: 'GRANT_REVOKED' } }] });
      const peer = await home.admin.getPeer('work-r');
      expect(peer).toMatchObject({ state: 'revoked', circuit: 'closed', lastFailureAt: expect.any(String) });
      expect(peer.lastError).toMatch(/CRL/);
      expect((await home.gateway.storage.peers.get('work-r'))?.state).toBe('revoked');
      // the cached list is gone; a revoked peer is not called again
      await shipped(h.work);
      const workRows = (await h.work.admin.audit({ grant: r.grant.id, limit: 10_000 })).items.length;
      const l = await home.admin.query(q);
      expect(l).toMatchObject({ partial: true, items: [], sources: [{ ok: false, cached: false, error: { code: 'GRANT_REVOKED' } }] });
      await sleep(200);
      await shipped(h.work);
      expect((await h.work.admin.audit({ grant: r.grant.id, limit: 10_000 })).items.length).toBe(workRows);
      // `all` leaves the revoked peer out; doctor is red about it
      const all = await home.admin.query({ verb: 'list', resource: 'notes', source: 'all', asUser: 'alice', limit: 4 });
      expect(all.sources.map((x) => x.source)).toEqual(['local', 'federated:work']);
      const doctor = await home.admin.doctor();
      expect(doctor.checks.find((c) => c.id === 'peers.reachable')).toMatchObject({ status: 'red', message: expect.stringContaining('work-r: revoked') });
      await home.admin.removePeer('work-r');
      expect((await home.admin.doctor()).checks.find((c) => c.id === 'peers.reachable')).toMatchObject({ status: 'green' });
    });
  });

  describe('a peer that fails: the circuit breaker and the offline signal', () => {
    const COOLDOWN = 1_500;
    let h: FederationHarness;
    let home: TestGateway;
    let proxy: TcpProxy;
    const logs: Array<{ level: number; msg: string; peer?: string }> = [];
    const offline = () => logs.filter((l) => l.msg === 'federation offline: work');
    const online = () => logs.filter((l) => l.msg === 'federation back online: work');
    let limit = 1;
    const listAll = () => home.admin.query({ verb: 'list', resource: 'tasks', source: 'all', asUser: 'alice', limit: limit++ });

    beforeAll(async () => {
      const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) });
      h = await startFederation({
        location: () => engine.location(),
        home: { logger, peerConnections: { cooldownMs: COOLDOWN, requestTimeoutMs: 2_000, crlTimeoutMs: 1_000, deadlineMs: 3_000 } },
      });
      home = h.homes[0]!;
      await home.admin.seed(HOME_SEED);
      // home reaches work only through a TCP proxy that counts every connection attempt
      proxy = await startTcpProxy(h.work.gateway.federationUrl);
      const grant = await h.work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: WIDE } as never);
      const { enrollmentUrl, caPin } = await h.work.admin.createToken(grant.id);
      await home.admin.addPeer({ enrollmentUrl: proxy.via(enrollmentUrl), caPin, name: 'work' });
    });
    afterAll(async () => {
      await h?.close();
      await proxy?.close();
    });

    it('5 consecutive failures open the circuit; while open no connection is even attempted; after the cooldown a probe closes it', async (ctx) => {
      expect((await listAll()).partial).toBe(false);
      proxy.mode = 'reset';
      proxy.cut();
      const failingFrom = proxy.accepted;
      for (let i = 0; i < 5; i++) {
        const r = await listAll();
        expect(r.partial).toBe(true);
        expect(ids(r.items, 'local')).toEqual(['h-a1', 'h-t1']);
        expect(r.sources[1]).toMatchObject({ source: 'federated:work', ok: false });
        expect(['PEER_REFUSED_CERT', 'PEER_UNREACHABLE']).toContain(r.sources[1]?.error?.code);
      }
      expect(await home.admin.getPeer('work')).toMatchObject({ state: 'active', circuit: 'open' });
      const status = await home.admin.status();
      expect(status.peers).toEqual([expect.objectContaining({ name: 'work', state: 'active', circuit: 'open', offlineSince: expect.any(String) })]);
      expect((await home.admin.doctor()).checks.find((c) => c.id === 'peers.reachable')).toMatchObject({ status: 'yellow', message: expect.stringContaining('work: offline since') });

      // open: fail fast, zero connection attempts
      const attempts = proxy.accepted;
      await ctx.annotate(`[${engine.name}] 5 failing calls made ${attempts - failingFrom} connection attempts (the verb, then the CRL check)`);
      for (let i = 0; i < 4; i++) {
        const r = await listAll();
        expect(r.sources[1]).toMatchObject({ ok: false, error: { code: 'CIRCUIT_OPEN' } });
        expect(r.sources[1]!.latencyMs).toBeLessThan(100);
      }
      expect(proxy.accepted).toBe(attempts);
      await ctx.annotate(`[${engine.name}] 4 calls while open: 0 connection attempts`);
      expect(offline()).toHaveLength(1);
      expect(online()).toHaveLength(0);

      // after the cooldown: one probe, the peer answers, the circuit closes
      proxy.mode = 'forward';
      await sleep(COOLDOWN + 100);
      expect((await home.admin.getPeer('work')).circuit).toBe('half_open');
      const back = await listAll();
      expect(back.partial).toBe(false);
      expect(ids(back.items, 'federated:work')).toEqual(['a-p1', 'a-p2', 't1-1', 't2-1']);
      expect(proxy.accepted).toBeGreaterThan(attempts);
      expect(await home.admin.getPeer('work')).toMatchObject({ state: 'active', circuit: 'closed' });
      expect(online()).toHaveLength(1);
      expect(offline()).toHaveLength(1);
      expect((await home.admin.status()).peers?.[0]).toMatchObject({ circuit: 'closed', offlineSince: null });
      expect((await home.admin.doctor()).checks.find((c) => c.id === 'peers.reachable')).toMatchObject({ status: 'green' });
      const metrics = await home.admin.metrics();
      expect(metrics).toMatch(/mosaic_peer_requests_total\{outcome="circuit_open",peer="work"\} 4/);
    });

    it('work stopped: local rows still come, partial, exactly one offline signal, and the peer stays active (not revoked)', async () => {
      const offlineBefore = offline().length;
      await h.work.stop();
      for (let i = 0; i < 3; i++) {
        const r = await listAll();
        expect(r.partial).toBe(true);
        expect(ids(r.items)).toEqual(['h-a1', 'h-t1']);
        expect(r.items.every((item) => item._source === 'local')).toBe(true);
        expect(r.sources).toEqual([expect.objectContaining({ source: 'local', ok: true }), expect.objectContaining({ source: 'federated:work', ok: false })]);
      }
      expect(offline().length - offlineBefore).toBe(1);
      const peer = await home.admin.getPeer('work');
      expect(peer.state).toBe('active');
      expect(peer.lastFailureAt).not.toBeNull();
      expect(peer.lastError).toMatch(/^work: /);
      expect((await home.admin.status()).peers?.[0]).toMatchObject({ name: 'work', state: 'active', offlineSince: expect.any(String) });
    });
  });
});
