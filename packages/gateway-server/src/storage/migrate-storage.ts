/**
 * `mosaic gateway migrate-storage`: copy a data dir's embedded SQLite store into the
 * PostgreSQL at `DATABASE_URL`, every table, ids, timestamps, sealed keys and audit hashes
 * byte-identical, in one target transaction.
 *
 * - The data dir is locked for the whole run (`gateway.lock`): a gateway running on it is
 *   refused, and none can start meanwhile.
 * - Audit rows still in the data dir's spool (a gateway killed before it shipped them) are
 *   shipped into the source first, as a gateway start would, so they are copied too.
 * - The target is an empty database or one at this version's schema (another version's is
 *   refused, never upgraded); everything is checked before anything is written. An empty one
 *   gets the schema first (under the migration advisory lock); the copy then runs in one
 *   transaction holding that same lock and an exclusive lock on every table, so a gateway
 *   starting on the target waits for the copy instead of creating a CA of its own. A dry run
 *   writes nothing anywhere (an older embedded store is refused rather than upgraded).
 * - Idempotent: rows already in the target and identical are skipped, so a second run copies
 *   nothing. A target holding anything else (a row that differs — another gateway's CA — or a
 *   row the source does not have) is refused before anything is written.
 * - The sealed keys (CA root, server key, peer keys) are copied sealed. PostgreSQL mode reads
 *   the master secret only from MOSAIC_SECRET, so the run finds the secret that sealed them
 *   (MOSAIC_SECRET if set, else the embedded gateway's keyring entry or secret file, read
 *   only), proves it opens them, and reports where it is — never the secret itself, unless
 *   asked to write it to a new private file.
 *
 * @example
 * const report = await migrateStorage({ dataDir, databaseUrl: process.env.DATABASE_URL, dryRun: true });
 * for (const t of report.tables) console.log(t.table, t.source, t.inTarget, t.toCopy);
 */
import { X509Certificate } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import { createError, MosaicError, openText, parseMasterSecret, readSealHeader, SealKey } from '@mosaic/federation-core';
import { lockDataDir } from '../data-dir.js';
import { AUDIT_SPOOL_FILE_NAME, AuditShipper, AuditSpool } from '../audit/index.js';
import { CA_ROOT_RECORD_ID, CA_SERVER_RECORD_ID } from '../ca/store.js';
import { createOsKeyring, KEYRING_SERVICE, type SecretKeyring } from '../secrets/keyring.js';
import { isInside, secretFilePath, validateGatewayName } from '../secrets/paths.js';
import { readSecretFile } from '../secrets/secret-file.js';
import { peerKeyRecordId } from '../services/peers.js';
import { MIGRATED_TO_META_KEY, parseMigratedMark } from './meta.js';
import { LATEST_SCHEMA_VERSION, PG_LOCK_MIGRATE, PG_LOCK_NAMESPACE } from './migrations.js';
import { isPostgresUrl } from './postgres.js';
import { TABLES, type Database } from './schema.js';
import { loadNodeSqlite, SQLITE_FILE_NAME } from './sqlite.js';
import { openStorage, type Storage } from './storage.js';

/** A table `migrate-storage` copies. */
export type MigratedTable = (typeof TABLES)[number];

/** Each table's primary key (the identity rows are matched by). */
const PRIMARY_KEYS: Record<MigratedTable, readonly string[]> = {
  meta: ['key'],
  users: ['id'],
  teams: ['id'],
  memberships: ['team_id', 'user_id'],
  tasks: ['id'],
  notes: ['id'],
  memory: ['id'],
  credentials: ['id'],
  api_keys: ['id'],
  grants: ['id'],
  enrollment_tokens: ['id'],
  issued_certs: ['serial'],
  peers: ['name'],
  ca_state: ['id'],
  admin_tokens: ['name'],
  audit_log: ['seq'],
  audit_log_archive: ['seq'],
};

/** Rows read from the source (and compared in the target) per round trip. */
const PAGE = 1_000;
/** Bind parameters per INSERT, well under PostgreSQL's 65 535. */
const MAX_PARAMS = 30_000;

// --- errors -------------------------------------------------------------------------------------

/** No DATABASE_URL (or not a PostgreSQL URL): nothing to migrate into. */
export const MigrationTargetInvalid = createError<[string]>(
  'MIGRATION_TARGET_INVALID',
  '%s',
  400,
  'set DATABASE_URL to the PostgreSQL to migrate into, e.g. DATABASE_URL=postgres://mosaic@db.example.net/mosaic mosaic gateway migrate-storage --dry-run',
);

