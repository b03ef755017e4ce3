// Acceptance, milestone M3: list and get over mTLS between two real gateways, the scope
// intersected with the subject's native rights, fan-out and merge on the requesting side
// (docs/acceptance.md). Work serves; home reads with `mosaic federation query`. M3.5 and M3.6
// (certificates at the TLS layer) are in external-client.test.ts.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  acceptanceHome,
  auditRows,
  createGrant,
  enrollWithOpenssl,
  fedCurl,
  filesContaining,
  ids,
  issueToken,
  link,
  query,
  rowCounts,
  seed,
  startGateway,
  until,
  type Gateway,
} from '../test-support/acceptance.js';
import { HOME_SEED, WORK_SEED, WORK_TASKS_OF } from '../test-support/acceptance-seed.js';

const home = acceptanceHome('mosaic-acc-m3-');
let work: Gateway;
let homeGw: Gateway;
/** Alice's grant: tasks and notes, never credentials or API keys. */
const ALICE_SCOPE = { resources: ['tasks', 'notes'], excluded_resources: ['credentials', 'api_keys'], max_rows_per_query: 500 };

beforeAll(async () => {
  [work, homeGw] = await Promise.all([startGateway(home, 'work'), startGateway(home, 'home')]);
  seed(work, WORK_SEED);
  seed(homeGw, HOME_SEED);
  link(work, homeGw, { user: 'alice', scope: ALICE_SCOPE, name: 'work' });
  link(work, homeGw, { user: 'bob', scope: { resources: ['tasks', 'notes'] }, name: 'work-bob', localUser: 'bob' });
}, 60_000);

afterAll(async () => {
  await Promise.all([work?.stop(), homeGw?.stop()]);
  home.cleanup();
});

