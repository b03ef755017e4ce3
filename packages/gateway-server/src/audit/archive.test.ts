/**
 * `POST /api/admin/audit/archive` through a real gateway, on both engines: rows older than
 * 90 days move to the archive and stay readable through `GET /api/admin/audit` and
 * `audit verify`; a dry run and a bad body change nothing; the archive is an audited admin
 * mutation.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readAdminTokenFile, type AdminApiError } from '@mosaic/federation-core/admin-client';
import { describeEachEngine } from '../test-support/engines.js';
import { cleanupTestGateways, startTestGateway, type TestGateway } from '../test-support/gateway.js';
import { openAuditPipeline, type AuditPipeline } from './index.js';
import { entry, removeTempDirs, tempDir } from './test-helpers.js';

const DAY = 86_400_000;

afterAll(removeTempDirs);

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeEachEngine('POST /api/admin/audit/archive', (engine) => {
  // gateways stop before this block's PostgreSQL does (after-hooks run in reverse order)
  afterAll(cleanupTestGateways);
  let gw: TestGateway;
  let other: AuditPipeline;
  const oldIds: string[] = [];
  const newIds: string[] = [];

  const archivedCount = async () => (await gw.gateway.storage.db.selectFrom('audit_log_archive').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n;
  const post = (body: string, auth = true) =>
    fetch(`${gw.gateway.adminUrl}/api/admin/audit/archive`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(!auth ? {} : { authorization: `Bearer ${readAdminTokenFile(gw.dataDir) ?? ''}` }) },
      body,
    });

  beforeAll(async () => {
    gw = await startTestGateway({ name: 'work', ...(await engine.location()) });
    await gw.admin.seed({ users: [{ id: 'alice', name: 'Alice' }] });
    // A second spool (as another replica would) ships old and new rows into the same store.
    other = openAuditPipeline({ dataDir: tempDir(), storage: gw.gateway.storage, shipper: { delayMs: 5 } });
    const now = Date.now();
    for (const days of [200, 120, 91]) oldIds.push((await other.spool.append(entry({ requestId: `old-${days}`, at: new Date(now - days * DAY) }))).id);
    for (const days of [89, 1]) newIds.push((await other.spool.append(entry({ requestId: `new-${days}`, at: new Date(now - days * DAY) }))).id);
    await other.shipper.flush();
  });
  afterAll(async () => {
    await other.close();
  });

  it('401 without an admin token, and nothing moves', async () => {
    const res = await post('{}', false);
    expect(res.status).toBe(401);
    expect(await archivedCount()).toBe(0);
  });

  it('a bad body is 400 naming the field, and nothing moves', async () => {
    for (const [body, path] of [
      ['{"olderThanDays":0}', 'olderThanDays'],
      ['{"olderThanDays":"90"}', 'olderThanDays'],
      ['{"olderThanDays":1.5}', 'olderThanDays'],
      ['{"dryRun":"yes"}', 'dryRun'],
      ['{"olderThan":"90d"}', 'olderThan'],
    ] as const) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      const err = ((await res.json()) as { error: { code: string; details: Array<{ path: string }> } }).error;
      expect(err.code, body).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(err.details), body).toContain(path);
    }
    await expect(gw.admin.auditArchive({ olderThanDays: -1 })).rejects.toMatchObject({ status: 400, details: [{ path: 'olderThanDays' }] } satisfies Partial<AdminApiError>);
    expect(await archivedCount()).toBe(0);
  });

  it('a dry run counts the rows older than 90 days and changes nothing', async () => {
    const before = (await gw.admin.audit({ limit: 1000 })).items;
    const dry = await gw.admin.auditArchive({ dryRun: true });
    expect(dry).toEqual({ wouldMove: 3, cutoff: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown });
    expect(Date.now() - 90 * DAY - Date.parse((dry as { cutoff: string }).cutoff)).toBeLessThan(60_000);
    expect(await gw.admin.auditArchive({ dryRun: true, olderThanDays: 100 })).toMatchObject({ wouldMove: 2 });
    expect(await archivedCount()).toBe(0);
    expect((await gw.admin.audit({ limit: 1000 })).items).toEqual(before);
  });

  it('moves the rows older than 90 days, keeps the newer, returns both through GET /api/admin/audit?since=…, and records who did it', async () => {
    const result = await gw.admin.auditArchive();
    expect(result).toMatchObject({ moved: 3 });
    expect(await archivedCount()).toBe(3);
    const live = await gw.gateway.storage.db.selectFrom('audit_log').select('id').execute();
    expect(live.map((r) => r.id)).toEqual(expect.arrayContaining(newIds));
    expect(live.map((r) => r.id)).not.toEqual(expect.arrayContaining([oldIds[0]]));

    const since = (days: number) => new Date(Date.now() - days * DAY).toISOString();
    const ids = async (s: string) => (await gw.admin.audit({ since: s, peer: 'bob', limit: 1000 })).items.map((r) => r.id);
    expect(await ids(since(365))).toEqual([newIds[1], newIds[0], oldIds[2], oldIds[1], oldIds[0]]); // newest first, across both tables
    expect(await ids('30d')).toEqual([newIds[1]]);
    expect(await ids(since(150))).toEqual([newIds[1], newIds[0], oldIds[2], oldIds[1]]);

    const rows = await until(
      async () => (await gw.admin.audit({ verb: 'admin.audit.archive' })).items,
      (r) => r.length === 1,
    );
    expect(rows[0]).toMatchObject({ verb: 'admin.audit.archive', adminTokenName: 'root', outcome: 'allowed', statusCode: 200 });
    const stored = await gw.gateway.storage.audit.get(rows[0]!.id);
    expect(JSON.parse(stored!.detail!)).toMatchObject({ moved: 3, olderThanDays: null });
    expect(await gw.admin.auditArchive({ olderThanDays: 90 })).toMatchObject({ moved: 0 }); // idempotent
  });

  it('audit verify passes after archiving (the chains run through the archive), and a deleted archived row is still caught', async () => {
    const report = await gw.admin.auditVerify();
    expect(report.ok).toBe(true);
    expect(report.spools.find((s) => s.spool === other.spool.id)).toEqual({ spool: other.spool.id, rows: 5, chained: true });
    await gw.gateway.storage.db.deleteFrom('audit_log_archive').where('id', '=', oldIds[1]!).execute();
    const broken = await gw.admin.auditVerify();
    expect(broken.ok).toBe(false);
    expect(broken.spools.find((s) => s.spool === other.spool.id)).toMatchObject({ rows: 4, firstBreak: { id: oldIds[2], reason: 'missing' } });
  });
});