/** The data dir holds no embedded store. */
export const MigrationSourceMissing = createError<[string]>(
  'MIGRATION_SOURCE_MISSING',
  'there is no embedded store to migrate: %s does not exist',
  404,
  'pass the data dir of the gateway to migrate with --data-dir (or MOSAIC_DATA_DIR), or --name when it uses the default data dir',
);

/** The target holds data that is not this source's (e.g. another gateway's CA). */
export const MigrationTargetConflict = createError<[string, string]>(
  'MIGRATION_TARGET_CONFLICT',
  'the target database %s already holds different data (%s); nothing was copied',
  409,
  'migrate into an empty database (createdb a new one and point DATABASE_URL at it); a target that a gateway already ran on is never overwritten',
);

/** MOSAIC_SECRET (or the gateway's own secret) does not open the source's sealed keys. */
export const MigrationSecretMismatch = createError<[string, string]>(
  'MIGRATION_SECRET_MISMATCH',
  '%s does not open the sealed keys of this store (%s); nothing was copied',
  409,
  'PostgreSQL mode reads the master secret only from MOSAIC_SECRET: set it to the secret the embedded gateway used, or unset it so migrate-storage finds that secret (keyring or $XDG_CONFIG_HOME/mosaic/<name>/secret; pass --name <the gateway name>)',
);

/** No master secret was found for a store holding sealed keys. */
export const MigrationSecretNotFound = createError<[string]>(
  'MIGRATION_SECRET_NOT_FOUND',
  'cannot find the master secret that sealed this store’s keys: MOSAIC_SECRET is not set and %s',
  409,
  'pass --name <the name the gateway was started with>, or set MOSAIC_SECRET to the secret it used',
);

/** Audit rows in the data dir's spool could not be shipped into the source first. */
export const MigrationSpoolUnshipped = createError<[number, string, string]>(
  'MIGRATION_SPOOL_UNSHIPPED',
  '%s audit rows in %s are not in the embedded store yet and could not be shipped there: %s; nothing was copied',
  409,
  'start the gateway once on this data dir without DATABASE_URL and stop it (Ctrl-C; it ships its spool on the way), then run migrate-storage again',
);

/** The embedded store was already copied into another database (its "migrated to" mark names it). */
export const MigrationSourceMigrated = createError<[string, string, string]>(
  'MIGRATION_SOURCE_MIGRATED',
  'the embedded store %s was already copied to PostgreSQL %s (%s); a second copy elsewhere would bring back its CA key without the revocations made there since; nothing was copied',
  409,
  'the gateway runs on that database now: move it with pg_dump/pg_restore, or run migrate-storage against that same DATABASE_URL (a re-run copies nothing new)',
);

/** A dry run on an embedded store of an older schema (a dry run does not upgrade it). */
export const MigrationSourceOutdated = createError<[string, number, number]>(
  'MIGRATION_SOURCE_OUTDATED',
  'the embedded store %s is at schema version %s of %s, and a dry run does not upgrade it',
  409,
  'start the gateway of this version on the data dir once and stop it (or run migrate-storage without --dry-run, which upgrades it first)',
);

/** The target refused a statement (its schema cannot be created, a value cannot be stored): the transaction rolled back. */
export const MigrationFailed = createError<[string, string]>(
  'MIGRATION_FAILED',
  'migrating into %s failed and was rolled back, nothing was copied: %s',
  500,
  'migrate into an empty database of its own (tables of another application in it clash with the gateway’s); run again with -v for the database’s own message',
);

/** Rethrow a coded error as it is; anything else (a database error) as {@link MigrationFailed}. */
function failed(where: string, err: unknown): never {
  if (err instanceof MosaicError) throw err;
  throw new MigrationFailed(where, err instanceof Error ? err.message.split('\n')[0]! : String(err), { cause: err });
}

/** `--write-secret` names a file that exists or lies inside the data dir. */
export const MigrationSecretFileRefused = createError<[string, string]>(
  'MIGRATION_SECRET_FILE_REFUSED',
  'will not write the master secret to %s: %s',
  400,
  'name a new file outside the data dir, e.g. --write-secret ~/.config/mosaic/secret-for-postgres (it is created 0600)',
);

// --- the report ---------------------------------------------------------------------------------

