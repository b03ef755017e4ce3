/**
 * The schema, as migrations written once with Kysely's schema builder for both engines, and
 * the runner that applies them at start.
 *
 * The runner holds a lock for the whole run, so two processes starting together on an empty
 * store migrate once: on PostgreSQL a transaction-scoped advisory lock
 * (`pg_advisory_xact_lock`, released by COMMIT/ROLLBACK or when the session dies — it cannot
 * leak), on SQLite an exclusive transaction (`BEGIN EXCLUSIVE`). Both engines run DDL inside
 * transactions, so every migration of a run commits together or not at all. Applied versions
 * are kept in `schema_migrations`; a store migrated by a newer gateway is refused.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Engine } from './schema.js';
import { StorageSchemaTooNewError } from './errors.js';
import { toTimestamp } from './time.js';

/** Column types per engine, so one definition serves both. */
interface ColumnTypes {
  /** Text; on PostgreSQL with the bytewise `"C"` collation, so ordering matches SQLite. */
  readonly text: RawBuilder<unknown> | 'text';
  readonly int: 'integer';
  /** 64-bit integer (SQLite integers are 64-bit already). */
  readonly big: 'bigint' | 'integer';
  readonly real: 'double precision' | 'real';
}

function columnTypes(engine: Engine): ColumnTypes {
  return engine === 'postgres'
    ? { text: sql`text collate "C"`, int: 'integer', big: 'bigint', real: 'double precision' }
    : { text: 'text', int: 'integer', big: 'integer', real: 'real' };
}

