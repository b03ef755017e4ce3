/**
 * Named admin API tokens, stored as SHA-256 only. Lookups are by hash (an index lookup on a
 * digest of 32 random bytes leaks nothing usable by timing); listings never include hashes.
 */
import { quoteForDisplay } from '@mosaic/federation-core';
import { AdminTokenExistsError, AdminTokenNotFoundError } from './errors.js';
import { nowTs, type Executor, type RepoContext } from './sql.js';
import type { AdminTokensTable } from './schema.js';
import { assertTokenHash } from './tokens.js';
import { toTimestamp, type TimeInput, type Timestamp } from './time.js';

/** An admin token as listed (never its hash). */
export interface AdminTokenRecord {
  readonly name: string;
  readonly createdAt: Timestamp;
  readonly lastUsedAt: Timestamp | null;
  readonly revokedAt: Timestamp | null;
}

const toInfo = (r: Pick<AdminTokensTable, 'name' | 'created_at' | 'last_used_at' | 'revoked_at'>): AdminTokenRecord => ({
  name: r.name,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

const PUBLIC_COLUMNS = ['name', 'created_at', 'last_used_at', 'revoked_at'] as const;

/** Admin tokens. */
export class AdminTokensRepository {
  readonly #db: Executor;
  readonly #ctx: RepoContext;

  constructor(db: Executor, ctx: RepoContext) {
    this.#db = db;
    this.#ctx = ctx;
  }

  /**
   * Store a new token by name and hash. A revoked token's name may be reused (the new token
   * replaces the old row); an active one's may not.
   * @throws ADMIN_TOKEN_EXISTS (409)
   */
  async create(input: { name: string; tokenHash: string; createdAt?: TimeInput }): Promise<AdminTokenRecord> {
    assertTokenHash(input.tokenHash);
    const at = input.createdAt === undefined ? nowTs(this.#ctx) : toTimestamp(input.createdAt);
    const row = await this.#db
      .insertInto('admin_tokens')
      .values({ name: input.name, token_hash: input.tokenHash, created_at: at, last_used_at: null, revoked_at: null })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet({ token_hash: input.tokenHash, created_at: at, last_used_at: null, revoked_at: null })
          .where('admin_tokens.revoked_at', 'is not', null),
      )
      .returning(PUBLIC_COLUMNS)
      .executeTakeFirst();
    if (row === undefined) throw new AdminTokenExistsError(quoteForDisplay(input.name));
    return toInfo(row);
  }

  /** The active (not revoked) token with this hash, or null. */
  async findByHash(tokenHash: string): Promise<AdminTokenRecord | null> {
    assertTokenHash(tokenHash);
    const row = await this.#db
      .selectFrom('admin_tokens')
      .select(PUBLIC_COLUMNS)
      .where('token_hash', '=', tokenHash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return row === undefined ? null : toInfo(row);
  }

  /** Every token by name, revoked ones included (no hashes). */
  async list(): Promise<AdminTokenRecord[]> {
    const rows = await this.#db.selectFrom('admin_tokens').select(PUBLIC_COLUMNS).orderBy('name').execute();
    return rows.map(toInfo);
  }

  /**
   * The name and hash of every active token — for an in-memory verifier that compares a
   * presented token's hash in constant time (`timingSafeEqual`). Never for display: `list()`
   * is the listing.
   */
  async activeHashes(): Promise<{ name: string; tokenHash: string }[]> {
    const rows = await this.#db.selectFrom('admin_tokens').select(['name', 'token_hash']).where('revoked_at', 'is', null).orderBy('name').execute();
    return rows.map((r) => ({ name: r.name, tokenHash: r.token_hash }));
  }

  /** Revoke a token by name. @throws ADMIN_TOKEN_NOT_FOUND (404) when there is no active one */
  async revoke(name: string, at?: TimeInput): Promise<AdminTokenRecord> {
    const row = await this.#db
      .updateTable('admin_tokens')
      .set({ revoked_at: at === undefined ? nowTs(this.#ctx) : toTimestamp(at) })
      .where('name', '=', name)
      .where('revoked_at', 'is', null)
      .returning(PUBLIC_COLUMNS)
      .executeTakeFirst();
    if (row === undefined) throw new AdminTokenNotFoundError(quoteForDisplay(name));
    return toInfo(row);
  }

  /** Note that a token was just used (best effort: a revoked or unknown name changes nothing). */
  async touchLastUsed(name: string, at?: TimeInput): Promise<void> {
    await this.#db
      .updateTable('admin_tokens')
      .set({ last_used_at: at === undefined ? nowTs(this.#ctx) : toTimestamp(at) })
      .where('name', '=', name)
      .where('revoked_at', 'is', null)
      .execute();
  }
}