/** One table's counts. */
export interface TableCounts {
  readonly table: MigratedTable;
  /** Rows in the source. */
  readonly source: number;
  /** Source rows already in the target, identical. */
  readonly inTarget: number;
  /** Source rows not in the target yet. */
  readonly toCopy: number;
  /** Rows copied by this run (0 on a dry run). */
  readonly copied: number;
}

/** Where the master secret that sealed the source's keys is (never the secret itself). */
export interface MigrationSecret {
  /** `env`: MOSAIC_SECRET; `keyring` / `file`: the embedded gateway's own; `none`: no sealed keys, any secret works. */
  readonly source: 'env' | 'keyring' | 'file' | 'none';
  /** `keyring:mosaic/<name>` or the secret file's path; null for env and none. */
  readonly location: string | null;
  /** The seal key id it derives (16 hex digits, as in every sealed envelope's header): not secret. */
  readonly sealKeyId: string | null;
  /** Sealed keys opened with it (CA root, server key, peer keys). */
  readonly sealedKeysChecked: number;
  /** Where `writeSecretTo` wrote it, or null. */
  readonly writtenTo: string | null;
}

/** What a run did (or, dry, would do). */
export interface MigrationReport {
  readonly dryRun: boolean;
  /** The gateway name the secret was looked up for. */
  readonly name: string;
  readonly dataDir: string;
  readonly source: { readonly engine: 'sqlite'; readonly location: string };
  /** Never a password: `host:port/database`. */
  readonly target: { readonly engine: 'postgres'; readonly location: string; readonly schemaVersion: number };
  readonly tables: readonly TableCounts[];
  readonly totals: { readonly source: number; readonly inTarget: number; readonly toCopy: number; readonly copied: number };
  /** True when the target already held every source row (nothing to copy). */
  readonly upToDate: boolean;
  /** The data dir's audit spool: rows that were (or, dry, would be) shipped into the source first. */
  readonly spool: { readonly file: string; readonly unshipped: number; readonly shipped: number };
  /** The target's audit sequence after the run: the next row gets a `seq` above this. */
  readonly auditSeq: number;
  readonly secret: MigrationSecret;
}

/** Options of {@link migrateStorage}. */
export interface MigrateStorageOptions {
  /** The data dir whose `gateway.db` is the source. */
  readonly dataDir: string;
  /** The target (DATABASE_URL). */
  readonly databaseUrl: string | undefined;
  /** The gateway name (keyring account / secret file). Default: from the CA certificate's name, else `default`. */
  readonly name?: string | undefined;
  /** Count and check only; write nothing (the target's schema included). */
  readonly dryRun?: boolean | undefined;
  /** Write the master secret to this new file (0600, outside the data dir), for MOSAIC_SECRET. */
  readonly writeSecretTo?: string | undefined;
  /** Default `process.env`: MOSAIC_SECRET, XDG_CONFIG_HOME, HOME. */
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Default: the OS keyring. */
  readonly keyring?: SecretKeyring | undefined;
}

// --- helpers ------------------------------------------------------------------------------------

type Row = Record<string, unknown>;
type AnyDb = Kysely<Database>;

/** A value as both engines hand it out, for comparison: int8 may come as bigint or string. */
function same(a: unknown, b: unknown): boolean {
  const norm = (v: unknown): unknown => (typeof v === 'bigint' ? Number(v) : v === undefined ? null : v);
  return Object.is(norm(a), norm(b));
}

function sameRow(a: Row, b: Row): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (!same(a[k], b[k])) return false;
  return true;
}

function keyOf(row: Row, pk: readonly string[]): string {
  return JSON.stringify(pk.map((c) => (typeof row[c] === 'bigint' ? Number(row[c]) : row[c])));
}

function rowValue(columns: readonly string[], values: readonly unknown[]): RawBuilder<unknown> {
  return sql`(${sql.join(columns.map((c) => sql.ref(c)))}) > (${sql.join(values.map((v) => sql`${v}`))})`;
}