/** One migration: `up` runs inside the runner's locked transaction. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  up(db: Kysely<unknown>, engine: Engine): Promise<void>;
}

// Resource tables share one shape (see `ResourceTable`).
const RESOURCE_TABLES = ['tasks', 'notes', 'memory', 'credentials', 'api_keys'] as const;

async function initial(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const t = columnTypes(engine);
  const s = db.schema;

  await s
    .createTable('meta')
    .addColumn('key', t.text, (c) => c.primaryKey())
    .addColumn('value', t.text, (c) => c.notNull())
    .execute();

  for (const name of ['users', 'teams'] as const) {
    await s
      .createTable(name)
      .addColumn('id', t.text, (c) => c.primaryKey())
      .addColumn('name', t.text, (c) => c.notNull())
      .addColumn('created_at', t.text, (c) => c.notNull())
      .addColumn('updated_at', t.text, (c) => c.notNull())
      .execute();
  }

  await s
    .createTable('memberships')
    .addColumn('team_id', t.text, (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('user_id', t.text, (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('created_at', t.text, (c) => c.notNull())
    .addPrimaryKeyConstraint('memberships_pk', ['team_id', 'user_id'])
    .execute();
  await s.createIndex('memberships_user_idx').on('memberships').column('user_id').execute();

  for (const name of RESOURCE_TABLES) {
    await s
      .createTable(name)
      .addColumn('id', t.text, (c) => c.primaryKey())
      .addColumn('title', t.text, (c) => c.notNull())
      .addColumn('body', t.text)
      .addColumn('owner_user_id', t.text, (c) => c.references('users.id').onDelete('cascade'))
      .addColumn('team_id', t.text, (c) => c.references('teams.id').onDelete('cascade'))
      .addColumn('created_at', t.text, (c) => c.notNull())
      .addColumn('updated_at', t.text, (c) => c.notNull())
      .addCheckConstraint(
        `${name}_one_owner`,
        sql`(owner_user_id is null and team_id is not null) or (owner_user_id is not null and team_id is null)`,
      )
      .execute();
    await s.createIndex(`${name}_owner_idx`).on(name).column('owner_user_id').execute();
    await s.createIndex(`${name}_team_idx`).on(name).column('team_id').execute();
  }

  // No foreign key to users: removing a user must keep (and revoke) their grants.
  await s
    .createTable('grants')
    .addColumn('id', t.text, (c) => c.primaryKey())
    .addColumn('subject_user_id', t.text, (c) => c.notNull())
    .addColumn('peer_name', t.text, (c) => c.notNull())
    .addColumn('status', t.text, (c) => c.notNull())
    .addColumn('scope', t.text, (c) => c.notNull())
    .addColumn('allow_sensitive', t.int, (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', t.text, (c) => c.notNull())
    .addColumn('activated_at', t.text)
    .addColumn('revoked_at', t.text)
    .addColumn('revoke_reason', t.text)
    .addColumn('expires_at', t.text)
    .addColumn('current_cert_serial', t.text)
    .addColumn('scope_version', t.int, (c) => c.notNull().defaultTo(1))
    .addCheckConstraint('grants_status', sql`status in ('pending', 'active', 'revoked', 'expired')`)
    .addCheckConstraint('grants_allow_sensitive', sql`allow_sensitive in (0, 1)`)
    .execute();
  await s.createIndex('grants_subject_idx').on('grants').column('subject_user_id').execute();
  await s.createIndex('grants_peer_idx').on('grants').column('peer_name').execute();
  await s.createIndex('grants_status_idx').on('grants').columns(['status', 'expires_at']).execute();

  await s
    .createTable('enrollment_tokens')
    .addColumn('id', t.text, (c) => c.primaryKey())
    .addColumn('grant_id', t.text, (c) => c.notNull().references('grants.id').onDelete('cascade'))
    .addColumn('token_hash', t.text, (c) => c.notNull().unique())
    .addColumn('reenroll', t.int, (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', t.text, (c) => c.notNull())
    .addColumn('expires_at', t.text, (c) => c.notNull())
    .addColumn('used_at', t.text)
    .addColumn('cancelled_at', t.text)
    .addCheckConstraint('enrollment_tokens_hash', sql`length(token_hash) = 64`)
    .addCheckConstraint('enrollment_tokens_reenroll', sql`reenroll in (0, 1)`)
    .execute();
  await s.createIndex('enrollment_tokens_grant_idx').on('enrollment_tokens').column('grant_id').execute();

  await s
    .createTable('issued_certs')
    .addColumn('serial', t.text, (c) => c.primaryKey())
    .addColumn('grant_id', t.text, (c) => c.notNull().references('grants.id').onDelete('cascade'))
    .addColumn('not_before', t.text, (c) => c.notNull())
    .addColumn('not_after', t.text, (c) => c.notNull())
    .addColumn('issued_at', t.text, (c) => c.notNull())
    .addColumn('revoked_at', t.text)
    .addColumn('revoke_reason', t.text)
    .execute();
  await s.createIndex('issued_certs_grant_idx').on('issued_certs').column('grant_id').execute();
  await s.createIndex('issued_certs_revoked_idx').on('issued_certs').column('revoked_at').execute();

  await s
    .createTable('peers')
    .addColumn('name', t.text, (c) => c.primaryKey())
    .addColumn('endpoint', t.text, (c) => c.notNull())
    .addColumn('server_name', t.text)
    .addColumn('local_user_id', t.text, (c) => c.notNull())
    .addColumn('grant_id', t.text, (c) => c.notNull())
    .addColumn('subject_user_id', t.text, (c) => c.notNull())
    .addColumn('ca_cert_pem', t.text, (c) => c.notNull())
    .addColumn('ca_pin', t.text, (c) => c.notNull())
    .addColumn('cert_pem', t.text, (c) => c.notNull())
    .addColumn('sealed_key', t.text, (c) => c.notNull())
    .addColumn('cert_serial', t.text, (c) => c.notNull())
    .addColumn('cert_not_before', t.text, (c) => c.notNull())
    .addColumn('cert_not_after', t.text, (c) => c.notNull())
    .addColumn('state', t.text, (c) => c.notNull())
    .addColumn('capabilities', t.text)
    .addColumn('last_success_at', t.text)
    .addColumn('last_failure_at', t.text)
    .addColumn('last_error', t.text)
    .addColumn('created_at', t.text, (c) => c.notNull())
    .addColumn('updated_at', t.text, (c) => c.notNull())
    .addCheckConstraint('peers_state', sql`state in ('active', 'degraded', 'revoked')`)
    .execute();
  await s.createIndex('peers_local_user_idx').on('peers').column('local_user_id').execute();

  // The CA root is created alone (first start); the listener's server certificate comes later
  // and is replaced by compare-and-swap on `server_serial_hex`, so its columns are all set or
  // all null.
  await s
    .createTable('ca_state')
    .addColumn('id', t.int, (c) => c.primaryKey())
    .addColumn('ca_cert_pem', t.text, (c) => c.notNull())
    .addColumn('ca_sealed_key', t.text, (c) => c.notNull())
    .addColumn('created_at', t.text, (c) => c.notNull())
    .addColumn('crl_number', t.big, (c) => c.notNull().defaultTo(0))
    .addColumn('server_cert_pem', t.text)
    .addColumn('server_sealed_key', t.text)
    .addColumn('server_serial_hex', t.text)
    .addColumn('server_sans', t.text)
    .addColumn('server_not_before', t.text)
    .addColumn('server_not_after', t.text)
    .addColumn('server_issued_at', t.text)
    .addCheckConstraint('ca_state_one_row', sql`id = 1`)
    .addCheckConstraint(
      'ca_state_server_complete',
      sql`(server_serial_hex is null and server_cert_pem is null and server_sealed_key is null and server_sans is null
           and server_not_before is null and server_not_after is null and server_issued_at is null)
       or (server_serial_hex is not null and server_cert_pem is not null and server_sealed_key is not null and server_sans is not null
           and server_not_before is not null and server_not_after is not null and server_issued_at is not null)`,
    )
    .execute();

  await s
    .createTable('admin_tokens')
    .addColumn('name', t.text, (c) => c.primaryKey())
    .addColumn('token_hash', t.text, (c) => c.notNull().unique())
    .addColumn('created_at', t.text, (c) => c.notNull())
    .addColumn('last_used_at', t.text)
    .addColumn('revoked_at', t.text)
    .addCheckConstraint('admin_tokens_hash', sql`length(token_hash) = 64`)
    .execute();

  for (const name of ['audit_log', 'audit_log_archive'] as const) {
    let table = s.createTable(name);
    table =
      name === 'audit_log_archive'
        ? table.addColumn('seq', t.big, (c) => c.primaryKey())
        : engine === 'postgres'
          ? table.addColumn('seq', 'bigint', (c) => c.primaryKey().generatedByDefaultAsIdentity())
          : table.addColumn('seq', 'integer', (c) => c.primaryKey().autoIncrement());
    await table
      .addColumn('id', t.text, (c) => c.notNull().unique())
      .addColumn('at', t.text, (c) => c.notNull())
      .addColumn('request_id', t.text, (c) => c.notNull())
      .addColumn('caller_request_id', t.text)
      .addColumn('trace_id', t.text)
      .addColumn('grant_id', t.text)
      .addColumn('peer', t.text)
      .addColumn('subject_user_id', t.text)
      .addColumn('admin_token_name', t.text)
      .addColumn('verb', t.text, (c) => c.notNull())
      .addColumn('resource', t.text)
      .addColumn('query_hash', t.text)
      .addColumn('outcome', t.text, (c) => c.notNull())
      .addColumn('status_code', t.int, (c) => c.notNull())
      .addColumn('rows_out', t.int, (c) => c.notNull())
      .addColumn('bytes_out', t.big, (c) => c.notNull())
      .addColumn('latency_ms', t.real, (c) => c.notNull())
      .addColumn('prev_hash', t.text)
      .addColumn('hash', t.text)
      .addColumn('spool', t.text)
      .addColumn('detail', t.text)
      .addCheckConstraint(`${name}_outcome`, sql`outcome in ('allowed', 'denied', 'rate_limited', 'error')`)
      .execute();
    await s.createIndex(`${name}_at_idx`).on(name).columns(['at desc', 'seq desc']).execute();
  }
  await s.createIndex('audit_log_grant_idx').on('audit_log').columns(['grant_id', 'at desc']).execute();
  await s.createIndex('audit_log_peer_idx').on('audit_log').columns(['peer', 'at desc']).execute();
}

/**
 * Peer certificate renewal on the requesting side: the failure streak (a separate marker from
 * `state`, so a successful read does not clear it), the job's retry time, and the claim that
 * keeps two replicas from renewing one peer at once.
 */
