/**
 * Bodies of the admin API (CONTRACT.md "Admin API"): requests strict, responses tolerant of
 * added keys (see `common.ts`). The admin client never imports this module at runtime; it
 * uses the types in `types.ts`.
 */
import { z } from 'zod';
import { scopeSchema, resourceSchema, type ScopeInput } from '../scope/schema.js';
import { EXPLAIN_RULES } from '../scope/explain.js';
import { CIRCUIT_STATES, DOCTOR_STATUSES, ENROLLMENT_TOKEN_MAX_TTL_SECONDS, FEDERATED_SOURCE_PREFIX, GRANT_STATUSES, PEER_STATES } from './constants.js';
import {
  LIMITS,
  caPinInputSchema,
  caPinSchema,
  certSerialSchema,
  enrollmentUrlSchema,
  errorCodeSchema,
  grantIdSchema,
  httpUrlSchema,
  idSchema,
  isJsonObject,
  listOf,
  nameSchema,
  pemSchema,
  timestampSchema,
} from './common.js';
import { capabilitiesResponseSchema, federationItemSchema, MAX_REQUEST_LIMIT } from './federation.js';

// ── grants (serving side) ───────────────────────────────────────────────────────────────

/**
 * A scope as sent in a grant body: any JSON object here; the gateway then runs
 * `validateScope`, so its problems come back as `SCOPE_INVALID` with paths relative to the
 * scope document (what the person edits), and `SCOPE_SENSITIVE` is decided with
 * `allowSensitive`.
 */
export const scopeBodySchema = z.custom<ScopeInput>(isJsonObject, { error: 'must be a scope object, e.g. {"resources":["tasks"]}' });

/** `POST /api/admin/grants`. */
export const createGrantRequestSchema = z.strictObject({
  subjectUserId: idSchema,
  peerName: nameSchema,
  scope: scopeBodySchema,
  allowSensitive: z.boolean().optional(),
  /** Absent: the gateway's default lifetime. */
  expiresAt: timestampSchema.optional(),
});

/** `PATCH /api/admin/grants/:id` — takes effect on the next request. */
export const updateGrantRequestSchema = z.strictObject({
  scope: scopeBodySchema,
  allowSensitive: z.boolean().optional(),
});

/** `POST /api/admin/grants/:id/revoke`. */
export const revokeGrantRequestSchema = z.strictObject({ reason: z.string().min(1).max(LIMITS.reason).optional() });

/** `POST /api/admin/grants/:id/tokens`. `ttlSeconds` defaults to and is capped at 900. */
export const createTokenRequestSchema = z.strictObject({
  ttlSeconds: z.int().min(1).max(ENROLLMENT_TOKEN_MAX_TTL_SECONDS).optional(),
  /** Re-enroll an active grant: redeeming revokes every earlier serial of the grant. */
  reenroll: z.boolean().optional(),
});

/** The answer to a token request. `token` and `enrollmentUrl` are secrets: shown once, never logged. */
export const tokenResponseSchema = z.object({
  token: z.string().min(16).max(128),
  enrollmentUrl: enrollmentUrlSchema,
  caPin: caPinSchema,
  expiresAt: timestampSchema,
});

/** A grant. Times are `null` until they happen; `certSerial`/`certNotAfter` are the current cert's. */
export const grantSchema = z.object({
  id: grantIdSchema,
  subjectUserId: idSchema,
  peerName: nameSchema,
  status: z.enum(GRANT_STATUSES),
  scope: scopeSchema,
  createdAt: timestampSchema,
  activatedAt: timestampSchema.nullable(),
  revokedAt: timestampSchema.nullable(),
  revokeReason: z.string().max(LIMITS.reason).nullable(),
  expiresAt: timestampSchema.nullable(),
  certSerial: certSerialSchema.nullable(),
  certNotAfter: timestampSchema.nullable(),
});

/** `GET /api/admin/grants`. */
export const grantListSchema = listOf(grantSchema);

/** `GET /api/admin/grants?status=&peer=` query string. */
export const grantListQuerySchema = z.strictObject({
  status: z.enum(GRANT_STATUSES).optional(),
  peer: nameSchema.optional(),
});

/** `GET /api/admin/grants/:id/explain?resource=` query string. */
export const explainQuerySchema = z.strictObject({ resource: resourceSchema });

/** One row of an explanation: would the peer see it, and the rule that decided. */
export const explainRowSchema = z.object({
  id: idSchema,
  title: z.string().max(LIMITS.title),
  included: z.boolean(),
  rule: z.enum(EXPLAIN_RULES),
});

/** `GET /api/admin/grants/:id/explain` answer. */
export const explainResponseSchema = z.object({
  grantId: grantIdSchema,
  resource: z.string().min(1).max(64),
  rows: z.array(explainRowSchema),
});

// ── peers (requesting side) ─────────────────────────────────────────────────────────────

/** `POST /api/admin/peers/preview`: fetch the remote CA for the wizard to show its pin. */
export const peerPreviewRequestSchema = z.strictObject({ enrollmentUrl: enrollmentUrlSchema });

