// `mosaic federation audit …` — the real binary as a child process against a real gateway it
// starts itself (run `pnpm build` first). The store is changed behind the gateway's back with
// node:sqlite, as an attacker with the data dir would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/bin.js');
const home = mkdtempSync(join(tmpdir(), 'mosaic-cli-audit-'));
const dataDir = join(home, 'work');
const env = { ...process.env, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'share'), NO_COLOR: '1', MOSAIC_ADMIN_TOKEN: '', MOSAIC_GATEWAY_URL: '', MOSAIC_DATA_DIR: '' };
const DAY = 86_400_000;

function mosaic(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, input, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
/** `mosaic … --data-dir <the gateway's>`. */
const atGateway = (...args: string[]) => mosaic([...args, '--data-dir', dataDir]);

let gateway: ChildProcess;
let adminUrl = '';
let federationUrl = '';

async function admin(method: string, path: string, body?: unknown): Promise<number> {
  const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  const res = await fetch(`${adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? null : JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

/** The store, opened beside the running gateway (WAL: both may use it). */
function withStore<T>(fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(join(dataDir, 'gateway.db'), { timeout: 5_000 });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const listed = (): Array<{ id: string; verb: string; at: string }> => (JSON.parse(atGateway('federation', 'audit', '--json', '--limit', '1000').stdout) as { items: Array<{ id: string; verb: string; at: string }> }).items;

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`pnpm build\` first (pnpm install does it)`);
  gateway = spawn(process.execPath, [BIN, 'gateway', 'start', '--name', 'work', '--data-dir', dataDir, '--federation-port', '0', '--admin-port', '0', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  gateway.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const summary = await new Promise<{ adminUrl: string; federationUrl: string }>((ok, fail) => {
    gateway.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) ok(JSON.parse(out.split('\n')[0]!) as { adminUrl: string; federationUrl: string });
    });
    gateway.on('exit', (code) => fail(new Error(`gateway exited with ${code}: ${err}`)));
    setTimeout(() => fail(new Error(`gateway did not start: ${err}`)), 20_000);
  });
  adminUrl = summary.adminUrl;
  federationUrl = summary.federationUrl;
  // Traffic: admin mutations, and an enrollment attempt with a token that does not exist.
  expect(await admin('POST', '/api/admin/seed', { users: [{ id: 'alice', name: 'Alice' }] })).toBe(200);
  expect(await admin('POST', '/api/admin/grants', { subjectUserId: 'alice', peerName: 'home', scope: { resources: ['tasks'] } })).toBe(201);
  await new Promise<void>((ok) => {
    const req = httpsRequest(`${federationUrl}/api/federation/v1/enroll/${'x'.repeat(43)}`, { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => res.resume().on('end', ok));
    req.on('error', () => ok());
    req.end('{"csrPem":"-----BEGIN CERTIFICATE REQUEST-----\\n-----END CERTIFICATE REQUEST-----\\n"}');
  });
  expect(await admin('POST', '/api/admin/seed', { teams: [{ id: 't-eng', name: 'Eng' }] })).toBe(200);
  await until(() => listed().length >= 3);
}, 60_000);

afterAll(async () => {
  if (gateway.exitCode === null) {
    const done = new Promise((r) => gateway.once('exit', r));
    gateway.kill('SIGTERM');
    await done;
  }
  rmSync(home, { recursive: true, force: true });
});