/** The source table in primary-key order, a page at a time (keyset pagination). */
async function* pages(db: AnyDb, table: MigratedTable): AsyncGenerator<Row[]> {
  const pk = PRIMARY_KEYS[table];
  let last: unknown[] | undefined;
  for (;;) {
    let q = db.selectFrom(table as 'users').selectAll();
    // The source's "migrated to" marker stays behind (a gateway on PostgreSQL never reads it).
    if (table === 'meta') q = q.where(sql<boolean>`"key" <> ${MIGRATED_TO_META_KEY}`);
    if (last !== undefined) q = q.where(rowValue(pk, last) as RawBuilder<boolean>);
    for (const c of pk) q = q.orderBy(c as 'id');
    const rows = (await q.limit(PAGE).execute()) as Row[];
    if (rows.length === 0) return;
    yield rows;
    if (rows.length < PAGE) return;
    const tail = rows.at(-1)!;
    last = pk.map((c) => tail[c]);
  }
}

/** The target rows with the primary keys of `rows`. */
async function targetRows(db: AnyDb, table: MigratedTable, rows: readonly Row[]): Promise<Map<string, Row>> {
  const pk = PRIMARY_KEYS[table];
  const tuples = rows.map((r) => sql`(${sql.join(pk.map((c) => sql`${r[c]}`))})`);
  const found = (await db
    .selectFrom(table as 'users')
    .selectAll()
    .where(sql<boolean>`(${sql.join(pk.map((c) => sql.ref(c)))}) in (${sql.join(tuples)})`)
    .execute()) as Row[];
  return new Map(found.map((r) => [keyOf(r, pk), r]));
}

async function countRows(db: AnyDb, table: MigratedTable): Promise<number> {
  const row = await db
    .selectFrom(table as 'users')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

interface TablePlan {
  readonly table: MigratedTable;
  readonly source: number;
  readonly inTarget: number;
  readonly missing: Row[];
  readonly differing: number;
  /** Target rows the source does not have. */
  readonly extra: number;
}

/** Compare the source with the target (`target` null: an empty target, not even a schema). */
async function plan(source: AnyDb, target: AnyDb | null): Promise<TablePlan[]> {
  const out: TablePlan[] = [];
  for (const table of TABLES) {
    const pk = PRIMARY_KEYS[table];
    let count = 0;
    let inTarget = 0;
    let differing = 0;
    const missing: Row[] = [];
    for await (const rows of pages(source, table)) {
      count += rows.length;
      const there = target === null ? new Map<string, Row>() : await targetRows(target, table, rows);
      for (const row of rows) {
        const t = there.get(keyOf(row, pk));
        if (t === undefined) missing.push(row);
        else if (sameRow(row, t)) inTarget++;
        else differing++;
      }
    }
    const targetCount = target === null ? 0 : await countRows(target, table);
    out.push({ table, source: count, inTarget, missing, differing, extra: targetCount - inTarget - differing });
  }
  return out;
}

function conflicts(plans: readonly TablePlan[]): string | null {
  const parts: string[] = [];
  for (const p of plans) {
    if (p.differing > 0) parts.push(`${p.table}: ${p.differing} row${p.differing === 1 ? '' : 's'} differ${p.differing === 1 ? 's' : ''}`);
    if (p.extra > 0) parts.push(`${p.table}: ${p.extra} row${p.extra === 1 ? '' : 's'} not in the source`);
  }
  return parts.length === 0 ? null : parts.join('; ');
}

async function copy(trx: AnyDb, p: TablePlan): Promise<number> {
  if (p.missing.length === 0) return 0;
  const columns = Object.keys(p.missing[0]!).length;
  const size = Math.max(1, Math.floor(MAX_PARAMS / columns));
  for (let i = 0; i < p.missing.length; i += size) {
    await trx
      .insertInto(p.table as 'users')
      .values(p.missing.slice(i, i + size) as never)
      .execute();
  }
  return p.missing.length;
}

/** The highest audit `seq` the source ever handed out (SQLite AUTOINCREMENT remembers deleted ones). */
async function sourceSeqHighWater(source: AnyDb): Promise<number> {
  const seq = await sql<{ v: unknown }>`select seq as v from sqlite_sequence where name = 'audit_log'`.execute(source).catch(() => ({ rows: [] as { v: unknown }[] }));
  const live = await source.selectFrom('audit_log').select((eb) => eb.fn.max('seq').as('v')).executeTakeFirst();
  const archived = await source.selectFrom('audit_log_archive').select((eb) => eb.fn.max('seq').as('v')).executeTakeFirst();
  return Math.max(Number(seq.rows[0]?.v ?? 0), Number(live?.v ?? 0), Number(archived?.v ?? 0));
}

/** Make the target's audit identity continue above every copied `seq`; returns its value. */
async function resetAuditSequence(trx: AnyDb, highWater: number): Promise<number> {
  const current = await sql<{ v: unknown }>`select coalesce(pg_sequence_last_value(pg_get_serial_sequence('audit_log', 'seq')::regclass), 0) as v`.execute(trx);
  const now = Number(current.rows[0]?.v ?? 0);
  const maxes = await sql<{ v: unknown }>`select greatest((select max(seq) from audit_log), (select max(seq) from audit_log_archive), 0) as v`.execute(trx);
  const want = Math.max(highWater, Number(maxes.rows[0]?.v ?? 0));
  if (want > now) {
    await sql`select setval(pg_get_serial_sequence('audit_log', 'seq'), ${want})`.execute(trx);
    return want;
  }
  return now;
}

/** Unshipped rows in the data dir's spool, read only (0 when there is no spool). */
function spoolBacklog(file: string): number {
  if (!existsSync(file)) return 0;
  const { DatabaseSync } = loadNodeSqlite();
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    const row = db.prepare("select count(*) as n from spool_rows where shipped = 0").get() as { n: number } | undefined;
    return Number(row?.n ?? 0);
  } catch {
    return 0; // no spool table yet
  } finally {
    db.close();
  }
}