describe('M3 — list and get through the scope, across two gateways', () => {
  it("M3.1 home lists work's tasks: exactly the subject user's rows (personal and their teams') ∩ the scope", () => {
    const tasks = query(homeGw, 'list', 'tasks', undefined, { as: 'alice', source: 'federated:work' });
    expect(tasks.code).toBe(0);
    expect(tasks.answer.partial).toBe(false);
    expect(ids(tasks.answer)).toEqual(WORK_TASKS_OF.alice);
    expect(tasks.answer.items.every((i) => i._source === 'federated:work')).toBe(true);
    // notes are in the scope too: alice's own and her team's, never bob's
    expect(ids(query(homeGw, 'list', 'notes', undefined, { as: 'alice', source: 'federated:work' }).answer)).toEqual(['n-a1', 'n-t1']);
    // memory is outside the scope: refused, whatever alice could read natively
    const memory = query(homeGw, 'list', 'memory', undefined, { as: 'alice', source: 'federated:work' });
    expect(memory.answer.items).toEqual([]);
    expect(memory.answer.sources[0]).toMatchObject({ ok: false, error: { code: 'RESOURCE_DENIED' } });
    const human = homeGw.cli(['federation', 'query', 'list', 'tasks', '--as', 'alice', '--source', 'federated:work', '--limit', '3']);
    expect(human.code).toBe(0);
    expect(human.stdout.split('\n')[0]).toMatch(/^SOURCE\s+ID\s+TITLE$/);
    expect(human.stdout).toMatch(/^federated:work\s+a-p1\s+Ship the release notes$/m);
  });

  it('M3.2 include_teams: [T1] leaves out T2 rows the subject sees natively (explain says which rule)', () => {
    const { grant } = link(work, homeGw, { user: 'alice', scope: { resources: ['tasks'], filters: { tasks: { include_teams: ['T1'] } } }, name: 'work-t1' });
    const r = query(homeGw, 'list', 'tasks', undefined, { as: 'alice', source: 'federated:work-t1' });
    expect(r.code).toBe(0);
    expect(ids(r.answer)).toEqual(['a-p1', 'a-p2', 't1-1']);
    expect(ids(r.answer)).not.toContain('t2-1');
    const explain = work.cli(['federation', 'grant', 'explain', grant.id.slice(0, 8), '--resource', 'tasks']);
    expect(explain.code).toBe(0);
    expect(explain.stdout).toMatch(/^t2-1\s+Operations rota for the ship week\s+no\s+filter\.team$/m);
    expect(explain.stdout).toMatch(/^t1-1\s+.*\s+yes\s+ok$/m);
  });

  it('M3.3 get of a credential is 403 RESOURCE_DENIED when credentials are excluded — for an existing id and a made-up one alike', () => {
    for (const id of ['cred-a1', 'cred-does-not-exist']) {
      const r = query(homeGw, 'get', 'credentials', id, { as: 'alice', source: 'federated:work' });
      expect(r.code).toBe(1);
      expect(r.answer.items).toEqual([]);
      expect(r.answer.sources).toEqual([expect.objectContaining({ source: 'federated:work', ok: false, error: expect.objectContaining({ code: 'RESOURCE_DENIED' }) })]);
      expect(JSON.stringify(r.answer)).not.toMatch(/hunter2|ship deploy password/);
    }
    const human = homeGw.cli(['federation', 'query', 'get', 'credentials', 'cred-a1', '--as', 'alice', '--source', 'federated:work']);
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/^warning: federated:work failed \(RESOURCE_DENIED\)/m);
    expect(human.stdout + human.stderr).not.toMatch(/hunter2/);
    // work judged it before touching any row: two 403 rows in its audit trail
    const grantId = homeGw.json<{ grantId: string }>(['federation', 'peer', 'show', 'work']).grantId;
    return until(() => {
      const rows = auditRows(work, '--grant', grantId, '--verb', 'get').filter((r) => r.resource === 'credentials');
      return rows.length >= 2 && rows.every((r) => r.outcome === 'denied' && r.statusCode === 403 && r.rowsOut === 0);
    }, 'two denied audit rows for the credential gets').then(() => undefined);
  });

  it("M3.4 cross-user isolation: a query as alice cannot go through bob's peer (PEER_NOT_OWNED), and each grant's certificate reads only its own subject's rows", () => {
    const through = homeGw.cli(['federation', 'query', 'list', 'tasks', '--as', 'alice', '--source', 'federated:work-bob', '--json']);
    expect(through.code).toBe(1);
    expect(JSON.parse(through.stderr)).toMatchObject({ error: { code: 'PEER_NOT_OWNED' } });
    expect(ids(query(homeGw, 'list', 'tasks', undefined, { as: 'bob', source: 'federated:work-bob' }).answer)).toEqual(WORK_TASKS_OF.bob);
    // bob's grant cannot reach alice's personal row: the same answer as a row that does not exist
    const alices = query(homeGw, 'get', 'tasks', 'a-p1', { as: 'bob', source: 'federated:work-bob' });
    const missing = query(homeGw, 'get', 'tasks', 'no-such-task', { as: 'bob', source: 'federated:work-bob' });
    const shape = (a: typeof alices) => ({ code: a.code, items: a.answer.items, sources: a.answer.sources.map((x) => ({ ...x, latencyMs: 0 })), stderr: a.stderr.replace(/a-p1|no-such-task/g, '<id>') });
    expect(alices.code).toBe(1);
    expect(alices.answer.items).toEqual([]);
    expect(shape(alices)).toEqual(shape(missing));
    // an external client holding alice's certificate has no way to name another subject: the certificate decides
    const grant = createGrant(work, { user: 'alice', peer: 'm3-4', scope: ALICE_SCOPE });
    const client = enrollWithOpenssl(work, issueToken(work, grant.id).enrollmentUrl, join(home.dir, 'm3-4'));
    const bobs = fedCurl(work, client, 'POST', '/get/tasks/b-p1', {}, ['-H', 'x-mosaic-subject: bob']);
    expect(bobs.status).toBe(404);
    expect(bobs.text).not.toContain("Bob's private review");
    const listed = fedCurl(work, client, 'POST', '/list/tasks', { asUser: 'bob' });
    expect(listed.status).toBe(400); // unknown body keys are refused, never taken as an identity
    expect((fedCurl(work, client, 'POST', '/list/tasks', {}).body as { items: Array<{ id: string }> }).items.map((i) => i.id).sort()).toEqual(WORK_TASKS_OF.alice);
  });

  it('M3.7 max_rows_per_query caps an answer; a client asking for more pages through it with the cursor', () => {
    link(work, homeGw, { user: 'alice', scope: { resources: ['tasks'], max_rows_per_query: 2 }, name: 'work-cap' });
    const capped = query(homeGw, 'list', 'tasks', undefined, { as: 'alice', source: 'federated:work-cap', limit: 100 });
    expect(capped.code).toBe(0);
    expect(capped.answer.items).toHaveLength(2);
    // the same grant shape, read page by page by an external client
    const grant = createGrant(work, { user: 'alice', peer: 'm3-7', scope: { resources: ['tasks'], max_rows_per_query: 2 } });
    const client = enrollWithOpenssl(work, issueToken(work, grant.id).enrollmentUrl, join(home.dir, 'm3-7'));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = fedCurl(work, client, 'POST', '/list/tasks', cursor === null ? { limit: 100 } : { limit: 100, cursor });
      expect(page.status).toBe(200);
      const body = page.body as { items: Array<{ id: string }>; nextCursor: string | null };
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...body.items.map((i) => i.id));
      cursor = body.nextCursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(2);
    expect(seen.sort()).toEqual(WORK_TASKS_OF.alice);
    // a forged cursor is refused, not followed
    expect(fedCurl(work, client, 'POST', '/list/tasks', { cursor: 'forged.cursor' }).status).toBe(400);
  });

  it("M3.8 --source all merges home's own rows and work's, each tagged _source local or federated:<peer>", () => {
    const r = query(homeGw, 'list', 'tasks', undefined, { as: 'bob', source: 'all' });
    expect(r.code).toBe(0);
    expect(r.answer.partial).toBe(false);
    expect(r.answer.sources.map((s) => [s.source, s.ok])).toEqual([
      ['local', true],
      ['federated:work-bob', true],
    ]);
    expect(ids(r.answer, 'local')).toEqual(['h-b1']);
    expect(ids(r.answer, 'federated:work-bob')).toEqual(WORK_TASKS_OF.bob);
    expect(r.answer.items.every((i) => i._source === 'local' || i._source === 'federated:work-bob')).toBe(true);
    const human = homeGw.cli(['federation', 'query', 'list', 'tasks', '--as', 'bob', '--source', 'all', '--limit', '99']);
    expect(human.stdout).toMatch(/^local\s+h-b1\s+Home: fix the bike$/m);
    expect(human.stdout).toMatch(/^federated:work-bob\s+b-p1\s+Bob's private review$/m);
  });

  it("M3.9 federation answers never persist on home: every table's row count is unchanged after list/get/search round-trips (audit aside), and no byte of work's rows is in home's data dir", async () => {
    const withoutAudit = (c: Record<string, number>) => Object.fromEntries(Object.entries(c).filter(([t]) => !t.startsWith('audit_log')));
    const before = rowCounts(homeGw);
    const auditBefore = auditRows(homeGw).length;
    const answers = [
      query(homeGw, 'list', 'tasks', undefined, { as: 'alice', source: 'federated:work', limit: 37 }),
      query(homeGw, 'get', 'tasks', 'a-p1', { as: 'alice', source: 'federated:work' }),
      query(homeGw, 'search', 'notes', 'checklist', { as: 'alice', source: 'federated:work' }),
    ];
    for (const a of answers) {
      expect(a.code).toBe(0);
      expect(a.answer.items.length).toBeGreaterThan(0);
    }
    expect(withoutAudit(rowCounts(homeGw))).toEqual(withoutAudit(before));
    // home's own audit trail holds one row per query (hashes, not rows)
    const mine = await until(() => {
      const rows = auditRows(homeGw);
      return rows.length >= auditBefore + 3 ? rows : undefined;
    }, "home's audit rows for the three queries");
    expect(mine.length - auditBefore).toBeGreaterThanOrEqual(3);
    for (const marker of ['Ship the release notes', 'Engineering roadmap', 'Ship checklist', 'draft in the wiki']) expect(filesContaining(homeGw.dataDir, marker)).toEqual([]);
  });

  it('M3.10 a scope listing a team the subject is not in yields none of its rows: [] though the scope allows T3', () => {
    const { grant } = link(work, homeGw, { user: 'alice', scope: { resources: ['tasks'], filters: { tasks: { include_teams: ['T3'], include_personal: false } } }, name: 'work-t3' });
    const r = query(homeGw, 'list', 'tasks', undefined, { as: 'alice', source: 'federated:work-t3' });
    expect(r.code).toBe(0);
    expect(r.answer.partial).toBe(false);
    expect(r.answer.items).toEqual([]);
    const human = homeGw.cli(['federation', 'query', 'list', 'tasks', '--as', 'alice', '--source', 'federated:work-t3', '--limit', '5']);
    expect(human.stdout).toBe('');
    expect(human.stderr).toBe('no tasks at federated:work-t3\n');
    expect(work.cli(['federation', 'grant', 'explain', grant.id, '--resource', 'tasks']).stdout).toMatch(/^t3-1\s+Sales pipeline review\s+no\s+rbac$/m);
  });
});