async function peerRenewal(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const t = columnTypes(engine);
  // one column per statement: SQLite's ALTER TABLE adds one at a time
  await db.schema.alterTable('peers').addColumn('renewal_failed_since', t.text).execute();
  await db.schema.alterTable('peers').addColumn('renewal_failures', t.int, (c) => c.notNull().defaultTo(0)).execute();
  await db.schema.alterTable('peers').addColumn('renewal_retry_at', t.text).execute();
  await db.schema.alterTable('peers').addColumn('renewal_claim', t.text).execute();
  await db.schema.alterTable('peers').addColumn('renewal_claimed_until', t.text).execute();
}

/**
 * Idempotent renewal: the serving side keeps each issued certificate's PEM (so a renewal whose
 * answer was lost can be answered again with the same certificate), and the requesting side
 * keeps the sealed key and CSR of a renewal in progress (so a retry, even after a crash, asks
 * with the same key).
 */
async function renewalIdempotency(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const t = columnTypes(engine);
  await db.schema.alterTable('issued_certs').addColumn('cert_pem', t.text).execute();
  await db.schema.alterTable('peers').addColumn('renewal_pending', t.text).execute();
}

/**
 * The `list` verb's read — a subject's rows by id, `owner_user_id = ? … order by id limit ?`
 * (or `team_id`) — served by one index walk in id order instead of a lookup plus a sort of the
 * subject's rows: composite `(owner_user_id, id)` and `(team_id, id)` indexes replace the
 * single-column ones (which they cover: the same leading column serves the lookups and the
 * foreign keys' cascades). On SQLite this took a 20-row page from ~56 to ~42 µs (`pnpm bench`).
 */