/**
 * The preview answer. The pin must be confirmed by a person or given with `--ca-pin`.
 * `serverName` is the host the URL names; `gatewayName`, when the CA's subject says it
 * (`CN=Mosaic Federation CA (<name>)`) and it is a valid peer name, is the serving gateway's
 * name — the wizard's default peer name. Unverified until the pin is confirmed.
 */
export const peerPreviewSchema = z.object({ caPin: caPinSchema, serverName: nameSchema, gatewayName: nameSchema.optional() });

/** `POST /api/admin/peers`: the gateway makes the key and CSR, enrolls over the pinned connection. */
export const addPeerRequestSchema = z.strictObject({
  enrollmentUrl: enrollmentUrlSchema,
  /** Any case, `:`/space separators, `sha256:` optional — normalised. */
  caPin: caPinInputSchema,
  /** Local name of the peer (default: the remote gateway's name). */
  name: nameSchema.optional(),
  /** The local user this peer belongs to (default: the subject user id in the certificate). */
  localUserId: idSchema.optional(),
});

/** A peer of this gateway: a remote gateway it reads from through a grant there. */
export const peerSchema = z.object({
  name: nameSchema,
  endpoint: httpUrlSchema,
  state: z.enum(PEER_STATES),
  localUserId: idSchema,
  grantId: grantIdSchema,
  subjectUserId: idSchema,
  certSerial: certSerialSchema,
  certNotAfter: timestampSchema,
  renewalDueAt: timestampSchema,
  caPin: caPinSchema,
  /** The last `capabilities` answer, or `null` before the first successful check. */
  capabilities: capabilitiesResponseSchema.nullable(),
  lastSuccessAt: timestampSchema.nullable(),
  lastFailureAt: timestampSchema.nullable(),
  lastError: z.string().max(LIMITS.message).nullable(),
  circuit: z.enum(CIRCUIT_STATES),
  /**
   * When the current streak of failed certificate renewals began (the peer is `degraded`
   * meanwhile; only a successful renewal ends it), or null. Optional: older gateways do not send it.
   */
  renewalFailingSince: timestampSchema.nullable().optional(),
});

/** `GET /api/admin/peers`. */
export const peerListSchema = listOf(peerSchema);

/**
 * `GET /api/admin/peers/:name/certificate`: the peer's current client certificate and the CA it
 * pinned, public parts only (for `mosaic federation peer inspect`); the key never leaves the store.
 */
export const peerCertificateSchema = z.object({ name: nameSchema, certPem: pemSchema, caCertPem: pemSchema });

/** `DELETE /api/admin/peers/:name` answer. */
export const peerRemovedSchema = z.object({ name: nameSchema, removed: z.literal(true) });

// ── query (requesting side) ─────────────────────────────────────────────────────────────

/** `local`, `all`, or `federated:<peer name>`. */
export const querySourceSchema = z.union([
  z.literal('local'),
  z.literal('all'),
  z.string().regex(new RegExp(`^${FEDERATED_SOURCE_PREFIX}.{1,${LIMITS.name}}$`, 's'), {
    error: `must be local, all, or ${FEDERATED_SOURCE_PREFIX}<peer name>`,
  }),
], { error: `must be local, all, or ${FEDERATED_SOURCE_PREFIX}<peer name>` });

const queryCommon = {
  resource: resourceSchema,
  source: querySourceSchema,
  /** The local user whose peers are asked; one local user never reads through another's grant. */
  asUser: idSchema.optional(),
};
const queryLimit = z.int().min(1).max(MAX_REQUEST_LIMIT).optional();

/**
 * `POST /api/admin/query`: `id` only with `get`, `query` only with `search`, `limit` not with
 * `get` — anything else is refused rather than ignored.
 */
export const queryRequestSchema = z.discriminatedUnion('verb', [
  z.strictObject({ verb: z.literal('list'), ...queryCommon, limit: queryLimit }),
  z.strictObject({ verb: z.literal('get'), ...queryCommon, id: idSchema }),
  z.strictObject({
    verb: z.literal('search'),
    ...queryCommon,
    query: z.string().max(LIMITS.query).refine((q) => q.trim() !== '', { error: 'must contain something to search for' }),
    limit: queryLimit,
  }),
]);

/** A row of a merged answer: tagged with where it came from, `_cached` when served from cache. */
export const queryItemSchema = federationItemSchema.extend({
  /** `local` or `federated:<peer name>`. */
  _source: z.string().min(1).max(LIMITS.name + 16),
  _cached: z.literal(true).optional(),
  /** For `search`: the hit's score at its source (scores of different sources are not comparable). */
  _score: z.number().min(0).optional(),
});

/** How one source fared in a fan-out. */
export const querySourceStatusSchema = z.object({
  source: z.string().min(1).max(LIMITS.name + 16),
  ok: z.boolean(),
  cached: z.boolean(),
  latencyMs: z.number().min(0),
  /** Present when `ok` is false: the code (the remote's, or ours, e.g. PEER_UNREACHABLE). */
  error: z.object({ code: errorCodeSchema, message: z.string().max(LIMITS.message) }).optional(),
});

