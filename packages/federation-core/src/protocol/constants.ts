/**
 * Enumerations of the wire protocol, as plain data (no zod): the CLI can offer them as flag
 * choices and the admin client can import them at runtime.
 */

/** Every verb of the federation listener that reads through a grant. */
export const FEDERATION_VERBS = ['capabilities', 'list', 'get', 'search'] as const;
export type FederationVerb = (typeof FEDERATION_VERBS)[number];

/** The verbs that read rows (all but `capabilities`); also the verbs of the admin `query`. */
export const ROW_VERBS = ['list', 'get', 'search'] as const;
export type RowVerb = (typeof ROW_VERBS)[number];

/** Grant lifecycle: `pending` → `active` → `revoked` | `expired`. */
export const GRANT_STATUSES = ['pending', 'active', 'revoked', 'expired'] as const;
export type GrantStatus = (typeof GRANT_STATUSES)[number];

/** A peer's state as the requesting side sees it. */
export const PEER_STATES = ['active', 'degraded', 'revoked'] as const;
export type PeerState = (typeof PEER_STATES)[number];

/** The per-peer circuit breaker. */
export const CIRCUIT_STATES = ['closed', 'open', 'half_open'] as const;
export type PeerCircuitState = (typeof CIRCUIT_STATES)[number];

/** What happened to an audited request. */
export const AUDIT_OUTCOMES = ['allowed', 'denied', 'rate_limited', 'error'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** Doctor traffic lights, overall and per check. */
export const DOCTOR_STATUSES = ['green', 'yellow', 'red'] as const;
export type DoctorStatus = (typeof DOCTOR_STATUSES)[number];

/**
 * Verbs recorded in the audit trail: the federation verbs, enrollment, and admin mutations
 * (`admin.*`, carrying the admin token's name).
 */
export const AUDIT_VERBS = [
  ...FEDERATION_VERBS,
  'enroll',
  'renew',
  /** A read on the requesting side (`POST /api/admin/query`): one row per query, whatever it fanned out to. */
  'query',
  'admin.grant.create',
  'admin.grant.edit',
  'admin.grant.revoke',
  'admin.grant.token',
  'admin.peer.add',
  'admin.peer.remove',
  'admin.peer.renew',
  'admin.seed',
  'admin.user.remove',
  'admin.team.remove_member',
  'admin.admin_token.create',
  'admin.admin_token.revoke',
] as const;
export type AuditVerb = (typeof AUDIT_VERBS)[number];

/** The `_source` tag of rows read locally on the requesting side. */
export const LOCAL_SOURCE = 'local';
/** The prefix of the `_source` tag of rows read through a peer: `federated:<peer name>`. */
export const FEDERATED_SOURCE_PREFIX = 'federated:';

/** The default and maximum enrollment token lifetime (15 min). */
export const ENROLLMENT_TOKEN_MAX_TTL_SECONDS = 900;

/** The default request body limit on both listeners (64 KiB). */
export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;
