/**
 * Users, teams and memberships — the serving side's native directory, read at request time
 * for RBAC (a user who left a team loses its rows at once) — and the seed that fills them.
 */
import { codedError, quoteForDisplay, type SeedResult } from '@mosaic/federation-core';
import { inTransaction, placeholders, rawRows, type Executor, type RepoContext } from './sql.js';
import { applySeed } from './seed.js';
import type { Timestamp } from './time.js';

/** A local user. */
export interface UserRecord {
  readonly id: string;
  readonly name: string;
  readonly createdAt: Timestamp;
  readonly updatedAt: Timestamp;
}

/** A team. */
export interface TeamRecord {
  readonly id: string;
  readonly name: string;
  readonly createdAt: Timestamp;
  readonly updatedAt: Timestamp;
}

/** What {@link DirectoryRepository.deleteUser} did. */
export interface UserDeleted {
  readonly userId: string;
  /**
   * The ids of the grants (pending or active) whose subject the user was, sorted — the caller
   * revokes them in the same transaction. Grants are never deleted with their subject.
   */
  readonly grantIds: string[];
}

const toNamed = (r: { id: string; name: string; created_at: string; updated_at: string }): UserRecord => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Users, teams, memberships and the seed. */
export class DirectoryRepository {
  readonly #db: Executor;
  readonly #ctx: RepoContext;

  constructor(db: Executor, ctx: RepoContext) {
    this.#db = db;
    this.#ctx = ctx;
  }

  /** The user with this id, or null. */
  async getUser(id: string): Promise<UserRecord | null> {
    const row = await this.#db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? null : toNamed(row);
  }

  /** Every user, by id. */
  async listUsers(): Promise<UserRecord[]> {
    const rows = await this.#db.selectFrom('users').selectAll().orderBy('id').execute();
    return rows.map(toNamed);
  }

  /** The team with this id, or null. */
  async getTeam(id: string): Promise<TeamRecord | null> {
    const row = await this.#db.selectFrom('teams').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? null : toNamed(row);
  }

  /** Every team, by id. */
  async listTeams(): Promise<TeamRecord[]> {
    const rows = await this.#db.selectFrom('teams').selectAll().orderBy('id').execute();
    return rows.map(toNamed);
  }

  /**
   * The ids of the teams `userId` belongs to now, sorted — the native half of RBAC, read at
   * request time. An unknown user belongs to no team.
   */
  async teamIdsOfUser(userId: string): Promise<string[]> {
    // Read on every federation request (scope ∩ RBAC): plain SQL, no query building per call.
    const ph = placeholders(this.#ctx.engine);
    const rows = await rawRows<{ team_id: string }>(this.#db, this.#ctx, `select "team_id" from "memberships" where "user_id" = ${ph(1)} order by "team_id"`, [userId]);
    return rows.map((r) => r.team_id);
  }

  /** The ids of the members of `teamId`, sorted. */
  async memberIdsOfTeam(teamId: string): Promise<string[]> {
    const rows = await this.#db.selectFrom('memberships').select('user_id').where('team_id', '=', teamId).orderBy('user_id').execute();
    return rows.map((r) => r.user_id);
  }

  /**
   * Remove `userId` from `teamId`; their access to the team's rows ends with it.
   * @throws TEAM_NOT_FOUND (404) when the team does not exist or the user is not a member
   */
  async removeMembership(teamId: string, userId: string): Promise<void> {
    const result = await this.#db.deleteFrom('memberships').where('team_id', '=', teamId).where('user_id', '=', userId).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) {
      throw codedError('TEAM_NOT_FOUND', `user ${quoteForDisplay(userId)} is not a member of team ${quoteForDisplay(teamId)}`);
    }
  }

  /**
   * Delete a user with their memberships and personal rows (foreign keys cascade). Their
   * grants stay (for the audit trail); the pending/active ones are returned for the caller
   * to revoke — run both in one `storage.transaction`.
   * @throws USER_NOT_FOUND (404)
   */
  async deleteUser(userId: string): Promise<UserDeleted> {
    return inTransaction(this.#db, async (trx) => {
      // Delete first: the row lock makes a concurrent `grants.create` for this user (which
      // locks the user row) either finish before — and be listed below — or fail after.
      const result = await trx.deleteFrom('users').where('id', '=', userId).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) throw codedError('USER_NOT_FOUND', `no user has the id ${quoteForDisplay(userId)}`);
      const grants = await trx
        .selectFrom('grants')
        .select('id')
        .where('subject_user_id', '=', userId)
        .where('status', 'in', ['pending', 'active'])
        .orderBy('id')
        .execute();
      return { userId, grantIds: grants.map((g) => g.id) };
    });
  }

  /**
   * Upsert a seed file in one transaction: validated first with federation-core's
   * `seedFileSchema` (problems → SEED_INVALID with paths such as `resources.tasks[3].teamId`),
   * then checked for references (a membership or row naming a user/team that is neither in
   * the file nor in the store) — either way nothing is written. The same id again updates.
   * @throws SEED_INVALID (400) with `details: [{ path, message }]`
   */
  async applySeed(file: unknown): Promise<SeedResult> {
    return applySeed(this.#db, this.#ctx, file);
  }
}

