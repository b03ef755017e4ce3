/**
 * Enrollment tokens: single use, short-lived, stored as SHA-256 only. A claim is one
 * conditional UPDATE, so of N concurrent redeemers exactly one wins; the losers learn why
 * (unknown, used, cancelled, expired) from a lookup after the failed claim.
 */
import { createHash, randomUUID } from 'node:crypto';
import { codedError, quoteForDisplay, SHA256_HEX_PATTERN } from '@mosaic/federation-core';
import { flag, inTransaction, isSet, nowTs, type Executor, type RepoContext } from './sql.js';
import type { EnrollmentTokensTable } from './schema.js';
import { toTimestamp, type TimeInput, type Timestamp } from './time.js';

/**
 * SHA-256 (lowercase hex) of a secret token — the only form in which enrollment and admin
 * tokens reach the store.
 */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Refuse anything but a SHA-256 hex digest, so a plaintext token can never be stored by mistake. */
export function assertTokenHash(value: string): void {
  if (!SHA256_HEX_PATTERN.test(value)) throw new TypeError('storage: token hashes must be SHA-256 hex (hashToken); never pass the token itself');
}

/** An enrollment token as stored (its hash is not handed out). */
export interface EnrollmentTokenRecord {
  readonly id: string;
  readonly grantId: string;
  /** Made with `--reenroll`: may re-enroll an active grant. */
  readonly reenroll: boolean;
  readonly createdAt: Timestamp;
  readonly expiresAt: Timestamp;
  readonly usedAt: Timestamp | null;
  readonly cancelledAt: Timestamp | null;
}

/** Input of {@link EnrollmentTokensRepository.create}. */
export interface NewEnrollmentToken {
  readonly grantId: string;
  /** {@link hashToken} of the token. */
  readonly tokenHash: string;
  readonly expiresAt: TimeInput;
  readonly reenroll?: boolean;
  /** Default: now. */
  readonly createdAt?: TimeInput;
}

/** Why a claim failed. */
export type ClaimFailure = 'unknown' | 'used' | 'cancelled' | 'expired';

/** The outcome of {@link EnrollmentTokensRepository.claim}. */
export type ClaimResult = { readonly ok: true; readonly token: EnrollmentTokenRecord } | { readonly ok: false; readonly reason: ClaimFailure };

const toToken = (r: EnrollmentTokensTable): EnrollmentTokenRecord => ({
  id: r.id,
  grantId: r.grant_id,
  reenroll: isSet(r.reenroll),
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
  cancelledAt: r.cancelled_at,
});

/** Enrollment tokens. */
export class EnrollmentTokensRepository {
  readonly #db: Executor;
  readonly #ctx: RepoContext;

  constructor(db: Executor, ctx: RepoContext) {
    this.#db = db;
    this.#ctx = ctx;
  }

  /**
   * Store a new token (its hash) for a pending or active grant and, in the same transaction,
   * cancel the grant's older unused tokens.
   * @returns the new token and how many older ones were cancelled
   * @throws GRANT_NOT_FOUND (404); GRANT_NOT_EDITABLE (409) for a revoked or expired grant
   */
  async create(input: NewEnrollmentToken): Promise<{ token: EnrollmentTokenRecord; cancelled: number }> {
    assertTokenHash(input.tokenHash);
    const createdAt = input.createdAt === undefined ? nowTs(this.#ctx) : toTimestamp(input.createdAt);
    const expiresAt = toTimestamp(input.expiresAt);
    return inTransaction(this.#db, async (trx) => {
      // FOR UPDATE on PostgreSQL serialises token creation per grant, so of two concurrent
      // creates the later one cancels the earlier one's token (SQLite transactions are serial).
      let q = trx.selectFrom('grants').select(['id', 'status']).where('id', '=', input.grantId);
      if (this.#ctx.engine === 'postgres') q = q.forUpdate();
      const grant = await q.executeTakeFirst();
      if (grant === undefined) throw codedError('GRANT_NOT_FOUND', `no grant has the id ${quoteForDisplay(input.grantId)}`);
      if (grant.status !== 'pending' && grant.status !== 'active') {
        throw codedError('GRANT_NOT_EDITABLE', `grant ${grant.id} is ${grant.status}; no enrollment token can be made for it`);
      }
      const cancelled = await trx
        .updateTable('enrollment_tokens')
        .set({ cancelled_at: createdAt })
        .where('grant_id', '=', input.grantId)
        .where('used_at', 'is', null)
        .where('cancelled_at', 'is', null)
        .executeTakeFirst();
      const row = await trx
        .insertInto('enrollment_tokens')
        .values({
          id: randomUUID(),
          grant_id: input.grantId,
          token_hash: input.tokenHash,
          reenroll: flag(input.reenroll),
          created_at: createdAt,
          expires_at: expiresAt,
          used_at: null,
          cancelled_at: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { token: toToken(row), cancelled: Number(cancelled.numUpdatedRows) };
    });
  }

  /**
   * Redeem a token: one conditional `UPDATE … WHERE used_at IS NULL AND cancelled_at IS NULL
   * AND expires_at > now … RETURNING`, so exactly one of any number of concurrent claimers
   * wins. A loser gets the reason from a lookup (a used token reports `used` even once it has
   * also expired). Nothing about the grant is in a failure.
   */
  async claim(tokenHash: string, now?: TimeInput): Promise<ClaimResult> {
    assertTokenHash(tokenHash);
    const ts = now === undefined ? nowTs(this.#ctx) : toTimestamp(now);
    const won = await this.#db
      .updateTable('enrollment_tokens')
      .set({ used_at: ts })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('cancelled_at', 'is', null)
      .where('expires_at', '>', ts)
      .returningAll()
      .executeTakeFirst();
    if (won !== undefined) return { ok: true, token: toToken(won) };
    const row = await this.#db.selectFrom('enrollment_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    if (row === undefined) return { ok: false, reason: 'unknown' };
    if (row.used_at !== null) return { ok: false, reason: 'used' };
    if (row.cancelled_at !== null) return { ok: false, reason: 'cancelled' };
    return { ok: false, reason: 'expired' };
  }

  /** The token with this hash, or null. */
  async findByHash(tokenHash: string): Promise<EnrollmentTokenRecord | null> {
    assertTokenHash(tokenHash);
    const row = await this.#db.selectFrom('enrollment_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return row === undefined ? null : toToken(row);
  }

  /** The tokens of a grant, newest first. */
  async listOfGrant(grantId: string): Promise<EnrollmentTokenRecord[]> {
    const rows = await this.#db.selectFrom('enrollment_tokens').selectAll().where('grant_id', '=', grantId).orderBy('created_at', 'desc').orderBy('id').execute();
    return rows.map(toToken);
  }

  /** Cancel every unused token of a grant (e.g. when it is revoked); how many. */
  async cancelUnused(grantId: string, at?: TimeInput): Promise<number> {
    const ts = at === undefined ? nowTs(this.#ctx) : toTimestamp(at);
    const result = await this.#db
      .updateTable('enrollment_tokens')
      .set({ cancelled_at: ts })
      .where('grant_id', '=', grantId)
      .where('used_at', 'is', null)
      .where('cancelled_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  /** Delete tokens that expired before `before` (housekeeping); how many. */
  async deleteExpired(before: TimeInput): Promise<number> {
    const result = await this.#db.deleteFrom('enrollment_tokens').where('expires_at', '<', toTimestamp(before)).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
