// `mosaic gateway doctor | user remove | team remove-member` — the real binary as a child
// process against real gateways it starts itself (run `pnpm build` first). Doctor's colours are
// made for real: green as started; yellow with REDIS_URL pointing where nothing listens; red with
// an audit spool that cannot be opened (its file is a directory).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '@mosaic/federation-core/admin-client';
import { doctorReportSchema, teamMemberRemovedSchema, userRemovedSchema } from '@mosaic/federation-core';
import { BIN, mosaic, testHome } from './test-support/gateways.js';

const home = testHome('mosaic-cli-gateway-');
const children: ChildProcess[] = [];

/** `mosaic gateway start` with extra flags; resolves with its data dir once it is ready. */
async function start(name: string, extra: string[] = [], prepare?: (dataDir: string) => void): Promise<{ dataDir: string; admin: AdminClient }> {
  const dataDir = join(home.dir, name);
  mkdirSync(dataDir, { recursive: true });
  prepare?.(dataDir);
  const child = spawn(process.execPath, [BIN, 'gateway', 'start', '--name', name, '--data-dir', dataDir, '--federation-port', '0', '--admin-port', '0', '--json', ...extra], {
    env: home.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const summary = await new Promise<{ adminUrl: string }>((ok, fail) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) ok(JSON.parse(out.split('\n')[0]!) as { adminUrl: string });
    });
    child.on('exit', (code) => fail(new Error(`gateway ${name} exited with ${code}: ${err}`)));
    setTimeout(() => fail(new Error(`gateway ${name} did not start: ${err}`)), 30_000);
  });
  return { dataDir, admin: new AdminClient({ baseUrl: summary.adminUrl, token: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim() }) };
}

let green: { dataDir: string; admin: AdminClient };
let yellow: { dataDir: string; admin: AdminClient };
let red: { dataDir: string; admin: AdminClient };

beforeAll(async () => {
  [green, yellow, red] = await Promise.all([
    start('green'),
    // port 1: nothing listens there, so Redis is unreachable from the start
    start('yellow', ['--redis-url', 'redis://127.0.0.1:1']),
    start('red', [], (dir) => mkdirSync(join(dir, 'audit-spool.db'))),
  ]);
  await green.admin.seed({
    users: [
      { id: 'alice', name: 'Alice' },
      { id: 'carol', name: 'Carol' },
    ],
    teams: [{ id: 't-eng', name: 'Eng' }],
    memberships: [
      { teamId: 't-eng', userId: 'alice' },
      { teamId: 't-eng', userId: 'carol' },
    ],
  });
});

afterAll(async () => {
  await Promise.all(
    children.map(
      (c) =>
        new Promise<void>((r) => {
          if (c.exitCode !== null || c.signalCode !== null) return r();
          c.once('exit', () => r());
          c.kill('SIGTERM');
        }),
    ),
  );
  home.cleanup();
});

const doctor = (dataDir: string, ...args: string[]) => mosaic(home.env, ['gateway', 'doctor', '--data-dir', dataDir, ...args]);

