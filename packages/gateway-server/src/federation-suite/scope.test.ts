/**
 * Two real gateways: what crosses from work to home is exactly the subject's rows ∩ the
 * grant's scope, decided at request time (SECURITY.md cases 18–24).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FederationClient } from '@mosaic/federation-core';
import { describeEachEngine } from '../test-support/engines.js';
import { startFederation, type FederationHarness, type PeerLink } from '../test-support/federation.js';

const BASE_SCOPE = { resources: ['tasks', 'notes'], excluded_resources: ['credentials'], max_rows_per_query: 2 };
const WIDE = (extra: object = {}) => ({ resources: ['tasks', 'notes'], excluded_resources: [], max_rows_per_query: 100, ...extra });

/** Every id a list returns, following `nextCursor` to the end; each page checked against the cap. */
async function listAll(client: FederationClient, resource: string, cap: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 50; page++) {
    const { body } = await client.list(resource, { limit: 100, ...(cursor ? { cursor } : {}) });
    expect(body.items.length).toBeLessThanOrEqual(cap);
    expect(body._source).toBe('work');
    ids.push(...body.items.map((i) => i.id));
    if (body.nextCursor === null) return ids.sort();
    cursor = body.nextCursor;
  }
  throw new Error('list did not end');
}

const errorOf = async (p: Promise<unknown>) => (await p.then(() => null, (e: unknown) => e)) as { status: number; code: string; message: string } | null;

