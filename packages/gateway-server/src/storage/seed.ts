/**
 * The seed (`mosaic gateway seed`, `POST /api/admin/seed`): users, teams, memberships and
 * rows, upserted in one transaction after validation and a reference check, so a bad file
 * changes nothing.
 */
import {
  RESOURCES,
  capProblems,
  parseOrThrow,
  problemsError,
  seedFileSchema,
  type FieldProblem,
  type Resource,
  type SeedFile,
  type SeedResult,
} from '@mosaic/federation-core';
import { batches, inTransaction, nowTs, type Executor, type RepoContext } from './sql.js';

/** Rows per multi-row INSERT (bounded bind parameters on both engines). */
const BATCH = 500;

async function existingIds(db: Executor, table: 'users' | 'teams', ids: readonly string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (const part of batches(ids, BATCH)) {
    const rows = await db.selectFrom(table).select('id').where('id', 'in', part).execute();
    for (const r of rows) found.add(r.id);
  }
  return found;
}

/**
 * Every reference of the file that names a user or team neither in the file nor in the
 * store, as problems with their paths. Messages never echo the id (it could be anything a
 * person pasted).
 */
async function referenceProblems(db: Executor, file: SeedFile): Promise<FieldProblem[]> {
  const fileUsers = new Set((file.users ?? []).map((u) => u.id));
  const fileTeams = new Set((file.teams ?? []).map((t) => t.id));
  const wantUsers = new Set<string>();
  const wantTeams = new Set<string>();
  for (const m of file.memberships ?? []) {
    if (!fileUsers.has(m.userId)) wantUsers.add(m.userId);
    if (!fileTeams.has(m.teamId)) wantTeams.add(m.teamId);
  }
  for (const r of RESOURCES) {
    for (const row of file.resources?.[r] ?? []) {
      if (row.ownerUserId != null && !fileUsers.has(row.ownerUserId)) wantUsers.add(row.ownerUserId);
      if (row.teamId != null && !fileTeams.has(row.teamId)) wantTeams.add(row.teamId);
    }
  }
  const storeUsers = await existingIds(db, 'users', [...wantUsers]);
  const storeTeams = await existingIds(db, 'teams', [...wantTeams]);
  const knownUser = (id: string): boolean => fileUsers.has(id) || storeUsers.has(id);
  const knownTeam = (id: string): boolean => fileTeams.has(id) || storeTeams.has(id);
  const noUser = 'names a user that is neither in this seed file nor in the store; add it to "users"';
  const noTeam = 'names a team that is neither in this seed file nor in the store; add it to "teams"';

  const problems: FieldProblem[] = [];
  (file.memberships ?? []).forEach((m, i) => {
    if (!knownTeam(m.teamId)) problems.push({ path: `memberships[${i}].teamId`, message: noTeam });
    if (!knownUser(m.userId)) problems.push({ path: `memberships[${i}].userId`, message: noUser });
  });
  for (const r of RESOURCES) {
    (file.resources?.[r] ?? []).forEach((row, i) => {
      if (row.ownerUserId != null && !knownUser(row.ownerUserId)) problems.push({ path: `resources.${r}[${i}].ownerUserId`, message: noUser });
      if (row.teamId != null && !knownTeam(row.teamId)) problems.push({ path: `resources.${r}[${i}].teamId`, message: noTeam });
    });
  }
  return problems;
}

/**
 * Validate, check and upsert a seed file in one transaction (the caller's, when called on a
 * transaction). Returns how many of each were upserted.
 * @throws SEED_INVALID (400): `details` lists every problem with its path; nothing is written
 */
export async function applySeed(db: Executor, ctx: RepoContext, input: unknown): Promise<SeedResult> {
  const file = parseOrThrow(seedFileSchema, input, { code: 'SEED_INVALID', what: 'seed file' });
  return inTransaction(db, async (trx) => {
    const problems = await referenceProblems(trx, file);
    if (problems.length > 0) throw problemsError(capProblems(problems), { code: 'SEED_INVALID', what: 'seed file' });
    const now = nowTs(ctx);

    for (const table of ['users', 'teams'] as const) {
      const list = table === 'users' ? (file.users ?? []) : (file.teams ?? []);
      for (const part of batches(list, BATCH)) {
        await trx
          .insertInto(table)
          .values(part.map((e) => ({ id: e.id, name: e.name, created_at: now, updated_at: now })))
          .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ name: eb.ref('excluded.name'), updated_at: eb.ref('excluded.updated_at') })))
          .execute();
      }
    }

    for (const part of batches(file.memberships ?? [], BATCH)) {
      await trx
        .insertInto('memberships')
        .values(part.map((m) => ({ team_id: m.teamId, user_id: m.userId, created_at: now })))
        .onConflict((oc) => oc.columns(['team_id', 'user_id']).doNothing())
        .execute();
    }

    const counts = {} as Record<Resource, number>;
    for (const r of RESOURCES) {
      const rows = file.resources?.[r] ?? [];
      counts[r] = rows.length;
      for (const part of batches(rows, BATCH)) {
        await trx
          .insertInto(r as 'tasks')
          .values(
            part.map((row) => ({
              id: row.id,
              title: row.title,
              body: row.body ?? null,
              owner_user_id: row.ownerUserId ?? null,
              team_id: row.teamId ?? null,
              created_at: now,
              updated_at: now,
            })),
          )
          .onConflict((oc) =>
            oc.column('id').doUpdateSet((eb) => ({
              title: eb.ref('excluded.title'),
              body: eb.ref('excluded.body'),
              owner_user_id: eb.ref('excluded.owner_user_id'),
              team_id: eb.ref('excluded.team_id'),
              updated_at: eb.ref('excluded.updated_at'),
            })),
          )
          .execute();
      }
    }

    return {
      users: file.users?.length ?? 0,
      teams: file.teams?.length ?? 0,
      memberships: file.memberships?.length ?? 0,
      resources: counts,
    };
  });
}