describe('gateway doctor', () => {
  it('green: every check ✔, exit 0 (also with --strict); --json is the API report', () => {
    const r = doctor(green.dataDir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^✔ storage\.reachable +SQLite /m);
    expect(r.stdout).toMatch(/^✔ audit\.spool +0 rows waiting to ship$/m);
    expect(r.stdout).toMatch(/^all \d+ checks green$/m);
    expect(r.stdout).not.toMatch(/[⚠✖]/);
    expect(doctor(green.dataDir, '--strict').code).toBe(0);
    const j = doctor(green.dataDir, '--json');
    expect(j.code).toBe(0);
    const report = doctorReportSchema.parse(JSON.parse(j.stdout));
    expect(report.status).toBe('green');
    expect(report.checks.map((c) => c.id)).toEqual(expect.arrayContaining(['storage.reachable', 'storage.migrations', 'ca.key_sealed', 'tls.server_cert_expiry', 'crl.fresh', 'audit.spool']));
  });

  it('yellow (Redis unreachable): ⚠ with the remediation, exit 0; --strict exit 1', async () => {
    // the limiter notices the refused connection within its connect timeout
    const deadline = Date.now() + 10_000;
    while ((await yellow.admin.doctor()).checks.find((c) => c.id === 'redis.reachable')?.status !== 'yellow') {
      if (Date.now() > deadline) throw new Error('redis.reachable never turned yellow');
      await new Promise((res) => setTimeout(res, 100));
    }
    const r = doctor(yellow.dataDir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^⚠ redis\.reachable +redis 127\.0\.0\.1:1 is unreachable/m);
    expect(r.stdout).toMatch(/^ +→ check that Redis\/Valkey at 127\.0\.0\.1:1 is up/m);
    expect(r.stdout).toMatch(/^0 red, 1 yellow — exit 0 \(--strict fails on yellow\)$/m);
    const strict = doctor(yellow.dataDir, '--strict');
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/^0 red, 1 yellow — exit 1 \(--strict\)$/m);
    const j = doctor(yellow.dataDir, '--strict', '--json');
    expect(j.code).toBe(1);
    expect(doctorReportSchema.parse(JSON.parse(j.stdout)).status).toBe('yellow');
  });

  it('red (the audit spool cannot be written): ✖ with the remediation, exit 1', () => {
    const r = doctor(red.dataDir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^✖ audit\.spool +the audit spool cannot be written/m);
    expect(r.stdout).toMatch(/^ +→ check the disk under the data dir/m);
    expect(r.stdout).toMatch(/^1 red, 0 yellow — exit 1$/m);
    const j = doctor(red.dataDir, '--json');
    expect(j.code).toBe(1);
    expect(doctorReportSchema.parse(JSON.parse(j.stdout)).status).toBe('red');
  });

  it('a wrong admin token is exit 4; no gateway is exit 1; an unknown flag exit 2', () => {
    const bad = join(home.dir, 'bad.token');
    writeFileSync(bad, 'y'.repeat(43));
    const url = JSON.parse(readFileSync(join(green.dataDir, 'gateway.json'), 'utf8')) as { adminUrl: string };
    expect(mosaic(home.env, ['gateway', 'doctor', '--gateway', url.adminUrl, '--token-file', bad]).code).toBe(4);
    const none = mosaic(home.env, ['gateway', 'doctor', '--data-dir', join(home.dir, 'nothing-here')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^hint: start it: mosaic gateway start --data-dir /m);
    expect(doctor(green.dataDir, '--frobnicate').code).toBe(2);
  });
});

describe('gateway user remove / team remove-member', () => {
  it('team remove-member takes a user out of a team; again is exit 1 (TEAM_NOT_FOUND); --json is the API body', () => {
    const r = mosaic(home.env, ['gateway', 'team', 'remove-member', 't-eng', 'carol', '--data-dir', green.dataDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('removed carol from team t-eng\n');
    const again = mosaic(home.env, ['gateway', 'team', 'remove-member', 't-eng', 'carol', '--data-dir', green.dataDir, '--json']);
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stderr)).toMatchObject({ error: { code: 'TEAM_NOT_FOUND' } });
    const j = mosaic(home.env, ['gateway', 'team', 'remove-member', 't-eng', 'alice', '--data-dir', green.dataDir, '--json']);
    expect(teamMemberRemovedSchema.parse(JSON.parse(j.stdout))).toEqual({ teamId: 't-eng', userId: 'alice' });
    expect(mosaic(home.env, ['gateway', 'team', 'remove-member', 't-eng', '--data-dir', green.dataDir]).code).toBe(2);
  });

  it('user remove revokes every grant whose subject they were; an unknown user is exit 1', async () => {
    const g = await green.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: { resources: ['tasks'] } });
    const r = mosaic(home.env, ['gateway', 'user', 'remove', 'alice', '--data-dir', green.dataDir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`removed user alice; revoked 1 grant: ${g.id.slice(0, 8)}\n`);
    expect((await green.admin.getGrant(g.id)).status).toBe('revoked');
    const j = mosaic(home.env, ['gateway', 'user', 'remove', 'carol', '--data-dir', green.dataDir, '--json']);
    expect(userRemovedSchema.parse(JSON.parse(j.stdout))).toEqual({ userId: 'carol', revokedGrantIds: [] });
    const unknown = mosaic(home.env, ['gateway', 'user', 'remove', 'alice', '--data-dir', green.dataDir]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: no user has the id "alice"$/m);
  });
});
