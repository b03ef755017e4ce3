// The real `mosaic` binary as a child process against a real gateway it starts itself.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../dist/bin.js');
const home = mkdtempSync(join(tmpdir(), 'mosaic-cli-'));
const dataDir = join(home, 'work');
const env = { ...process.env, XDG_CONFIG_HOME: join(home, 'config'), XDG_DATA_HOME: join(home, 'share'), NO_COLOR: '1', MOSAIC_ADMIN_TOKEN: '', MOSAIC_GATEWAY_URL: '', MOSAIC_DATA_DIR: '' };

function mosaic(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, input, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Started {
  child: ChildProcess;
  summary: { adminUrl: string; federationUrl: string; pid: number };
}

async function startGateway(dir: string, extra: string[] = []): Promise<Started> {
  const child = spawn(process.execPath, [BIN, 'gateway', 'start', '--name', 'work', '--data-dir', dir, '--federation-port', '0', '--admin-port', '0', '--json', ...extra], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const summary = await new Promise<Started['summary']>((resolvePromise, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolvePromise(JSON.parse(line) as Started['summary']);
    });
    child.on('exit', (code) => reject(new Error(`gateway exited with ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`gateway did not start: ${err}`)), 20_000);
  });
  return { child, summary };
}

function exited(child: ChildProcess): Promise<{ code: number | null; ms: number }> {
  const t = Date.now();
  return new Promise((r) => child.once('exit', (code) => r({ code, ms: Date.now() - t })));
}

let gw: Started;

beforeAll(async () => {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`pnpm build\` first (pnpm install does it)`);
  gw = await startGateway(dataDir);
});

afterAll(async () => {
  if (gw.child.exitCode === null) {
    gw.child.kill('SIGTERM');
    await exited(gw.child);
  }
  rmSync(home, { recursive: true, force: true });
});

describe('mosaic gateway (child processes, real gateway)', () => {
  it('start prints its summary and writes gateway.json with the admin URL', () => {
    expect(gw.summary.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(gw.summary.federationUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(existsSync(join(dataDir, 'gateway.json'))).toBe(true);
  });

  it('seed loads a file found through --data-dir, and --json prints the API body', () => {
    const file = join(home, 'seed.json');
    writeFileSync(file, JSON.stringify({ users: [{ id: 'alice', name: 'Alice' }], teams: [{ id: 't-eng', name: 'Eng' }], memberships: [{ teamId: 't-eng', userId: 'alice' }] }));
    const r = mosaic(['gateway', 'seed', file, '--data-dir', dataDir, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toBeTypeOf('object');
  });

  it('seed from stdin with a bad entry exits 2, names the entry, prints no stack', () => {
    const r = mosaic(['gateway', 'seed', '-', '--data-dir', dataDir], JSON.stringify({ memberships: [{ teamId: 'nope', userId: 'alice' }] }));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^error: /m);
    expect(r.stderr).toContain('memberships[0]');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('seed of a file that is not JSON exits 2 with a hint', () => {
    const file = join(home, 'broken.json');
    writeFileSync(file, '{"users": [');
    const r = mosaic(['gateway', 'seed', file, '--data-dir', dataDir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('not valid JSON');
    expect(r.stderr).toMatch(/^hint: /m);
  });

  it('--json errors go to stderr as the error envelope', () => {
    const r = mosaic(['gateway', 'seed', '-', '--data-dir', dataDir, '--json'], '{"users":[{"id":""}]}');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { code: expect.any(String) as unknown, message: expect.any(String) as unknown } });
  });

  it('admin-token create prints a token once; list shows names only; revoke ends it (then exit 4)', () => {
    const created = mosaic(['gateway', 'admin-token', 'create', 'ci', '--data-dir', dataDir]);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const tokenFile = join(home, 'ci.token');
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const list = mosaic(['gateway', 'admin-token', 'list', '--gateway', gw.summary.adminUrl, '--token-file', tokenFile, '--json']);
    expect(list.code).toBe(0);
    expect(list.stdout).not.toContain(token);
    expect((JSON.parse(list.stdout) as { items: Array<{ name: string }> }).items.map((t) => t.name).sort()).toEqual(['ci', 'root']);
    expect(mosaic(['gateway', 'admin-token', 'revoke', 'ci', '--data-dir', dataDir]).code).toBe(0);
    const after = mosaic(['gateway', 'admin-token', 'list', '--gateway', gw.summary.adminUrl, '--token-file', tokenFile]);
    expect(after.code).toBe(4);
    expect(after.stderr).toContain('admin token');
    expect(after.stderr).not.toContain(token);
  });

  it('on a Node older than the engines range it says so in one line with a hint, instead of failing deep inside', () => {
    // pretend to be Node 20.20 (this machine's own node), before bin.js reads process.versions
    const fake = `data:text/javascript,Object.defineProperty(process,'versions',{value:{...process.versions,node:'20.20.2'}})`;
    const r = spawnSync(process.execPath, ['--import', fake, BIN, 'gateway', 'start'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('error: mosaic needs Node.js 22.19 or newer; this is 20.20.2\nhint: install Node 24 LTS, or in a checkout run `. scripts/bootstrap.sh` to put it on your PATH\n');
    // --version still answers on any Node
    expect(spawnSync(process.execPath, ['--import', fake, BIN, '--version'], { encoding: 'utf8' }).status).toBe(0);
  });

  it('a wrong token is exit 4; an unreachable gateway exit 1 with a hint; a usage error exit 2', () => {
    const bad = join(home, 'bad.token');
    writeFileSync(bad, 'x'.repeat(43));
    expect(mosaic(['gateway', 'admin-token', 'list', '--gateway', gw.summary.adminUrl, '--token-file', bad]).code).toBe(4);
    const down = mosaic(['gateway', 'admin-token', 'list', '--gateway', 'http://127.0.0.1:1', '--token-file', bad]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/cannot reach the gateway/);
    expect(down.stderr).toMatch(/^hint: .*mosaic gateway start/m);
    expect(mosaic(['gateway', 'frobnicate']).code).toBe(2);
    expect(mosaic(['gateway', 'start', '--federation-port', 'x']).code).toBe(2);
    expect(mosaic(['--version']).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('a port in use is a clear error with a hint, and the data dir is left unlocked', () => {
    const port = new URL(gw.summary.adminUrl).port;
    const r = mosaic(['gateway', 'start', '--name', 'other', '--data-dir', join(home, 'other'), '--federation-port', '0', '--admin-port', port]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: the admin API cannot listen on 127\.0\.0\.1:\d+: the port is in use/m);
    expect(r.stderr).toMatch(/^hint: .*--admin-port/m);
    expect(existsSync(join(home, 'other', 'gateway.lock'))).toBe(false);
  });

  it('a second gateway on the same data dir is refused with a clear error', () => {
    const r = mosaic(['gateway', 'start', '--name', 'work', '--data-dir', dataDir, '--federation-port', '0', '--admin-port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/another gateway \(pid \d+\) is running on data dir/);
  });

  it('SIGTERM with keep-alive clients connected exits within 5 s and removes gateway.json', async () => {
    const agent = new HttpAgent({ keepAlive: true });
    // open a few idle keep-alive connections to the admin API
    await Promise.all(
      Array.from({ length: 4 }, () => new Promise<void>((r) => httpRequest(`${gw.summary.adminUrl}/health`, { agent }, (res) => res.resume().on('end', () => r())).end())),
    );
    // and to the federation listener
    const tlsAgent = new HttpsAgent({ keepAlive: true, rejectUnauthorized: false });
    await Promise.all(
      Array.from({ length: 4 }, () => new Promise<void>((r) => httpsRequest(`${gw.summary.federationUrl}/api/federation/v1/ca`, { agent: tlsAgent }, (res) => res.resume().on('end', () => r())).end())),
    );
    const done = exited(gw.child);
    gw.child.kill('SIGTERM');
    const { code, ms } = await done;
    agent.destroy();
    tlsAgent.destroy();
    expect(code).toBe(0);
    expect(ms).toBeLessThan(5_000);
    expect(existsSync(join(dataDir, 'gateway.json'))).toBe(false);
  });
});
