/**
 * `openStorage`: the one entry point to the store, on either engine — embedded SQLite in the
 * data dir (default) or PostgreSQL at `DATABASE_URL` — migrated at open, with the typed
 * repositories on top.
 */
import { Kysely, sql } from 'kysely';
import { bindRepositories, type Repositories } from './repositories.js';
import { StorageUnavailableError } from './errors.js';
import { LATEST_SCHEMA_VERSION, migrateToLatest, type MigrationResult } from './migrations.js';
import { openPostgres, type PostgresOptions } from './postgres.js';
import type { Database, Engine } from './schema.js';
import { openSqlite, type SyncReader } from './sqlite.js';
import type { RepoContext } from './sql.js';

/** Where the store is: a data dir (SQLite `<dataDir>/gateway.db`) or a PostgreSQL URL. */
export type StorageLocation = { readonly dataDir: string; readonly databaseUrl?: undefined } | { readonly databaseUrl: string; readonly dataDir?: string | undefined };

/** Options of {@link openStorage}. */
export type OpenStorageOptions = StorageLocation & {
  /** Run pending migrations at open (default true). */
  readonly migrate?: boolean;
  /** The clock behind default timestamps (default `() => new Date()`). */
  readonly clock?: () => Date;
  /** PostgreSQL pool options. */
  readonly postgres?: PostgresOptions;
};

/** The store: every repository, transactions, and the engine's lifecycle. */
export interface Storage extends Repositories {
  readonly engine: Engine;
  /** The SQLite file path, or `host:port/database` (never credentials). */
  readonly location: string;
  /** The Kysely instance (for `migrate-storage` and diagnostics; repositories are the API). */
  readonly db: Kysely<Database>;
  /** `SQLite /path/gateway.db` or `PostgreSQL 127.0.0.1:5432/mosaic` — never a password. */
  describe(): string;
  /**
   * Run `fn` in one transaction with the repository API bound to it: every call commits
   * together, or nothing does when `fn` throws (the error is rethrown). Inside `fn` use only
   * `tx`: on SQLite the store has one connection, so a call on the storage itself would wait
   * for the transaction that is waiting for it.
   */
  transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T>;
  /** Apply pending migrations under the store-wide lock (idempotent; `openStorage` already did). */
  migrate(): Promise<MigrationResult>;
  /** The schema version the store is at. */
  schemaVersion(): Promise<number>;
  /** One round trip (doctor, readiness). */
  ping(): Promise<void>;
  /** Close the database or pool. Idempotent. */
  close(): Promise<void>;
}

class KyselyStorage implements Storage {
  readonly engine: Engine;
  readonly location: string;
  readonly db: Kysely<Database>;
  readonly directory;
  readonly resources;
  readonly grants;
  readonly tokens;
  readonly certs;
  readonly peers;
  readonly ca;
  readonly adminTokens;
  readonly audit;
  readonly meta;
  readonly #ctx: RepoContext;
  readonly #reader: SyncReader | undefined;
  #closed: Promise<void> | undefined;

  constructor(db: Kysely<Database>, engine: Engine, location: string, clock: () => Date, reader?: SyncReader) {
    this.db = db;
    this.engine = engine;
    this.location = location;
    this.#reader = reader;
    this.#ctx = { engine, clock, reader };
    const repos = bindRepositories(db, this.#ctx);
    this.directory = repos.directory;
    this.resources = repos.resources;
    this.grants = repos.grants;
    this.tokens = repos.tokens;
    this.certs = repos.certs;
    this.peers = repos.peers;
    this.ca = repos.ca;
    this.adminTokens = repos.adminTokens;
    this.audit = repos.audit;
    this.meta = repos.meta;
  }

  describe(): string {
    return `${this.engine === 'sqlite' ? 'SQLite' : 'PostgreSQL'} ${this.location}`;
  }

  async transaction<T>(fn: (tx: Repositories) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((trx) => fn(bindRepositories(trx, this.#ctx)));
  }

  async migrate(): Promise<MigrationResult> {
    return migrateToLatest(this.db as Kysely<unknown>, this.engine);
  }

  async schemaVersion(): Promise<number> {
    const row = await this.db
      .selectFrom('schema_migrations')
      .select((eb) => eb.fn.max('version').as('v'))
      .executeTakeFirst();
    return Number(row?.v ?? 0);
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#reader?.close();
      await this.db.destroy();
    })();
    return this.#closed;
  }
}

/**
 * Open the store: PostgreSQL when `databaseUrl` is given (it wins over `dataDir`), else
 * SQLite at `<dataDir>/gateway.db`; then migrate to the latest schema under the store-wide
 * lock (unless `migrate: false`).
 *
 * @throws STORAGE_UNAVAILABLE (503) when the database cannot be opened or reached;
 *   STORAGE_SCHEMA_TOO_NEW when a newer gateway migrated it
 * @example
 * const storage = await openStorage(process.env.DATABASE_URL ? { databaseUrl: process.env.DATABASE_URL } : { dataDir });
 * await storage.transaction(async (tx) => { … });
 */
export async function openStorage(options: OpenStorageOptions): Promise<Storage> {
  const clock = options.clock ?? (() => new Date());
  let storage: KyselyStorage;
  if (options.databaseUrl !== undefined) {
    const pg = openPostgres(options.databaseUrl, options.postgres);
    storage = new KyselyStorage(new Kysely<Database>({ dialect: pg.dialect }), 'postgres', pg.location, clock);
  } else {
    let opened;
    try {
      opened = openSqlite(options.dataDir);
    } catch (err) {
      throw new StorageUnavailableError(`SQLite in ${options.dataDir}`, err instanceof Error ? err.message : String(err), { cause: err });
    }
    storage = new KyselyStorage(new Kysely<Database>({ dialect: opened.dialect }), 'sqlite', opened.path, clock, opened.reader);
  }
  try {
    try {
      await storage.ping();
    } catch (err) {
      throw new StorageUnavailableError(storage.describe(), err instanceof Error ? err.message : String(err), { cause: err });
    }
    if (options.migrate !== false) await storage.migrate();
    return storage;
  } catch (err) {
    await storage.close().catch(() => undefined);
    throw err;
  }
}

export { LATEST_SCHEMA_VERSION };
