/**
 * The embedded engine: Node's built-in `node:sqlite` (`DatabaseSync`) behind Kysely's
 * `SqliteDialect`, through a small adapter (Kysely expects better-sqlite3's statement API:
 * a `reader` flag and parameters passed as one array).
 *
 * The store is `<dataDir>/gateway.db`, mode 0600, in WAL mode with `synchronous=NORMAL`,
 * `foreign_keys=ON` and a `busy_timeout`. Transactions begin `IMMEDIATE`: they take the write
 * lock up front, so a transaction that reads then writes never fails on a lock upgrade
 * (`SQLITE_BUSY` that `busy_timeout` cannot wait out) when a second handle shares the file.
 */
import { chmodSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type * as NodeSqlite from 'node:sqlite';
import type { DatabaseSync, SQLInputValue, StatementSync } from 'node:sqlite';
import {
  CompiledQuery,
  sql,
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type Kysely,
  type SqliteDatabase,
  type SqliteDialectConfig,
  type SqliteStatement,
} from 'kysely';

/** The database file's name inside the data dir. */
export const SQLITE_FILE_NAME = 'gateway.db';

/** How long a statement waits for another handle's lock before failing (ms). */
export const SQLITE_BUSY_TIMEOUT_MS = 5_000;

type SqliteModule = typeof NodeSqlite;
let sqliteModule: SqliteModule | undefined;

/**
 * Load `node:sqlite`. Node versions that still mark it experimental print an
 * ExperimentalWarning on first load; exactly that warning is dropped (see
 * {@link withoutSqliteExperimentalWarning}). Node 24.21 emits none.
 */
export function loadNodeSqlite(): SqliteModule {
  sqliteModule ??= withoutSqliteExperimentalWarning(() => createRequire(import.meta.url)('node:sqlite') as SqliteModule);
  return sqliteModule;
}

/**
 * Run `fn` (synchronously) with node:sqlite's ExperimentalWarning dropped; every other
 * warning, other ExperimentalWarnings included, still goes to `process.emitWarning`, which is
 * restored afterwards.
 */
export function withoutSqliteExperimentalWarning<T>(fn: () => T): T {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- kept to be restored as the same object; called with `process` as `this`
  const original = process.emitWarning;
  const filtered = function (warning: string | Error, ...rest: unknown[]): void {
    if (isSqliteExperimentalWarning(warning, rest[0])) return;
    (original as (...args: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  process.emitWarning = filtered;
  try {
    return fn();
  } finally {
    // Restore only if nobody replaced it meanwhile.
    if (process.emitWarning === filtered) process.emitWarning = original;
  }
}

/** True for node:sqlite's "SQLite is an experimental feature" warning and nothing else. */
export function isSqliteExperimentalWarning(warning: unknown, typeOrOptions: unknown): boolean {
  const message = warning instanceof Error ? warning.message : String(warning);
  const type =
    warning instanceof Error
      ? warning.name
      : typeof typeOrOptions === 'string'
        ? typeOrOptions
        : typeof typeOrOptions === 'object' && typeOrOptions !== null && 'type' in typeOrOptions
          ? String(typeOrOptions.type)
          : '';
  return type === 'ExperimentalWarning' && /\bSQLite\b/i.test(message);
}

/** node:sqlite binds only null, numbers, bigints, strings and bytes. */
function bindable(value: unknown): SQLInputValue {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.toISOString();
  return value as SQLInputValue;
}

class NodeSqliteStatement implements SqliteStatement {
  readonly reader: boolean;
  readonly #stmt: StatementSync;

  constructor(stmt: StatementSync) {
    this.#stmt = stmt;
    // A statement that yields columns (SELECT, … RETURNING, some PRAGMAs) is read with all().
    this.reader = stmt.columns().length > 0;
  }

  all(parameters: ReadonlyArray<unknown>): unknown[] {
    return this.#stmt.all(...parameters.map(bindable));
  }

  run(parameters: ReadonlyArray<unknown>): { changes: number | bigint; lastInsertRowid: number | bigint } {
    return this.#stmt.run(...parameters.map(bindable));
  }

  iterate(parameters: ReadonlyArray<unknown>): IterableIterator<unknown> {
    return this.#stmt.iterate(...parameters.map(bindable));
  }
}

/** Prepared statements kept per SQL text (the federation verbs run the same few on every request). */
const STATEMENT_CACHE_SIZE = 256;

/** The statement kept in `cache` for `text`, prepared by `make` the first time (the cache starts over when full). */
function cachedStatement<T>(cache: Map<string, T>, text: string, make: () => T): T {
  let stmt = cache.get(text);
  if (stmt === undefined) {
    if (cache.size >= STATEMENT_CACHE_SIZE) cache.clear();
    stmt = make();
    cache.set(text, stmt);
  }
  return stmt;
}

/** `DatabaseSync` as the `SqliteDatabase` Kysely's dialect expects. */
export class NodeSqliteDatabase implements SqliteDatabase {
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, NodeSqliteStatement>();

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /**
   * The statement for `sql`, prepared once and reused: preparing cost as much as running the
   * query (`pnpm bench`, docs/benchmarks.md). Safe because `all`/`run` finish synchronously on
   * the one connection; nothing here streams (`iterate`) a query.
   */
  prepare(sql: string): SqliteStatement {
    return cachedStatement(this.#statements, sql, () => new NodeSqliteStatement(this.#db.prepare(sql)));
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

/**
 * Run `fn` on the store's one connection with `busy_timeout = 0`: a write that meets another
 * handle's lock fails at once (`SQLITE_BUSY`) instead of waiting. node:sqlite waits inside
 * the call — the event loop and the store's only connection held for up to
 * {@link SQLITE_BUSY_TIMEOUT_MS} — so a writer that can retry later (the audit shipper) must
 * not wait: every federation answer would wait with it (SECURITY.md case 27).
 */
export async function withoutBusyWait<DB, T>(db: Kysely<DB>, fn: (db: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.connection().execute(async (conn) => {
    await sql`pragma busy_timeout = 0`.execute(conn);
    try {
      return await fn(conn);
    } finally {
      await sql.raw(`pragma busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`).execute(conn);
    }
  });
}

/** Kysely's SQLite driver with `BEGIN IMMEDIATE` transactions. */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }
}

/** Kysely's `SqliteDialect`, driving {@link ImmediateSqliteDriver}. */
export class NodeSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.#config = config;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#config);
  }
}

/**
 * Synchronous reads of committed data, for the federation verbs' per-request queries: a
 * second connection to the same file, opened read-only on first use. In WAL mode a reader
 * neither waits for the writer nor sees its open transaction (each statement reads the last
 * committed state), so a read here never runs inside — or queues behind — a transaction
 * on the main connection (the shipper's, an admin change's). Going through Kysely's single
 * connection cost these reads far more than running them (`pnpm bench`, docs/benchmarks.md).
 */
export interface SyncReader {
  /** The rows of `text` (`?` marks) with `params` bound. */
  all<R>(text: string, params: readonly unknown[]): R[];
  /** The same, each row as an array of its columns in select order (no object per row: cheaper for wide pages). */
  values(text: string, params: readonly unknown[]): unknown[][];
  close(): void;
}

class NodeSqliteReader implements SyncReader {
  readonly #path: string;
  #db: DatabaseSync | null = null;
  #closed = false;
  readonly #statements = new Map<string, StatementSync>();
  readonly #arrayStatements = new Map<string, StatementSync>();

  constructor(path: string) {
    this.#path = path;
  }

  #open(): DatabaseSync {
    if (this.#closed) throw new Error('storage: the store is closed');
    if (this.#db === null) {
      const { DatabaseSync: Database } = loadNodeSqlite();
      this.#db = new Database(this.#path, { readOnly: true, timeout: SQLITE_BUSY_TIMEOUT_MS });
    }
    return this.#db;
  }

  all<R>(text: string, params: readonly unknown[]): R[] {
    const stmt = cachedStatement(this.#statements, text, () => this.#open().prepare(text));
    return stmt.all(...params.map(bindable)) as R[];
  }

  values(text: string, params: readonly unknown[]): unknown[][] {
    const stmt = cachedStatement(this.#arrayStatements, text, () => {
      const s = this.#open().prepare(text);
      s.setReturnArrays(true);
      return s;
    });
    return stmt.all(...params.map(bindable)) as unknown as unknown[][];
  }

  close(): void {
    this.#closed = true;
    this.#statements.clear();
    this.#arrayStatements.clear();
    if (this.#db?.isOpen === true) this.#db.close();
    this.#db = null;
  }
}

/** An opened embedded store: the Kysely dialect, where the file is, and its read-only reader. */
export interface OpenedSqlite {
  readonly dialect: NodeSqliteDialect;
  readonly path: string;
  /** Undefined when the file is not in WAL mode (then every read goes through the one connection). */
  readonly reader: SyncReader | undefined;
}

/**
 * Open (creating if needed) `<dataDir>/gateway.db` with the pragmas above. The data dir is
 * created 0700 when missing; the file is made 0600 before WAL files exist (SQLite gives them
 * the database file's mode).
 */
export function openSqlite(dataDir: string): OpenedSqlite {
  const { DatabaseSync: Database } = loadNodeSqlite();
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, SQLITE_FILE_NAME);
  const db = new Database(path, { timeout: SQLITE_BUSY_TIMEOUT_MS, enableForeignKeyConstraints: true });
  let wal: boolean;
  try {
    chmodSync(path, 0o600);
    db.exec(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    // A file system without shared memory (some network mounts) keeps the rollback journal.
    wal = (db.prepare('PRAGMA journal_mode = WAL').get() as { journal_mode?: string } | undefined)?.journal_mode === 'wal';
    db.exec('PRAGMA synchronous = NORMAL');
    db.exec('PRAGMA foreign_keys = ON');
  } catch (err) {
    db.close();
    throw err;
  }
  // The reader only in WAL mode: with a rollback journal a reader waits for the writer — here,
  // synchronously on the event loop, for a transaction on the same thread that cannot finish.
  return { dialect: new NodeSqliteDialect({ database: new NodeSqliteDatabase(db) }), path, reader: wal ? new NodeSqliteReader(path) : undefined };
}
