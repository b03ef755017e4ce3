/**
 * The audit row (CONTRACT.md "Audit row") and the audit query. A row holds every decision and
 * never a request body: the parameters are represented by `queryHash` (keyed HMAC, see
 * `query-hash.ts`).
 */
import { z } from 'zod';
import { AUDIT_OUTCOMES } from './constants.js';
import { LIMITS, grantIdSchema, listOf, nameSchema, sha256HexSchema, timestampSchema } from './common.js';
import { canonicalSha256 } from './query-hash.js';

/** An audit verb: a federation verb, `enroll`/`renew`, or `admin.<noun>.<verb>`. */
export const auditVerbSchema = z.string().regex(/^[a-z][a-z_]*(\.[a-z_]+)*$/, { error: 'must be an audit verb such as list or admin.grant.create' }).max(64);

/** One audited decision. Unknown ids are `null` (e.g. an enrollment with an unknown token has no grant). */
export const auditRowSchema = z.object({
  /** Row id, also the SSE `id:` — ordered within its spool. */
  id: z.string().min(1).max(128),
  at: timestampSchema,
  /** Our `x-request-id` for the answer. */
  requestId: z.string().min(1).max(128),
  /** The caller's `x-request-id` when it was valid, stored beside ours; else `null`. */
  callerRequestId: z.string().min(1).max(128).nullable(),
  /** The W3C trace id (continued from a valid caller `traceparent`, else new). */
  traceId: z.string().regex(/^[0-9a-f]{32}$/).nullable(),
  grantId: grantIdSchema.nullable(),
  /** The peer (grant's peer name) or, for admin mutations, `null`. */
  peer: nameSchema.nullable(),
  subjectUserId: z.string().min(1).max(LIMITS.id).nullable(),
  /** The admin token's name for admin mutations, else `null`. */
  adminTokenName: z.string().min(1).max(64).nullable(),
  verb: auditVerbSchema,
  /** The resource as requested (bounded; may be an unknown name such as `Tasks` — shown escaped), or `null` for verbs without one. */
  resource: z.string().min(1).max(64).nullable(),
  queryHash: sha256HexSchema.nullable(),
  outcome: z.enum(AUDIT_OUTCOMES),
  statusCode: z.int().min(100).max(599),
  rowsOut: z.int().min(0),
  bytesOut: z.int().min(0),
  latencyMs: z.number().min(0),
  /** SHA-256 of the previous row of the same spool ({@link auditRowDigest}); `null` for the first. */
  prevHash: sha256HexSchema.nullable(),
});

/** `GET /api/admin/audit` answer. */
export const auditListSchema = listOf(auditRowSchema);

/** `since`: an ISO date-time or a duration back from now (`90s`, `15m`, `12h`, `30d`). */
export const sinceSchema = z.union([timestampSchema, z.string().regex(/^\d{1,9}[smhd]$/)], {
  error: 'must be an ISO date-time or a duration such as 90s, 15m, 12h, 30d',
});

/** `GET /api/admin/audit?since=&grant=&peer=&verb=&outcome=&limit=` (query-string values are text). */
export const auditQuerySchema = z.strictObject({
  since: sinceSchema.optional(),
  /** A grant id or a unique prefix of at least 4 characters. */
  grant: z.string().regex(/^[0-9a-f-]{4,36}$/, { error: 'must be a grant id or a prefix of at least 4 characters' }).optional(),
  peer: nameSchema.optional(),
  verb: auditVerbSchema.optional(),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
  limit: z
    .string()
    .regex(/^\d{1,5}$/, { error: 'must be a whole number from 1 to 10000' })
    .transform(Number)
    .pipe(z.int().min(1).max(10_000))
    .optional(),
});

/** Default age (days) past which audit rows move to the archive table (still queryable). */
export const AUDIT_RETENTION_DAYS = 90;

/**
 * `POST /api/admin/audit/archive`: move rows older than `olderThanDays` (default
 * {@link AUDIT_RETENTION_DAYS}) from the live table to the archive; `dryRun` only counts.
 */
export const auditArchiveRequestSchema = z.strictObject({
  olderThanDays: z.int({ error: 'must be a whole number of days' }).min(1, { error: 'must be at least 1' }).max(36_500, { error: 'must be at most 36500' }).optional(),
  dryRun: z.boolean().optional(),
});

/** The answer of `POST /api/admin/audit/archive`: `moved`, or `wouldMove` for a dry run; `cutoff` is the `at` before which rows (would) move. */
export const auditArchiveResponseSchema = z.union([
  z.object({ moved: z.int().min(0), cutoff: timestampSchema }),
  z.object({ wouldMove: z.int().min(0), cutoff: timestampSchema }),
]);

/**
 * The chain digest of an audit row: SHA-256 (hex) of the canonical JSON of the whole row, its
 * `prevHash` included, so the next row's `prevHash` commits to this row and everything before.
 * Editing or deleting a row breaks the chain at the next row.
 */
export function auditRowDigest(row: z.input<typeof auditRowSchema>): string {
  return canonicalSha256(row);
}
