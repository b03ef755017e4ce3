/**
 * The storage suite, run against both engines (`describeEachEngine`): SQLite in a temp data
 * dir and PostgreSQL in a fresh database on a throw-away server.
 */
import { readFileSync, existsSync } from 'node:fs';
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  auditRowDigest,
  evaluateScope,
  isRowVisible,
  validateScope,
  type MosaicError,
  type SeedFile,
  type Visibility,
} from '@mosaic/federation-core';
import { describeEachEngine, type EngineHarness } from '../test-support/engines.js';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, TABLES, hashToken, type NewAuditRecord, type Storage } from './index.js';

const DAY = 86_400_000;
const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);
const scope = validateScope({ resources: ['tasks', 'notes'], max_rows_per_query: 50 });

/** The error a promise rejects with (fails when it resolves). */
async function rejection(p: Promise<unknown>): Promise<MosaicError> {
  try {
    await p;
  } catch (err) {
    return err as MosaicError;
  }
  throw new Error('expected a rejection');
}

const directorySeed: SeedFile = {
  users: [
    { id: 'alice', name: 'Alice' },
    { id: 'bob', name: 'Bob' },
  ],
  teams: [
    { id: 't1', name: 'One' },
    { id: 't2', name: 'Two' },
    { id: 't3', name: 'Three' },
  ],
  memberships: [
    { teamId: 't1', userId: 'alice' },
    { teamId: 't2', userId: 'alice' },
    { teamId: 't3', userId: 'bob' },
  ],
  resources: {
    tasks: [
      { id: 'a-alice', ownerUserId: 'alice', title: 'Alice plans the Launch', body: 'rocket fuel and coffee' },
      { id: 'b-bob', ownerUserId: 'bob', title: 'Bob secret launch', body: 'only bob' },
      { id: 'c-t1', teamId: 't1', title: 'Team one notes', body: 'launch checklist 100%' },
      { id: 'd-t2', teamId: 't2', title: 'Team two', body: 'Crème brûlée' },
      { id: 'e-t3', teamId: 't3', title: 'Team three launch', body: 'bob team' },
    ],
    notes: [{ id: 'n-1', ownerUserId: 'alice', title: 'note' }],
  },
};

/** Everything a seed can touch, to compare before/after a refused seed. */
async function directorySnapshot(s: Storage): Promise<unknown> {
  return {
    users: await s.directory.listUsers(),
    teams: await s.directory.listTeams(),
    memberships: await Promise.all(['alice', 'bob', 'carol'].map((u) => s.directory.teamIdsOfUser(u))),
    tasks: await s.resources.listForExplain('tasks'),
    notes: await s.resources.listForExplain('notes'),
    memory: await s.resources.listForExplain('memory'),
  };
}

let grantCounter = 0;
/** A grant id with a chosen prefix (grant ids are lowercase UUIDs). */
function grantId(prefix = ''): string {
  const n = (++grantCounter).toString(16).padStart(12, '0');
  const hex = `${prefix}${'0'.repeat(8)}`.slice(0, 8);
  return `${hex}-0000-4000-8000-${n}`;
}

function auditRow(id: string, overrides: Partial<NewAuditRecord> = {}): NewAuditRecord {
  return {
    id,
    at: T0.toISOString(),
    requestId: `req-${id}`,
    callerRequestId: null,
    traceId: null,
    grantId: null,
    peer: 'home',
    subjectUserId: 'alice',
    adminTokenName: null,
    verb: 'list',
    resource: 'tasks',
    queryHash: null,
    outcome: 'allowed',
    statusCode: 200,
    rowsOut: 3,
    bytesOut: 120,
    latencyMs: 1.5,
    prevHash: null,
    ...overrides,
  };
}

