/**
 * The audit archive in the store, on both engines: rows past the window move to
 * `audit_log_archive` and stay queryable (query, count, get), chains are walked across the
 * archive and the live table in one arrival order, concurrent archive runs (replicas)
 * never lose or duplicate a row, a row shipped again after it was archived is not stored
 * twice, and a large backlog moves in batches that leave the event loop free (SQLite).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { auditRowDigest, type AuditRow } from '@mosaic/federation-core';
import { verifyChain, verifyStoredChains } from '../audit/index.js';
import { describeEachEngine } from '../test-support/engines.js';
import { openStorage, type NewAuditRecord, type Storage } from './index.js';

const DAY = 86_400_000;
const NOW = Date.parse('2030-06-01T00:00:00.000Z');
const daysAgo = (d: number): string => new Date(NOW - d * DAY).toISOString();

/** One audit row, not chained. */
function auditRow(id: string, at: string, peer = 'home', prevHash: string | null = null): AuditRow {
  return {
    id,
    at,
    requestId: `req-${id}`,
    callerRequestId: null,
    traceId: null,
    grantId: null,
    peer,
    subjectUserId: 'alice',
    adminTokenName: null,
    verb: 'list',
    resource: 'tasks',
    queryHash: null,
    outcome: 'allowed',
    statusCode: 200,
    rowsOut: 1,
    bytesOut: 10,
    latencyMs: 1,
    prevHash,
  };
}

/** A spool's rows, chained as a spool chains them (each `prevHash` the digest of the row before). */
function chained(spool: string, rows: Array<{ id: string; at: string; peer?: string }>, prev: string | null = null): NewAuditRecord[] {
  const out: NewAuditRecord[] = [];
  for (const r of rows) {
    const row = auditRow(r.id, r.at, r.peer, prev);
    prev = auditRowDigest(row);
    out.push({ ...row, hash: prev, spool });
  }
  return out;
}

async function allIds(s: Storage): Promise<{ live: string[]; archive: string[] }> {
  const live = await s.db.selectFrom('audit_log').select('id').execute();
  const archive = await s.db.selectFrom('audit_log_archive').select('id').execute();
  return { live: live.map((r) => r.id).sort(), archive: archive.map((r) => r.id).sort() };
}

