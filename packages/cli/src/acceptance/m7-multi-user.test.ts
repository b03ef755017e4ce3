// Acceptance, milestone M7: three employees of work, each reading from their own requesting
// gateway (home-e1, home-e2, home-e3) — isolation under concurrency, team-scoped grants, the
// audit trail per grant, the scope editor round trip, the audit archive (docs/acceptance.md).
// M7.6 (a revoked grant's certificate on any route) is in external-client.test.ts.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Grant } from '@mosaic/federation-core';
import { acceptanceHome, auditRows, BIN, drained, ids, link, query, queryAsync, seed, startGateway, withStore, type Gateway } from '../test-support/acceptance.js';

const SEED = {
  users: [
    { id: 'e1', name: 'Employee One' },
    { id: 'e2', name: 'Employee Two' },
    { id: 'e3', name: 'Employee Three' },
  ],
  teams: [
    { id: 'T-eng', name: 'Engineering' },
    { id: 'T-all', name: 'Everyone' },
  ],
  memberships: [
    { teamId: 'T-eng', userId: 'e1' },
    { teamId: 'T-eng', userId: 'e2' },
    { teamId: 'T-all', userId: 'e1' },
    { teamId: 'T-all', userId: 'e2' },
    { teamId: 'T-all', userId: 'e3' },
  ],
  resources: {
    tasks: [
      { id: 'e1-p', ownerUserId: 'e1', title: 'E1 personal: salary review' },
      { id: 'e2-p', ownerUserId: 'e2', title: 'E2 personal: doctor visit' },
      { id: 'e3-p', ownerUserId: 'e3', title: 'E3 personal: visa renewal' },
      { id: 'eng-1', teamId: 'T-eng', title: 'Engineering: review the deploy' },
      { id: 'all-1', teamId: 'T-all', title: 'Everyone: review the handbook' },
    ],
    notes: [
      { id: 'e1-n', ownerUserId: 'e1', title: 'E1 review notes' },
      { id: 'e2-n', ownerUserId: 'e2', title: 'E2 review notes' },
      { id: 'e3-n', ownerUserId: 'e3', title: 'E3 review notes' },
    ],
  },
};

/** What each employee's gateway may read of work, by their grants below. */
const VISIBLE: Record<string, { tasks: string[]; notes: string[] }> = {
  e1: { tasks: ['all-1', 'e1-p', 'eng-1'], notes: ['e1-n'] },
  // a team-scoped grant: the Engineering team's tasks only, no personal rows, no notes
  e2: { tasks: ['eng-1'], notes: [] },
  e3: { tasks: ['all-1', 'e3-p'], notes: ['e3-n'] },
};
const SCOPES: Record<string, unknown> = {
  e1: { resources: ['tasks', 'notes'], rate_limit_per_minute: 6000 },
  e2: { resources: ['tasks'], filters: { tasks: { include_teams: ['T-eng'], include_personal: false } }, rate_limit_per_minute: 6000 },
  e3: { resources: ['tasks', 'notes'], rate_limit_per_minute: 6000 },
};
const EMPLOYEES = ['e1', 'e2', 'e3'] as const;
const PERSONAL = /e[123]-[pn]/;

const home = acceptanceHome('mosaic-acc-m7-');
let work: Gateway;
const homes: Record<string, Gateway> = {};
const grants: Record<string, Grant> = {};

beforeAll(async () => {
  const started = await Promise.all([startGateway(home, 'work'), ...EMPLOYEES.map((e) => startGateway(home, `home-${e}`))]);
  work = started[0]!;
  EMPLOYEES.forEach((e, i) => (homes[e] = started[i + 1]!));
  seed(work, SEED);
  for (const e of EMPLOYEES) {
    seed(homes[e]!, { users: [{ id: e, name: e }] });
    grants[e] = link(work, homes[e]!, { user: e, scope: SCOPES[e], name: 'work' }).grant;
  }
}, 60_000);

afterAll(async () => {
  await Promise.all([work?.stop(), ...Object.values(homes).map((h) => h.stop())]);
  home.cleanup();
});

