/**
 * The seed file (`mosaic gateway seed`, `POST /api/admin/seed`): users, teams, memberships and
 * rows, upserted in one transaction. Strict — an unknown key is a typo, not a new feature.
 * Every top-level key is optional; a row has exactly one of `ownerUserId` (personal) or
 * `teamId` (team); ids are non-empty strings chosen by the caller and appear once per list.
 */
import { z } from 'zod';
import { RESOURCES, type Resource } from '../scope/resources.js';
import { LIMITS, idSchema } from './common.js';

const displayName = z.string().min(1).max(LIMITS.name);

/** A user: `{ id, name }`. */
export const seedUserSchema = z.strictObject({ id: idSchema, name: displayName });
/** A team: `{ id, name }`. */
export const seedTeamSchema = z.strictObject({ id: idSchema, name: displayName });
/** A membership: `{ teamId, userId }`. */
export const seedMembershipSchema = z.strictObject({ teamId: idSchema, userId: idSchema });

/** A row of any resource: exactly one of `ownerUserId` / `teamId` (a `null` counts as absent). */
export const seedRowSchema = z
  .strictObject({
    id: idSchema,
    title: z.string().max(LIMITS.title),
    body: z.string().max(LIMITS.body).optional(),
    ownerUserId: idSchema.nullable().optional(),
    teamId: idSchema.nullable().optional(),
  })
  .superRefine((row, ctx) => {
    const personal = row.ownerUserId != null;
    const team = row.teamId != null;
    if (personal === team) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: personal
          ? 'a row has exactly one of ownerUserId (personal) or teamId (team), not both'
          : 'a row needs exactly one of ownerUserId (personal) or teamId (team)',
      });
    }
  });

const rows = z.array(seedRowSchema).max(LIMITS.seedList);

/** `resources`: rows keyed by resource name. */
export const seedResourcesSchema = z.strictObject(
  {
    tasks: rows.optional(),
    notes: rows.optional(),
    memory: rows.optional(),
    credentials: rows.optional(),
    api_keys: rows.optional(),
  } satisfies Record<Resource, unknown>,
  { error: (issue) => (issue.code === 'unrecognized_keys' ? `unknown key; resources are: ${RESOURCES.join(', ')}` : undefined) },
);

function duplicates(list: readonly { id: string }[] | undefined, path: PropertyKey[], what: string, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  list?.forEach((item, i) => {
    if (seen.has(item.id)) ctx.addIssue({ code: 'custom', path: [...path, i, 'id'], message: `this ${what} id appears earlier in the list; give each id once` });
    seen.add(item.id);
  });
}

/** The seed file. */
export const seedFileSchema = z
  .strictObject({
    users: z.array(seedUserSchema).max(LIMITS.seedList).optional(),
    teams: z.array(seedTeamSchema).max(LIMITS.seedList).optional(),
    memberships: z.array(seedMembershipSchema).max(LIMITS.seedList).optional(),
    resources: seedResourcesSchema.optional(),
  })
  .superRefine((file, ctx) => {
    duplicates(file.users, ['users'], 'user', ctx);
    duplicates(file.teams, ['teams'], 'team', ctx);
    const pairs = new Set<string>();
    file.memberships?.forEach((m, i) => {
      const key = JSON.stringify([m.teamId, m.userId]);
      if (pairs.has(key)) ctx.addIssue({ code: 'custom', path: ['memberships', i], message: 'this membership appears earlier in the list' });
      pairs.add(key);
    });
    for (const r of RESOURCES) duplicates(file.resources?.[r], ['resources', r], 'row', ctx);
  });

/** `POST /api/admin/seed` answer: how many of each were upserted. */
export const seedResultSchema = z.object({
  users: z.int().min(0),
  teams: z.int().min(0),
  memberships: z.int().min(0),
  resources: z.object({
    tasks: z.int().min(0),
    notes: z.int().min(0),
    memory: z.int().min(0),
    credentials: z.int().min(0),
    api_keys: z.int().min(0),
  }),
});
