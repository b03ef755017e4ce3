/** Small key/value facts about the deployment (`meta`). Not for secrets. */
import { sql } from 'kysely';
import type { Engine } from './schema.js';
import type { Executor, RepoContext } from './sql.js';

/**
 * Set in an embedded store by a `migrate-storage` run that copied it into PostgreSQL (JSON
 * `{to, at}`): a gateway refuses to start on that copy again (`STORE_MIGRATED`) unless told to.
 * Never copied by the migration itself.
 */
export const MIGRATED_TO_META_KEY = 'storage.migrated_to';

/** The {@link MIGRATED_TO_META_KEY} value read back (a damaged one still counts as a mark, naming no database). */
export function parseMigratedMark(value: string | null): { to: string; at: string } | null {
  if (value === null) return null;
  let parsed: { to?: unknown; at?: unknown } = {};
  try {
    parsed = JSON.parse(value) as { to?: unknown; at?: unknown };
  } catch {
    // a damaged mark still marks
  }
  return { to: typeof parsed?.to === 'string' ? parsed.to : 'an unknown database', at: typeof parsed?.at === 'string' ? parsed.at : 'at an unknown time' };
}

/** The `meta` table. */
export class MetaRepository {
  readonly #db: Executor;
  readonly #engine: Engine;

  constructor(db: Executor, ctx: RepoContext) {
    this.#db = db;
    this.#engine = ctx.engine;
  }

  /**
   * PostgreSQL `pg_notify(channel, payload)`; nothing on SQLite (one process per store). Inside
   * `storage.transaction` it is delivered when the transaction commits, and never if it rolls back.
   */
  async notify(channel: string, payload: string): Promise<void> {
    if (this.#engine !== 'postgres') return;
    await sql`select pg_notify(${channel}, ${payload})`.execute(this.#db);
  }

  /** The value of `key`, or null. */
  async get(key: string): Promise<string | null> {
    const row = await this.#db.selectFrom('meta').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value ?? null;
  }

  /** Set `key` to `value` (insert or replace). */
  async set(key: string, value: string): Promise<void> {
    await this.#db
      .insertInto('meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({ value: eb.ref('excluded.value') })))
      .execute();
  }

  /** Set `key` only if it has no value yet; returns the value now stored (the first writer's). */
  async setIfAbsent(key: string, value: string): Promise<string> {
    await this.#db.insertInto('meta').values({ key, value }).onConflict((oc) => oc.column('key').doNothing()).execute();
    const stored = await this.get(key);
    if (stored === null) throw new Error('storage: meta value vanished');
    return stored;
  }

  /** Delete `key`; whether it existed. */
  async delete(key: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('meta').where('key', '=', key).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
