/**
 * Bodies of the federation listener (HTTPS, mTLS; CONTRACT.md "Federation listener").
 *
 * Requests are strict (the serving gateway refuses unknown keys); responses are parsed by the
 * requesting gateway, possibly of another version, so they drop unknown keys instead of
 * failing — see `common.ts`.
 *
 * **Rows.** The five resources share one row shape, {@link federationItemSchema}: `id`,
 * `title`, optional `body`, `ownerUserId` (personal row) or `teamId` (team row), optional
 * timestamps. There is no separate secret field: for `credentials` and `api_keys` the secret
 * material is the row's `body`, like any other row's content. A peer only ever receives rows
 * the grant's scope allows (∩ the subject's native rights), and a scope can list those two
 * resources only with an explicit `--allow-sensitive`; anything else about them (existence,
 * titles) is equally invisible.
 */
import { z } from 'zod';
import { FEDERATION_VERBS } from './constants.js';
import {
  LIMITS,
  csrPemSchema,
  errorCodeSchema,
  grantIdSchema,
  idSchema,
  nameSchema,
  pemSchema,
  problemSchema,
  timestampSchema,
} from './common.js';

/** The largest `limit` a caller may ask for (the largest `max_rows_per_query`). */
export const MAX_REQUEST_LIMIT = LIMITS.rows;

const limitSchema = z.int({ error: `must be a whole number from 1 to ${MAX_REQUEST_LIMIT}` }).min(1).max(MAX_REQUEST_LIMIT);

/**
 * A resource name as a reader accepts it in answers: lower-case word. Looser than the known
 * list on purpose — a newer serving gateway may offer a resource this reader does not know.
 */
export const resourceNameSchema = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, { error: 'must be a lower-case resource name' });

// ── enrollment and renewal ──────────────────────────────────────────────────────────────

/** `POST /enroll/:token` and `POST /renew` body. */
export const enrollRequestSchema = z.strictObject({ csrPem: csrPemSchema });

/** `POST /enroll/:token` and `POST /renew` answer: the issued certificate and its context. */
export const enrollResponseSchema = z.object({
  certPem: pemSchema,
  /** The leaf followed by any intermediates, PEM. */
  certChainPem: pemSchema,
  caCertPem: pemSchema,
  grantId: grantIdSchema,
  subjectUserId: idSchema,
  /** The serving gateway's name (its `_source` tag). */
  serverName: nameSchema,
  notAfter: timestampSchema,
});

/** `POST /renew` body (the same as enrollment's). */
export const renewRequestSchema = enrollRequestSchema;
/** `POST /renew` answer (the same as enrollment's: same grant, new serial). */
export const renewResponseSchema = enrollResponseSchema;

// ── capabilities ─────────────────────────────────────────────────────────────────────────

/** `GET /capabilities`: what this grant may do. Verbs and resources are read loosely (see above). */
export const capabilitiesResponseSchema = z.object({
  server: nameSchema,
  resources: z.array(resourceNameSchema).max(64),
  excluded_resources: z.array(resourceNameSchema).max(64),
  max_rows_per_query: z.int().min(1).max(LIMITS.rows),
  supported_verbs: z.array(z.string().regex(/^[a-z][a-z0-9_]{0,31}$/)).max(32),
  rate_limit_per_minute: z.int().min(1),
});

/** The verbs this version speaks, for `supported_verbs`. */
export const SUPPORTED_VERBS: readonly string[] = FEDERATION_VERBS;

// ── rows ─────────────────────────────────────────────────────────────────────────────────

/**
 * One row of any resource. The serving gateway always writes both `ownerUserId` and `teamId`
 * (one of them `null`); readers accept either left out.
 */
export const federationItemSchema = z.object({
  id: idSchema,
  title: z.string().max(LIMITS.title),
  body: z.string().max(LIMITS.body).optional(),
  ownerUserId: idSchema.nullable().optional(),
  teamId: idSchema.nullable().optional(),
  createdAt: timestampSchema.optional(),
  updatedAt: timestampSchema.optional(),
});

/** `POST /list/:resource` body. */
export const listRequestSchema = z.strictObject({
  limit: limitSchema.optional(),
  /** Opaque, from the previous page's `nextCursor`; bound to the grant and the query. */
  cursor: z.string().min(1).max(LIMITS.cursor).optional(),
});

/** `POST /list/:resource` answer. `nextCursor` is `null` on the last page. */
export const listResponseSchema = z.object({
  items: z.array(federationItemSchema).max(LIMITS.rows),
  nextCursor: z.string().min(1).max(LIMITS.cursor).nullable(),
  _source: nameSchema,
});

/** `POST /get/:resource/:id` body: empty (an empty object, or no body at all). */
export const getRequestSchema = z.strictObject({});

/** `POST /get/:resource/:id` answer. */
export const getResponseSchema = z.object({ item: federationItemSchema, _source: nameSchema });

/** `POST /search/:resource` body. */
export const searchRequestSchema = z.strictObject({
  query: z
    .string()
    .max(LIMITS.query)
    .refine((q) => q.trim() !== '', { error: 'must contain something to search for' }),
  limit: limitSchema.optional(),
});

/** One search hit: a visible row and its score (higher is better; computed over visible rows only). */
export const searchHitSchema = z.object({ item: federationItemSchema, score: z.number().min(0) });

/** `POST /search/:resource` answer, best hit first. */
export const searchResponseSchema = z.object({ hits: z.array(searchHitSchema).max(LIMITS.rows), _source: nameSchema });

/** Path parameters of the row routes: the raw resource name is judged by the scope pipeline. */
export const rowRouteParamsSchema = z.strictObject({
  resource: z.string().min(1).max(64),
  id: idSchema.optional(),
});

// ── errors ───────────────────────────────────────────────────────────────────────────────

/**
 * The error body of both listeners: `{"error":{"code","message","requestId"}}`, optionally with
 * `remediation` and `details` (problems with paths for a 400). Read tolerantly: a missing
 * `requestId` or malformed `details` must not hide the code from the reader.
 */
export const errorEnvelopeSchema = z.object({
  error: z.object({
    code: errorCodeSchema,
    message: z.string().max(LIMITS.message),
    requestId: z.string().max(128).optional(),
    remediation: z.string().max(LIMITS.message).optional(),
    details: z.array(problemSchema).max(100).optional().catch(undefined),
  }),
});

/** The CLI's `--json` error on stderr: `{"error":{"code","message","remediation"}}`. */
export const cliErrorSchema = z.object({
  error: z.object({
    code: errorCodeSchema,
    message: z.string(),
    remediation: z.string().optional(),
    details: z.array(problemSchema).optional(),
  }),
});