describeEachEngine('audit archive in the store', (engine) => {
  it('archived rows stay queryable: query, count and get read the archive when the filter reaches back, newest first across both tables', async () => {
    const s = await engine.open();
    const rows = chained('sp', [
      { id: 'a-200', at: daysAgo(200) },
      { id: 'a-100', at: daysAgo(100), peer: 'lab' },
      { id: 'a-95', at: daysAgo(95) },
      { id: 'l-10', at: daysAgo(10), peer: 'lab' },
      { id: 'l-1', at: daysAgo(1) },
    ]);
    await s.audit.appendMany(rows);
    expect(await s.audit.countOlderThan(daysAgo(90))).toBe(3);
    expect(await s.audit.archiveOlderThan(daysAgo(90))).toBe(3);
    expect(await allIds(s)).toEqual({ live: ['l-1', 'l-10'], archive: ['a-100', 'a-200', 'a-95'] });
    expect(await s.audit.countOlderThan(daysAgo(90))).toBe(0);
    expect(await s.audit.archiveOlderThan(daysAgo(90))).toBe(0); // a second run finds nothing

    // A late spool ships a row older than some archived ones into the live table.
    await s.audit.appendMany(chained('late', [{ id: 'late-150', at: daysAgo(150) }]));

    const ids = (list: { id: string }[]) => list.map((r) => r.id);
    expect(ids(await s.audit.query())).toEqual(['l-1', 'l-10', 'a-95', 'a-100', 'late-150', 'a-200']);
    expect(ids(await s.audit.query({ since: daysAgo(30) }))).toEqual(['l-1', 'l-10']);
    expect(ids(await s.audit.query({ since: daysAgo(120) }))).toEqual(['l-1', 'l-10', 'a-95', 'a-100']);
    expect(ids(await s.audit.query({ peer: 'lab' }))).toEqual(['l-10', 'a-100']);
    // a full live page bounds how far back the archive is read
    expect(ids(await s.audit.query({ limit: 2 }))).toEqual(['l-1', 'l-10']);
    expect(ids(await s.audit.query({ limit: 3 }))).toEqual(['l-1', 'l-10', 'a-95']);
    expect(ids(await s.audit.query({ limit: 4 }))).toEqual(['l-1', 'l-10', 'a-95', 'a-100']);
    expect(ids(await s.audit.query({ limit: 1, peer: 'lab', since: daysAgo(365) }))).toEqual(['l-10']);
    expect(await s.audit.count()).toBe(6);
    expect(await s.audit.count({ since: daysAgo(30) })).toBe(2);
    expect(await s.audit.count({ since: daysAgo(120), peer: 'lab' })).toBe(2);
    expect(await s.audit.get('a-200')).toMatchObject({ id: 'a-200', spool: 'sp', hash: rows[0]!.hash });
    expect(await s.audit.get('nope')).toBeNull();
    // the live tail (SSE) is the live table only
    expect(await s.audit.after('a-95')).toBeNull();
  });

  it('chain() and walk() go through archived rows then live rows in arrival order, so archiving never reads as a break; a deleted archived row does', async () => {
    const s = await engine.open();
    const rows = chained(
      'sp',
      Array.from({ length: 8 }, (_, i) => ({ id: `r${i}`, at: daysAgo(120 - i * 10) })),
    );
    const other = chained('other', [{ id: 'o0', at: daysAgo(200) }, { id: 'o1', at: daysAgo(5) }]);
    await s.audit.appendMany([...rows.slice(0, 4), ...other, ...rows.slice(4)]);
    expect(await s.audit.archiveOlderThan(daysAgo(90))).toBe(4); // r0..r3 and o0
    const chain = await s.audit.chain('sp');
    expect(chain.map((r) => r.id)).toEqual(rows.map((r) => r.id));
    expect(chain.map((r) => r.seq)).toEqual([...chain.map((r) => r.seq)].sort((a, b) => a - b));
    expect(verifyChain(chain, { expectFirstPrevHash: null })).toEqual({ ok: true, rows: 8 });
    // paging by seq across both tables
    const first = await s.audit.chain('sp', { limit: 3 });
    const rest = await s.audit.chain('sp', { afterSeq: first.at(-1)!.seq });
    expect([...first, ...rest].map((r) => r.id)).toEqual(rows.map((r) => r.id));
    expect((await s.audit.walk()).map((r) => r.id)).toEqual(['r0', 'r1', 'r2', 'r3', 'o0', 'o1', 'r4', 'r5', 'r6', 'r7']);
    expect(await verifyStoredChains({ storage: s })).toEqual({
      ok: true,
      spools: [
        { spool: 'other', rows: 2, chained: true },
        { spool: 'sp', rows: 8, chained: true },
      ],
    });

    await s.db.deleteFrom('audit_log_archive').where('id', '=', 'r2').execute();
    expect(await verifyStoredChains({ storage: s })).toMatchObject({ ok: false, spools: [{ spool: 'other' }, { spool: 'sp', rows: 7, firstBreak: { id: 'r3', reason: 'missing' } }] });
    // the first row of a chain is covered too: its prevHash must be null
    await s.db.deleteFrom('audit_log_archive').where('id', '=', 'o0').execute();
    expect((await verifyStoredChains({ storage: s })).spools[0]).toMatchObject({ spool: 'other', firstBreak: { id: 'o1', reason: 'missing' } });
  });

  it('concurrent archive runs (two handles on PostgreSQL), while old rows keep arriving, never lose or duplicate a row', async () => {
    const location = await engine.location();
    const a = await engine.openAt(location);
    // PostgreSQL: two handles are two replicas. SQLite is one process per data dir (it is
    // locked), and node:sqlite's busy wait would block the thread the other handle needs, so
    // the runs share the one handle there (Kysely queues its transactions).
    const b = engine.name === 'postgres' ? await engine.openAt(location, { migrate: false }) : a;
    const old = chained(
      'sp',
      Array.from({ length: 600 }, (_, i) => ({ id: `old-${String(i).padStart(4, '0')}`, at: new Date(NOW - 200 * DAY + i * 1_000).toISOString() })),
    );
    await a.audit.appendMany(old.slice(0, 400));
    const cutoff = daysAgo(90);
    // Late rows (old `at`) shipped in small batches while four runs race on two handles.
    const shipping = (async () => {
      for (let i = 400; i < 600; i += 20) {
        await b.audit.appendMany(old.slice(i, i + 20));
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    const runs = await Promise.all([a.audit.archiveOlderThan(cutoff), b.audit.archiveOlderThan(cutoff), a.audit.archiveOlderThan(cutoff), b.audit.archiveOlderThan(cutoff), shipping]);
    await a.audit.archiveOlderThan(cutoff); // whatever arrived after the last run
    const { live, archive } = await allIds(a);
    expect(live).toEqual([]);
    expect(archive).toEqual(old.map((r) => r.id).sort());
    expect(new Set(archive).size).toBe(600);
    const moved = runs.slice(0, 4) as number[];
    expect(moved.reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(600);
    expect(verifyChain(await a.audit.chain('sp'), { expectFirstPrevHash: null })).toEqual({ ok: true, rows: 600 });
  });
});

describeEachEngine('audit archive in batches', (engine) => {
  it('a row shipped again after it was archived is not stored live again: one copy, the chain still verifies', async () => {
    const s = await engine.open();
    const rows = chained('sp', [
      { id: 'r0', at: daysAgo(120) },
      { id: 'r1', at: daysAgo(100) },
      { id: 'r2', at: daysAgo(1) },
    ]);
    await s.audit.appendMany(rows);
    expect(await s.audit.archiveOlderThan(daysAgo(90))).toBe(2);
    // The spool's shipper re-sends a batch it is not sure landed (a timeout, a restart).
    expect(await s.audit.appendMany(rows)).toBe(0);
    expect(await s.audit.append(rows[0]!)).toBe(false);
    expect(await allIds(s)).toEqual({ live: ['r2'], archive: ['r0', 'r1'] });
    expect((await s.audit.query()).map((r) => r.id)).toEqual(['r2', 'r1', 'r0']);
    expect(await s.audit.count()).toBe(3);
    expect(await verifyStoredChains({ storage: s })).toEqual({ ok: true, spools: [{ spool: 'sp', rows: 3, chained: true }] });
    // a batch mixing archived, live and new rows stores only the new one
    const next = chained('sp', [{ id: 'r3', at: daysAgo(0) }], rows[2]!.hash);
    expect(await s.audit.appendMany([rows[1]!, rows[2]!, ...next])).toBe(1);
    expect(await allIds(s)).toEqual({ live: ['r2', 'r3'], archive: ['r0', 'r1'] });
  });

  it('small batches, several runs at once and rows still arriving: every old row moves exactly once', async () => {
    const location = await engine.location();
    const a = await engine.openAt(location);
    const b = engine.name === 'postgres' ? await engine.openAt(location, { migrate: false }) : a;
    // old and new rows interleaved in arrival order, so batches by `seq` hold both
    const rows = chained(
      'sp',
      Array.from({ length: 90 }, (_, i) => ({ id: `r-${String(i).padStart(3, '0')}`, at: i % 3 === 2 ? daysAgo(1) : new Date(NOW - 200 * DAY + i * 1_000).toISOString() })),
    );
    await a.audit.appendMany(rows.slice(0, 60));
    const cutoff = daysAgo(90);
    const shipping = (async () => {
      for (let i = 60; i < 90; i += 5) {
        await b.audit.appendMany(rows.slice(i, i + 5));
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    const runs = await Promise.all([a.audit.archiveOlderThan(cutoff, { batchSize: 7 }), b.audit.archiveOlderThan(cutoff, { batchSize: 4 }), shipping]);
    await a.audit.archiveOlderThan(cutoff, { batchSize: 3 });
    const old = rows.filter((_, i) => i % 3 !== 2).map((r) => r.id);
    const { live, archive } = await allIds(a);
    expect(archive).toEqual(old);
    expect(live).toEqual(rows.filter((_, i) => i % 3 === 2).map((r) => r.id));
    expect(runs[0] + runs[1]).toBeLessThanOrEqual(60);
    expect(verifyChain(await a.audit.chain('sp'), { expectFirstPrevHash: null })).toEqual({ ok: true, rows: 90 });
  });
});

describe('audit archive on SQLite (node:sqlite runs each statement on the event loop)', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a large backlog moves in batches: the event loop is never held for long, and a shipped row lands while the run goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mosaic-archive-'));
    dirs.push(dir);
    const s = await openStorage({ dataDir: dir });
    let shippedWhileArchiving: Promise<boolean> | undefined;
    try {
      // 100 000 rows from 200 days ago, written in one statement (appendMany would take seconds).
      const N = 100_000;
      await sql`
        with recursive n(i) as (select 0 union all select i + 1 from n where i < ${N - 1})
        insert into audit_log (id, at, request_id, peer, subject_user_id, verb, resource, query_hash, outcome, status_code, rows_out, bytes_out, latency_ms)
        select 'b-' || i, ${daysAgo(200)}, 'req-b-' || i, 'home', 'alice', 'list', 'tasks', ${'f'.repeat(64)}, 'allowed', 200, 1, 10, 1 from n`.execute(s.db);
      expect(await s.audit.countOlderThan(daysAgo(90))).toBe(N);

      // The longest the event loop went without running a 5 ms timer, against the whole run.
      let longest = 0;
      let last = performance.now();
      const probe = setInterval(() => {
        const t = performance.now();
        longest = Math.max(longest, t - last);
        last = t;
      }, 5);
      let archived = false;
      const started = performance.now();
      const run = s.audit.archiveOlderThan(daysAgo(90)).finally(() => (archived = true));
      // A spool ships a row once the run has begun: it lands before the run ends.
      shippedWhileArchiving = new Promise<boolean>((resolve, reject) => {
        setTimeout(() => void s.audit.append(auditRow('fresh', daysAgo(0))).then(() => resolve(!archived), reject), 1);
      });
      const moved = await run;
      const took = performance.now() - started;
      longest = Math.max(longest, performance.now() - last);
      clearInterval(probe);

      expect(moved).toBe(N);
      // One transaction for the whole backlog holds the loop for (nearly) all of `took`.
      expect(longest, `longest event-loop gap ${longest.toFixed(0)} ms in a ${took.toFixed(0)} ms run`).toBeLessThan(took / 4);
      expect(await shippedWhileArchiving).toBe(true);
      expect(await s.audit.countOlderThan(daysAgo(90))).toBe(0);
      expect(await s.audit.count()).toBe(N + 1);
    } finally {
      await shippedWhileArchiving?.catch(() => undefined);
      await s.close();
    }
  }, 120_000);
});

describe('audit archive cutoff', () => {
  it('is whole days back from now and refuses nonsense', async () => {
    const { archiveCutoff } = await import('../audit/index.js');
    expect(archiveCutoff(90, new Date(NOW))).toBe(daysAgo(90));
    expect(archiveCutoff(undefined, new Date(NOW))).toBe(daysAgo(90));
    expect(() => archiveCutoff(0)).toThrow(RangeError);
    expect(() => archiveCutoff(1.5)).toThrow(RangeError);
  });
});
