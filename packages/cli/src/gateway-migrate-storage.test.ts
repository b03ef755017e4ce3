// `mosaic gateway migrate-storage [--dry-run]` — the real binary as a child process (run
// `pnpm build` first) on the data dir of a real gateway it ran first, into a real PostgreSQL:
// the counts, the copy, the second run that copies nothing, the master secret's whereabouts,
// and the refusals with their exit codes (2 usage, 1 refused), each leaving the stores as they were.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailability, startPostgres, type PostgresServer } from '@mosaic/gateway-server/test-support/postgres';
import { generateMasterSecret } from '@mosaic/federation-core';
import { openStorage } from '@mosaic/gateway-server';
import { parseDoc, runDoc, type BlockAnnotations, type DocBlock } from './test-support/docs-runner.js';
import { BIN, mosaic, startChildGateway, testHome, type ChildGateway } from './test-support/gateways.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const SECTION = '## Moving from the embedded store to PostgreSQL';
/** The example URL of that section, replaced by a real database's. */
const DOC_URL = 'postgres://mosaic:…@db.internal:5432/mosaic';
const quote = (v: string) => `'${v.replace(/'/g, `'\\''`)}'`;

interface Report {
  dryRun: boolean;
  upToDate: boolean;
  name: string;
  tables: Array<{ table: string; source: number; inTarget: number; toCopy: number; copied: number }>;
  totals: { source: number; inTarget: number; toCopy: number; copied: number };
  secret: { source: string; location: string | null; sealKeyId: string; sealedKeysChecked: number; writtenTo: string | null };
}

const pgAvailable = postgresAvailability().available;
const TABLES = ['meta', 'users', 'teams', 'memberships', 'tasks', 'grants', 'enrollment_tokens', 'issued_certs', 'peers', 'ca_state', 'admin_tokens', 'audit_log', 'audit_log_archive'];

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as AddressInfo;
  await new Promise((ok) => server.close(ok));
  return port;
}

// Without PostgreSQL on a workstation this is skipped; in CI (.ci/run installs it) it fails instead.
describe.runIf(pgAvailable || process.env.CI === 'true')('mosaic gateway migrate-storage', () => {
  const home = testHome('mosaic-cli-migrate-');
  const running: ChildGateway[] = [];
  let pg: PostgresServer;
  let dataDir: string;
  let secretFile: string;
  /** The database the data dir was copied into (a copied store goes nowhere else). */
  let migratedUrl: string;

  const migrate = (databaseUrl: string | undefined, args: string[] = []) => {
    const env = { ...home.env };
    delete env.DATABASE_URL;
    delete env.MOSAIC_SECRET;
    if (databaseUrl !== undefined) env.DATABASE_URL = databaseUrl;
    return mosaic(env, ['gateway', 'migrate-storage', '--data-dir', dataDir, ...args]);
  };
  /** Every table of the PostgreSQL store, rows in order — or null before the schema exists. */
  const pgDump = async (url: string): Promise<Record<string, string[]> | null> => {
    const storage = await openStorage({ databaseUrl: url, migrate: false });
    try {
      const out: Record<string, string[]> = {};
      for (const table of TABLES) out[table] = (await storage.db.selectFrom(table as 'users').selectAll().execute()).map((r) => JSON.stringify(r)).sort();
      return out;
    } catch (err) {
      if (/does not exist/.test((err as Error).message)) return null;
      throw err;
    } finally {
      await storage.close();
    }
  };

  beforeAll(async () => {
    pg = await startPostgres();
    // No MOSAIC_SECRET: the embedded gateway keeps its own secret (keyring or file).
    const work = await startChildGateway('work', home);
    running.push(work);
    dataDir = work.dataDir;
    await work.admin.seed({ users: [{ id: 'alice', name: 'Alice' }], teams: [{ id: 'T1', name: 'One' }], memberships: [{ teamId: 'T1', userId: 'alice' }], resources: { tasks: [{ id: 't-1', teamId: 'T1', title: 'ship it' }] } });
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: { resources: ['tasks'] } });
    await work.admin.createToken(grant.id);
    await work.admin.createAdminToken('ci');
    await work.stop();
    secretFile = join(home.dir, 'config', 'mosaic', 'work', 'secret');
  }, 90_000);

  afterAll(async () => {
    for (const gw of running) await gw.stop();
    await pg?.stop();
    home.cleanup();
  });

  it('--help shows an example and the exit codes', () => {
    const r = mosaic(home.env, ['gateway', 'migrate-storage', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--dry-run');
    expect(r.stdout).toMatch(/Examples:\n\s+DATABASE_URL=postgres:\/\/\S+ mosaic gateway migrate-storage/);
    expect(r.stdout).toContain('Exit codes:');
  });

  it('usage errors exit 2 with one error line and a hint: no DATABASE_URL, not a postgres:// URL, an unknown flag', () => {
    const none = migrate(undefined);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^error: DATABASE_URL is not set[^\n]*\nhint: set DATABASE_URL to the PostgreSQL/);
    expect(none.stderr.split('\n').filter(Boolean)).toHaveLength(2);
    const mysql = migrate('mysql://db/x', ['--json']);
    expect(mysql.code).toBe(2);
    expect(JSON.parse(mysql.stderr)).toMatchObject({ error: { code: 'MIGRATION_TARGET_INVALID' } });
    expect(migrate('postgres://x@127.0.0.1/x', ['--bogus']).code).toBe(2);
  });

  it('an unreachable PostgreSQL: exit 1, one line naming it without the password, no stack', async () => {
    const r = migrate(`postgres://mosaic:hunter2@127.0.0.1:${await closedPort()}/mosaic`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot open the store \(PostgreSQL 127\.0\.0\.1:\d+\/mosaic\)/);
    expect(r.stderr).not.toContain('hunter2');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--dry-run prints per-table counts and writes nothing; the copy says where the master secret is; a second run copies nothing', async () => {
    const url = await pg.createDatabase('cli');
    migratedUrl = url;
    const dry = migrate(url, ['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/table\s+source\s+in target\s+to copy/);
    expect(dry.stdout).toMatch(/\n\s+users\s+1\s+0\s+1\n/);
    expect(dry.stdout).toMatch(/\n\s+ca_state\s+1\s+0\s+1\n/);
    expect(dry.stdout).toMatch(/would copy \d+ rows; run again without --dry-run/);
    expect(await pgDump(url)).toBeNull();

    const copy = migrate(url);
    expect(copy.code, copy.stderr).toBe(0);
    expect(copy.stdout).toMatch(/copied \d+ rows in one transaction/);
    expect(copy.stdout).toContain(`MOSAIC_SECRET="$(cat ${secretFile})" DATABASE_URL=… mosaic gateway start --name work --data-dir ${dataDir}`);
    expect(copy.stdout).not.toContain(readFileSync(secretFile, 'utf8').trim());

    const again = migrate(url, ['--json']);
    expect(again.code).toBe(0);
    const report = JSON.parse(again.stdout) as Report;
    expect(report).toMatchObject({ dryRun: false, upToDate: true, name: 'work', secret: { source: 'file', location: secretFile, writtenTo: null } });
    expect(report.totals.copied).toBe(0);
    expect(report.totals.inTarget).toBe(report.totals.source);
    expect(report.tables.find((t) => t.table === 'grants')).toMatchObject({ source: 1, inTarget: 1, toCopy: 0 });
    const human = migrate(url);
    expect(human.stdout).toContain('nothing to copy: the target already holds every row of this store (already migrated)');
  });

  it('--write-secret writes the master secret to a new 0600 file, never to the screen', () => {
    const url = migratedUrl; // a re-run into the same database writes it too
    const out = join(home.dir, 'secret-for-postgres');
    const r = migrate(url, ['--write-secret', out]);
    expect(r.code, r.stderr).toBe(0);
    const secret = readFileSync(secretFile, 'utf8').trim();
    expect(readFileSync(out, 'utf8').trim()).toBe(secret);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(r.stdout).toContain(`MOSAIC_SECRET="$(cat ${out})"`);
    expect(r.stdout).not.toContain(secret);
    const twice = migrate(url, ['--write-secret', out, '--json']);
    expect(twice.code).toBe(2);
    expect(JSON.parse(twice.stderr)).toMatchObject({ error: { code: 'MIGRATION_SECRET_FILE_REFUSED' } });
  });

  it('refuses while a gateway runs on the data dir, and a database another gateway runs on (exit 1, nothing written)', async () => {
    const url = await pg.createDatabase('cli-refused');
    // The data dir was migrated by the tests above: a plain start refuses it, one line and a hint.
    const refused = mosaic(home.env, ['gateway', 'start', '--name', 'work', '--data-dir', dataDir, '--federation-port', '0', '--admin-port', '0']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: this data dir's embedded store was copied to PostgreSQL .+ by `gateway migrate-storage`/);
    expect(refused.stderr).toMatch(/\nhint: start with DATABASE_URL set to that database; to run on this copy anyway .* pass --allow-migrated-store/);
    expect(refused.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(existsSync(join(dataDir, 'gateway.lock'))).toBe(false);
    const again = await startChildGateway('work', home, ['--allow-migrated-store']);
    running.push(again);
    try {
      const busy = migrate(url);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(new RegExp(`^error: another gateway \\(pid ${again.child.pid}\\) is running on data dir`));
      expect(busy.stderr).toMatch(/\nhint: stop it first/);
    } finally {
      await again.stop();
    }
    expect(existsSync(join(dataDir, 'gateway.lock'))).toBe(false);
    expect(await pgDump(url)).toBeNull();

    const otherUrl = await pg.createDatabase('cli-other');
    const other = await startChildGateway('other', { dir: home.dir, env: { ...home.env, DATABASE_URL: otherUrl, MOSAIC_SECRET: generateMasterSecret() } });
    running.push(other);
    await other.stop();
    const before = await pgDump(otherUrl);
    expect(before?.ca_state).toHaveLength(1);
    // The data dir went to migratedUrl already: any other database is refused before it is looked at
    // (MIGRATION_TARGET_CONFLICT for a database in use is covered in gateway-server's migrate-storage.test.ts).
    const conflict = migrate(otherUrl, ['--json']);
    expect(conflict.code).toBe(1);
    const err = JSON.parse(conflict.stderr) as { error: { code: string; message: string; remediation: string } };
    expect(err.error.code).toBe('MIGRATION_SOURCE_MIGRATED');
    expect(err.error.message).toContain('was already copied to PostgreSQL');
    expect(err.error.remediation).toMatch(/pg_dump/);
    expect(await pgDump(otherUrl)).toEqual(before);
    const human = migrate(otherUrl);
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/^error: the embedded store .+ was already copied to PostgreSQL [^\n]+\nhint: the gateway runs on that database now/);
  });

  it('docs/setup.md "Moving from the embedded store to PostgreSQL" runs as written, against a real PostgreSQL', async () => {
    const text = readFileSync(join(ROOT, 'docs/setup.md'), 'utf8');
    const lines = text.split('\n');
    const from = lines.indexOf(SECTION) + 1;
    expect(from, `docs/setup.md has no "${SECTION}"`).toBeGreaterThan(0);
    const to = lines.findIndex((l, i) => i >= from && l.startsWith('## ')) + 1 || lines.length + 1;
    const blocks = parseDoc('docs/setup.md', text).blocks.filter((b) => b.line > from && b.line < to && b.commands.length > 0);
    expect(blocks).toHaveLength(3);
    const url = await pg.createDatabase('docs');
    const none: BlockAnnotations = { skip: null, gateway: null, captures: [], expects: [], exit: 0, stops: [], before: [] };
    // What the section starts from: an embedded gateway "work" that ran (and is stopped by the section's first block).
    const prelude: DocBlock = {
      file: 'docs/setup.md',
      line: from,
      lang: 'sh',
      commands: [
        { line: from, text: 'mosaic gateway start --name work' },
        { line: from, text: 'mosaic gateway seed seed.json' },
      ],
      annotations: { ...none, before: [`echo '{"users":[{"id":"alice","name":"Alice"}]}' > seed.json`] },
    };
    // `export X=…` lines hold for the rest of the section (each command runs in its own shell here).
    const exported: string[] = [];
    const section = blocks.map((b, i): DocBlock => {
      expect(b.annotations.skip, `docs/setup.md:${b.line}`).toMatch(/gateway-migrate-storage\.test\.ts/);
      const commands = [];
      for (const c of b.commands) {
        const m = /^export (\w+)=(.+)$/.exec(c.text);
        if (m !== null) exported.push(`${m[1]}=${m[2] === DOC_URL ? quote(url) : m[2]!}`);
        else commands.push({ line: c.line, text: exported.length === 0 ? c.text : `env ${exported.join(' ')} ${c.text}` });
      }
      const expects = [[/would copy \d+ rows[\s\S]*copied \d+ rows in one transaction[\s\S]*MOSAIC_SECRET="\$\(cat \S+\/\.config\/mosaic\/work\/secret\)"/], [], [/audit chain intact/]][i] ?? [];
      return { ...b, commands, annotations: { ...b.annotations, skip: null, stops: i === 0 ? ['work'] : [], expects } };
    });
    expect(exported).toEqual([`DATABASE_URL=${quote(url)}`, 'MOSAIC_SECRET="$(cat ~/.config/mosaic/work/secret)"']);
    await runDoc(
      { file: 'docs/setup.md', blocks: [prelude, ...section], problems: [] },
      {
        bin: BIN,
        atEnd: async (world) => {
          const status = await world.sh('mosaic federation status --json');
          expect(status.code, status.output).toBe(0);
          expect(JSON.parse(status.output)).toMatchObject({ status: { name: 'work', storage: { engine: 'postgres' } } });
        },
      },
    );
  }, 120_000);
});
