/**
 * A throw-away Redis for tests: `redis-server` on a free loopback port with a fresh temp dir,
 * no persistence (`--save '' --appendonly no`), `noeviction`; ready once it answers PING.
 * `kill()` ends it mid-test (an outage, for real), `restart()` brings it back on the same port
 * (empty, as a Redis without persistence comes back), `stop()` ends it and removes the temp
 * dir; a process exit hook does the same if a test run ends without calling it.
 *
 * Environment:
 * - `MOSAIC_REDIS_BIN` — the directory holding `redis-server` (or Valkey's `valkey-server`);
 *   default: PATH, then `/usr/bin`, `/usr/local/bin`, Homebrew's prefix.
 * - `CI=true` — a missing redis-server is a failure, not a skip (`describeWithRedis`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';

/** Whether tests can have a Redis, and where its server binary is. */
export type RedisAvailability = { readonly available: true; readonly binary: string } | { readonly available: false; readonly reason: string };

const NAMES = ['redis-server', 'valkey-server'];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Find `redis-server` (or `valkey-server`): `MOSAIC_REDIS_BIN`, PATH, then the usual places. Cheap and synchronous. */
export function redisAvailability(): RedisAvailability {
  const explicit = process.env.MOSAIC_REDIS_BIN;
  const dirs =
    explicit !== undefined && explicit !== ''
      ? [explicit]
      : [...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''), '/usr/bin', '/usr/local/bin', '/opt/homebrew/bin'];
  for (const dir of dirs) {
    for (const name of NAMES) {
      const binary = join(dir, name);
      if (executable(binary)) return { available: true, binary };
    }
  }
  return {
    available: false,
    reason:
      explicit !== undefined && explicit !== ''
        ? `no redis-server or valkey-server in MOSAIC_REDIS_BIN=${explicit}`
        : 'no redis-server or valkey-server on PATH (apt-get install redis-server, or set MOSAIC_REDIS_BIN)',
  };
}

/** A running test Redis. */
export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** How long `startRedis` took (ms). */
  readonly startMs: number;
  /** Whether the server process is running now. */
  readonly running: boolean;
  /** Kill the server now (default SIGKILL: no goodbye to its clients); the port and dir stay for `restart`. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start it again on the same port, empty (no persistence), and wait for PING. */
  restart(): Promise<void>;
  /** Freeze it (SIGSTOP): connections stay open, commands hang. `thaw()` resumes it. */
  freeze(): void;
  thaw(): void;
  /** Stop the server and remove its temp dir. Idempotent. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket: true on `+PONG`. */
function ping(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const running = new Set<{ child: ChildProcess | undefined; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const r of running) {
      try {
        r.child?.kill('SIGKILL');
      } catch {
        /* already gone */
      }
      rmSync(r.dir, { recursive: true, force: true });
    }
  });
}

function spawnServer(binary: string, port: number, dir: string, stderr: string[]): ChildProcess {
  // prettier-ignore
  const child = spawn(binary, [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--maxmemory-policy', 'noeviction',
    '--logfile', '',
  ], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  const keep = (chunk: Buffer) => {
    if (stderr.length < 200) stderr.push(chunk.toString('utf8'));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return child;
}

async function waitReady(port: number, child: ChildProcess, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited early (${child.exitCode ?? child.signalCode})`);
    if (await ping('127.0.0.1', port)) return;
    await sleep(20);
  }
  throw new Error('redis-server did not answer PING in time');
}

async function killAndWait(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGCONT'); // a frozen server cannot handle SIGTERM
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Start a test Redis.
 * @throws when redis-server is not available — check {@link redisAvailability} first
 */
export async function startRedis(availability: RedisAvailability = redisAvailability()): Promise<RedisServer> {
  if (!availability.available) throw new Error(`Redis not available: ${availability.reason}`);
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'mosaic-redis-'));
  const entry: { child: ChildProcess | undefined; dir: string } = { child: undefined, dir };
  running.add(entry);
  installExitHook();
  const host = '127.0.0.1';
  let port = 0;
  const launch = async (): Promise<void> => {
    const output: string[] = [];
    const child = spawnServer(availability.binary, port, dir, output);
    entry.child = child;
    try {
      await waitReady(port, child, Date.now() + 10_000);
    } catch (err) {
      await killAndWait(child, 'SIGKILL');
      throw new Error(`${err instanceof Error ? err.message : String(err)}\n${output.join('').slice(-2000)}`, { cause: err });
    }
  };
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    port = await freePort();
    try {
      await launch();
      lastError = undefined;
      break;
    } catch (err) {
      lastError = err;
    }
  }
  if (lastError !== undefined) {
    running.delete(entry);
    rmSync(dir, { recursive: true, force: true });
    throw lastError instanceof Error ? lastError : new Error('redis-server did not start');
  }
  let stopped: Promise<void> | undefined;
  const alive = () => entry.child !== undefined && entry.child.exitCode === null && entry.child.signalCode === null;
  return {
    host,
    port,
    url: `redis://${host}:${port}`,
    startMs: Date.now() - started,
    get running() {
      return alive();
    },
    kill: async (signal = 'SIGKILL') => {
      if (entry.child !== undefined) await killAndWait(entry.child, signal);
    },
    restart: async () => {
      if (stopped !== undefined) throw new Error('this test Redis was stopped');
      if (alive()) throw new Error('this test Redis is still running: kill() it first');
      await launch();
    },
    freeze: () => void entry.child?.kill('SIGSTOP'),
    thaw: () => void entry.child?.kill('SIGCONT'),
    stop: () =>
      (stopped ??= (async () => {
        if (entry.child !== undefined) await killAndWait(entry.child, 'SIGTERM');
        running.delete(entry);
        rmSync(dir, { recursive: true, force: true });
      })()),
  };
}

/**
 * `describe(name, body)` with a Redis started in its `beforeAll` and stopped in its
 * `afterAll` (`server()` returns it inside tests and hooks). Without redis-server the block is
 * reported as `skipped: Redis not installed (…)`; under `CI=true` it fails instead.
 */
export function describeWithRedis(name: string, body: (server: () => RedisServer) => void): void {
  const availability = redisAvailability();
  if (!availability.available) {
    if (process.env.CI === 'true') {
      describe(name, () => {
        it('Redis is required when CI=true', () => {
          throw new Error(`Redis not installed (${availability.reason}); CI must run the shared rate-limit tests against a real redis-server`);
        });
      });
    } else {
      describe.skip(`${name} — skipped: Redis not installed (${availability.reason})`, () => {
        it.skip(`skipped: Redis not installed (${availability.reason})`, () => undefined);
      });
    }
    return;
  }
  describe(name, () => {
    let server: RedisServer | undefined;
    beforeAll(async () => {
      server = await startRedis(availability);
    }, 30_000);
    afterAll(async () => {
      await server?.stop();
    });
    body(() => {
      if (server === undefined) throw new Error('Redis server not started');
      return server;
    });
  });
}