async function resourceListOrder(db: Kysely<unknown>): Promise<void> {
  for (const name of RESOURCE_TABLES) {
    await db.schema.createIndex(`${name}_owner_id_idx`).ifNotExists().on(name).columns(['owner_user_id', 'id']).execute();
    await db.schema.createIndex(`${name}_team_id_idx`).ifNotExists().on(name).columns(['team_id', 'id']).execute();
    await db.schema.dropIndex(`${name}_owner_idx`).ifExists().execute();
    await db.schema.dropIndex(`${name}_team_idx`).ifExists().execute();
  }
}

/** Every migration, in order. Append only: never edit one that has shipped. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', up: initial },
  { version: 2, name: 'peer_renewal', up: peerRenewal },
  { version: 3, name: 'renewal_idempotency', up: renewalIdempotency },
  { version: 4, name: 'resource_list_order', up: resourceListOrder },
];

/** The schema version this code writes. */
export const LATEST_SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

/** What a migration run did. */
export interface MigrationResult {
  /** Versions applied by this run, in order (empty: the store was up to date). */
  readonly applied: number[];
  /** The schema version after the run. */
  readonly version: number;
}

/**
 * A fixed key for the migration advisory lock: the two-int form keeps it clear of Kysely's
 * own bigint key and of other applications sharing the database. 0x4d4f5341 = "MOSA".
 */
export const PG_LOCK_NAMESPACE = 0x4d4f5341;
export const PG_LOCK_MIGRATE = 1;

/** How long a migration waits for another migrator's lock before giving up (ms). */
export const MIGRATION_LOCK_TIMEOUT_MS = 60_000;

function isSqliteBusy(err: unknown): boolean {
  const e = err as { errcode?: unknown } | null;
  // SQLITE_BUSY (5) and its extended codes (5 + n·256)
  return typeof e?.errcode === 'number' && (e.errcode & 0xff) === 5;
}

/**
 * `BEGIN EXCLUSIVE`, waiting for another holder asynchronously: node:sqlite's busy handler
 * sleeps on the event loop's thread, which would stall this process for the whole wait (and
 * could never let a second handle in the same process finish). So the wait is ours: no busy
 * timeout for this statement, retry every few ms until {@link MIGRATION_LOCK_TIMEOUT_MS}.
 */
async function beginExclusive(conn: Kysely<unknown>): Promise<void> {
  const previous = await sql<{ timeout: number }>`pragma busy_timeout`.execute(conn);
  const restore = Number(previous.rows[0]?.timeout ?? 0);
  await sql`pragma busy_timeout = 0`.execute(conn);
  try {
    const deadline = Date.now() + MIGRATION_LOCK_TIMEOUT_MS;
    for (;;) {
      try {
        await sql`begin exclusive`.execute(conn);
        return;
      } catch (err) {
        if (!isSqliteBusy(err) || Date.now() > deadline) throw err;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    }
  } finally {
    await sql`pragma busy_timeout = ${sql.lit(restore)}`.execute(conn);
  }
}

/**
 * Apply every pending migration under the store-wide lock, idempotently: a second run, or a
 * concurrent one that waited for the lock, finds nothing to do.
 *
 * @throws STORAGE_SCHEMA_TOO_NEW when the store was migrated by a newer gateway
 */
export async function migrateToLatest(db: Kysely<unknown>, engine: Engine, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationResult> {
  // One connection for the whole run: the lock and the transaction live on it.
  return db.connection().execute(async (conn) => {
    if (engine === 'sqlite') {
      await beginExclusive(conn);
    } else {
      await sql`begin`.execute(conn);
      await sql`select pg_advisory_xact_lock(${sql.lit(PG_LOCK_NAMESPACE)}, ${sql.lit(PG_LOCK_MIGRATE)})`.execute(conn);
    }
    try {
      const t = columnTypes(engine);
      await conn.schema
        .createTable('schema_migrations')
        .ifNotExists()
        .addColumn('version', t.int, (c) => c.primaryKey())
        .addColumn('name', t.text, (c) => c.notNull())
        .addColumn('applied_at', t.text, (c) => c.notNull())
        .execute();
      const rows = await sql<{ version: number }>`select version from schema_migrations`.execute(conn);
      const done = new Set(rows.rows.map((r) => Number(r.version)));
      const known = migrations.at(-1)?.version ?? 0;
      const newest = Math.max(0, ...done);
      if (newest > known) throw new StorageSchemaTooNewError(String(newest), String(known));
      const applied: number[] = [];
      for (const m of migrations) {
        if (done.has(m.version)) continue;
        await m.up(conn, engine);
        await sql`insert into schema_migrations (version, name, applied_at) values (${m.version}, ${m.name}, ${toTimestamp(new Date())})`.execute(conn);
        applied.push(m.version);
      }
      await sql`commit`.execute(conn);
      return { applied, version: Math.max(newest, ...applied) };
    } catch (err) {
      await sql`rollback`.execute(conn).catch(() => undefined);
      throw err;
    }
  });
}
