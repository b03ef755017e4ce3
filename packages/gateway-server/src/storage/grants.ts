/**
 * Grants (serving side): "peer P may read, on behalf of local user U, what scope S allows".
 * Status `pending` → `active` → `revoked` | `expired`; scope edits bump `scope_version`.
 */
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { codedError, normaliseSerialHex, quoteForDisplay, UUID_PATTERN, type Grant, type GrantStatus, type Scope } from '@mosaic/federation-core';
import { flag, inTransaction, isSet, nowTs, parseJson, toCount, type Executor, type RepoContext } from './sql.js';
import type { GrantsTable } from './schema.js';
import { toTimestamp, toTimestampOrNull, type TimeInput, type Timestamp } from './time.js';

/** A grant as stored. */
export interface GrantRecord {
  readonly id: string;
  readonly subjectUserId: string;
  readonly peerName: string;
  readonly status: GrantStatus;
  /** The validated scope it was stored with (`validateScope` output). */
  readonly scope: Scope;
  readonly allowSensitive: boolean;
  readonly createdAt: Timestamp;
  readonly activatedAt: Timestamp | null;
  readonly revokedAt: Timestamp | null;
  readonly revokeReason: string | null;
  readonly expiresAt: Timestamp | null;
  /** The serial of the grant's current certificate. */
  readonly certSerial: string | null;
  /** That certificate's `notAfter` (from `issued_certs`). */
  readonly certNotAfter: Timestamp | null;
  /** 1 at creation, +1 per scope edit. */
  readonly scopeVersion: number;
}

/** Input of {@link GrantsRepository.create}. */
export interface NewGrant {
  readonly subjectUserId: string;
  readonly peerName: string;
  /** Must be a `validateScope` output: the store keeps what it is given. */
  readonly scope: Scope;
  readonly allowSensitive?: boolean;
  readonly expiresAt?: TimeInput | null;
  /** Default: a new random UUID. */
  readonly id?: string;
  /** Default: now. */
  readonly createdAt?: TimeInput;
}

/** Filters of {@link GrantsRepository.list}. */
export interface GrantFilter {
  readonly status?: GrantStatus | undefined;
  readonly peer?: string | undefined;
  readonly subjectUserId?: string | undefined;
}

/** The shortest grant id prefix accepted (as `git` does for commits). */
export const MIN_GRANT_PREFIX = 4;

type GrantRow = Selectable<GrantsTable> & { cert_not_after: string | null };

const toGrant = (r: GrantRow): GrantRecord => ({
  id: r.id,
  subjectUserId: r.subject_user_id,
  peerName: r.peer_name,
  status: r.status,
  scope: parseJson<Scope>(r.scope),
  allowSensitive: isSet(r.allow_sensitive),
  createdAt: r.created_at,
  activatedAt: r.activated_at,
  revokedAt: r.revoked_at,
  revokeReason: r.revoke_reason,
  expiresAt: r.expires_at,
  certSerial: r.current_cert_serial,
  certNotAfter: r.cert_not_after,
  scopeVersion: Number(r.scope_version),
});

/** The wire `Grant` (admin API body) of a record. */
export function toWireGrant(g: GrantRecord): Grant {
  return {
    id: g.id,
    subjectUserId: g.subjectUserId,
    peerName: g.peerName,
    status: g.status,
    scope: g.scope,
    createdAt: g.createdAt,
    activatedAt: g.activatedAt,
    revokedAt: g.revokedAt,
    revokeReason: g.revokeReason,
    expiresAt: g.expiresAt,
    certSerial: g.certSerial,
    certNotAfter: g.certNotAfter,
  };
}

const ID_PREFIX = /^[0-9a-f-]+$/;

/** Grants. */
export class GrantsRepository {
  readonly #db: Executor;
  readonly #ctx: RepoContext;

  constructor(db: Executor, ctx: RepoContext) {
    this.#db = db;
    this.#ctx = ctx;
  }