describeEachEngine('federation between two gateways: scope ∩ native rights', (engine) => {
  let h: FederationHarness;
  let alice: PeerLink;
  let aliceClient: FederationClient;

  beforeAll(async () => {
    h = await startFederation({ location: () => engine.location() });
    alice = await h.link({ subjectUserId: 'alice', scope: BASE_SCOPE });
    aliceClient = await alice.client();
  });
  afterAll(async () => h?.close());

  it("list returns exactly the subject's rows ∩ scope, every page capped, paged to the end with the cursor", async () => {
    expect(alice.peer).toMatchObject({ name: 'work', state: 'active', subjectUserId: 'alice', grantId: alice.grant.id });
    // alice: her personal rows and teams T1, T2 — not bob's, not carol's, not T3
    expect(await listAll(aliceClient, 'tasks', 2)).toEqual(['a-p1', 'a-p2', 't1-1', 't2-1']);
    expect(await listAll(aliceClient, 'notes', 2)).toEqual(['n-a1']);
  });

  it('include_teams: [T1] drops T2 rows the subject sees natively; personal rows only with include_personal', async () => {
    const t1 = await (await h.link({ subjectUserId: 'alice', scope: WIDE({ resources: ['tasks'], filters: { tasks: { include_teams: ['T1'], include_personal: false } } }) })).client();
    expect(await listAll(t1, 'tasks', 100)).toEqual(['t1-1']);
    const withPersonal = await (await h.link({ subjectUserId: 'alice', scope: WIDE({ resources: ['tasks'], filters: { tasks: { include_teams: ['T1'], include_personal: true } } }) })).client();
    expect(await listAll(withPersonal, 'tasks', 100)).toEqual(['a-p1', 'a-p2', 't1-1']);
  });

  it("a scope listing a team the subject is not in yields none of that team's rows", async () => {
    const t3 = await (await h.link({ subjectUserId: 'alice', scope: WIDE({ resources: ['tasks'], filters: { tasks: { include_teams: ['T1', 'T3'], include_personal: false } } }) })).client();
    expect(await listAll(t3, 'tasks', 100)).toEqual(['t1-1']);
    expect((await errorOf(t3.get('tasks', 't3-1')))?.status).toBe(404);
  });

  it('an excluded resource is 403 on list, get and search, whatever the id', async () => {
    for (const attempt of [
      aliceClient.list('credentials'),
      aliceClient.get('credentials', 'c-1'),
      aliceClient.get('credentials', 'no-such-id'),
      aliceClient.search('credentials', 'ship password'),
    ]) {
      expect(await errorOf(attempt)).toMatchObject({ status: 403, code: 'RESOURCE_DENIED' });
    }
    // a resource the scope does not list at all is outside it too
    expect(await errorOf(aliceClient.list('memory'))).toMatchObject({ status: 403, code: 'RESOURCE_DENIED' });
  });

  it('an invisible row and a missing row give the same 404, apart from the request id', async () => {
    const invisible = h.agent(await alice.credentials());
    const a = await h.call(invisible, 'POST', '/get/tasks/b-p1', { body: {} });
    const b = await h.call(invisible, 'POST', '/get/tasks/never-existed', { body: {} });
    expect(a.status).toBe(404);
    expect(b.status).toBe(404);
    const strip = (x: typeof a) => ({ ...x.body, error: { ...x.body.error, requestId: '' } });
    expect(strip(a)).toEqual(strip(b));
    expect(a.text).not.toContain('b-p1');
    expect(Object.keys(a.headers).sort()).toEqual(Object.keys(b.headers).sort());
    // and the visible one is there
    expect((await aliceClient.get('tasks', 'a-p1')).body.item.id).toBe('a-p1');
  });

  it("a certificate for bob's grant reads bob's rows and never alice's, from a second requesting gateway", async () => {
    const bobsHome = await h.startHome('bobs-home-2');
    const bob = await h.link({ subjectUserId: 'bob', scope: WIDE(), home: bobsHome });
    const bobClient = await bob.client();
    expect(await listAll(bobClient, 'tasks', 100)).toEqual(['b-p1', 't2-1']);
    expect((await errorOf(bobClient.get('tasks', 'a-p1')))?.status).toBe(404);
    const hits = (await bobClient.search('tasks', 'ship')).body.hits.map((x) => x.item.id).sort();
    expect(hits).toEqual(['b-p1', 't2-1']);
  });

  it('search ranks over visible rows only and never returns an excluded or invisible row', async () => {
    const { body } = await aliceClient.search('tasks', 'ship', { limit: 100 });
    const ids = body.hits.map((x) => x.item.id);
    expect(ids.length).toBeLessThanOrEqual(2); // the grant's row cap
    for (const id of ids) expect(['a-p1', 't1-1', 't2-1']).toContain(id);
    const wide = await (await h.link({ subjectUserId: 'alice', scope: WIDE() })).client();
    const all = (await wide.search('tasks', 'ship')).body.hits.map((x) => x.item.id).sort();
    expect(all).toEqual(['a-p1', 't1-1', 't2-1']);
    // scores descend
    const scores = (await wide.search('tasks', 'ship')).body.hits.map((x) => x.score);
    expect([...scores].sort((x, y) => y - x)).toEqual(scores);
  });

  it("a user removed from a team loses that team's rows on the very next request", async () => {
    const carolLink = await h.link({ subjectUserId: 'carol', scope: WIDE(), home: (await h.startHome('carols-home-2')) });
    const carol = await carolLink.client();
    expect(await listAll(carol, 'tasks', 100)).toEqual(['c-p1', 't3-1']);
    expect((await carol.get('tasks', 't3-1')).status).toBe(200);
    await h.work.admin.removeTeamMember('T3', 'carol');
    try {
      expect(await listAll(carol, 'tasks', 100)).toEqual(['c-p1']);
      expect((await errorOf(carol.get('tasks', 't3-1')))?.status).toBe(404);
      expect((await carol.search('tasks', 'T3')).body.hits).toEqual([]);
    } finally {
      await h.work.admin.seed({ memberships: [{ teamId: 'T3', userId: 'carol' }] });
    }
    expect(await listAll(carol, 'tasks', 100)).toEqual(['c-p1', 't3-1']);
  });

  it("a tampered cursor, another grant's cursor or a cursor for another resource is 400 CURSOR_INVALID", async () => {
    const first = await aliceClient.list('tasks');
    const cursor = first.body.nextCursor!;
    expect(cursor).toEqual(expect.any(String));
    // one character in the middle, always changed (all six bits of a middle base64url character count)
    const at = Math.floor(cursor.length / 2);
    const flipped = cursor.slice(0, at) + (cursor[at] === 'A' ? 'B' : 'A') + cursor.slice(at + 1);
    expect(flipped).not.toBe(cursor);
    expect(await errorOf(aliceClient.list('tasks', { cursor: flipped }))).toMatchObject({ status: 400, code: 'CURSOR_INVALID' });
    expect(await errorOf(aliceClient.list('notes', { cursor }))).toMatchObject({ status: 400, code: 'CURSOR_INVALID' });
    const other = await (await h.link({ subjectUserId: 'alice', scope: BASE_SCOPE })).client();
    expect(await errorOf(other.list('tasks', { cursor }))).toMatchObject({ status: 400, code: 'CURSOR_INVALID' });
    // the genuine cursor still works
    expect((await aliceClient.list('tasks', { cursor })).status).toBe(200);
  });

  it('path tricks (encoded slashes, dot segments, case games, unknown names) are 404 or 400, never rows', async () => {
    const agent = h.agent(await alice.credentials());
    for (const path of ['/list/tasks%2F..', '/list/TASKS', '/list/Tasks', '/list/tasks%00', '/list/..%2Fcredentials', '/get/tasks/..%2F..%2Fcredentials%2Fc-1', '/list/nope']) {
      const r = await h.call(agent, 'POST', path, { body: {} });
      expect([400, 403, 404], `${path} → ${r.status}`).toContain(r.status);
      expect(r.text).not.toMatch(/hunter2|a-p1|ship password/);
    }
    const r = await h.call(agent, 'POST', '/list/%63redentials', { body: {} }); // percent-encoded "credentials"
    expect(r.status).toBe(403);
  });

  it('three subjects on three requesting gateways, reading concurrently, never see a row of another', async () => {
    const links = await Promise.all(
      (['alice', 'bob', 'carol'] as const).map(async (subject) => {
        const home = await h.startHome(`${subject}-par`);
        const link = await h.link({ subjectUserId: subject, scope: WIDE({ rate_limit_per_minute: 6000 }), home });
        return { subject, client: await link.client() };
      }),
    );
    const allowed: Record<string, Set<string>> = {
      alice: new Set(['a-p1', 'a-p2', 't1-1', 't2-1', 'n-a1']),
      bob: new Set(['b-p1', 't2-1', 'n-b1']),
      carol: new Set(['c-p1', 't3-1']),
    };
    const seen = await Promise.all(
      links.flatMap(({ subject, client }) =>
        Array.from({ length: 15 }, async (_, i) => {
          const ids =
            i % 3 === 0
              ? (await client.list(i % 2 === 0 ? 'tasks' : 'notes')).body.items.map((x) => x.id)
              : i % 3 === 1
                ? (await client.search('tasks', 'ship')).body.hits.map((x) => x.item.id)
                : await client.get('tasks', ['a-p1', 'b-p1', 'c-p1'][Math.floor(i / 3) % 3]!).then(
                    (r) => [r.body.item.id],
                    () => [],
                  );
          return { subject, ids };
        }),
      ),
    );
    let rows = 0;
    for (const { subject, ids } of seen) {
      for (const id of ids) expect(allowed[subject]!.has(id), `${subject} saw ${id}`).toBe(true);
      rows += ids.length;
    }
    expect(rows).toBeGreaterThan(30);
  });
});