/** Ship the spool into the source, as a gateway start would. */
async function shipSpool(dataDir: string, source: Storage, file: string, backlog: number): Promise<number> {
  const spool = AuditSpool.open({ dataDir });
  const shipper = new AuditShipper({ spool, storage: source, minBackoffMs: 50, maxBackoffMs: 500 });
  try {
    if (!spool.status().available) throw new Error(spool.status().lastError ?? 'the spool cannot be opened');
    const before = spool.backlog();
    await shipper.flush(10_000);
    return before - spool.backlog();
  } catch (err) {
    throw new MigrationSpoolUnshipped(backlog, file, err instanceof Error ? err.message : String(err), { cause: err });
  } finally {
    await shipper.stop();
    await spool.close();
  }
}

/** The gateway name in the CA certificate's subject (`Mosaic Federation CA (<name>)`), if whole. */
function nameFromCaCert(certPem: string | undefined): string | undefined {
  if (certPem === undefined) return undefined;
  try {
    const subject = new X509Certificate(certPem).subject;
    const m = /CN=Mosaic Federation CA \((.*)\)$/m.exec(subject);
    const name = m?.[1];
    return name === undefined || name.endsWith('…') ? undefined : name;
  } catch {
    return undefined;
  }
}

/** A sealed blob and the record id it is bound to. */
interface SealedItem {
  readonly what: string;
  readonly sealed: string;
  readonly recordId: string;
}

async function sealedItems(source: AnyDb): Promise<{ items: SealedItem[]; caCertPem: string | undefined }> {
  const items: SealedItem[] = [];
  const ca = await source.selectFrom('ca_state').selectAll().where('id', '=', 1).executeTakeFirst();
  if (ca !== undefined) {
    items.push({ what: 'the CA root key', sealed: ca.ca_sealed_key, recordId: CA_ROOT_RECORD_ID });
    if (ca.server_sealed_key !== null) items.push({ what: 'the server key', sealed: ca.server_sealed_key, recordId: CA_SERVER_RECORD_ID });
  }
  for (const p of await source.selectFrom('peers').select(['name', 'sealed_key', 'renewal_pending']).orderBy('name').execute()) {
    items.push({ what: `peer ${p.name}'s key`, sealed: p.sealed_key, recordId: peerKeyRecordId(p.name) });
    // a renewal in flight keeps its new key sealed too (services/renewal.ts)
    if (p.renewal_pending !== null) items.push({ what: `peer ${p.name}'s pending renewal key`, sealed: p.renewal_pending, recordId: `${peerKeyRecordId(p.name)}/renewal-pending` });
  }
  return { items, caCertPem: ca?.ca_cert_pem };
}

/** How many of `items` `secretText` opens (stops at the first that does not: returns its index as a failure). */
function opens(secretText: string, label: string, items: readonly SealedItem[]): { key: SealKey; failed: SealedItem | null } {
  const key = SealKey.fromMaster(parseMasterSecret(secretText, label));
  for (const item of items) {
    try {
      openText(key, item.sealed, { recordId: item.recordId }).fill(0);
    } catch {
      return { key, failed: item };
    }
  }
  return { key, failed: null };
}

