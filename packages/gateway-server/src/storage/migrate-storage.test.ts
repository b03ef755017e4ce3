/**
 * `migrateStorage`: real gateways run on embedded stores first (seed, grants, an enrolled
 * peer, federated reads, admin tokens, an audit rollover), then each store is copied into a
 * real PostgreSQL and compared table by table, row by row; a second run copies nothing; every
 * refusal leaves both stores exactly as they were.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { generateMasterSecret, type MosaicError } from '@mosaic/federation-core';
import { archiveAudit } from '../audit/archive.js';
import { AuditSpool } from '../audit/spool.js';
import { entry } from '../audit/test-helpers.js';
import { lockDataDir } from '../data-dir.js';
import { describeWithPostgres } from '../test-support/engines.js';
import { startFederation, type FederationHarness } from '../test-support/federation.js';
import { cleanupTestGateways, startTestGateway } from '../test-support/gateway.js';
import { migrateStorage } from './migrate-storage.js';
import { MIGRATED_TO_META_KEY } from './meta.js';
import { LATEST_SCHEMA_VERSION } from './migrations.js';
import { TABLES } from './schema.js';
import { openStorage, type Storage } from './storage.js';

const SCOPE = { resources: ['tasks', 'notes'], max_rows_per_query: 100 };
const ORDER: Record<string, string[]> = { memberships: ['team_id', 'user_id'], issued_certs: ['serial'], peers: ['name'], admin_tokens: ['name'], meta: ['key'], audit_log: ['seq'], audit_log_archive: ['seq'] };

/** Every table of a store, rows in primary-key order, int8 as numbers. */
async function dump(location: { dataDir: string } | { databaseUrl: string }): Promise<Record<string, unknown[]>> {
  let storage: Storage;
  if ('databaseUrl' in location) {
    storage = await openStorage({ databaseUrl: location.databaseUrl, migrate: false });
    const has = await sql<{ t: unknown }>`select to_regclass('schema_migrations') as t`.execute(storage.db);
    if (has.rows[0]?.t === null) {
      await storage.close();
      return { schema: ['none'] };
    }
  } else {
    storage = await openStorage({ dataDir: location.dataDir, migrate: false });
  }
  try {
    const out: Record<string, unknown[]> = {};
    for (const table of TABLES) {
      let q = storage.db.selectFrom(table as 'users').selectAll();
      // the source's "migrated to" marker (its own test below) is not data the copy carries
      if (table === 'meta') q = q.where('key' as 'id', '<>', MIGRATED_TO_META_KEY);
      for (const c of ORDER[table] ?? ['id']) q = q.orderBy(c as 'id');
      out[table] = (await q.execute()).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])));
    }
    return out;
  } finally {
    await storage.close();
  }
}

async function refusal(p: Promise<unknown>): Promise<MosaicError> {
  try {
    await p;
  } catch (err) {
    return err as MosaicError;
  }
  throw new Error('expected a refusal');
}