  #select() {
    return this.#db
      .selectFrom('grants as g')
      .leftJoin('issued_certs as c', 'c.serial', 'g.current_cert_serial')
      .selectAll('g')
      .select('c.not_after as cert_not_after');
  }

  async #getOrThrow(id: string): Promise<GrantRecord> {
    const g = await this.get(id);
    if (g === null) throw codedError('GRANT_NOT_FOUND', `no grant has the id ${quoteForDisplay(id)}`);
    return g;
  }

  /**
   * Create a `pending` grant.
   * @throws USER_NOT_FOUND (404) when the subject user does not exist
   */
  async create(input: NewGrant): Promise<GrantRecord> {
    const id = input.id ?? randomUUID();
    if (!UUID_PATTERN.test(id)) throw new TypeError('storage: a grant id must be a lowercase UUID');
    return inTransaction(this.#db, async (trx) => {
      // FOR UPDATE (PostgreSQL; SQLite transactions are serial anyway): a concurrent
      // `deleteUser` either sees this grant or makes this create fail.
      let user = trx.selectFrom('users').select('id').where('id', '=', input.subjectUserId);
      if (this.#ctx.engine === 'postgres') user = user.forUpdate();
      if ((await user.executeTakeFirst()) === undefined) throw codedError('USER_NOT_FOUND', `no user has the id ${quoteForDisplay(input.subjectUserId)}`);
      await this.#insert(trx, id, input);
      return new GrantsRepository(trx, this.#ctx).#getOrThrow(id);
    });
  }

  async #insert(trx: Executor, id: string, input: NewGrant): Promise<void> {
    await trx
      .insertInto('grants')
      .values({
        id,
        subject_user_id: input.subjectUserId,
        peer_name: input.peerName,
        status: 'pending',
        scope: JSON.stringify(input.scope),
        allow_sensitive: flag(input.allowSensitive),
        created_at: input.createdAt === undefined ? nowTs(this.#ctx) : toTimestamp(input.createdAt),
        activated_at: null,
        revoked_at: null,
        revoke_reason: null,
        expires_at: toTimestampOrNull(input.expiresAt),
        current_cert_serial: null,
      })
      .execute();
  }

  /** The grant with exactly this id, or null. */
  async get(id: string): Promise<GrantRecord | null> {
    const row = await this.#select().where('g.id', '=', id).executeTakeFirst();
    return row === undefined ? null : toGrant(row);
  }

  /**
   * The grant a full id or a unique prefix of at least {@link MIN_GRANT_PREFIX} characters
   * names (case-insensitive input; ids are lowercase).
   * @throws VALIDATION_FAILED (400) for a prefix that is too short or not id characters;
   *   GRANT_ID_AMBIGUOUS (400) when several grants match (nothing about them is listed);
   *   GRANT_NOT_FOUND (404) when none does
   */
  async resolve(idOrPrefix: string): Promise<GrantRecord> {
    const prefix = idOrPrefix.trim().toLowerCase();
    if (prefix.length < MIN_GRANT_PREFIX || prefix.length > 36 || !ID_PREFIX.test(prefix)) {
      throw codedError('VALIDATION_FAILED', `a grant id or a prefix of at least ${MIN_GRANT_PREFIX} characters (0-9, a-f, -) is needed`, {
        details: [{ path: 'id', message: `must be a grant id or a prefix of at least ${MIN_GRANT_PREFIX} characters` }],
      });
    }
    const exact = await this.get(prefix);
    if (exact !== null) return exact;
    // The prefix holds only [0-9a-f-], so it carries no LIKE wildcards. Two rows are enough to know.
    const rows = await this.#db.selectFrom('grants').select('id').where('id', 'like', `${prefix}%`).orderBy('id').limit(2).execute();
    if (rows.length > 1) throw codedError('GRANT_ID_AMBIGUOUS', `the grant id prefix ${quoteForDisplay(prefix)} matches more than one grant; give more characters`);
    const only = rows[0];
    if (only === undefined) throw codedError('GRANT_NOT_FOUND', `no grant id starts with ${quoteForDisplay(prefix)}`);
    return this.#getOrThrow(only.id);
  }

  /** Grants matching every given filter, newest first. */
  async list(filter: GrantFilter = {}): Promise<GrantRecord[]> {
    let q = this.#select();
    if (filter.status !== undefined) q = q.where('g.status', '=', filter.status);
    if (filter.peer !== undefined) q = q.where('g.peer_name', '=', filter.peer);
    if (filter.subjectUserId !== undefined) q = q.where('g.subject_user_id', '=', filter.subjectUserId);
    const rows = await q.orderBy('g.created_at', 'desc').orderBy('g.id').execute();
    return rows.map(toGrant);
  }

  /** How many grants are in each status. */
  async countByStatus(): Promise<Record<GrantStatus, number>> {
    const rows = await this.#db
      .selectFrom('grants')
      .select(['status', (eb) => eb.fn.countAll().as('n')])
      .groupBy('status')
      .execute();
    const out: Record<GrantStatus, number> = { pending: 0, active: 0, revoked: 0, expired: 0 };
    for (const r of rows) out[r.status] = toCount(r.n);
    return out;
  }

  /**
   * Replace the scope of a pending or active grant and bump its `scope_version`; the next
   * request sees it.
   * @throws GRANT_NOT_FOUND (404); GRANT_NOT_EDITABLE (409) for a revoked or expired grant
   */
  async updateScope(id: string, scope: Scope, options: { allowSensitive?: boolean } = {}): Promise<GrantRecord> {
    const result = await this.#db
      .updateTable('grants')
      .set((eb) => ({
        scope: JSON.stringify(scope),
        scope_version: eb('scope_version', '+', 1),
        ...(options.allowSensitive === undefined ? {} : { allow_sensitive: flag(options.allowSensitive) }),
      }))
      .where('id', '=', id)
      .where('status', 'in', ['pending', 'active'])
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) {
      const g = await this.#getOrThrow(id);
      throw codedError('GRANT_NOT_EDITABLE', `grant ${g.id} is ${g.status}; its scope can no longer change`);
    }
    return this.#getOrThrow(id);
  }

  /**
   * Make `certSerial` the grant's current certificate and the grant `active` (first
   * enrollment, re-enrollment, renewal). The certificate must already be recorded for this
   * grant (`certs.record`, same transaction). `activatedAt` keeps the first activation.
   * @throws GRANT_NOT_FOUND (404); GRANT_NOT_ENROLLABLE (409) when the grant is revoked,
   *   expired or past `expiresAt`, or the serial was not issued for it
   */
  async activate(id: string, certSerial: string, at?: TimeInput): Promise<GrantRecord> {
    const serial = normaliseSerialHex(certSerial);
    if (serial === undefined) throw new TypeError('storage: invalid certificate serial');
    const now = at === undefined ? nowTs(this.#ctx) : toTimestamp(at);
    const result = await this.#db
      .updateTable('grants')
      .set((eb) => ({ status: 'active', current_cert_serial: serial, activated_at: eb.fn.coalesce('activated_at', eb.val(now)) }))
      .where('id', '=', id)
      .where('status', 'in', ['pending', 'active'])
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .where((eb) =>
        eb.exists(eb.selectFrom('issued_certs').select('serial').where('issued_certs.serial', '=', serial).whereRef('issued_certs.grant_id', '=', 'grants.id')),
      )
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0) {
      const g = await this.#getOrThrow(id);
      throw codedError('GRANT_NOT_ENROLLABLE', `grant ${g.id} cannot be activated (it is ${g.status}, or the certificate was not issued for it)`);
    }
    return this.#getOrThrow(id);
  }

  /**
   * Revoke a grant (from any status but `revoked`); revoking again changes nothing and keeps
   * the first reason and time. Revoke its certificates in the same transaction
   * (`certs.revokeAllOfGrant`).
   * @throws GRANT_NOT_FOUND (404)
   */
  async revoke(id: string, options: { reason?: string | null; at?: TimeInput } = {}): Promise<GrantRecord> {
    const at = options.at === undefined ? nowTs(this.#ctx) : toTimestamp(options.at);
    await this.#db
      .updateTable('grants')
      .set({ status: 'revoked', revoked_at: at, revoke_reason: options.reason ?? null })
      .where('id', '=', id)
      .where('status', '!=', 'revoked')
      .execute();
    return this.#getOrThrow(id);
  }

  /** Mark every pending/active grant whose `expiresAt` is at or before `now` expired; their ids. */
  async expireDue(now?: TimeInput): Promise<string[]> {
    const ts = now === undefined ? nowTs(this.#ctx) : toTimestamp(now);
    const rows = await this.#db
      .updateTable('grants')
      .set({ status: 'expired' })
      .where('status', 'in', ['pending', 'active'])
      .where('expires_at', 'is not', null)
      .where('expires_at', '<=', ts)
      .returning('id')
      .execute();
    return rows.map((r) => r.id).sort();
  }
}
