/**
 * Real gateways for the CLI's tests: `mosaic gateway start` of the built binary as a child
 * process (run `pnpm build` first), each with its own data dir, on free loopback ports, and
 * the `mosaic` binary itself run the way a person or a script runs it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdminClient } from '@mosaic/federation-core/admin-client';

export const BIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/bin.js');

/** A temp home with its own XDG dirs, and the environment every child gets. */
export function testHome(prefix: string): { dir: string; env: NodeJS.ProcessEnv; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_DATA_HOME: join(dir, 'share'),
    NO_COLOR: '1',
    MOSAIC_ADMIN_TOKEN: '',
    MOSAIC_GATEWAY_URL: '',
    MOSAIC_DATA_DIR: '',
  };
  return { dir, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ChildGateway {
  name: string;
  dataDir: string;
  adminUrl: string;
  federationUrl: string;
  caPin: string;
  /** An admin client with the gateway's root token. */
  admin: AdminClient;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `mosaic gateway start --name <name>` as a child process; resolves once its JSON summary is printed. */
export async function startChildGateway(name: string, home: { dir: string; env: NodeJS.ProcessEnv }, extraArgs: readonly string[] = []): Promise<ChildGateway> {
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`pnpm build\` first (pnpm install does it)`);
  const dataDir = join(home.dir, name);
  const child = spawn(process.execPath, [BIN, 'gateway', 'start', '--name', name, '--data-dir', dataDir, '--federation-port', '0', '--admin-port', '0', '--json', ...extraArgs], {
    env: home.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const summary = await new Promise<{ adminUrl: string; federationUrl: string; caPin: string }>((ok, fail) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) ok(JSON.parse(out.split('\n')[0]!) as { adminUrl: string; federationUrl: string; caPin: string });
    });
    child.on('exit', (code) => fail(new Error(`gateway ${name} exited with ${code}: ${err}`)));
    setTimeout(() => fail(new Error(`gateway ${name} did not start: ${err}`)), 30_000);
  });
  const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  return {
    name,
    dataDir,
    ...summary,
    admin: new AdminClient({ baseUrl: summary.adminUrl, token }),
    child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await done;
    },
  };
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `mosaic <args>` to completion (stdin from `input`, or empty: never a terminal). */
export function mosaic(env: NodeJS.ProcessEnv, args: string[], input?: string): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, input: input ?? '', encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A grant for `user` on `serving` and a fresh enrollment token for it. */
export async function enrollmentToken(
  serving: ChildGateway,
  options: { user: string; peerName?: string; resources?: Array<'tasks' | 'notes' | 'memory' | 'credentials' | 'api_keys'>; expiresAt?: string },
) {
  const grant = await serving.admin.createGrant({
    subjectUserId: options.user,
    peerName: options.peerName ?? 'home',
    scope: { resources: options.resources ?? ['tasks', 'notes'] },
    ...(options.expiresAt === undefined ? {} : { expiresAt: options.expiresAt }),
  });
  const token = await serving.admin.createToken(grant.id);
  return { grant, ...token };
}