describeWithPostgres('migrate-storage: embedded SQLite → PostgreSQL', (server) => {
  let h: FederationHarness;
  let workDir: string;
  let workEnv: NodeJS.ProcessEnv;
  let workSecret: string;
  let homeDir: string;
  let homeEnv: NodeJS.ProcessEnv;
  const temp = mkdtempSync(join(tmpdir(), 'mosaic-migrate-'));

  beforeAll(async () => {
    h = await startFederation();
    const { work } = h;
    await work.admin.seed({
      resources: {
        memory: [{ id: 'm-1', ownerUserId: 'alice', title: 'remember the milk' }],
        api_keys: [{ id: 'k-1', teamId: 'T1', title: 'deploy key', body: 'sk-…' }],
      },
    });
    const link = await h.link({ subjectUserId: 'alice', scope: SCOPE });
    await link.home.admin.query({ verb: 'list', resource: 'tasks', source: 'federated:work' });
    // A rollover before more traffic: both audit tables hold rows.
    for (let moved = 0, tries = 0; moved === 0; tries++) {
      if (tries > 100) throw new Error('no audit row reached the store to archive');
      moved = ((await archiveAudit(work.gateway.storage, { olderThanDays: 1, now: new Date(Date.now() + 86_400_000) })) as { moved: number }).moved;
      if (moved === 0) await new Promise((r) => setTimeout(r, 50)); // the shipper runs every 20 ms
    }
    await link.home.admin.query({ verb: 'list', resource: 'notes', source: 'federated:work' });
    // Work reads from home too, so its own store holds a peer (requesting side) as well.
    await link.home.admin.seed({ users: [{ id: 'alice', name: 'Alice' }], resources: { tasks: [{ id: 'h-1', ownerUserId: 'alice', title: 'home task' }] } });
    const back = await link.home.admin.createGrant({ subjectUserId: 'alice', peerName: 'work', scope: SCOPE } as never);
    const backToken = await link.home.admin.createToken(back.id);
    await work.admin.addPeer({ enrollmentUrl: backToken.enrollmentUrl, caPin: backToken.caPin, name: 'home' });
    await work.admin.query({ verb: 'list', resource: 'tasks', source: 'federated:home' });
    await work.admin.createAdminToken('ci');
    await work.admin.createAdminToken('old');
    await work.admin.revokeAdminToken('old');
    const pending = await work.admin.createGrant({ subjectUserId: 'bob', peerName: 'other', scope: SCOPE } as never);
    await work.admin.createToken(pending.id);
    const revoked = await work.admin.createGrant({ subjectUserId: 'carol', peerName: 'gone', scope: SCOPE } as never);
    await work.admin.revokeGrant(revoked.id, 'test');
    workDir = work.dataDir;
    workEnv = work.env;
    workSecret = work.env.MOSAIC_SECRET!;
    homeDir = link.home.dataDir;
    homeEnv = link.home.env;
    // Stop both (their spools are flushed); keep the data dirs (removed by cleanupTestGateways).
    await h.close();
    const s = await openStorage({ dataDir: workDir });
    await s.meta.set('migrated-from', 'embedded');
    await s.close();
  }, 120_000);

  afterAll(async () => {
    await cleanupTestGateways();
    rmSync(temp, { recursive: true, force: true });
  });

  it('a dry run counts every table and writes nothing, not even the schema', async () => {
    const url = await server().createDatabase('dry');
    const before = await dump({ dataDir: workDir });
    const report = await migrateStorage({ dataDir: workDir, databaseUrl: url, dryRun: true, env: workEnv });
    expect(report.dryRun).toBe(true);
    expect(report.tables.map((t) => t.table)).toEqual([...TABLES]);
    for (const t of report.tables) expect(t).toEqual({ table: t.table, source: before[t.table]!.length, inTarget: 0, toCopy: before[t.table]!.length, copied: 0 });
    for (const t of TABLES) expect(before[t]!.length, t).toBeGreaterThan(0);
    expect(await dump({ databaseUrl: url })).toEqual({ schema: ['none'] });
    expect(await dump({ dataDir: workDir })).toEqual(before);
  });

  it('copies every table row for row, keeps the audit sequence going, and a second run copies nothing', async () => {
    const url = await server().createDatabase('work');
    const source = await dump({ dataDir: workDir });
    const report = await migrateStorage({ dataDir: workDir, databaseUrl: url, env: workEnv });
    expect(report).toMatchObject({ dryRun: false, name: 'work', upToDate: false, secret: { source: 'env', location: null, writtenTo: null } });
    expect(report.secret.sealedKeysChecked).toBe(3); // CA root, server key, peer key
    expect(report.totals.copied).toBe(Object.values(source).reduce((n, rows) => n + rows.length, 0));
    const target = await dump({ databaseUrl: url });
    for (const t of TABLES) expect(target[t], t).toEqual(source[t]);
    const maxSeq = Math.max(...(source.audit_log as { seq: number }[]).map((r) => r.seq), ...(source.audit_log_archive as { seq: number }[]).map((r) => r.seq));
    expect(report.auditSeq).toBeGreaterThanOrEqual(maxSeq);

    const again = await migrateStorage({ dataDir: workDir, databaseUrl: url, env: workEnv });
    expect(again.upToDate).toBe(true);
    expect(again.totals).toEqual({ source: report.totals.source, inTarget: report.totals.source, toCopy: 0, copied: 0 });
    const dry = await migrateStorage({ dataDir: workDir, databaseUrl: url, env: workEnv, dryRun: true });
    expect(dry.tables.every((t) => t.toCopy === 0 && t.inTarget === t.source)).toBe(true);
    expect(await dump({ databaseUrl: url })).toEqual(target);

    // The gateway runs on the copy: same CA, same grants, the chain verifies, new rows go after the old ones.
    const gw = await startTestGateway({ name: 'work', dataDir: workDir, databaseUrl: url, secret: workSecret });
    try {
      expect(gw.gateway.ca.caCertPem).toBe((source.ca_state![0] as { ca_cert_pem: string }).ca_cert_pem);
      expect((await gw.admin.listGrants()).items.map((g) => g.id).sort()).toEqual((source.grants as { id: string }[]).map((g) => g.id).sort());
      expect((await gw.admin.auditVerify()).ok).toBe(true);
      await gw.admin.createAdminToken('after');
      const s = await openStorage({ databaseUrl: url, migrate: false });
      try {
        const newest = async () => Number((await s.db.selectFrom('audit_log').select((eb) => eb.fn.max('seq').as('v')).executeTakeFirst())?.v ?? 0);
        await expect.poll(newest, { timeout: 5_000 }).toBeGreaterThan(maxSeq);
      } finally {
        await s.close();
      }
    } finally {
      await gw.stop();
    }
  });

  it('marks the embedded store it copied: a gateway refuses to start on it again (STORE_MIGRATED, nothing left running) unless allowed; the mark is not copied', async () => {
    const dir = join(temp, 'marked');
    cpSync(homeDir, dir, { recursive: true });
    const url = await server().createDatabase('marked');
    // a dry run marks nothing
    await migrateStorage({ dataDir: dir, databaseUrl: url, env: homeEnv, name: 'home', dryRun: true });
    await (await startTestGateway({ name: 'home', dataDir: dir, env: homeEnv })).stop();
    const report = await migrateStorage({ dataDir: dir, databaseUrl: url, env: homeEnv, name: 'home' });
    const s = await openStorage({ dataDir: dir, migrate: false });
    const marker = JSON.parse((await s.meta.get(MIGRATED_TO_META_KEY))!) as { to: string; at: string };
    await s.close();
    expect(marker.to).toBe(report.target.location);
    expect(Date.now() - Date.parse(marker.at)).toBeLessThan(60_000);
    const t = await openStorage({ databaseUrl: url, migrate: false });
    expect(await t.meta.get(MIGRATED_TO_META_KEY)).toBeNull();
    await t.close();

    const err = await refusal(startTestGateway({ name: 'home', dataDir: dir, env: homeEnv }));
    expect(err.code).toBe('STORE_MIGRATED');
    expect(err.message).toContain(report.target.location);
    expect(err.remediation).toMatch(/DATABASE_URL.*--allow-migrated-store/);
    expect(existsSync(join(dir, 'gateway.lock'))).toBe(false);
    expect(existsSync(join(dir, 'gateway.json'))).toBe(false);
    // a second run (idempotent) still works and keeps the mark; a deliberate start on the copy works
    expect((await migrateStorage({ dataDir: dir, databaseUrl: url, env: homeEnv, name: 'home' })).upToDate).toBe(true);
    const gw = await startTestGateway({ name: 'home', dataDir: dir, env: homeEnv, allowMigratedStore: true });
    await gw.stop();
    // ...but a marked store goes nowhere else: a second database would get the CA key without the revocations made in the first
    const elsewhere = await server().createDatabase('elsewhere');
    for (const dryRun of [true, false]) {
      const again = await refusal(migrateStorage({ dataDir: dir, databaseUrl: elsewhere, env: homeEnv, name: 'home', dryRun }));
      expect(again.code).toBe('MIGRATION_SOURCE_MIGRATED');
      expect(again.message).toContain(report.target.location);
    }
    expect(await dump({ databaseUrl: elsewhere })).toEqual({ schema: ['none'] });
    const s2 = await openStorage({ dataDir: dir, migrate: false });
    expect(JSON.parse((await s2.meta.get(MIGRATED_TO_META_KEY))!)).toEqual(marker);
    await s2.close();
  });

  it('takes the mark back when the copy fails inside its transaction (the source is left unmarked and starts)', async () => {
    const dir = join(temp, 'mark-failed');
    cpSync(homeDir, dir, { recursive: true });
    const url = await server().createDatabase('mark-failed');
    // a target at this schema whose grants table refuses every insert: the copy fails inside its transaction
    const t = await openStorage({ databaseUrl: url });
    await sql.raw(`create function refuse_insert() returns trigger language plpgsql as $$ begin raise exception 'no inserts here'; end $$`).execute(t.db);
    await sql.raw('create trigger refuse_grants before insert on grants for each row execute function refuse_insert()').execute(t.db);
    await t.close();
    const err = await refusal(migrateStorage({ dataDir: dir, databaseUrl: url, env: homeEnv, name: 'home' }));
    expect(err.code).toBe('MIGRATION_FAILED');
    expect(err.message).toMatch(/no inserts here/);
    const s = await openStorage({ dataDir: dir, migrate: false });
    expect(await s.meta.get(MIGRATED_TO_META_KEY)).toBeNull();
    await s.close();
    await (await startTestGateway({ name: 'home', dataDir: dir, env: homeEnv })).stop();
  });

  it('a requesting gateway keeps its peer (sealed key under the embedded secret file) and can write that secret out for MOSAIC_SECRET', async () => {
    const url = await server().createDatabase('home');
    // a copy: the tests below need home's store unmigrated (a migrated store goes nowhere else)
    const dir = join(temp, 'home-copy');
    cpSync(homeDir, dir, { recursive: true });
    const source = await dump({ dataDir: dir });
    const secretOut = join(temp, 'home-secret');
    const report = await migrateStorage({ dataDir: dir, databaseUrl: url, env: homeEnv, name: 'home', writeSecretTo: secretOut });
    expect(report.secret).toMatchObject({ source: 'file', writtenTo: secretOut, sealedKeysChecked: 3 });
    expect(report.secret.location).toBe(join(homeEnv.XDG_CONFIG_HOME!, 'mosaic', 'home', 'secret'));
    expect(readFileSync(secretOut, 'utf8')).toBe(readFileSync(report.secret.location!, 'utf8'));
    expect(statSync(secretOut).mode & 0o777).toBe(0o600);
    const target = await dump({ databaseUrl: url });
    for (const t of TABLES) expect(target[t], t).toEqual(source[t]);
    expect(source.peers).toHaveLength(1);
    // never over an existing file
    const again = await refusal(migrateStorage({ dataDir: dir, databaseUrl: url, env: homeEnv, name: 'home', writeSecretTo: secretOut }));
    expect(again.code).toBe('MIGRATION_SECRET_FILE_REFUSED');
  });

  it('ships audit rows left in the spool into the source first, then copies them', async () => {
    const dir = join(temp, 'spooled');
    cpSync(homeDir, dir, { recursive: true });
    const spool = AuditSpool.open({ dataDir: dir });
    const row = await spool.append(entry({ requestId: 'left-in-the-spool' }));
    await spool.close();
    const url = await server().createDatabase('spool');
    const report = await migrateStorage({ dataDir: dir, databaseUrl: url, env: homeEnv, name: 'home' });
    expect(report.spool).toMatchObject({ unshipped: 1, shipped: 1 });
    const target = await dump({ databaseUrl: url });
    expect(target.audit_log).toContainEqual(expect.objectContaining({ id: row.id, hash: row.hash, request_id: 'left-in-the-spool' }));
    expect(target).toEqual(await dump({ dataDir: dir }));
  });

  it('refuses, leaving both stores unchanged: no or a bad DATABASE_URL, an unreachable one, a wrong or lost master secret, a locked data dir, a conflicting target, a foreign table in the way', async () => {
    const source = await dump({ dataDir: homeDir });
    const empty = await server().createDatabase('refused');
    expect((await refusal(migrateStorage({ dataDir: homeDir, databaseUrl: undefined, env: homeEnv }))).code).toBe('MIGRATION_TARGET_INVALID');
    expect((await refusal(migrateStorage({ dataDir: homeDir, databaseUrl: 'mysql://db/x', env: homeEnv }))).code).toBe('MIGRATION_TARGET_INVALID');
    const unreachable = await refusal(migrateStorage({ dataDir: homeDir, databaseUrl: 'postgres://mosaic@127.0.0.1:1/nowhere', env: homeEnv }));
    expect(unreachable.code).toBe('STORAGE_UNAVAILABLE');
    expect(unreachable.message).not.toContain('mosaic@');

    const wrong = await refusal(migrateStorage({ dataDir: homeDir, databaseUrl: empty, env: { ...homeEnv, MOSAIC_SECRET: generateMasterSecret() } }));
    expect(wrong.code).toBe('MIGRATION_SECRET_MISMATCH');
    expect(wrong.message).toMatch(/does not open the sealed keys/);
    const lost = await refusal(migrateStorage({ dataDir: homeDir, databaseUrl: empty, env: homeEnv, name: 'not-home' }));
    expect(lost.code).toBe('MIGRATION_SECRET_NOT_FOUND');

    const release = lockDataDir(homeDir);
    try {
      expect((await refusal(migrateStorage({ dataDir: homeDir, databaseUrl: empty, env: homeEnv }))).code).toBe('DATA_DIR_IN_USE');
    } finally {
      release();
    }
    expect(await dump({ databaseUrl: empty })).toEqual({ schema: ['none'] });

    // A database another gateway (another CA) already runs on.
    const other = await server().createDatabase('other');
    const gw = await startTestGateway({ name: 'home', databaseUrl: other });
    await gw.stop();
    const theirs = await dump({ databaseUrl: other });
    const conflict = await refusal(migrateStorage({ dataDir: homeDir, databaseUrl: other, env: homeEnv }));
    expect(conflict.code).toBe('MIGRATION_TARGET_CONFLICT');
    expect(conflict.message).toMatch(/ca_state: 1 row differs/);
    expect((await refusal(migrateStorage({ dataDir: homeDir, databaseUrl: other, env: homeEnv, dryRun: true }))).code).toBe('MIGRATION_TARGET_CONFLICT');
    expect(await dump({ databaseUrl: other })).toEqual(theirs);

    // A database holding another application's table of the same name: the schema cannot be made, nothing stays.
    const foreign = await server().createDatabase('foreign');
    const f = await openStorage({ databaseUrl: foreign, migrate: false });
    await sql`create table meta (x integer)`.execute(f.db);
    const clash = await refusal(migrateStorage({ dataDir: homeDir, databaseUrl: foreign, env: homeEnv }));
    expect(clash.code).toBe('MIGRATION_FAILED');
    expect(clash.message).toMatch(/relation "meta" already exists/);
    expect((await sql<{ n: number }>`select count(*)::int as n from pg_tables where schemaname = current_schema()`.execute(f.db)).rows[0]?.n).toBe(1);
    await f.close();
    expect(await dump({ dataDir: homeDir })).toEqual(source);
    expect(existsSync(join(homeDir, 'gateway.lock'))).toBe(false);
  });

  it('never changes what it refuses: an older gateway\'s database keeps its schema, a claimed --write-secret file goes again, a dry run does not upgrade an older source', async () => {
    const source = await dump({ dataDir: homeDir });
    // a database of an older gateway version (here: the newest migration taken off the books)
    const older = await server().createDatabase('older');
    const gw = await startTestGateway({ name: 'other', databaseUrl: older });
    await gw.stop();
    const o = await openStorage({ databaseUrl: older, migrate: false });
    await sql`delete from schema_migrations where version = ${LATEST_SCHEMA_VERSION}`.execute(o.db);
    const theirs = await dump({ databaseUrl: older });
    const secretOut = join(temp, 'never-written');
    const err = await refusal(migrateStorage({ dataDir: homeDir, databaseUrl: older, env: homeEnv, writeSecretTo: secretOut }));
    expect(err.code).toBe('MIGRATION_TARGET_CONFLICT');
    expect(err.message).toMatch(new RegExp(`schema is at version ${LATEST_SCHEMA_VERSION - 1} of ${LATEST_SCHEMA_VERSION}`));
    expect((await sql<{ n: number }>`select max(version)::int as n from schema_migrations`.execute(o.db)).rows[0]?.n).toBe(LATEST_SCHEMA_VERSION - 1);
    await o.close();
    expect(await dump({ databaseUrl: older })).toEqual(theirs);
    expect(existsSync(secretOut)).toBe(false);
    // a conflict found after the file was claimed removes it too
    const other = await server().createDatabase('other-ca');
    const gw2 = await startTestGateway({ name: 'home', databaseUrl: other });
    await gw2.stop();
    expect((await refusal(migrateStorage({ dataDir: homeDir, databaseUrl: other, env: homeEnv, writeSecretTo: secretOut }))).code).toBe('MIGRATION_TARGET_CONFLICT');
    expect(existsSync(secretOut)).toBe(false);
    // a dry run with --write-secret writes no secret
    const empty = await server().createDatabase('dry-secret');
    expect((await migrateStorage({ dataDir: homeDir, databaseUrl: empty, env: homeEnv, dryRun: true, writeSecretTo: secretOut })).secret.writtenTo).toBeNull();
    expect(existsSync(secretOut)).toBe(false);
    expect(await dump({ dataDir: homeDir })).toEqual(source);

    // an embedded store of an older schema: a dry run refuses rather than upgrade it
    const dir = join(temp, 'older-source');
    cpSync(homeDir, dir, { recursive: true });
    const s = await openStorage({ dataDir: dir, migrate: false });
    await sql`delete from schema_migrations where version = ${LATEST_SCHEMA_VERSION}`.execute(s.db);
    await s.close();
    const before = await dump({ dataDir: dir });
    expect((await refusal(migrateStorage({ dataDir: dir, databaseUrl: empty, env: homeEnv, name: 'home', dryRun: true }))).code).toBe('MIGRATION_SOURCE_OUTDATED');
    expect(await dump({ dataDir: dir })).toEqual(before);
  });

  it('with MOSAIC_SECRET set, the gateway\'s own secret (where found) must be the same one, even when every sealed key opens', async () => {
    const realSecret = readFileSync(join(homeEnv.XDG_CONFIG_HOME!, 'mosaic', 'home', 'secret'), 'utf8').trim();
    const config = join(temp, 'other-config');
    mkdirSync(join(config, 'mosaic', 'home'), { recursive: true, mode: 0o700 });
    writeFileSync(join(config, 'mosaic', 'home', 'secret'), `${generateMasterSecret()}\n`, { mode: 0o600 });
    const url = await server().createDatabase('own-secret');
    const err = await refusal(migrateStorage({ dataDir: homeDir, databaseUrl: url, env: { ...homeEnv, XDG_CONFIG_HOME: config, MOSAIC_SECRET: realSecret }, name: 'home' }));
    expect(err.code).toBe('MIGRATION_SECRET_MISMATCH');
    expect(err.message).toMatch(/the gateway's own secret in .*other-config.* is seal key/);
    expect(await dump({ databaseUrl: url })).toEqual({ schema: ['none'] });
    // the same secret in both places is fine
    const ok = await migrateStorage({ dataDir: homeDir, databaseUrl: url, env: { ...homeEnv, MOSAIC_SECRET: realSecret }, name: 'home', dryRun: true });
    expect(ok.secret.source).toBe('env');
  });

  it('checks a pending renewal key under the secret too', async () => {
    const dir = join(temp, 'pending-renewal');
    cpSync(homeDir, dir, { recursive: true });
    const s = await openStorage({ dataDir: dir, migrate: false });
    // sealed under another secret: the run must notice, although the live key opens
    await sql`update peers set renewal_pending = ${'x'.repeat(10)}`.execute(s.db);
    await s.close();
    const url = await server().createDatabase('pending');
    const err = await refusal(migrateStorage({ dataDir: dir, databaseUrl: url, env: homeEnv, name: 'home' }));
    expect(err.code).toBe('MIGRATION_SECRET_MISMATCH');
    expect(err.message).toMatch(/pending renewal key/);
    expect(await dump({ databaseUrl: url })).toEqual({ schema: ['none'] });
  });

  it('refuses a running gateway (a real one on the data dir)', async () => {
    const dir = join(temp, 'running');
    cpSync(workDir, dir, { recursive: true });
    // (workDir was migrated by an earlier test: starting on its copy needs the override)
    const gw = await startTestGateway({ name: 'work', dataDir: dir, secret: workSecret, allowMigratedStore: true });
    try {
      const before = await dump({ dataDir: dir });
      const url = await server().createDatabase('running');
      const err = await refusal(migrateStorage({ dataDir: dir, databaseUrl: url, env: { ...workEnv, MOSAIC_SECRET: workSecret } }));
      expect(err.code).toBe('DATA_DIR_IN_USE');
      expect(err.message).toContain(String(process.pid));
      expect(await dump({ dataDir: dir })).toEqual(before);
      expect(await dump({ databaseUrl: url })).toEqual({ schema: ['none'] });
    } finally {
      await gw.stop();
    }
  });
});