/** `POST /api/admin/query` answer: `partial` when at least one source failed. */
export const queryResponseSchema = z.object({
  items: z.array(queryItemSchema),
  sources: z.array(querySourceStatusSchema),
  partial: z.boolean(),
});

// ── gateway ─────────────────────────────────────────────────────────────────────────────

/** `GET /health`. */
export const healthResponseSchema = z.object({ status: z.literal('ok') });

const countSchema = z.int().min(0);

/** One peer's health in the status report. */
export const peerHealthSchema = z.object({
  name: nameSchema,
  state: z.enum(PEER_STATES),
  circuit: z.enum(CIRCUIT_STATES),
  offlineSince: timestampSchema.nullable(),
  /**
   * Median latency (ms) of this gateway's recent calls that reached the peer — the last 50,
   * none older than 10 minutes; cached answers are not calls — or null with none in that
   * window. Optional: older gateways do not send it.
   */
  latencyP50Ms: z.number().min(0).nullable().optional(),
  lastSuccessAt: timestampSchema.nullable(),
  lastFailureAt: timestampSchema.nullable(),
  lastError: z.string().max(LIMITS.message).nullable(),
  /** When renewal of the peer's certificate is due, and when its expires (optional: older gateways do not send them). */
  renewalDueAt: timestampSchema.optional(),
  certNotAfter: timestampSchema.optional(),
  /** The start of the current streak of failed renewals, or null (see the Peer body). */
  renewalFailingSince: timestampSchema.nullable().optional(),
});

/** `GET /api/admin/status`. */
export const statusReportSchema = z.object({
  name: nameSchema,
  version: z.string().min(1).max(64),
  startedAt: timestampSchema,
  federationUrl: httpUrlSchema,
  adminUrl: httpUrlSchema,
  storage: z.object({ engine: z.enum(['sqlite', 'postgres']), location: z.string().max(LIMITS.url) }),
  ca: z.object({ mode: z.enum(['embedded', 'step-ca']), caPin: caPinSchema, notAfter: timestampSchema }),
  counts: z.object({
    grants: z.object({ pending: countSchema, active: countSchema, revoked: countSchema, expired: countSchema }),
    peers: z.object({ active: countSchema, degraded: countSchema, revoked: countSchema }),
  }),
  audit: z.object({
    /** Rows in the local spool not yet shipped to the main store. */
    spoolBacklog: countSchema,
    /** Federation requests refused with 503 AUDIT_UNAVAILABLE since start. */
    unavailableRefusals: countSchema,
  }),
  /**
   * The peers this gateway reads from, as its requesting side sees them now (optional: older
   * gateways do not send it). `offlineSince` is set from the first failed call of an outage
   * until the next call that reaches the peer — the "federation offline: <peer>" signal.
   */
  peers: z.array(peerHealthSchema).optional(),
});

/** One doctor check: `remediation` is `null` when there is nothing to do. */
export const doctorCheckSchema = z.object({
  id: z.string().regex(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/).max(64),
  status: z.enum(DOCTOR_STATUSES),
  message: z.string().max(LIMITS.message),
  remediation: z.string().max(LIMITS.message).nullable(),
});

/** `GET /api/admin/doctor`: overall status is the worst check's. */
export const doctorReportSchema = z.object({ status: z.enum(DOCTOR_STATUSES), checks: z.array(doctorCheckSchema) });

/** `DELETE /api/admin/users/:id` answer. */
export const userRemovedSchema = z.object({ userId: idSchema, revokedGrantIds: z.array(grantIdSchema) });

/** `DELETE /api/admin/teams/:team/members/:user` answer. */
export const teamMemberRemovedSchema = z.object({ teamId: idSchema, userId: idSchema });

/** Admin token names: lower-case word characters, as they appear in audit rows. */
export const adminTokenNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, { error: 'must be 1–64 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit' });

/** `POST /api/admin/admin-tokens` (`mosaic gateway admin-token create <name>`). */
export const createAdminTokenRequestSchema = z.strictObject({ name: adminTokenNameSchema });

/** The new admin token: shown once. */
export const adminTokenCreatedSchema = z.object({ name: adminTokenNameSchema, token: z.string().min(16).max(256), createdAt: timestampSchema });

/** An admin token as listed (never the token itself). */
export const adminTokenInfoSchema = z.object({ name: adminTokenNameSchema, createdAt: timestampSchema, lastUsedAt: timestampSchema.nullable() });

/** `GET /api/admin/admin-tokens`. */
export const adminTokenListSchema = listOf(adminTokenInfoSchema);

/** `<data dir>/gateway.json`, written by a running gateway once it is ready. */
export const gatewayInfoSchema = z.object({
  name: nameSchema,
  pid: z.int().min(1),
  adminUrl: httpUrlSchema,
  federationUrl: httpUrlSchema,
  version: z.string().min(1).max(64),
});
