/**
 * Run one test suite against both storage engines: `sqlite` (a fresh temp data dir per
 * store) and `postgres` (a fresh database per store on a server started once per test file,
 * see `postgres.ts`). Without PostgreSQL the postgres half is reported as
 * `skipped: PostgreSQL not installed (…)` — except under `CI=true`, where it fails.
 *
 * @example
 * describeEachEngine('grants', (engine) => {
 *   it('creates', async () => { const storage = await engine.open(); … });
 * });
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { openStorage, type OpenStorageOptions, type Storage } from '../storage/index.js';
import { postgresAvailability, startPostgres, type PostgresServer } from './postgres.js';

/** The engine under test, inside its describe block. */
export interface EngineHarness {
  readonly name: 'sqlite' | 'postgres';
  /** Where a fresh, empty store lives: a new temp dir, or a new schema (fast, per test). */
  location(): Promise<{ dataDir: string } | { databaseUrl: string }>;
  /** Like {@link location}, but on PostgreSQL a whole new, empty database. */
  emptyDatabase(): Promise<{ dataDir: string } | { databaseUrl: string }>;
  /** Open a store at a fresh location (closed after the file's tests). */
  open(options?: Omit<OpenStorageOptions, 'dataDir' | 'databaseUrl'>): Promise<Storage>;
  /** Open (another handle on) a given location; closed after the file's tests. */
  openAt(location: { dataDir: string } | { databaseUrl: string }, options?: Omit<OpenStorageOptions, 'dataDir' | 'databaseUrl'>): Promise<Storage>;
  /** The PostgreSQL server (postgres engine only). */
  server(): PostgresServer;
}

/** Whether CI demands every engine. */
export const CI = process.env.CI === 'true';

function harness(name: 'sqlite' | 'postgres', getServer: () => PostgresServer | undefined): { engine: EngineHarness; cleanup: () => Promise<void> } {
  const dirs: string[] = [];
  const opened: Storage[] = [];
  const fresh = async (kind: 'schema' | 'database'): Promise<{ dataDir: string } | { databaseUrl: string }> => {
    if (name === 'sqlite') {
      const dir = mkdtempSync(join(tmpdir(), 'mosaic-store-'));
      dirs.push(dir);
      return { dataDir: dir };
    }
    const server = getServer();
    if (server === undefined) throw new Error('PostgreSQL server not started');
    return { databaseUrl: kind === 'schema' ? await server.createSchema('store') : await server.createDatabase('store') };
  };
  const location = (): Promise<{ dataDir: string } | { databaseUrl: string }> => fresh('schema');
  const openAt: EngineHarness['openAt'] = async (loc, options = {}) => {
    const storage = await openStorage({ ...options, ...loc });
    opened.push(storage);
    return storage;
  };
  const engine: EngineHarness = {
    name,
    location,
    emptyDatabase: () => fresh('database'),
    openAt,
    open: async (options) => openAt(await location(), options),
    server: () => {
      const s = getServer();
      if (s === undefined) throw new Error('no PostgreSQL server for the sqlite engine');
      return s;
    },
  };
  const cleanup = async (): Promise<void> => {
    await Promise.allSettled(opened.splice(0).map((s) => s.close()));
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  };
  return { engine, cleanup };
}

/**
 * `describe(name, body)` with a PostgreSQL server started in its `beforeAll` and stopped in
 * its `afterAll` (`server()` returns it inside tests and hooks). Without PostgreSQL the block
 * is reported as `skipped: PostgreSQL not installed (…)`; under `CI=true` it fails instead.
 */
export function describeWithPostgres(name: string, body: (server: () => PostgresServer) => void): void {
  const pg = postgresAvailability();
  if (!pg.available) {
    if (CI) {
      describe(name, () => {
        it('PostgreSQL is required when CI=true', () => {
          throw new Error(`PostgreSQL not installed (${pg.reason}); CI must run the storage tests on PostgreSQL too`);
        });
      });
    } else {
      describe.skip(`${name} — skipped: PostgreSQL not installed (${pg.reason})`, () => {
        it.skip(`skipped: PostgreSQL not installed (${pg.reason})`, () => undefined);
      });
    }
    return;
  }
  describe(name, () => {
    let server: PostgresServer | undefined;
    beforeAll(async () => {
      server = await startPostgres(pg);
    }, 60_000);
    afterAll(async () => {
      await server?.stop();
    });
    body(() => {
      if (server === undefined) throw new Error('PostgreSQL server not started');
      return server;
    });
  });
}

/**
 * `describe(<name> [sqlite])` and `describe(<name> [postgres])` with `body(engine)` in each
 * (the postgres half through {@link describeWithPostgres}).
 */
export function describeEachEngine(name: string, body: (engine: EngineHarness) => void): void {
  describe(`${name} [sqlite]`, () => {
    const { engine, cleanup } = harness('sqlite', () => undefined);
    afterAll(cleanup);
    body(engine);
  });
  describeWithPostgres(`${name} [postgres]`, (server) => {
    const { engine, cleanup } = harness('postgres', server);
    // Registered after describeWithPostgres's afterAll, so it runs first (hooks run in reverse).
    afterAll(cleanup);
    body(engine);
  });
}