function sealedUnder(item: SealedItem): string {
  try {
    return `${item.what} is sealed under seal key ${readSealHeader(item.sealed).keyId}`;
  } catch {
    return `${item.what} is unreadable`;
  }
}

type Found = { text: string; source: 'keyring' | 'file'; location: string } | { text: null; looked: string };

/** The embedded gateway's own secret, read only (never generated here). */
async function embeddedSecret(name: string, env: NodeJS.ProcessEnv, keyring: SecretKeyring | undefined): Promise<Found> {
  const account = validateGatewayName(name);
  const ring = keyring ?? createOsKeyring();
  const fromKeyring = ((): string | null => {
    try {
      return ring.get(KEYRING_SERVICE, account);
    } catch {
      return null; // no usable keyring: the file is where the gateway kept it
    }
  })();
  const file = secretFilePath(account, env);
  if (fromKeyring !== null && fromKeyring !== '') return { text: fromKeyring, source: 'keyring', location: `keyring:${KEYRING_SERVICE}/${account}` };
  const fromFile = await readSecretFile(file);
  if (fromFile !== undefined) return { text: fromFile, source: 'file', location: file };
  return { text: null, looked: `neither keyring:${KEYRING_SERVICE}/${account} nor ${file} holds a secret for gateway "${account}"` };
}

/** Find and prove the master secret (see the module comment). */
async function checkSecret(
  items: readonly SealedItem[],
  name: string,
  env: NodeJS.ProcessEnv,
  keyring: SecretKeyring | undefined,
): Promise<{ secret: Omit<MigrationSecret, 'writtenTo'>; text: string | null }> {
  const fromEnv = env.MOSAIC_SECRET;
  if (fromEnv !== undefined) {
    const { key, failed } = opens(fromEnv, 'MOSAIC_SECRET', items);
    if (failed !== null) throw new MigrationSecretMismatch(`MOSAIC_SECRET (seal key ${key.id})`, sealedUnder(failed));
    // Where the embedded gateway's own secret is found it must be this one too: a store with
    // few or no sealed keys proves little, and the audit-hash and cursor keys derived from the
    // secret would change without a word.
    const own = await embeddedSecret(name, env, keyring);
    if (own.text !== null) {
      const ownId = SealKey.fromMaster(parseMasterSecret(own.text, own.location)).id;
      if (ownId !== key.id) throw new MigrationSecretMismatch(`MOSAIC_SECRET (seal key ${key.id})`, `the gateway's own secret in ${own.location} is seal key ${ownId}`);
    }
    return { secret: { source: 'env', location: null, sealKeyId: key.id, sealedKeysChecked: items.length }, text: fromEnv };
  }
  const found = await embeddedSecret(name, env, keyring);
  if (found.text === null) {
    if (items.length === 0) return { secret: { source: 'none', location: null, sealKeyId: null, sealedKeysChecked: 0 }, text: null };
    throw new MigrationSecretNotFound(found.looked);
  }
  const { key, failed } = opens(found.text, found.location, items);
  if (failed !== null) throw new MigrationSecretMismatch(`the master secret in ${found.location} (seal key ${key.id})`, sealedUnder(failed));
  return { secret: { source: found.source, location: found.location, sealKeyId: key.id, sealedKeysChecked: items.length }, text: found.text };
}

/**
 * Claim a `--write-secret` path before anything is copied: it must be new and outside the data
 * dir, and it is created there and then (empty, 0600, exclusively, never through a symlink) so
 * nothing can take its place before the secret is written after the commit.
 */
