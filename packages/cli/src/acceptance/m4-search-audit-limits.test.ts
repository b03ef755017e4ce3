// Acceptance, milestone M4: search, the audit trail, per-grant rate limits (docs/acceptance.md).
// Work serves; home searches with `mosaic federation query`; work's admin reads the trail with
// `mosaic federation audit`; an external client (curl) spends a grant's rate limit.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRow, Grant } from '@mosaic/federation-core';
import {
  acceptanceHome,
  adminGet,
  auditRows,
  createGrant,
  curl,
  enrollWithOpenssl,
  fedCurl,
  filesContaining,
  ids,
  issueToken,
  link,
  mosaicAsync,
  query,
  seed,
  sleep,
  startGateway,
  until,
  type CurlClient,
  type Gateway,
} from '../test-support/acceptance.js';
import { HOME_SEED, WORK_SEED } from '../test-support/acceptance-seed.js';

const home = acceptanceHome('mosaic-acc-m4-');
let work: Gateway;
let homeGw: Gateway;
let grant: Grant;
/** Alice's grant for home: tasks only (notes not listed; credentials and API keys excluded), a high rate limit. */
const SCOPE = { resources: ['tasks'], excluded_resources: ['credentials', 'api_keys'], max_rows_per_query: 500, rate_limit_per_minute: 6000 };

beforeAll(async () => {
  [work, homeGw] = await Promise.all([startGateway(home, 'work'), startGateway(home, 'home')]);
  seed(work, WORK_SEED);
  seed(homeGw, HOME_SEED);
  grant = link(work, homeGw, { user: 'alice', scope: SCOPE, name: 'work' }).grant;
}, 60_000);

afterAll(async () => {
  await Promise.all([work?.stop(), homeGw?.stop()]);
  home.cleanup();
});

/** A grant and an external client (openssl key, curl enrollment) for it. */
function client(name: string, scope: unknown): { grant: Grant; client: CurlClient } {
  const g = createGrant(work, { user: 'alice', peer: name, scope });
  return { grant: g, client: enrollWithOpenssl(work, issueToken(work, g.id).enrollmentUrl, join(home.dir, name)) };
}

/** Work's audit rows of the main grant through the admin API (what `audit --json` prints), polled every 25 ms. */
async function rowsWithin(ms: number, want: (rows: AuditRow[]) => boolean): Promise<{ rows: AuditRow[]; ms: number }> {
  const started = Date.now();
  for (;;) {
    const rows = (await adminGet<{ items: AuditRow[] }>(work, `/api/admin/audit?grant=${grant.id}&limit=10000`)).items;
    if (want(rows) || Date.now() - started > ms) return { rows, ms: Date.now() - started };
    await sleep(25);
  }
}