describeEachEngine('storage', (engine: EngineHarness) => {
  // ── migrations and lifecycle ───────────────────────────────────────────────────────────
  it('migrates at open, idempotently: a second run applies nothing', async () => {
    const s = await engine.open();
    expect(await s.schemaVersion()).toBe(LATEST_SCHEMA_VERSION);
    expect(await s.migrate()).toEqual({ applied: [], version: LATEST_SCHEMA_VERSION });
    const tables = (await s.db.introspection.getTables()).map((t) => t.name);
    for (const t of [...TABLES, 'schema_migrations']) expect(tables).toContain(t);
    expect(s.describe()).toMatch(engine.name === 'sqlite' ? /^SQLite \/.+\/gateway\.db$/ : /^PostgreSQL 127\.0\.0\.1:\d+\/postgres$/);
  });

  it('the list read walks a (subject, id) index: no sort of the rows, on every resource table', async () => {
    const s = await engine.open();
    for (const table of ['tasks', 'notes', 'memory', 'credentials', 'api_keys']) {
      if (engine.name === 'sqlite') {
        const plan = await sql<{ detail: string }>`explain query plan ${sql.raw(`select * from "${table}" where (owner_user_id = ?) order by "id" limit ?`)}`.execute(s.db);
        expect(plan.rows.map((r) => r.detail).join(' | ')).toBe(`SEARCH ${table} USING INDEX ${table}_owner_id_idx (owner_user_id=?)`);
      }
      const indexes = engine.name === 'sqlite'
        ? (await sql<{ name: string }>`select name from sqlite_master where type = 'index' and tbl_name = ${table} and name not like 'sqlite_autoindex%'`.execute(s.db)).rows.map((r) => r.name)
        : (await sql<{ name: string }>`select indexname as name from pg_indexes where schemaname = current_schema() and tablename = ${table} and indexname not like '%_pkey'`.execute(s.db)).rows.map((r) => r.name);
      expect(indexes.sort()).toEqual([`${table}_owner_id_idx`, `${table}_team_id_idx`]);
    }
  });

  it('two stores opened at once on an empty location migrate once, without error', async () => {
    const location = await engine.emptyDatabase();
    const [a, b] = await Promise.all([engine.openAt(location, { migrate: false }), engine.openAt(location, { migrate: false })]);
    const results = await Promise.all([a.migrate(), b.migrate()]);
    const versions = MIGRATIONS.map((m) => m.version);
    expect(results.map((r) => r.applied).sort()).toEqual([[], versions]);
    const rows = await sql<{ version: number }>`select version from schema_migrations order by version`.execute(a.db);
    expect(rows.rows.map((r) => Number(r.version))).toEqual(versions);
    // and the schema is usable from both handles
    await a.directory.applySeed({ users: [{ id: 'u', name: 'U' }] });
    expect(await b.directory.getUser('u')).toMatchObject({ id: 'u', name: 'U' });
  });

  it('refuses to run over a store migrated by a newer gateway', async () => {
    const location = await engine.location();
    const s = await engine.openAt(location);
    await sql`insert into schema_migrations (version, name, applied_at) values (${LATEST_SCHEMA_VERSION + 1}, 'future', '2031-01-01T00:00:00.000Z')`.execute(s.db);
    await expect(s.migrate()).rejects.toMatchObject({ code: 'STORAGE_SCHEMA_TOO_NEW' });
    await expect(engine.openAt(location)).rejects.toMatchObject({ code: 'STORAGE_SCHEMA_TOO_NEW' });
  });

  it('enforces the schema’s constraints: one owner per row, foreign keys, grant status', async () => {
    const s = await engine.open();
    await s.directory.applySeed(directorySeed);
    const row = { title: 't', body: null, created_at: T0.toISOString(), updated_at: T0.toISOString() };
    await expect(s.db.insertInto('tasks').values({ ...row, id: 'both', owner_user_id: 'alice', team_id: 't1' }).execute()).rejects.toThrow();
    await expect(s.db.insertInto('tasks').values({ ...row, id: 'neither', owner_user_id: null, team_id: null }).execute()).rejects.toThrow();
    await expect(s.db.insertInto('tasks').values({ ...row, id: 'ghost', owner_user_id: 'ghost', team_id: null }).execute()).rejects.toThrow();
    await expect(s.db.insertInto('memberships').values({ team_id: 'ghost', user_id: 'alice', created_at: T0.toISOString() }).execute()).rejects.toThrow();
    await expect(
      s.db
        .updateTable('grants')
        .set({ status: 'bogus' as 'active' })
        .execute()
        .then(async () => s.grants.create({ subjectUserId: 'alice', peerName: 'x', scope }))
        .then(async (g) => s.db.updateTable('grants').set({ status: 'bogus' as 'active' }).where('id', '=', g.id).execute()),
    ).rejects.toThrow();
    expect(await s.resources.count('tasks')).toBe(5);
  });

  it('keeps everything across close and reopen', async () => {
    const location = await engine.location();
    const first = await engine.openAt(location);
    await first.directory.applySeed(directorySeed);
    const g = await first.grants.create({ subjectUserId: 'alice', peerName: 'home', scope, expiresAt: at(90 * DAY) });
    await first.ca.createOnce({ caCertPem: 'CA', caSealedKey: 'sealed' });
    await first.ca.saveServerCert({ certPem: 'SRV', sealedKey: 'sealed2', serialHex: 'ab01', sans: ['dns:work.example'], notBefore: T0, notAfter: at(90 * DAY) }, null);
    await first.ca.bumpCrlNumber();
    await first.close();
    await first.close(); // idempotent

    const again = await engine.openAt(location);
    expect(await again.migrate()).toEqual({ applied: [], version: LATEST_SCHEMA_VERSION });
    expect(await again.directory.listUsers()).toHaveLength(2);
    expect((await again.resources.listForExplain('tasks')).map((r) => r.id)).toEqual(['a-alice', 'b-bob', 'c-t1', 'd-t2', 'e-t3']);
    expect(await again.grants.get(g.id)).toEqual(g);
    expect((await again.ca.get())?.crlNumber).toBe(1);
    expect((await again.ca.getServerCert())?.serialHex).toBe('ab01');
  });

  // ── seed ───────────────────────────────────────────────────────────────────────────────
  it('seeds, and seeding the same ids again updates them', async () => {
    const s = await engine.open();
    expect(await s.directory.applySeed(directorySeed)).toEqual({
      users: 2,
      teams: 3,
      memberships: 3,
      resources: { tasks: 5, notes: 1, memory: 0, credentials: 0, api_keys: 0 },
    });
    await s.directory.applySeed({
      users: [{ id: 'alice', name: 'Alice Liddell' }],
      memberships: [{ teamId: 't1', userId: 'alice' }], // again: no duplicate
      resources: { tasks: [{ id: 'a-alice', teamId: 't3', title: 'moved to a team' }] },
    });
    expect((await s.directory.getUser('alice'))?.name).toBe('Alice Liddell');
    expect(await s.directory.teamIdsOfUser('alice')).toEqual(['t1', 't2']);
    const moved = await s.resources.getVisible('tasks', 'a-alice', { ownerUserId: null, teamIds: ['t3'] });
    expect(moved).toMatchObject({ id: 'a-alice', title: 'moved to a team', body: null, ownerUserId: null, teamId: 't3' });
    expect(await s.resources.count('tasks')).toBe(5);
  });

  it('refuses an invalid seed file with the bad entry’s path and changes nothing', async () => {
    const s = await engine.open();
    await s.directory.applySeed(directorySeed);
    const before = await directorySnapshot(s);
    const bad = {
      users: [{ id: 'carol', name: 'Carol' }],
      resources: {
        tasks: [
          { id: 'x0', ownerUserId: 'carol', title: 'ok' },
          { id: 'x1', ownerUserId: 'carol', title: 'ok' },
          { id: 'x2', ownerUserId: 'carol', title: 'ok' },
          { id: 'x3', teamId: 42, title: 'bad team id' },
        ],
      },
    };
    const err = await rejection(s.directory.applySeed(bad));
    expect(err.code).toBe('SEED_INVALID');
    expect(err.statusCode).toBe(400);
    expect(err.details).toEqual(expect.arrayContaining([expect.objectContaining({ path: 'resources.tasks[3].teamId' })]));
    expect(err.message).toContain('resources.tasks[3].teamId');
    expect(await directorySnapshot(s)).toEqual(before);
  });

  it('refuses references to unknown users and teams, store unchanged; known ones in the store are fine', async () => {
    const s = await engine.open();
    await s.directory.applySeed(directorySeed);
    const before = await directorySnapshot(s);
    const err = await rejection(
      s.directory.applySeed({
        users: [{ id: 'carol', name: 'Carol' }],
        memberships: [
          { teamId: 't1', userId: 'carol' },
          { teamId: 'ghost-team', userId: 'carol' },
        ],
        resources: {
          notes: [
            { id: 'n-2', teamId: 't2', title: 'fine: t2 is in the store' },
            { id: 'n-3', ownerUserId: 'ghost-user', title: 'unknown owner' },
          ],
        },
      }),
    );
    expect(err.code).toBe('SEED_INVALID');
    expect((err.details as { path: string }[]).map((p) => p.path)).toEqual(['memberships[1].teamId', 'resources.notes[1].ownerUserId']);
    expect(JSON.stringify(err.details)).not.toContain('ghost');
    expect(await directorySnapshot(s)).toEqual(before);

    await s.directory.applySeed({ users: [{ id: 'carol', name: 'Carol' }], memberships: [{ teamId: 't1', userId: 'carol' }] });
    expect(await s.directory.memberIdsOfTeam('t1')).toEqual(['alice', 'carol']);
  });

  // ── visibility ─────────────────────────────────────────────────────────────────────────
  describe('visibility', () => describeVisibility(engine));

  // ── users, teams, memberships ──────────────────────────────────────────────────────────
  it('removing a membership takes effect at once; removing a user returns the grants to revoke', async () => {
    const s = await engine.open();
    await s.directory.applySeed(directorySeed);
    await s.directory.removeMembership('t2', 'alice');
    expect(await s.directory.teamIdsOfUser('alice')).toEqual(['t1']);
    expect((await rejection(s.directory.removeMembership('t2', 'alice'))).code).toBe('TEAM_NOT_FOUND');

    const g1 = await s.grants.create({ subjectUserId: 'alice', peerName: 'home', scope });
    const g2 = await s.grants.create({ subjectUserId: 'alice', peerName: 'laptop', scope });
    await s.grants.revoke(g2.id, { reason: 'old' });
    const g3 = await s.grants.create({ subjectUserId: 'bob', peerName: 'home', scope });

    const removed = await s.transaction(async (tx) => {
      const r = await tx.directory.deleteUser('alice');
      for (const id of r.grantIds) await tx.grants.revoke(id, { reason: 'subject removed' });
      return r;
    });
    expect(removed).toEqual({ userId: 'alice', grantIds: [g1.id] });
    expect(await s.directory.getUser('alice')).toBeNull();
    expect(await s.directory.teamIdsOfUser('alice')).toEqual([]);
    expect((await s.resources.listForExplain('tasks')).map((r) => r.id)).toEqual(['b-bob', 'c-t1', 'd-t2', 'e-t3']); // personal rows went
    expect((await s.grants.get(g1.id))?.status).toBe('revoked');
    expect((await s.grants.get(g2.id))?.revokeReason).toBe('old');
    expect((await s.grants.get(g3.id))?.status).toBe('pending');
    expect((await rejection(s.directory.deleteUser('alice'))).code).toBe('USER_NOT_FOUND');
  });

  it('a user removed while grants are being created for them: every grant is either listed for revocation or refused', async () => {
    const s = await engine.open();
    await s.directory.applySeed({ users: [{ id: 'dora', name: 'Dora' }] });
    const creates = Array.from({ length: 12 }, (_, i) => s.grants.create({ subjectUserId: 'dora', peerName: `p${i}`, scope }));
    const removal = s.directory.deleteUser('dora');
    const more = Array.from({ length: 12 }, (_, i) => s.grants.create({ subjectUserId: 'dora', peerName: `q${i}`, scope }));
    const settled = await Promise.allSettled([...creates, ...more]);
    const removed = await removal;
    for (const r of settled) {
      if (r.status === 'fulfilled') expect(removed.grantIds).toContain(r.value.id);
      else expect((r.reason as MosaicError).code).toBe('USER_NOT_FOUND');
    }
    const left = await s.grants.list({ subjectUserId: 'dora' });
    expect(left.map((g) => g.id).sort()).toEqual([...removed.grantIds].sort());
  });

  // ── grants ─────────────────────────────────────────────────────────────────────────────
  describe('grants', () => describeGrants(engine));

  // ── tokens ─────────────────────────────────────────────────────────────────────────────
  describe('enrollment tokens', () => describeTokens(engine));

  // ── certificates, CA state, CRL number ────────────────────────────────────────────────
  describe('certificates and CA state', () => describeCerts(engine));

  // ── peers, admin tokens, audit, meta ──────────────────────────────────────────────────
  describe('peers, admin tokens, audit, meta', () => describeRequestingSide(engine));

  // ── transactions and secrets at rest ─────────────────────────────────────────────────
  it('storage.transaction commits everything or nothing', async () => {
    const s = await engine.open();
    await s.directory.applySeed(directorySeed);
    const id = grantId('7777');
    await expect(
      s.transaction(async (tx) => {
        await tx.grants.create({ id, subjectUserId: 'alice', peerName: 'home', scope });
        await tx.tokens.create({ grantId: id, tokenHash: hashToken('t'), expiresAt: at(DAY) });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await s.grants.get(id)).toBeNull();
    expect(await s.tokens.findByHash(hashToken('t'))).toBeNull();

    const made = await s.transaction(async (tx) => {
      const g = await tx.grants.create({ id, subjectUserId: 'alice', peerName: 'home', scope });
      await tx.tokens.create({ grantId: g.id, tokenHash: hashToken('t'), expiresAt: at(DAY) });
      return g;
    });
    expect(await s.grants.get(id)).toEqual(made);
    expect((await s.tokens.findByHash(hashToken('t')))?.grantId).toBe(id);
  });

  it('keeps no secret in plaintext: tokens only as SHA-256 hashes', async () => {
    const s = await engine.open();
    await s.directory.applySeed(directorySeed);
    const enrollToken = `ENROLL-PLAINTEXT-${Math.random().toString(36).slice(2)}`;
    const adminToken = `ADMIN-PLAINTEXT-${Math.random().toString(36).slice(2)}`;
    const g = await s.grants.create({ subjectUserId: 'alice', peerName: 'home', scope });
    await s.tokens.create({ grantId: g.id, tokenHash: hashToken(enrollToken), expiresAt: at(DAY) });
    await s.adminTokens.create({ name: 'root', tokenHash: hashToken(adminToken) });
    // A plaintext token can never be passed where a hash belongs.
    await expect(s.tokens.create({ grantId: g.id, tokenHash: enrollToken, expiresAt: at(DAY) })).rejects.toThrow(/SHA-256/);
    await expect(s.adminTokens.create({ name: 'other', tokenHash: adminToken })).rejects.toThrow(/SHA-256/);

    let dump = '';
    for (const table of TABLES) {
      const rows = await s.db.selectFrom(table).selectAll().execute();
      dump += JSON.stringify(rows);
    }
    expect(dump).toContain(hashToken(enrollToken));
    expect(dump).toContain(hashToken(adminToken));
    expect(dump).not.toContain(enrollToken);
    expect(dump).not.toContain(adminToken);
    expect(JSON.stringify(await s.adminTokens.list())).not.toContain(hashToken(adminToken));

    if (engine.name === 'sqlite') {
      // The raw bytes on disk too: the database file and its write-ahead log.
      const file = s.location;
      const raw = Buffer.concat([readFileSync(file), existsSync(`${file}-wal`) ? readFileSync(`${file}-wal`) : Buffer.alloc(0)]).toString('latin1');
      expect(raw).toContain(hashToken(enrollToken));
      expect(raw).not.toContain(enrollToken);
      expect(raw).not.toContain(adminToken);
    }
  });
});

function describeVisibility(engine: EngineHarness): void {
  let s: Storage;
  beforeAll(async () => {
    s = await engine.open();
    await s.directory.applySeed(directorySeed);
  });
  const ids = async (v: Visibility, resource: 'tasks' | 'notes' = 'tasks'): Promise<string[]> =>
    (await s.resources.listVisible(resource, v, { limit: 100 })).items.map((r) => r.id);

  it.each<[string, Visibility, string[]]>([
    ['personal + both teams', { ownerUserId: 'alice', teamIds: ['t1', 't2'] }, ['a-alice', 'c-t1', 'd-t2']],
    ['personal, empty team list', { ownerUserId: 'alice', teamIds: [] }, ['a-alice']],
    ['null owner, one team', { ownerUserId: null, teamIds: ['t1'] }, ['c-t1']],
    ['null owner, empty team list: nothing', { ownerUserId: null, teamIds: [] }, []],
    ['another subject', { ownerUserId: 'bob', teamIds: ['t3'] }, ['b-bob', 'e-t3']],
    ['a team nobody owns rows of', { ownerUserId: null, teamIds: ['t9'] }, []],
  ])('listVisible: %s', async (_name, v, expected) => {
    expect(await ids(v)).toEqual(expected);
  });

  it('agrees with the scope pipeline’s predicate for every subject and filter', async () => {
    const all = await s.resources.listForExplain('tasks');
    const scopes = [
      { resources: ['tasks'] },
      { resources: ['tasks'], filters: { tasks: { include_teams: ['t1'] } } },
      { resources: ['tasks'], filters: { tasks: { include_teams: [], include_personal: true } } },
      { resources: ['tasks'], filters: { tasks: { include_personal: false } } },
      { resources: ['tasks'], filters: { tasks: { include_teams: ['t3'], include_personal: false } } },
    ];
    for (const input of scopes) {
      for (const userId of ['alice', 'bob', 'nobody']) {
        const facts = { userId, teamIds: await s.directory.teamIdsOfUser(userId) };
        const d = evaluateScope(validateScope(input), facts, { verb: 'list', resource: 'tasks' });
        if (!d.allowed) throw new Error('scope denied');
        const expected = all.filter((r) => isRowVisible(d.visibility, r)).map((r) => r.id);
        expect(await ids(d.visibility)).toEqual(expected);
      }
    }
  });

  it('pages by id with afterId, stably', async () => {
    const v = { ownerUserId: 'alice', teamIds: ['t1', 't2', 't3'] };
    const seen: string[] = [];
    let afterId: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page = await s.resources.listVisible('tasks', v, { limit: 2, afterId });
      seen.push(...page.items.map((r) => r.id));
      afterId = page.nextAfterId;
      if (afterId === null) break;
    }
    expect(seen).toEqual(['a-alice', 'c-t1', 'd-t2', 'e-t3']);
    await expect(s.resources.listVisible('tasks', v, { limit: 0 })).rejects.toThrow(RangeError);
  });

  it('the hot reads written as SQL text bind every value: quotes and marks in values are data', async () => {
    // listVisible and teamIdsOfUser skip Kysely's builder (docs/benchmarks.md); nothing a caller passes may become SQL.
    for (const hostile of [`a-alice' or '1'='1`, 'x" or "1"="1', '? or 1=1', '$1', 'a-alice; drop table tasks']) {
      expect(await s.directory.teamIdsOfUser(hostile)).toEqual([]);
      expect(await ids({ ownerUserId: hostile, teamIds: [hostile] })).toEqual([]);
    }
    // As an `afterId` (ids compared as text: both orders below hold in any collation).
    const v = { ownerUserId: 'alice', teamIds: ['t1', 't2'] };
    const after = async (afterId: string) => (await s.resources.listVisible('tasks', v, { limit: 100, afterId })).items.map((r) => r.id);
    expect(await after(`a-alice' or '1'='1`)).toEqual(['c-t1', 'd-t2']);
    expect(await after('x" or "1"="1')).toEqual([]);
    expect(await ids({ ownerUserId: 'alice', teamIds: [] })).toEqual(['a-alice']);
  });

  it('a listed row has the same fields and values as the same row read by getVisible', async () => {
    const v = { ownerUserId: 'alice', teamIds: ['t1', 't2'] };
    const page = await s.resources.listVisible('tasks', v, { limit: 100 });
    expect(page.items.length).toBe(3);
    for (const row of page.items) expect(row).toStrictEqual(await s.resources.getVisible('tasks', row.id, v));
  });

  it('the hot reads also run inside a storage transaction', async () => {
    const v = { ownerUserId: 'alice', teamIds: ['t1', 't2'] };
    const inside = await s.transaction(async (tx) => ({ teams: await tx.directory.teamIdsOfUser('alice'), rows: (await tx.resources.listVisible('tasks', v, { limit: 100 })).items.map((r) => r.id) }));
    expect(inside).toEqual({ teams: ['t1', 't2'], rows: ['a-alice', 'c-t1', 'd-t2'] });
  });

  it('the hot reads outside a transaction see committed data only, and do not wait for an open transaction', async () => {
    const v = { ownerUserId: 'alice', teamIds: ['t1', 't2'] };
    const before = { teams: await s.directory.teamIdsOfUser('alice'), rows: await ids(v) };
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let written!: () => void;
    const wrote = new Promise<void>((r) => (written = r));
    const now = new Date().toISOString();
    const open = s.db.transaction().execute(async (trx) => {
      await trx.insertInto('tasks').values({ id: 'b-uncommitted', title: 'not yet', body: null, owner_user_id: 'alice', team_id: null, created_at: now, updated_at: now }).execute();
      await trx.insertInto('memberships').values({ user_id: 'alice', team_id: 't3', created_at: now }).execute();
      written();
      await held;
    });
    await wrote;
    // While the writer's transaction is open: the last committed state, at once (on SQLite the
    // main connection is held by that transaction; the reads must not queue behind it).
    const during = await Promise.race([
      (async () => ({ teams: await s.directory.teamIdsOfUser('alice'), rows: await ids(v) }))(),
      new Promise<'waited'>((r) => setTimeout(() => r('waited'), 2_000)),
    ]);
    release();
    await open;
    expect(during).toEqual(before);
    expect(await s.directory.teamIdsOfUser('alice')).toEqual([...before.teams, 't3'].sort());
    expect(await ids(v)).toEqual([...before.rows, 'b-uncommitted'].sort());
    await s.db.deleteFrom('tasks').where('id', '=', 'b-uncommitted').execute();
    await s.db.deleteFrom('memberships').where('user_id', '=', 'alice').where('team_id', '=', 't3').execute();
  });

  it('getVisible: a missing row and an invisible row are both null', async () => {
    const alice = { ownerUserId: 'alice', teamIds: ['t1', 't2'] };
    expect(await s.resources.getVisible('tasks', 'a-alice', alice)).toMatchObject({ id: 'a-alice', ownerUserId: 'alice', teamId: null, body: 'rocket fuel and coffee' });
    expect(await s.resources.getVisible('tasks', 'c-t1', alice)).toMatchObject({ id: 'c-t1', teamId: 't1' });
    expect(await s.resources.getVisible('tasks', 'b-bob', alice)).toBeNull();
    expect(await s.resources.getVisible('tasks', 'e-t3', alice)).toBeNull();
    expect(await s.resources.getVisible('tasks', 'does-not-exist', alice)).toBeNull();
    expect(await s.resources.getVisible('notes', 'a-alice', alice)).toBeNull(); // another table
    expect(await s.resources.getVisible('tasks', 'a-alice', { ownerUserId: null, teamIds: [] })).toBeNull();
  });

  it('searches visible rows only, ranked: title 2, body 1 per term', async () => {
    const alice = { ownerUserId: 'alice', teamIds: ['t1', 't2'] };
    const hits = await s.resources.searchVisible('tasks', alice, 'LAUNCH', 10);
    // b-bob and e-t3 also say "launch" but alice cannot see them
    expect(hits.map((h) => [h.row.id, h.score])).toEqual([
      ['a-alice', 2],
      ['c-t1', 1],
    ]);
    expect((await s.resources.searchVisible('tasks', alice, 'launch coffee', 10)).map((h) => [h.row.id, h.score])).toEqual([
      ['a-alice', 3],
      ['c-t1', 1],
    ]);
    expect(await s.resources.searchVisible('tasks', alice, 'bob', 10)).toEqual([]);
    expect(await s.resources.searchVisible('tasks', alice, '   ', 10)).toEqual([]);
    expect((await s.resources.searchVisible('tasks', alice, 'launch', 1)).map((h) => h.row.id)).toEqual(['a-alice']);
    // LIKE wildcards are literal
    expect((await s.resources.searchVisible('tasks', alice, '100%', 10)).map((h) => h.row.id)).toEqual(['c-t1']);
    expect(await s.resources.searchVisible('tasks', alice, '_', 10)).toEqual([]);
    // non-ASCII letters match as written, on both engines alike
    expect((await s.resources.searchVisible('tasks', alice, 'brûlée', 10)).map((h) => h.row.id)).toEqual(['d-t2']);
    expect(await s.resources.searchVisible('tasks', alice, 'BRÛLÉE', 10)).toEqual([]);
    expect(await s.resources.searchVisible('tasks', { ownerUserId: null, teamIds: [] }, 'launch', 10)).toEqual([]);
  });
}

function describeGrants(engine: EngineHarness): void {
  let s: Storage;
  beforeAll(async () => {
    s = await engine.open({ clock: () => T0 });
    await s.directory.applySeed(directorySeed);
  });

  it('creates a pending grant; reads, lists and counts it', async () => {
    const g = await s.grants.create({ subjectUserId: 'alice', peerName: 'lister', scope, expiresAt: '2030-04-01T02:00:00+02:00' });
    expect(g).toMatchObject({
      subjectUserId: 'alice',
      peerName: 'lister',
      status: 'pending',
      scope,
      allowSensitive: false,
      createdAt: T0.toISOString(),
      activatedAt: null,
      expiresAt: '2030-04-01T00:00:00.000Z',
      certSerial: null,
      certNotAfter: null,
      scopeVersion: 1,
    });
    expect(g.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await s.grants.get(g.id)).toEqual(g);
    expect((await s.grants.list({ peer: 'lister' })).map((x) => x.id)).toEqual([g.id]);
    expect((await s.grants.list({ peer: 'lister', status: 'active' })).map((x) => x.id)).toEqual([]);
    expect((await s.grants.countByStatus()).pending).toBeGreaterThanOrEqual(1);
    expect((await rejection(s.grants.create({ subjectUserId: 'ghost', peerName: 'x', scope }))).code).toBe('USER_NOT_FOUND');
  });

  it('edits the scope (bumping scope_version) only while pending or active', async () => {
    const g = await s.grants.create({ subjectUserId: 'alice', peerName: 'editor', scope });
    const wider = validateScope({ resources: ['tasks', 'notes', 'credentials'] }, { allowSensitive: true });
    const edited = await s.grants.updateScope(g.id, wider, { allowSensitive: true });
    expect(edited).toMatchObject({ scope: wider, allowSensitive: true, scopeVersion: 2 });
    expect((await s.grants.updateScope(g.id, scope)).scopeVersion).toBe(3);
    await s.grants.revoke(g.id);
    expect((await rejection(s.grants.updateScope(g.id, scope))).code).toBe('GRANT_NOT_EDITABLE');
    expect((await rejection(s.grants.updateScope(grantId('ffff'), scope))).code).toBe('GRANT_NOT_FOUND');
  });

  it('activates with a recorded serial; revokes once; expires due grants', async () => {
    const g = await s.grants.create({ subjectUserId: 'alice', peerName: 'activator', scope, expiresAt: at(30 * DAY) });
    expect((await rejection(s.grants.activate(g.id, 'abcdef'))).code).toBe('GRANT_NOT_ENROLLABLE'); // not issued for it
    const active = await s.transaction(async (tx) => {
      await tx.certs.record({ serial: '0A:BC:DE', grantId: g.id, notBefore: T0, notAfter: at(20 * DAY) });
      return tx.grants.activate(g.id, 'ABCDE' /* same serial, other spelling */, at(1000));
    });
    expect(active).toMatchObject({ status: 'active', certSerial: '0abcde', certNotAfter: at(20 * DAY).toISOString(), activatedAt: at(1000).toISOString() });
    // renewal: a new serial becomes current; activatedAt stays the first
    await s.certs.record({ serial: '0f0f', grantId: g.id, notBefore: at(DAY), notAfter: at(25 * DAY) });
    expect(await s.grants.activate(g.id, '0f0f', at(DAY))).toMatchObject({ certSerial: '0f0f', activatedAt: at(1000).toISOString() });

    const revoked = await s.grants.revoke(g.id, { reason: 'lost laptop', at: at(2 * DAY) });
    expect(revoked).toMatchObject({ status: 'revoked', revokedAt: at(2 * DAY).toISOString(), revokeReason: 'lost laptop' });
    expect(await s.grants.revoke(g.id, { reason: 'again', at: at(3 * DAY) })).toEqual(revoked);
    expect((await rejection(s.grants.activate(g.id, '0f0f'))).code).toBe('GRANT_NOT_ENROLLABLE');
    expect((await rejection(s.grants.revoke(grantId('eeee')))).code).toBe('GRANT_NOT_FOUND');

    const soon = await s.grants.create({ subjectUserId: 'bob', peerName: 'expirer', scope, expiresAt: at(DAY) });
    const later = await s.grants.create({ subjectUserId: 'bob', peerName: 'expirer', scope, expiresAt: at(9 * DAY) });
    const never = await s.grants.create({ subjectUserId: 'bob', peerName: 'expirer', scope });
    const expired = await s.grants.expireDue(at(DAY));
    expect(expired).toContain(soon.id);
    expect(expired).not.toContain(later.id);
    expect(expired).not.toContain(never.id);
    expect((await s.grants.get(soon.id))?.status).toBe('expired');
    expect(await s.grants.expireDue(at(DAY))).toEqual([]);
    // an expired grant cannot be activated, even with a recorded cert
    await s.certs.record({ serial: '1234', grantId: later.id, notBefore: T0, notAfter: at(DAY) });
    expect((await rejection(s.grants.activate(later.id, '1234', at(10 * DAY)))).code).toBe('GRANT_NOT_ENROLLABLE');
  });

  it('resolves a unique id prefix (≥ 4 characters), refuses ambiguous and short ones', async () => {
    const one = await s.grants.create({ id: grantId('c0ffee'), subjectUserId: 'alice', peerName: 'p', scope });
    const a = await s.grants.create({ id: grantId('abcd01'), subjectUserId: 'alice', peerName: 'p', scope });
    await s.grants.create({ id: grantId('abcd02'), subjectUserId: 'alice', peerName: 'p', scope });

    expect((await s.grants.resolve('c0ff')).id).toBe(one.id);
    expect((await s.grants.resolve('C0FFEE')).id).toBe(one.id);
    expect((await s.grants.resolve(one.id)).id).toBe(one.id);
    expect((await s.grants.resolve('abcd01')).id).toBe(a.id);

    const ambiguous = await rejection(s.grants.resolve('abcd'));
    expect(ambiguous.code).toBe('GRANT_ID_AMBIGUOUS');
    expect(ambiguous.statusCode).toBe(400);
    expect(ambiguous.message).not.toMatch(/abcd0[12]/); // lists no ids
    expect(ambiguous.message).not.toContain('alice');

    const short = await rejection(s.grants.resolve('c0f'));
    expect(short.code).toBe('VALIDATION_FAILED');
    expect((await rejection(s.grants.resolve('%%%%'))).code).toBe('VALIDATION_FAILED');
    expect((await rejection(s.grants.resolve('dead'))).code).toBe('GRANT_NOT_FOUND');
  });
}

function describeTokens(engine: EngineHarness): void {
  let s: Storage;
  let gid: string;
  beforeAll(async () => {
    s = await engine.open({ clock: () => T0 });
    await s.directory.applySeed(directorySeed);
    gid = (await s.grants.create({ subjectUserId: 'alice', peerName: 'tokens', scope })).id;
  });

  it('a new token cancels the grant’s older unused ones; claims tell unknown/used/cancelled/expired apart', async () => {
    const first = await s.tokens.create({ grantId: gid, tokenHash: hashToken('first'), expiresAt: at(15 * 60_000) });
    expect(first.cancelled).toBe(0);
    expect(first.token).toMatchObject({ grantId: gid, reenroll: false, usedAt: null, cancelledAt: null });
    const second = await s.tokens.create({ grantId: gid, tokenHash: hashToken('second'), expiresAt: at(15 * 60_000), reenroll: true });
    expect(second.cancelled).toBe(1);
    expect(second.token.reenroll).toBe(true);

    expect(await s.tokens.claim(hashToken('first'), at(1000))).toEqual({ ok: false, reason: 'cancelled' });
    expect(await s.tokens.claim(hashToken('nope'), at(1000))).toEqual({ ok: false, reason: 'unknown' });
    const won = await s.tokens.claim(hashToken('second'), at(2000));
    expect(won).toEqual({ ok: true, token: { ...second.token, usedAt: at(2000).toISOString() } });
    expect(await s.tokens.claim(hashToken('second'), at(3000))).toEqual({ ok: false, reason: 'used' });
    expect(await s.tokens.claim(hashToken('second'), at(DAY))).toEqual({ ok: false, reason: 'used' }); // used wins over expired

    await s.tokens.create({ grantId: gid, tokenHash: hashToken('late'), expiresAt: at(60_000) });
    expect(await s.tokens.claim(hashToken('late'), at(60_000))).toEqual({ ok: false, reason: 'expired' });
    expect((await s.tokens.listOfGrant(gid)).length).toBe(3);
  });

  it('of 20 concurrent claims of one token exactly one wins (two handles on the store)', async () => {
    const location = await engine.location();
    const a = await engine.openAt(location);
    const b = await engine.openAt(location);
    await a.directory.applySeed({ users: [{ id: 'u', name: 'U' }] });
    const g = await a.grants.create({ subjectUserId: 'u', peerName: 'race', scope });
    await a.tokens.create({ grantId: g.id, tokenHash: hashToken('race'), expiresAt: new Date(Date.now() + 60_000) });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).tokens.claim(hashToken('race'))));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.reason))).toEqual(Array(19).fill('used'));
  });

  it('of concurrent token creations for one grant, only the last token stays usable', async () => {
    const g = await s.grants.create({ subjectUserId: 'alice', peerName: 'many-tokens', scope });
    await Promise.all(Array.from({ length: 10 }, (_, i) => s.tokens.create({ grantId: g.id, tokenHash: hashToken(`many-${i}`), expiresAt: at(60_000) })));
    const tokens = await s.tokens.listOfGrant(g.id);
    expect(tokens).toHaveLength(10);
    expect(tokens.filter((t) => t.cancelledAt === null && t.usedAt === null)).toHaveLength(1);
  });

  it('makes no token for a revoked grant', async () => {
    const g = await s.grants.create({ subjectUserId: 'alice', peerName: 'gone', scope });
    await s.tokens.create({ grantId: g.id, tokenHash: hashToken('gone-1'), expiresAt: at(60_000) });
    await s.grants.revoke(g.id);
    expect((await rejection(s.tokens.create({ grantId: g.id, tokenHash: hashToken('gone-2'), expiresAt: at(60_000) }))).code).toBe('GRANT_NOT_EDITABLE');
    expect(await s.tokens.cancelUnused(g.id)).toBe(1);
    expect((await rejection(s.tokens.create({ grantId: grantId('dddd'), tokenHash: hashToken('x'), expiresAt: at(60_000) }))).code).toBe('GRANT_NOT_FOUND');
  });
}

