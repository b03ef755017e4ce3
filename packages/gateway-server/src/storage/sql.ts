/**
 * Small SQL helpers shared by the repositories: the executor type, composing into the
 * caller's transaction, the visibility condition, LIKE escaping, batching.
 */
import { CompiledQuery, sql, type Kysely, type RawBuilder, type SqlBool } from 'kysely';
import { visibilityToSql, type Visibility } from '@mosaic/federation-core';
import type { Database, Engine, Flag } from './schema.js';
import type { SyncReader } from './sqlite.js';
import { toTimestamp, type Timestamp } from './time.js';

/** What a repository runs on: the root `Kysely` or a `Transaction` (a subclass). */
export type Executor = Kysely<Database>;

/** What every repository knows besides its executor. */
export interface RepoContext {
  readonly engine: Engine;
  /** The clock behind default timestamps (`created_at`, …). */
  readonly clock: () => Date;
  /** SQLite: synchronous reads of committed data on a second connection ({@link rawRows}). */
  readonly reader?: SyncReader | undefined;
}

/** `now` from the context's clock, in the stored form. */
export function nowTs(ctx: RepoContext): Timestamp {
  return toTimestamp(ctx.clock());
}

/**
 * Run `fn` in a transaction: the caller's when `db` already is one (so repositories compose
 * inside `storage.transaction`), else a new one.
 */
export async function inTransaction<T>(db: Executor, fn: (trx: Executor) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db);
  return db.transaction().execute(fn);
}

const MARK = '\u0000';

/**
 * The visibility condition of federation-core's scope pipeline (`visibilityToSql`, the one
 * definition shared with the explainer and the in-memory predicate) as a Kysely expression
 * with bound parameters: `(owner_user_id = ? OR team_id IN (?, ?))`, or `(1 = 0)`.
 */
export function visibilityCondition(visibility: Visibility): RawBuilder<SqlBool> {
  const { sql: text, params } = visibilityToSql(visibility, { placeholder: () => MARK });
  const pieces = text.split(MARK);
  if (pieces.length !== params.length + 1) throw new Error('storage: unexpected visibility SQL');
  const fragments: RawBuilder<unknown>[] = [];
  pieces.forEach((piece, i) => {
    fragments.push(sql.raw(piece));
    if (i < params.length) fragments.push(sql.val(params[i]));
  });
  return sql.join<SqlBool>(fragments, sql.raw(''));
}

/** The bind-parameter marks of `engine`: `?` (SQLite) or `$1`, `$2`, … (PostgreSQL), numbered from 1. */
export function placeholders(engine: Engine): (n: number) => string {
  return engine === 'postgres' ? (n) => `$${n}` : () => '?';
}

/**
 * Run SQL text already written with {@link placeholders} marks and bound `params`, skipping
 * Kysely's builder and compiler (the federation verbs' per-request reads: building and
 * compiling the same query on every request cost more than running it, docs/benchmarks.md).
 * On SQLite outside a transaction it runs on the store's read-only reader (committed data,
 * no queue behind the main connection); inside one, on the transaction (its own writes).
 * Only for fixed text of our own: every value goes through `params`, never into `text`.
 */
export async function rawRows<R>(db: Executor, ctx: RepoContext, text: string, params: readonly unknown[]): Promise<R[]> {
  if (ctx.reader !== undefined && !db.isTransaction) return ctx.reader.all<R>(text, params);
  const result = await db.executeQuery<R>(CompiledQuery.raw(text, [...params]));
  return result.rows;
}

/** `value` escaped for `LIKE … ESCAPE '\'` (matches literally). */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Split `list` into batches of at most `size` (bounded bind-parameter counts). */
export function batches<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** A boolean as stored. */
export function flag(value: boolean | undefined): Flag {
  return value === true ? 1 : 0;
}

/** A stored flag as a boolean. */
export function isSet(value: number): boolean {
  return value === 1;
}

/** A count as the engines return it (PostgreSQL int8 is parsed to a number by our pool). */
export function toCount(value: unknown): number {
  const n = typeof value === 'bigint' ? Number(value) : typeof value === 'string' ? Number(value) : (value as number);
  if (!Number.isSafeInteger(n)) throw new Error('storage: count is not a safe integer');
  return n;
}

/** Parse JSON text written by this layer. */
export function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}
