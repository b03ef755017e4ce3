/**
 * A throw-away PostgreSQL server for tests: `initdb` into a fresh temp dir, `postgres` on a
 * free loopback port with a private socket dir, trust auth, `fsync=off`; one database per
 * caller (`createDatabase`), so test files and tests stay independent and parallel-safe.
 * `stop()` ends the server and removes the temp dir; a process exit hook does the same if a
 * test run ends without calling it.
 *
 * PostgreSQL refuses to run as root: as root, `initdb` and `postgres` run as the `postgres`
 * system user (spawned with its uid/gid) and the temp dir is handed to that user.
 *
 * Environment:
 * - `MOSAIC_TEST_DATABASE_URL` — use this running server instead of starting one (its user
 *   must be allowed to CREATE DATABASE); databases created here are dropped by `stop()`.
 * - `MOSAIC_PG_BIN` — the directory holding `initdb` and `postgres` (default: PATH, then
 *   `/usr/lib/postgresql/<newest>/bin`, `/usr/local/pgsql/bin`, Homebrew's prefixes).
 * - `CI=true` — a missing PostgreSQL is a failure, not a skip (see `engines.ts`).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, chownSync, constants, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';

/** Where the binaries are. */
export interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
  readonly binDir: string;
}

/** Whether tests can have a PostgreSQL, and how. */
export type PostgresAvailability =
  | { readonly available: true; readonly mode: 'local'; readonly binaries: PostgresBinaries; readonly description: string }
  | { readonly available: true; readonly mode: 'external'; readonly url: string; readonly description: string }
  | { readonly available: false; readonly reason: string };

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function binariesIn(dir: string): PostgresBinaries | undefined {
  const initdb = join(dir, 'initdb');
  const postgres = join(dir, 'postgres');
  return isExecutable(initdb) && isExecutable(postgres) ? { initdb, postgres, binDir: dir } : undefined;
}

function versionDirs(root: string): string[] {
  try {
    return readdirSync(root)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a))
      .map((v) => join(root, v, 'bin'));
  } catch {
    return [];
  }
}

/** Find `initdb` + `postgres`: `MOSAIC_PG_BIN`, PATH, then the usual install locations. */
export function findPostgresBinaries(): PostgresBinaries | undefined {
  const explicit = process.env.MOSAIC_PG_BIN;
  if (explicit !== undefined && explicit !== '') return binariesIn(explicit);
  const candidates = [
    ...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''),
    ...versionDirs('/usr/lib/postgresql'),
    ...versionDirs('/usr/pgsql'),
    '/usr/local/pgsql/bin',
    '/opt/homebrew/bin',
    '/usr/local/bin',
  ];
  for (const dir of candidates) {
    const found = binariesIn(dir);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The uid/gid to run PostgreSQL as: ours, or the `postgres` user's when we are root. */
function runAs(): { uid: number; gid: number } | undefined | 'no-user' {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  try {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('postgres:'));
    const [, , uid, gid] = line?.split(':') ?? [];
    if (uid === undefined || gid === undefined) return 'no-user';
    return { uid: Number(uid), gid: Number(gid) };
  } catch {
    return 'no-user';
  }
}