describe('M7 — three employees, three requesting gateways, one serving gateway', () => {
  it("M7.1 each employee's gateway sees only that employee's data from work", () => {
    for (const e of EMPLOYEES) {
      const tasks = query(homes[e]!, 'list', 'tasks', undefined, { as: e, source: 'federated:work' });
      expect(tasks.code, e).toBe(0);
      expect(ids(tasks.answer), e).toEqual(VISIBLE[e]!.tasks);
      const personal = ids(tasks.answer).filter((id) => PERSONAL.test(id));
      expect(personal.every((id) => id.startsWith(`${e}-`)), `${e} saw ${personal.join()}`).toBe(true);
    }
  });

  it("M7.2 a team-scoped grant returns the team's rows and cannot reach another employee's personal row (nor, with include_personal false, its own)", () => {
    const e2 = homes.e2!;
    expect(ids(query(e2, 'list', 'tasks', undefined, { as: 'e2', source: 'federated:work', limit: 50 }).answer)).toEqual(['eng-1']);
    for (const id of ['e1-p', 'e2-p', 'e3-p', 'all-1']) {
      const r = query(e2, 'get', 'tasks', id, { as: 'e2', source: 'federated:work' });
      expect(r.code, id).toBe(1);
      expect(r.answer.items, id).toEqual([]);
      expect(r.answer.sources[0], id).toMatchObject({ ok: true }); // a plain "not found", like a row that does not exist
    }
    const search = query(e2, 'search', 'tasks', 'review', { as: 'e2', source: 'federated:work' });
    expect(ids(search.answer)).toEqual(['eng-1']); // e1's "salary review" and everyone's "review the handbook" stay out
    expect(query(e2, 'list', 'notes', undefined, { as: 'e2', source: 'federated:work' }).answer.sources[0]).toMatchObject({ ok: false, error: { code: 'RESOURCE_DENIED' } });
    // the same team row reaches e1 too, through e1's own grant
    expect(ids(query(homes.e1!, 'get', 'tasks', 'eng-1', { as: 'e1', source: 'federated:work' }).answer)).toEqual(['eng-1']);
  });

  it('M7.3 concurrent sessions of the three employees interleave without one row leaking to another', async () => {
    await drained(work); // the rows of earlier requests are all in: count from here
    const before = Object.fromEntries(EMPLOYEES.map((e) => [e, auditRows(work, '--grant', grants[e]!.id).length]));
    const runs: Array<Promise<{ e: string; kind: string; got: string[]; ok: boolean }>> = [];
    for (let round = 0; round < 6; round++) {
      for (const e of EMPLOYEES) {
        // every call reaches work: search is never cached, and each list asks for a different limit
        runs.push(queryAsync(homes[e]!, 'list', 'tasks', undefined, { as: e, source: 'federated:work', limit: 200 + round }).then((r) => ({ e, kind: 'list', got: ids(r.answer), ok: r.code === 0 && !r.answer.partial })));
        runs.push(queryAsync(homes[e]!, 'search', 'tasks', 'review', { as: e, source: 'federated:work' }).then((r) => ({ e, kind: 'search', got: ids(r.answer), ok: r.code === 0 && !r.answer.partial })));
      }
    }
    const results = await Promise.all(runs);
    for (const r of results) {
      expect(r.ok, `${r.e} ${r.kind}`).toBe(true);
      expect(r.got.every((id) => VISIBLE[r.e]!.tasks.includes(id)), `${r.e} ${r.kind} got ${r.got.join()}`).toBe(true);
      if (r.kind === 'list') expect(r.got).toEqual(VISIBLE[r.e]!.tasks);
    }
    // 12 requests per employee, each one row on that employee's grant
    await drained(work);
    expect(Object.fromEntries(EMPLOYEES.map((e) => [e, auditRows(work, '--grant', grants[e]!.id).length - before[e]!]))).toEqual({ e1: 12, e2: 12, e3: 12 });
  });

  it('M7.4 the audit trail holds one trail per grant, with no row attributed to the wrong subject or peer', () => {
    const rows = auditRows(work).filter((r) => r.grantId !== null && ['capabilities', 'list', 'get', 'search'].includes(r.verb));
    expect(rows.length).toBeGreaterThanOrEqual(3 * 13);
    for (const e of EMPLOYEES) {
      const trail = rows.filter((r) => r.grantId === grants[e]!.id);
      expect(trail.length, e).toBeGreaterThanOrEqual(13);
      for (const r of trail) expect(r, e).toMatchObject({ subjectUserId: e, peer: `home-${e}` });
      // the CLI filters by peer name to the same trail
      const byPeer = auditRows(work, '--peer', `home-${e}`).filter((r) => r.grantId !== null && ['capabilities', 'list', 'get', 'search'].includes(r.verb));
      expect(byPeer.map((r) => r.id).sort()).toEqual(trail.map((r) => r.id).sort());
    }
    expect(rows.every((r) => EMPLOYEES.some((e) => r.grantId === grants[e]!.id))).toBe(true);
  });

  it("M7.5 the scope editor round trip: grant edit in $EDITOR on a terminal, save, and the employee's next request already follows the new scope", () => {
    const e3 = homes.e3!;
    expect(ids(query(e3, 'search', 'tasks', 'review', { as: 'e3', source: 'federated:work' }).answer)).toEqual(['all-1']);
    // a person's editor: it rewrites the scope file it is given (tasks dropped, notes kept)
    const editor = join(home.dir, 'editor.sh');
    writeFileSync(editor, `#!/bin/sh\nprintf '%s' '{"resources":["notes"],"rate_limit_per_minute":6000}' > "$1"\n`, { mode: 0o700 });
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, BIN, 'federation', 'grant', 'edit', grants.e3!.id.slice(0, 8), '--data-dir', work.dataDir].map(quote).join(' ');
    // util-linux `script` gives the command a terminal of its own, as a person's shell has
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { env: { ...work.env, EDITOR: editor, VISUAL: '' }, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/now lets the peer read notes/);
    expect(work.json<Grant>(['federation', 'grant', 'show', grants.e3!.id]).scope.resources).toEqual(['notes']);
    const tasks = query(e3, 'search', 'tasks', 'review', { as: 'e3', source: 'federated:work' });
    expect(tasks.answer.sources[0]).toMatchObject({ ok: false, error: { code: 'RESOURCE_DENIED' } });
    expect(ids(query(e3, 'search', 'notes', 'review', { as: 'e3', source: 'federated:work' }).answer)).toEqual(['e3-n']);
  });

  it('M7.7 audit rows older than 90 days move to the archive and stay readable with an explicit --since, and verifiable', () => {
    // a row as if written 100 days ago (no time travel for a running gateway: aged in its store)
    const oldAt = new Date(Date.now() - 100 * 86_400_000).toISOString();
    withStore(work, (db) =>
      db
        .prepare(
          `INSERT INTO audit_log (id, at, request_id, verb, outcome, status_code, rows_out, bytes_out, latency_ms, peer, grant_id, subject_user_id, resource)
           VALUES ('acceptance-old-row', ?, 'req-old', 'list', 'allowed', 200, 2, 120, 1.5, 'home-e1', ?, 'e1', 'tasks')`,
        )
        .run(oldAt, grants.e1!.id),
    );
    const dry = work.cli(['federation', 'audit', 'archive', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^would archive 1 audit row older than 90d .*nothing changed \(dry run\)$/m);
    const moved = work.cli(['federation', 'audit', 'archive']);
    expect(moved.code).toBe(0);
    expect(moved.stdout).toMatch(/^archived 1 audit row older than 90d/);
    expect(withStore(work, (db) => db.prepare("SELECT count(*) AS n FROM audit_log WHERE id = 'acceptance-old-row'").get())).toEqual({ n: 0 });
    expect(withStore(work, (db) => db.prepare("SELECT count(*) AS n FROM audit_log_archive WHERE id = 'acceptance-old-row'").get())).toEqual({ n: 1 });
    // the explicit historical query finds it, with its attribution intact
    const historical = auditRows(work, '--since', '120d', '--grant', grants.e1!.id).find((r) => r.id === 'acceptance-old-row');
    expect(historical).toMatchObject({ at: oldAt, subjectUserId: 'e1', peer: 'home-e1', verb: 'list' });
    // the recent trail is as it was, and the chains still verify
    expect(auditRows(work, '--grant', grants.e1!.id).some((r) => r.id !== 'acceptance-old-row')).toBe(true);
    const verify = work.cli(['federation', 'audit', 'verify']);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^✔ audit chain intact/);
  });
});