async function claimSecretFile(path: string, dataDir: string, text: string | null): Promise<{ path: string; handle: FileHandle }> {
  const target = resolve(path);
  if (text === null) throw new MigrationSecretFileRefused(target, 'the store holds no sealed keys, so there is no secret to carry over (any MOSAIC_SECRET works)');
  if (await isInside(target, dataDir)) throw new MigrationSecretFileRefused(target, 'it is inside the data dir, and a copy of the data dir must open nothing on its own');
  try {
    return { path: target, handle: await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MigrationSecretFileRefused(target, code === 'EEXIST' ? 'it exists already' : `it cannot be created (${code ?? 'error'})`, { cause: err });
  }
}

/** Fill the claimed file with the secret; on failure it is removed (no half-written secret file). */
async function writeSecretFile(claimed: { path: string; handle: FileHandle }, text: string): Promise<string> {
  try {
    await claimed.handle.writeFile(`${text.trim()}\n`);
    await claimed.handle.sync();
    await claimed.handle.close();
  } catch (err) {
    await claimed.handle.close().catch(() => undefined);
    await unlink(claimed.path).catch(() => undefined);
    throw new MigrationSecretFileRefused(claimed.path, `it could not be written (${(err as NodeJS.ErrnoException).code ?? 'error'}); the store was copied — run again with another --write-secret path`, { cause: err });
  }
  return claimed.path;
}

async function targetSchemaVersion(target: Storage): Promise<number> {
  const exists = await sql<{ t: unknown }>`select to_regclass('schema_migrations') as t`.execute(target.db);
  if (exists.rows[0]?.t === null || exists.rows[0]?.t === undefined) return 0;
  return target.schemaVersion();
}

// --- the run --------------------------------------------------------------------------------------

/**
 * Copy the data dir's embedded store into the PostgreSQL at `databaseUrl` (see the module
 * comment), or with `dryRun` only count and check.
 * @throws MIGRATION_TARGET_INVALID (no or non-PostgreSQL URL), MIGRATION_SOURCE_MISSING,
 *   DATA_DIR_IN_USE (a gateway runs on the data dir), STORAGE_UNAVAILABLE (the target cannot
 *   be reached), MIGRATION_SECRET_MISMATCH / MIGRATION_SECRET_NOT_FOUND,
 *   MIGRATION_SPOOL_UNSHIPPED, MIGRATION_TARGET_CONFLICT, MIGRATION_SECRET_FILE_REFUSED —
 *   each before anything was written to the target; MIGRATION_FAILED when the target refuses
 *   a statement (rolled back)
 */
export async function migrateStorage(options: MigrateStorageOptions): Promise<MigrationReport> {
  const env = options.env ?? process.env;
  const dryRun = options.dryRun === true;
  const url = options.databaseUrl?.trim() ?? '';
  if (url === '') throw new MigrationTargetInvalid('DATABASE_URL is not set: migrate-storage copies the embedded store into the PostgreSQL it names');
  if (!isPostgresUrl(url)) throw new MigrationTargetInvalid('DATABASE_URL must be a postgres:// (or postgresql://) URL');
  const dataDir = resolve(options.dataDir);
  const dbFile = join(dataDir, SQLITE_FILE_NAME);
  if (!existsSync(dbFile)) throw new MigrationSourceMissing(dbFile);

  const release = lockDataDir(dataDir);
  let source: Storage | undefined;
  let target: Storage | undefined;
  let claimed: { path: string; handle: FileHandle } | undefined;
  let written = false;
  try {
    // A dry run writes nothing anywhere: not even a schema upgrade of an older source.
    source = await openStorage({ dataDir, migrate: !dryRun });
    if (dryRun) {
      const version = await source.schemaVersion();
      if (version !== LATEST_SCHEMA_VERSION) {
        throw new MigrationSourceOutdated(source.location, version, LATEST_SCHEMA_VERSION);
      }
    }
    target = await openStorage({ databaseUrl: url, migrate: false, postgres: { maxConnections: 2, applicationName: 'mosaic-migrate-storage' } });
    // A store already copied goes nowhere else: only a re-run into the same database.
    const mark = parseMigratedMark(await source.meta.get(MIGRATED_TO_META_KEY));
    if (mark !== null && mark.to !== target.location) throw new MigrationSourceMigrated(source.location, mark.to, mark.at);

    const { items, caCertPem } = await sealedItems(source.db);
    const name = options.name ?? nameFromCaCert(caCertPem) ?? 'default';
    const checked = await checkSecret(items, name, env, options.keyring);
    const spoolFile = join(dataDir, AUDIT_SPOOL_FILE_NAME);
    const unshipped = spoolBacklog(spoolFile);

    let plans: TablePlan[];
    let copied = new Map<MigratedTable, number>();
    let shipped = 0;
    let auditSeq: number;
    let schemaVersion = await targetSchemaVersion(target);
    // Only an empty database (no schema) or one at this version's schema: migrating another
    // gateway version's database forward would change it even when the copy is then refused.
    if (schemaVersion !== 0 && schemaVersion !== LATEST_SCHEMA_VERSION) {
      throw new MigrationTargetConflict(
        target.location,
        `its schema is at version ${schemaVersion} of ${LATEST_SCHEMA_VERSION}; migrate-storage does not upgrade a database in use — migrate into an empty database`,
      );
    }
    // Refuse a conflicting target before anything is written (the target, the spool into the source, the secret file).
    plans = await plan(source.db, schemaVersion === 0 ? null : target.db);
    const conflict = conflicts(plans);
    if (conflict !== null) throw new MigrationTargetConflict(target.location, conflict);
    if (options.writeSecretTo !== undefined) claimed = await claimSecretFile(options.writeSecretTo, dataDir, checked.text);
    if (dryRun) {
      auditSeq = Math.max(await sourceSeqHighWater(source.db), 0);
    } else {
      if (schemaVersion === 0) await target.migrate().catch((err: unknown) => failed(target!.location, err));
      schemaVersion = await target.schemaVersion();
      if (unshipped > 0) shipped = await shipSpool(dataDir, source, spoolFile, unshipped);
      const highWater = await sourceSeqHighWater(source.db);
      const src = source.db;
      const where = target.location;
      // Mark the source before the copy commits (the data dir is locked meanwhile): a crash
      // after the commit leaves it marked, never a copy with an unmarked original. Taken back
      // when the copy surely failed (below).
      const marked = source;
      const before = await marked.meta.get(MIGRATED_TO_META_KEY);
      await marked.meta.set(MIGRATED_TO_META_KEY, JSON.stringify({ to: where, at: mark?.at ?? new Date().toISOString() }));
      const unmark = async () => {
        if (before === null) await marked.meta.delete(MIGRATED_TO_META_KEY);
        else await marked.meta.set(MIGRATED_TO_META_KEY, before);
      };
      ({ plans, copied, auditSeq } = await target.db.transaction().execute(async (trx) => {
        // The migration lock: a gateway starting on this database waits for the copy. The
        // table locks: nothing else (a gateway that migrated before us) writes a row into a
        // table after it was planned and before the commit.
        await sql`select pg_advisory_xact_lock(${sql.lit(PG_LOCK_NAMESPACE)}, ${sql.lit(PG_LOCK_MIGRATE)})`.execute(trx);
        await sql`lock table ${sql.join(TABLES.map((t) => sql.table(t)))} in exclusive mode`.execute(trx);
        const inTx = await plan(src, trx);
        const conflict = conflicts(inTx);
        if (conflict !== null) throw new MigrationTargetConflict(where, conflict);
        const done = new Map<MigratedTable, number>();
        for (const p of inTx) done.set(p.table, await copy(trx, p));
        return { plans: inTx, copied: done, auditSeq: await resetAuditSequence(trx, highWater) };
      }).catch(async (err: unknown) => {
        // Taken back only when the target surely rolled back: our own refusal inside the
        // transaction, or PostgreSQL refusing a statement (an SQLSTATE). A lost connection may
        // have lost the COMMIT's answer, not the COMMIT: the mark stays (start refused, naming
        // the target; a re-run into it finishes the copy).
        const code = (err as { code?: unknown } | null)?.code;
        if (err instanceof MosaicError || (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code))) await unmark().catch(() => undefined);
        return failed(where, err);
      }));
    }

    const writtenTo = claimed === undefined || checked.text === null || dryRun ? null : await writeSecretFile(claimed, checked.text);
    written = writtenTo !== null;
    const tables = plans.map(
      (p): TableCounts => ({ table: p.table, source: p.source, inTarget: p.inTarget, toCopy: p.missing.length, copied: copied.get(p.table) ?? 0 }),
    );
    const sum = (k: 'source' | 'inTarget' | 'toCopy' | 'copied') => tables.reduce((n, t) => n + t[k], 0);
    return {
      dryRun,
      name,
      dataDir,
      source: { engine: 'sqlite', location: source.location },
      target: { engine: 'postgres', location: target.location, schemaVersion },
      tables,
      totals: { source: sum('source'), inTarget: sum('inTarget'), toCopy: sum('toCopy'), copied: sum('copied') },
      upToDate: sum('toCopy') === 0 && unshipped === 0,
      spool: { file: spoolFile, unshipped, shipped },
      auditSeq,
      secret: { ...checked.secret, writtenTo },
    };
  } finally {
    // a claimed --write-secret file that was not filled (a refusal, a dry run) goes again
    if (claimed !== undefined && !written) {
      await claimed.handle.close().catch(() => undefined);
      await unlink(claimed.path).catch(() => undefined);
    }
    await target?.close().catch(() => undefined);
    await source?.close().catch(() => undefined);
    release();
  }
}