/** Can tests have a PostgreSQL? Cheap and synchronous (no server is started). */
export function postgresAvailability(): PostgresAvailability {
  const url = process.env.MOSAIC_TEST_DATABASE_URL;
  if (url !== undefined && url !== '') return { available: true, mode: 'external', url, description: 'MOSAIC_TEST_DATABASE_URL' };
  const binaries = findPostgresBinaries();
  if (binaries === undefined) {
    return {
      available: false,
      reason:
        process.env.MOSAIC_PG_BIN !== undefined && process.env.MOSAIC_PG_BIN !== ''
          ? `no initdb/postgres in MOSAIC_PG_BIN=${process.env.MOSAIC_PG_BIN}`
          : 'no initdb/postgres on PATH or under /usr/lib/postgresql/*/bin; set MOSAIC_PG_BIN or MOSAIC_TEST_DATABASE_URL',
    };
  }
  if (runAs() === 'no-user') return { available: false, reason: 'running as root and there is no postgres system user to run the server as' };
  return { available: true, mode: 'local', binaries, description: binaries.binDir };
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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A running test server. */
export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  /** How long `startPostgres` took (ms). */
  readonly startMs: number;
  /** The temp dir holding the cluster and its socket (null for an external server). */
  readonly dir: string | null;
  /** A URL for `database` on this server (superuser, trust auth / the external URL's user). */
  url(database: string): string;
  /** Create a fresh, empty database and return its URL (≈ 0.1–0.3 s: copies a template). */
  createDatabase(prefix?: string): Promise<string>;
  /**
   * Create a fresh, empty schema in the server's default database and return a URL whose
   * connections use it (`options=-c search_path=<schema>`) — a few ms, for per-test stores.
   */
  createSchema(prefix?: string): Promise<string>;
  /** Stop the server (or drop the databases created on an external one); remove the temp dir. Idempotent. */
  stop(): Promise<void>;
  /**
   * A server started here only: `halt()` stops it (fast shutdown, every session ended, data
   * kept); `resume()` starts it again on the same port and resolves once it answers.
   */
  readonly outage?: { halt(): Promise<void>; resume(): Promise<void> };
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

class DatabaseFactory {
  readonly #adminUrl: string;
  readonly #urlFor: (db: string) => string;
  readonly created: string[] = [];
  readonly schemas: string[] = [];
  #chain: Promise<unknown> = Promise.resolve();
  #counter = 0;

  constructor(adminUrl: string, urlFor: (db: string) => string) {
    this.#adminUrl = adminUrl;
    this.#urlFor = urlFor;
  }

  #name(prefix: string): string {
    return `${prefix.replace(/[^a-z0-9_]/gi, '_').slice(0, 30)}_${process.pid}_${++this.#counter}_${randomBytes(3).toString('hex')}`.toLowerCase();
  }

  async createSchema(prefix: string): Promise<string> {
    const name = this.#name(prefix);
    const client = new pg.Client({ connectionString: this.#adminUrl });
    await client.connect();
    try {
      await client.query(`CREATE SCHEMA ${quoteIdent(name)}`);
    } finally {
      await client.end();
    }
    this.schemas.push(name);
    const url = new URL(this.#adminUrl);
    url.searchParams.set('options', `-c search_path=${name}`);
    return url.toString();
  }

  async create(prefix: string): Promise<string> {
    const name = this.#name(prefix);
    // CREATE DATABASE copies template1; run them one at a time.
    const run = this.#chain.then(async () => {
      const client = new pg.Client({ connectionString: this.#adminUrl });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0 ENCODING 'UTF8'`);
      } finally {
        await client.end();
      }
    });
    this.#chain = run.catch(() => undefined);
    await run;
    this.created.push(name);
    return this.#urlFor(name);
  }

  async dropAll(): Promise<void> {
    if (this.created.length === 0 && this.schemas.length === 0) return;
    const client = new pg.Client({ connectionString: this.#adminUrl });
    await client.connect();
    try {
      for (const name of this.schemas.splice(0)) await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(name)} CASCADE`);
      for (const name of this.created.splice(0)) await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    } finally {
      await client.end();
    }
  }
}

async function waitReady(url: string, child: ChildProcess, deadline: number): Promise<void> {
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`postgres exited early (${child.exitCode ?? child.signalCode})`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      return;
    } catch (err) {
      lastError = err;
      await client.end().catch(() => undefined);
      await sleep(40);
    }
  }
  throw new Error(`postgres did not accept connections in time: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
}

const running = new Set<{ child: ChildProcess; dir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const r of running) {
      try {
        r.child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
      rmSync(r.dir, { recursive: true, force: true });
    }
  });
}

async function startLocal(binaries: PostgresBinaries): Promise<PostgresServer> {
  const started = Date.now();
  const user = runAs();
  if (user === 'no-user') throw new Error('running as root and there is no postgres system user');
  const dir = mkdtempSync(join(tmpdir(), 'mosaic-pg-'));
  const data = join(dir, 'data');
  const sock = join(dir, 'sock');
  mkdirSync(sock);
  const owner = user === undefined ? {} : { uid: user.uid, gid: user.gid };
  let child: ChildProcess | undefined;
  const entry = { child: undefined as unknown as ChildProcess, dir };
  try {
    if (user !== undefined) {
      chownSync(dir, user.uid, user.gid);
      chownSync(sock, user.uid, user.gid);
    }
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C', TZ: 'UTC' };
    execFileSync(binaries.initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '--locale=C', '--encoding=UTF8'], {
      ...owner,
      env,
      cwd: dir,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePort();
      const stderr: string[] = [];
      const argv = [
          '-D', data,
          '-p', String(port),
          '-k', sock,
          '-c', 'listen_addresses=127.0.0.1',
          '-c', 'fsync=off',
          '-c', 'synchronous_commit=off',
          '-c', 'full_page_writes=off',
          '-c', 'max_connections=200',
          '-c', 'shared_buffers=32MB',
          '-c', 'dynamic_shared_memory_type=mmap',
      ];
      const launch = (): ChildProcess => {
        const c = spawn(binaries.postgres, argv, { ...owner, env, cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
        c.stderr?.on('data', (chunk: Buffer) => {
          if (stderr.length < 200) stderr.push(chunk.toString('utf8'));
        });
        return c;
      };
      child = launch();
      entry.child = child;
      running.add(entry);
      installExitHook();
      const host = '127.0.0.1';
      const urlFor = (db: string): string => `postgres://postgres@${host}:${port}/${encodeURIComponent(db)}`;
      try {
        await waitReady(urlFor('postgres'), child, Date.now() + 15_000);
      } catch (err) {
        lastError = new Error(`${err instanceof Error ? err.message : String(err)}\n${stderr.join('').slice(-2000)}`);
        await killAndWait(child);
        running.delete(entry);
        continue;
      }
      const factory = new DatabaseFactory(urlFor('postgres'), urlFor);
      let proc = child;
      let stopped: Promise<void> | undefined;
      return {
        host,
        port,
        startMs: Date.now() - started,
        dir,
        url: urlFor,
        createDatabase: (prefix = 'test') => factory.create(prefix),
        createSchema: (prefix = 'test') => factory.createSchema(prefix),
        stop: () =>
          (stopped ??= (async () => {
            await killAndWait(proc);
            running.delete(entry);
            rmSync(dir, { recursive: true, force: true });
          })()),
        outage: {
          halt: async () => {
            if (proc.exitCode !== null || proc.signalCode !== null) return;
            const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
            proc.kill('SIGINT'); // fast shutdown: sessions are ended, the data stays
            await exited;
          },
          resume: async () => {
            if (stopped !== undefined) throw new Error('this test PostgreSQL was stopped');
            if (proc.exitCode === null && proc.signalCode === null) return;
            proc = launch();
            entry.child = proc;
            await waitReady(urlFor('postgres'), proc, Date.now() + 15_000);
          },
        },
      };
    }
    throw lastError instanceof Error ? lastError : new Error('postgres did not start');
  } catch (err) {
    if (child !== undefined) await killAndWait(child);
    running.delete(entry);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** SIGQUIT (immediate shutdown: nothing to keep), then SIGKILL if it lingers. */
async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGQUIT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function startExternal(url: string): PostgresServer {
  const base = new URL(url);
  const urlFor = (db: string): string => {
    const u = new URL(url);
    u.pathname = `/${encodeURIComponent(db)}`;
    return u.toString();
  };
  const factory = new DatabaseFactory(url, urlFor);
  let stopped: Promise<void> | undefined;
  return {
    host: base.hostname,
    port: Number(base.port || 5432),
    startMs: 0,
    dir: null,
    url: urlFor,
    createDatabase: (prefix = 'test') => factory.create(prefix),
    createSchema: (prefix = 'test') => factory.createSchema(prefix),
    stop: () => (stopped ??= factory.dropAll()),
  };
}

/**
 * Start a test server (or attach to `MOSAIC_TEST_DATABASE_URL`).
 * @throws when PostgreSQL is not available — check {@link postgresAvailability} first
 */
export async function startPostgres(availability: PostgresAvailability = postgresAvailability()): Promise<PostgresServer> {
  if (!availability.available) throw new Error(`PostgreSQL not available: ${availability.reason}`);
  if (availability.mode === 'external') return startExternal(availability.url);
  return startLocal(availability.binaries);
}