function describeCerts(engine: EngineHarness): void {
  let s: Storage;
  let gid: string;
  beforeAll(async () => {
    s = await engine.open({ clock: () => T0 });
    await s.directory.applySeed(directorySeed);
    gid = (await s.grants.create({ subjectUserId: 'alice', peerName: 'certs', scope })).id;
  });

  it('records serials (UNIQUE, canonical), revokes all but the current, and schedules revocations', async () => {
    await s.certs.record({ serial: 'AA:01', grantId: gid, notBefore: T0, notAfter: at(30 * DAY) });
    await s.certs.record({ serial: 'aa02', grantId: gid, notBefore: at(1), notAfter: at(30 * DAY) });
    await s.certs.record({ serial: '00aa03', grantId: gid, notBefore: at(2), notAfter: at(2 * DAY) });
    await expect(s.certs.record({ serial: 'AA01', grantId: gid, notBefore: T0, notAfter: at(DAY) })).rejects.toThrow();
    expect(await s.certs.serialsOfGrant(gid)).toEqual(['aa01', 'aa02', 'aa03']);
    expect((await s.certs.get('AA:02'))?.grantId).toBe(gid);

    // renewal: everything but the current serial, 10 minutes later
    expect(await s.certs.revokeAllExcept(gid, 'aa03', { reason: 'superseded', at: at(10 * 60_000) })).toEqual(['aa01', 'aa02']);
    expect(await s.certs.revokedSerials(at(0))).toEqual(new Set());
    expect(await s.certs.nextScheduledRevocation(at(0))).toBe(at(10 * 60_000).toISOString());
    expect(await s.certs.revokedSerials(at(10 * 60_000))).toEqual(new Set(['aa01', 'aa02']));

    // grant revoked now: the earlier time wins, the scheduled ones are pulled in
    expect(await s.certs.revokeAllOfGrant(gid, { reason: 'privilegeWithdrawn', at: at(60_000) })).toEqual(['aa01', 'aa02', 'aa03']);
    expect(await s.certs.revokedSerials(at(60_000))).toEqual(new Set(['aa01', 'aa02', 'aa03']));
    expect(await s.certs.revokeAllOfGrant(gid, { at: at(DAY) })).toEqual([]); // already revoked earlier

    // the CRL lists revoked, unexpired certificates with their dates
    expect(await s.certs.revokedList(at(3 * DAY))).toEqual([
      { serial: 'aa01', revokedAt: at(60_000).toISOString(), reason: 'privilegeWithdrawn' },
      { serial: 'aa02', revokedAt: at(60_000).toISOString(), reason: 'privilegeWithdrawn' },
    ]);
    await expect(s.certs.revokeAllOfGrant(gid, { reason: 'nonsense' as 'superseded' })).rejects.toThrow(TypeError);
  });

  it('creates the CA once: a second creator gets the first one’s row', async () => {
    const fresh = await engine.open({ clock: () => T0 });
    expect(await fresh.ca.get()).toBeNull();
    expect(await fresh.ca.getServerCert()).toBeNull();
    await expect(fresh.ca.bumpCrlNumber()).rejects.toMatchObject({ code: 'CA_STATE_MISSING' });
    const make = (n: number) => ({ caCertPem: `CA-${n}`, caSealedKey: `key-${n}` });
    const results = await Promise.all([fresh.ca.createOnce(make(1)), fresh.ca.createOnce(make(2))]);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(results[0].state).toEqual(results[1].state);
    const winner = results[0].state;
    expect(winner).toMatchObject({ createdAt: T0.toISOString(), crlNumber: 0 });
    expect(await fresh.ca.createOnce({ ...make(3), createdAt: at(DAY) })).toEqual({ state: winner, created: false });
    expect(await fresh.ca.get()).toEqual(winner);
    // the root alone: no server certificate until one is saved
    expect(await fresh.ca.getServerCert()).toBeNull();
  });

  it('replaces the server certificate by compare-and-swap on its serial', async () => {
    const fresh = await engine.open({ clock: () => T0 });
    const cert = (serialHex: string, sans = ['dns:a']) => ({ certPem: `srv-${serialHex}`, sealedKey: `skey-${serialHex}`, serialHex, sans, notBefore: T0, notAfter: at(90 * DAY) });
    await expect(fresh.ca.saveServerCert(cert('01'), null)).rejects.toMatchObject({ code: 'CA_STATE_MISSING' });
    await fresh.ca.createOnce({ caCertPem: 'CA', caSealedKey: 'k' });
    await expect(fresh.ca.saveServerCert(cert('NOT-HEX'), null)).rejects.toThrow(TypeError);

    // first save: only against "none stored"
    expect(await fresh.ca.saveServerCert(cert('01'), '00')).toEqual({ swapped: false, current: null });
    const first = await fresh.ca.saveServerCert(cert('01', ['dns:b', 'ip:10.0.0.1']), null);
    const stored01 = {
      certPem: 'srv-01',
      sealedKey: 'skey-01',
      serialHex: '01',
      sans: ['dns:b', 'ip:10.0.0.1'],
      notBefore: T0.toISOString(),
      notAfter: at(90 * DAY).toISOString(),
      issuedAt: T0.toISOString(),
    };
    expect(first).toEqual({ swapped: true, current: stored01 });
    expect(await fresh.ca.getServerCert()).toEqual(stored01);
    // a stale "none stored" or a wrong previous serial changes nothing and gets what is there
    expect(await fresh.ca.saveServerCert(cert('02'), null)).toEqual({ swapped: false, current: stored01 });
    expect(await fresh.ca.saveServerCert(cert('02'), '99')).toEqual({ swapped: false, current: stored01 });

    // two replicas renewing from the same serial at once: exactly one wins, both see the winner
    const race = await Promise.all([fresh.ca.saveServerCert({ ...cert('0a'), issuedAt: at(DAY) }, '01'), fresh.ca.saveServerCert({ ...cert('0b'), issuedAt: at(DAY) }, '01')]);
    expect(race.filter((r) => r.swapped)).toHaveLength(1);
    const won = race.find((r) => r.swapped)?.current;
    expect(won?.serialHex).toMatch(/^0[ab]$/);
    expect(won?.issuedAt).toBe(at(DAY).toISOString());
    expect(await fresh.ca.getServerCert()).toEqual(won);
    expect(race.find((r) => !r.swapped)?.current).toEqual(won);
    // the root and the counter are untouched by server certificate swaps
    expect(await fresh.ca.get()).toEqual({ caCertPem: 'CA', caSealedKey: 'k', createdAt: T0.toISOString(), crlNumber: 0 });
  });

  it('keeps the server certificate columns all set or all null', async () => {
    const fresh = await engine.open();
    await fresh.ca.createOnce({ caCertPem: 'CA', caSealedKey: 'k' });
    await expect(fresh.db.updateTable('ca_state').set({ server_cert_pem: 'half' }).execute()).rejects.toThrow();
    await expect(fresh.db.insertInto('ca_state').values({ id: 2, ca_cert_pem: 'x', ca_sealed_key: 'y', created_at: T0.toISOString() }).execute()).rejects.toThrow();
    expect(await fresh.ca.getServerCert()).toBeNull();
  });

  it('bumps the CRL number atomically: concurrent bumps get distinct, increasing numbers', async () => {
    const fresh = await engine.open();
    await fresh.ca.createOnce({ caCertPem: 'CA', caSealedKey: 'k' });
    const two = await Promise.all([fresh.ca.bumpCrlNumber(), fresh.ca.bumpCrlNumber()]);
    expect([...two].sort()).toEqual([1, 2]);
    const many = await Promise.all(Array.from({ length: 10 }, () => fresh.ca.bumpCrlNumber()));
    expect([...many].sort((x, y) => x - y)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect((await fresh.ca.get())?.crlNumber).toBe(12);
  });
}

function describeRequestingSide(engine: EngineHarness): void {
  let s: Storage;
  beforeAll(async () => {
    s = await engine.open({ clock: () => T0 });
  });

  const peer = (name: string, localUserId = 'alice') => ({
    name,
    endpoint: 'https://work.example:8443',
    serverName: 'work',
    localUserId,
    grantId: grantId('9999'),
    subjectUserId: localUserId,
    caCertPem: '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n',
    caPin: `sha256:${'ab'.repeat(32)}`,
    certPem: '-----BEGIN CERTIFICATE-----\nLEAF\n-----END CERTIFICATE-----\n',
    sealedKey: 'v1.kid.sealed',
    certSerial: '01F2',
    certNotBefore: T0,
    certNotAfter: at(30 * DAY),
    capabilities: null,
  });

  it('peers: insert all-or-nothing, names unique, state and health updates, delete', async () => {
    const p = await s.peers.insert(peer('work'));
    expect(p).toMatchObject({ name: 'work', certSerial: '01f2', state: 'active', capabilities: null, createdAt: T0.toISOString(), lastError: null });
    expect((await rejection(s.peers.insert(peer('work')))).code).toBe('PEER_EXISTS');
    await expect(s.peers.insert({ ...peer('broken'), certSerial: 'not hex' })).rejects.toThrow(TypeError);
    expect(await s.peers.get('broken')).toBeNull();
    await s.peers.insert(peer('bobs', 'bob'));
    expect((await s.peers.list()).map((x) => x.name)).toEqual(['bobs', 'work']);
    expect((await s.peers.list({ localUserId: 'alice' })).map((x) => x.name)).toEqual(['work']);

    const failed = await s.peers.recordFailure('work', { error: 'PEER_UNREACHABLE', at: at(1000), state: 'degraded' });
    expect(failed).toMatchObject({ state: 'degraded', lastFailureAt: at(1000).toISOString(), lastError: 'PEER_UNREACHABLE' });
    const caps = { server: 'work', resources: ['tasks'], excluded_resources: [], max_rows_per_query: 50, supported_verbs: ['list'], rate_limit_per_minute: 60 };
    const ok = await s.peers.recordSuccess('work', { at: at(2000), capabilities: caps });
    expect(ok).toMatchObject({ state: 'active', lastSuccessAt: at(2000).toISOString(), capabilities: caps });
    await s.peers.setState('work', 'revoked');
    expect((await s.peers.recordSuccess('work')).state).toBe('revoked');
    expect(await s.peers.countByState()).toEqual({ active: 1, degraded: 0, revoked: 1 });

    const swapped = await s.peers.replaceCertificate('work', { certPem: 'NEW', sealedKey: 'v1.kid.new', certSerial: '0BEEF', certNotBefore: at(DAY), certNotAfter: at(31 * DAY) });
    expect(swapped).toMatchObject({ certPem: 'NEW', sealedKey: 'v1.kid.new', certSerial: 'beef', certNotAfter: at(31 * DAY).toISOString() });

    await s.peers.delete('work');
    expect(await s.peers.get('work')).toBeNull();
    expect((await rejection(s.peers.delete('work'))).code).toBe('PEER_NOT_FOUND');
    expect((await rejection(s.peers.setState('work', 'active'))).code).toBe('PEER_NOT_FOUND');
  });

  it('admin tokens: by hash, listed without hashes, revoked, names reusable after revoke', async () => {
    const root = await s.adminTokens.create({ name: 'root', tokenHash: hashToken('root-secret') });
    expect(root).toEqual({ name: 'root', createdAt: T0.toISOString(), lastUsedAt: null, revokedAt: null });
    expect(await s.adminTokens.findByHash(hashToken('root-secret'))).toEqual(root);
    expect(await s.adminTokens.findByHash(hashToken('wrong'))).toBeNull();
    await expect(s.adminTokens.create({ name: 'root', tokenHash: hashToken('other') })).rejects.toMatchObject({ code: 'ADMIN_TOKEN_EXISTS', statusCode: 409 });
    await s.adminTokens.touchLastUsed('root', at(5000));
    await s.adminTokens.create({ name: 'ci', tokenHash: hashToken('ci-secret') });
    const list = await s.adminTokens.list();
    expect(list.map((t) => t.name)).toEqual(['ci', 'root']);
    expect(list[1]).toEqual({ ...root, lastUsedAt: at(5000).toISOString() });
    expect(Object.keys(list[0]!).sort()).toEqual(['createdAt', 'lastUsedAt', 'name', 'revokedAt']);

    expect(await s.adminTokens.activeHashes()).toEqual([
      { name: 'ci', tokenHash: hashToken('ci-secret') },
      { name: 'root', tokenHash: hashToken('root-secret') },
    ]);
    expect((await s.adminTokens.revoke('ci', at(6000))).revokedAt).toBe(at(6000).toISOString());
    expect((await s.adminTokens.activeHashes()).map((t) => t.name)).toEqual(['root']);
    expect(await s.adminTokens.findByHash(hashToken('ci-secret'))).toBeNull();
    await expect(s.adminTokens.revoke('ci')).rejects.toMatchObject({ code: 'ADMIN_TOKEN_NOT_FOUND' });
    const again = await s.adminTokens.create({ name: 'ci', tokenHash: hashToken('ci-secret-2') });
    expect(again.revokedAt).toBeNull();
    expect((await s.adminTokens.findByHash(hashToken('ci-secret-2')))?.name).toBe('ci');
  });

  it('audit: appends (re-shipping is a no-op), filters newest first, resumes after an id, counts, archives', async () => {
    const g = grantId('aaaa');
    const rows = [
      auditRow('s1-1', { at: at(1000).toISOString(), grantId: g }),
      auditRow('s1-2', { at: at(3000).toISOString(), outcome: 'denied', statusCode: 403, rowsOut: 0, verb: 'get' }),
      auditRow('s2-1', { at: at(2000).toISOString(), peer: 'other', spool: 's2'}),
      auditRow('s1-3', { at: at(4000).toISOString(), grantId: g, adminTokenName: 'root', verb: 'admin.grant.revoke', detail: '{"reason":"x"}'}),
    ];
    const withHash = rows.map((r) => ({ ...r, hash: auditRowDigest(r) }));
    expect(await s.audit.appendMany(withHash.slice(0, 3))).toBe(3);
    expect(await s.audit.appendMany(withHash)).toBe(1); // the first three were already there
    expect(await s.audit.append(withHash[0]!)).toBe(false);

    expect((await s.audit.query()).map((r) => r.id)).toEqual(['s1-3', 's1-2', 's2-1', 's1-1']);
    expect((await s.audit.query({ grantId: g })).map((r) => r.id)).toEqual(['s1-3', 's1-1']);
    expect((await s.audit.query({ peer: 'other' })).map((r) => r.id)).toEqual(['s2-1']);
    expect((await s.audit.query({ outcome: 'denied' })).map((r) => r.id)).toEqual(['s1-2']);
    expect((await s.audit.query({ verb: 'admin.grant.revoke' }))[0]).toMatchObject({ adminTokenName: 'root', detail: '{"reason":"x"}', hash: withHash[3]!.hash });
    expect((await s.audit.query({ since: at(2000) })).map((r) => r.id)).toEqual(['s1-3', 's1-2', 's2-1']);
    expect((await s.audit.query({ limit: 1 })).map((r) => r.id)).toEqual(['s1-3']);
    expect(await s.audit.count()).toBe(4);
    expect(await s.audit.count({ peer: 'home' })).toBe(3);

    const stored = await s.audit.get('s1-1');
    expect(stored).toEqual({ ...withHash[0], spool: null, detail: null });
    expect(auditRowDigest({ ...rows[0]! })).toBe(stored!.hash);

    // resume by arrival order, not by `at`
    expect((await s.audit.after(null))?.map((r) => r.id)).toEqual(['s1-1', 's1-2', 's2-1', 's1-3']);
    expect((await s.audit.after('s1-2'))?.map((r) => r.id)).toEqual(['s2-1', 's1-3']);
    expect((await s.audit.after('s1-2', 1))?.map((r) => r.id)).toEqual(['s2-1']);
    expect(await s.audit.after('no-such-id')).toBeNull();
    expect(await s.audit.latestId()).toBe('s1-3');
    expect((await s.audit.chain('s2')).map((r) => r.id)).toEqual(['s2-1']);

    expect(await s.audit.archiveOlderThan(at(2500))).toBe(2);
    // still queryable (audit-archive.test.ts has the rest)
    expect((await s.audit.query()).map((r) => r.id)).toEqual(['s1-3', 's1-2', 's2-1', 's1-1']);
    expect((await s.audit.query({ since: at(2500) })).map((r) => r.id)).toEqual(['s1-3', 's1-2']);
    const archived = await s.db.selectFrom('audit_log_archive').select(['id', 'seq']).orderBy('seq').execute();
    expect(archived.map((r) => r.id)).toEqual(['s1-1', 's2-1']);
  });

  it('audit: a large batch (split into pieces of fixed size) keeps its order, every column, and skips rows already stored', async () => {
    // 333 rows: 200 + 133, each written as power-of-two pieces (128 + 64 + 8, 128 + 4 + 1).
    const rows = Array.from({ length: 333 }, (_, i) =>
      auditRow(`big-${String(i).padStart(3, '0')}`, { at: at(10_000 + i).toISOString(), rowsOut: i, latencyMs: i / 8, spool: 'big', detail: i % 2 === 0 ? null : `{"i":${i}}` }),
    ).map((r) => ({ ...r, hash: auditRowDigest(r) }));
    expect(await s.audit.appendMany(rows.filter((_, i) => i % 50 === 0))).toBe(7); // stored before: 0, 50, …, 300
    expect(await s.audit.appendMany(rows)).toBe(333 - 7);
    const chain = await s.audit.chain('big');
    expect(chain).toHaveLength(333);
    const byId = new Map(chain.map(({ seq: _seq, ...r }) => [r.id, r]));
    for (const r of rows) expect(byId.get(r.id)).toEqual(r);
    // Arrival order: the seven early rows first, then the rest in the order given.
    const arrival = (await s.audit.after(null, 1_000))!.filter((r) => r.id.startsWith('big-')).map((r) => r.id);
    const early = rows.filter((_, i) => i % 50 === 0).map((r) => r.id);
    expect(arrival).toEqual([...early, ...rows.map((r) => r.id).filter((id) => !early.includes(id))]);
  });

  it('meta: set, read, set-if-absent keeps the first value', async () => {
    expect(await s.meta.get('gateway.name')).toBeNull();
    expect(await s.meta.setIfAbsent('gateway.name', 'work')).toBe('work');
    expect(await s.meta.setIfAbsent('gateway.name', 'home')).toBe('work');
    await s.meta.set('gateway.name', 'home');
    expect(await s.meta.get('gateway.name')).toBe('home');
    expect(await s.meta.delete('gateway.name')).toBe(true);
    expect(await s.meta.delete('gateway.name')).toBe(false);
  });
}