describe('mosaic federation audit (child processes, real gateway)', () => {
  it('bare `mosaic federation` prints help and exits 0; an unknown subcommand is exit 2', () => {
    const bare = mosaic(['federation']);
    expect(bare.code).toBe(0);
    expect(bare.stdout).toContain('Usage: mosaic federation');
    expect(bare.stdout).toContain('audit');
    const unknown = mosaic(['federation', 'frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: unknown command "frobnicate"/m);
    expect(mosaic(['federation', 'audit', 'verfy']).code).toBe(2);
  });

  it('audit lists rows newest first in an 80-column table; --json is the API body; bad flags are exit 2 with a hint', () => {
    const table = atGateway('federation', 'audit');
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^WHEN\s+WHO\s+VERB\s+RESOURCE\s+OUTCOME\s+CODE\s+ROWS\s+MS$/);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(80);
    expect(lines[1]).toMatch(/^(now|\d+s ago)\s+admin:root\s+admin\.seed\s/);
    const body = JSON.parse(atGateway('federation', 'audit', '--json', '--verb', 'admin.seed').stdout) as { items: Array<{ verb: string; adminTokenName: string }> };
    expect(Object.keys(body)).toEqual(['items']);
    expect(body.items).toHaveLength(2);
    expect(body.items.every((r) => r.verb === 'admin.seed' && r.adminTokenName === 'root')).toBe(true);
    const none = atGateway('federation', 'audit', '--peer', 'nobody');
    expect(none).toMatchObject({ code: 0, stdout: '' });
    expect(none.stderr).toContain('no audit rows match');
    expect(atGateway('federation', 'audit', '--outcome', 'maybe').code).toBe(2);
    const since = atGateway('federation', 'audit', '--since', 'yesterday');
    expect(since.code).toBe(2);
    expect(since.stderr).toMatch(/^hint: .*--since 15m/m);
  });

  it('audit verify passes on a fresh gateway with traffic', () => {
    const r = atGateway('federation', 'audit', 'verify');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^✔ audit chain intact: \d+ rows in 1 spool\n$/);
    const json = atGateway('federation', 'audit', 'verify', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, spools: [{ chained: true }] });
  });

  it('archive --dry-run prints a count and changes nothing; archive moves the row, which stays listed and verifiable', () => {
    // An old row (written without a spool, so outside any chain) as if from 100 days ago.
    const oldAt = new Date(Date.now() - 100 * DAY).toISOString();
    withStore((db) =>
      db
        .prepare(
          `INSERT INTO audit_log (id, at, request_id, verb, outcome, status_code, rows_out, bytes_out, latency_ms, peer)
           VALUES ('old-row-1', ?, 'req-old', 'list', 'allowed', 200, 1, 10, 1.5, 'home')`,
        )
        .run(oldAt),
    );
    const before = listed();
    const dry = atGateway('federation', 'audit', 'archive', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^would archive 1 audit row older than 90d \(before .*\); nothing changed \(dry run\)\n$/);
    expect(JSON.parse(atGateway('federation', 'audit', 'archive', '--dry-run', '--older-than', '99d', '--json').stdout)).toMatchObject({ wouldMove: 1 });
    expect(JSON.parse(atGateway('federation', 'audit', 'archive', '--dry-run', '--older-than', '101d', '--json').stdout)).toMatchObject({ wouldMove: 0 });
    expect(listed()).toEqual(before);
    expect(withStore((db) => db.prepare('SELECT count(*) AS n FROM audit_log_archive').get())).toEqual({ n: 0 });

    const moved = atGateway('federation', 'audit', 'archive');
    expect(moved.code).toBe(0);
    expect(moved.stdout).toMatch(/^archived 1 audit row older than 90d/);
    expect(withStore((db) => db.prepare('SELECT id FROM audit_log_archive').all())).toEqual([{ id: 'old-row-1' }]);
    const back = JSON.parse(atGateway('federation', 'audit', '--since', '200d', '--peer', 'home', '--json').stdout) as { items: Array<{ id: string }> };
    expect(back.items.map((r) => r.id)).toContain('old-row-1');
    expect(atGateway('federation', 'audit', 'verify').code).toBe(0);
  });

  it('a wrong token is exit 4; a bad --older-than is exit 2 with a hint, before any request', () => {
    const bad = join(home, 'bad.token');
    writeFileSync(bad, 'x'.repeat(43));
    const denied = mosaic(['federation', 'audit', 'verify', '--gateway', adminUrl, '--token-file', bad]);
    expect(denied.code).toBe(4);
    expect(denied.stderr).toMatch(/^error: /m);
    expect(mosaic(['federation', 'audit', 'archive', '--dry-run', '--gateway', adminUrl, '--token-file', bad, '--json']).code).toBe(4);
    for (const value of ['90', '12h', '0d', 'ninety']) {
      const r = atGateway('federation', 'audit', 'archive', '--older-than', value);
      expect(r.code, value).toBe(2);
      expect(r.stderr, value).toMatch(/^error: --older-than/m);
      expect(r.stderr, value).toMatch(/^hint: .*90d/m);
    }
  });

  it('--follow --json prints one JSON object per line as rows are written, and stops after --limit rows', async () => {
    const child = spawn(process.execPath, [BIN, 'federation', 'audit', '--follow', '--json', '--limit', '2', '--verb', 'admin.seed', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    let n = 0;
    // The stream starts at the live tail: write rows until two have come through.
    while (child.exitCode === null && n < 100) {
      await admin('POST', '/api/admin/seed', { users: [{ id: `u${n++}`, name: 'U' }] });
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(await exited).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(JSON.parse(line)).toMatchObject({ verb: 'admin.seed', adminTokenName: 'root' });
  });

  it('--follow ends on Ctrl-C with exit 130', async () => {
    const child = spawn(process.execPath, [BIN, 'federation', 'audit', '--follow', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    await until(() => out.startsWith('WHEN'));
    let n = 0;
    while (!/admin\.seed/.test(out) && n < 50) {
      await admin('POST', '/api/admin/seed', { users: [{ id: `v${n++}`, name: 'V' }] });
      await new Promise((r) => setTimeout(r, 150));
    }
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(out).toMatch(/admin:root\s+admin\.seed/);
  });

  it('a row deleted from the store makes verify exit 1, naming the row where the chain breaks', async () => {
    await until(() => withStore((db) => (db.prepare('SELECT count(*) AS n FROM audit_log WHERE spool IS NOT NULL').get() as { n: number }).n >= 4));
    const chain = withStore((db) => db.prepare('SELECT id FROM audit_log WHERE spool IS NOT NULL ORDER BY seq').all() as Array<{ id: string }>);
    withStore((db) => db.prepare('DELETE FROM audit_log WHERE id = ?').run(chain[1]!.id));
    const r = atGateway('federation', 'audit', 'verify');
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`audit chain broken in spool`);
    expect(r.stdout).toContain(`the row before ${chain[2]!.id} (`);
    expect(r.stdout).toContain('is missing');
    const json = atGateway('federation', 'audit', 'verify', '--json');
    expect(json.code).toBe(1);
    const body = JSON.parse(json.stdout) as { ok: boolean; spools: Array<{ firstBreak?: { id: string; reason: string; at: string } }> };
    expect(body.ok).toBe(false);
    expect(body.spools.find((s) => s.firstBreak)?.firstBreak).toMatchObject({ id: chain[2]!.id, reason: 'missing' });
  });
});