describe('M4 — search, audit, rate limits', () => {
  it('M4.1 search returns ranked hits only from the resources the grant allows', () => {
    const r = query(homeGw, 'search', 'tasks', 'ship', { as: 'alice', source: 'federated:work' });
    expect(r.code).toBe(0);
    expect(ids(r.answer)).toEqual(['a-p1', 't1-1', 't2-1']); // alice's tasks mentioning "ship"; never bob's or carol's
    const scores = r.answer.items.map((i) => i._score!);
    expect(scores.every((s) => typeof s === 'number' && s > 0)).toBe(true);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    const human = homeGw.cli(['federation', 'query', 'search', 'tasks', 'ship', '--as', 'alice', '--source', 'federated:work']);
    expect(human.stdout.split('\n')[0]).toMatch(/^SOURCE\s+ID\s+SCORE TITLE$/);
    // notes are not in the scope: the same keyword finds nothing there, refused
    const notes = query(homeGw, 'search', 'notes', 'ship', { as: 'alice', source: 'federated:work' });
    expect(notes.answer.items).toEqual([]);
    expect(notes.answer.sources[0]).toMatchObject({ ok: false, error: { code: 'RESOURCE_DENIED' } });
  });

  it('M4.2 search with credentials excluded never returns a credential, even when the keyword matches its name', () => {
    const creds = query(homeGw, 'search', 'credentials', 'deploy password', { as: 'alice', source: 'federated:work' });
    expect(creds.answer.items).toEqual([]);
    expect(creds.answer.sources[0]).toMatchObject({ ok: false, error: { code: 'RESOURCE_DENIED' } });
    const keys = query(homeGw, 'search', 'api_keys', 'ship', { as: 'alice', source: 'federated:work' });
    expect(keys.answer.sources[0]).toMatchObject({ ok: false, error: { code: 'RESOURCE_DENIED' } });
    // the keyword of the credential's name, searched where it is allowed: only tasks come back
    const tasks = query(homeGw, 'search', 'tasks', 'password', { as: 'alice', source: 'federated:work' });
    expect(tasks.code).toBe(0);
    expect(tasks.answer.items).toEqual([]);
    for (const r of [creds, keys, tasks]) expect(JSON.stringify(r.answer)).not.toMatch(/hunter2|sk-live|cred-a1|k-a1/);
  });

  it('M4.3 every successful request is in the audit trail within 1 s (list, get, search: allowed, 200, rows out)', async () => {
    const before = (await rowsWithin(0, () => true)).rows.length;
    const marks = [
      query(homeGw, 'list', 'tasks', undefined, { as: 'alice', source: 'federated:work', limit: 41 }),
      query(homeGw, 'get', 'tasks', 't1-1', { as: 'alice', source: 'federated:work' }),
      query(homeGw, 'search', 'tasks', 'roadmap', { as: 'alice', source: 'federated:work' }),
    ];
    for (const m of marks) expect(m.answer.sources[0]).toMatchObject({ ok: true, cached: false });
    const { rows, ms } = await rowsWithin(5_000, (r) => r.length >= before + 3);
    expect(ms).toBeLessThanOrEqual(1_000);
    const fresh = rows.slice(0, rows.length - before);
    expect(fresh.map((r) => r.verb).sort()).toEqual(['get', 'list', 'search']);
    for (const r of fresh) expect(r).toMatchObject({ outcome: 'allowed', statusCode: 200, grantId: grant.id, peer: 'home', subjectUserId: 'alice', resource: 'tasks' });
    expect(fresh.find((r) => r.verb === 'list')!.rowsOut).toBe(4);
    // and the admin sees them with the CLI
    const table = work.cli(['federation', 'audit', '--grant', grant.id, '--limit', '3']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^(now|\d+s ago)\s+home\s+search\s+tasks\s+allowed\s+200\s/m);
  });

  it('M4.4 a denied request (403) is audited too, outcome denied', async () => {
    const r = query(homeGw, 'list', 'credentials', undefined, { as: 'alice', source: 'federated:work', limit: 3 });
    expect(r.answer.sources[0]).toMatchObject({ ok: false, error: { code: 'RESOURCE_DENIED' } });
    const row = await until(() => auditRows(work, '--grant', grant.id, '--outcome', 'denied').find((x) => x.verb === 'list' && x.resource === 'credentials'), 'the denied row');
    expect(row).toMatchObject({ outcome: 'denied', statusCode: 403, rowsOut: 0, peer: 'home', subjectUserId: 'alice' });
    const human = work.cli(['federation', 'audit', '--outcome', 'denied', '--grant', grant.id]);
    expect(human.stdout).toMatch(/^(now|\d+s ago)\s+home\s+list\s+credent…\s+denied\s+403\s+0\s/m);
  });

  it('M4.5 an audit row stores the keyed hash of the query, never the query: the search text is nowhere in either gateway’s data dir', async () => {
    const marker = `zebra${randomBytes(6).toString('hex')}`;
    const r = query(homeGw, 'search', 'tasks', `ship ${marker}`, { as: 'alice', source: 'federated:work' });
    expect(r.answer.sources[0]!.ok).toBe(true);
    const row = await until(() => auditRows(work, '--grant', grant.id, '--verb', 'search')[0], 'the search row');
    expect(row.queryHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(marker);
    // the same words searched again hash alike; other words differently (the hash is of the parameters)
    query(homeGw, 'search', 'tasks', `ship ${marker}`, { as: 'alice', source: 'federated:work' });
    query(homeGw, 'search', 'tasks', 'ship other words', { as: 'alice', source: 'federated:work' });
    const [other, again] = await until(() => {
      const rows = auditRows(work, '--grant', grant.id, '--verb', 'search');
      return rows.length >= 3 && rows[0]!.id !== row.id ? rows : undefined;
    }, 'two more search rows');
    expect(again!.queryHash).toBe(row.queryHash);
    expect(other!.queryHash).not.toBe(row.queryHash);
    await sleep(300); // let the spool ship what it holds
    expect(filesContaining(work.dataDir, marker)).toEqual([]);
    expect(filesContaining(homeGw.dataDir, marker)).toEqual([]);
  });

  it('M4.6 the 61st request in a minute is 429 RATE_LIMITED with Retry-After (default 60/min), and audited rate_limited', async () => {
    const { grant: g, client: c } = client('m4-6', { resources: ['tasks'] });
    const url = `${work.url}/api/federation/v1/capabilities`;
    // one curl process, one keep-alive connection, 61 requests
    const r = curl(['--cert', c.cert, '--key', c.key, '--cacert', c.ca, '-w', '%{http_code} %header{retry-after}\\n', ...Array.from({ length: 61 }, () => ['-o', '/dev/null', url]).flat()]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(61);
    expect(lines.slice(0, 60).every((l) => l.startsWith('200 '))).toBe(true);
    const [status, retryAfter] = lines[60]!.split(' ');
    expect(status).toBe('429');
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    const body = fedCurl(work, c, 'GET', '/capabilities');
    expect(body.status).toBe(429);
    expect(body.body).toMatchObject({ error: { code: 'RATE_LIMITED' } });
    const limited = await until(() => {
      const rows = auditRows(work, '--grant', g.id, '--outcome', 'rate_limited');
      return rows.length >= 2 ? rows : undefined;
    }, 'rate_limited rows');
    expect(limited[0]).toMatchObject({ statusCode: 429, verb: 'capabilities' });
    // another grant is not slowed by this one's burst
    expect(query(homeGw, 'search', 'tasks', 'ship', { as: 'alice', source: 'federated:work' }).answer.sources[0]!.ok).toBe(true);
  });

  it('M4.7 a per-grant override (600/min) takes effect on the next request, without a restart', async () => {
    const { grant: g, client: c } = client('m4-7', { resources: ['tasks'], rate_limit_per_minute: 2 });
    const pid = () => (JSON.parse(readFileSync(join(work.dataDir, 'gateway.json'), 'utf8')) as { pid: number }).pid;
    const pidBefore = pid();
    expect(fedCurl(work, c, 'GET', '/capabilities').status).toBe(200);
    expect(fedCurl(work, c, 'GET', '/capabilities').status).toBe(200);
    expect(fedCurl(work, c, 'GET', '/capabilities').status).toBe(429);
    const edit = work.cli(['federation', 'grant', 'edit', g.id.slice(0, 8), '--set', 'rate_limit_per_minute=600']);
    expect(edit.code).toBe(0);
    expect(edit.stdout).toMatch(/600 req\/min/);
    // 600/min refills a token every 100 ms: within a moment the next request passes, and says the new limit
    const ok = await until(
      () => {
        const a = fedCurl(work, c, 'GET', '/capabilities');
        return a.status === 200 ? a : undefined;
      },
      'a 200 after the edit',
      2_000,
      100,
    );
    expect(ok.body).toMatchObject({ rate_limit_per_minute: 600 });
    expect(pid()).toBe(pidBefore);
  });

  it('M4.8 audit writes never hold an answer: with the main audit store locked, requests are answered as fast as before and their rows ship once it is free', async () => {
    const { grant: g, client: c } = client('m4-8', { resources: ['tasks'], rate_limit_per_minute: 6000 });
    const url = `${work.url}/api/federation/v1/list/tasks`;
    const burst = (tag: string) => {
      const r = curl([
        '--cert', c.cert, '--key', c.key, '--cacert', c.ca, '-X', 'POST', '-H', 'content-type: application/json', '-d', '{}',
        '-w', '%{http_code} %{time_total}\\n',
        ...Array.from({ length: 10 }, (_, i) => ['-H', `x-request-id: ${tag}-${i}`, '-o', '/dev/null', url]).flat(),
      ]);
      expect(r.code).toBe(0);
      return r.stdout.trim().split('\n').map((l) => ({ status: Number(l.split(' ')[0]), seconds: Number(l.split(' ')[1]) }));
    };
    const rowsOf = () => auditRows(work, '--grant', g.id, '--verb', 'list').length;
    const normal = burst('normal');
    expect(normal.every((a) => a.status === 200)).toBe(true);
    await until(() => rowsOf() === 10, 'the normal burst audited');

    // another writer holds the main store's write lock (as a long migration or a stalled disk would)
    const db = new DatabaseSync(join(work.dataDir, 'gateway.db'), { timeout: 100 });
    db.exec('BEGIN IMMEDIATE');
    const locked = Date.now();
    let stalled: Array<{ status: number; seconds: number }>;
    let rowsWhileLocked: number;
    try {
      stalled = burst('stalled');
      rowsWhileLocked = rowsOf();
      await sleep(Math.max(0, 1_500 - (Date.now() - locked))); // keep it locked a while longer
    } finally {
      db.exec('COMMIT');
      db.close();
    }
    expect(stalled.every((a) => a.status === 200)).toBe(true);
    const worst = (xs: Array<{ seconds: number }>) => Math.max(...xs.map((x) => x.seconds));
    expect(worst(stalled)).toBeLessThan(Math.max(0.5, worst(normal) * 5));
    expect(rowsWhileLocked).toBe(10); // the new rows wait in the spool…
    await until(() => rowsOf() === 20, 'the stalled burst shipped after the lock', 10_000); // …and none is lost
    // the admin's CLI still answered while the store was locked (it only reads)
    expect((await mosaicAsync(work.env, ['federation', 'audit', 'verify', '--data-dir', work.dataDir])).code).toBe(0);
  });
});
