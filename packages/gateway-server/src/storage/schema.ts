/**
 * The store's tables as Kysely sees them: one `Database` interface for both engines. The DDL
 * that creates them is in `migrations.ts`; both are the one schema definition.
 *
 * Conventions, the same on SQLite and PostgreSQL:
 * - columns are snake_case; ids are caller-chosen text (grant and token ids are lowercase UUIDs);
 * - times are {@link Timestamp}s: ISO-8601 UTC text, fixed millisecond precision (`time.ts`);
 * - booleans are integers 0/1 ({@link Flag}) — node:sqlite binds no booleans, and one
 *   representation keeps rows identical across engines;
 * - JSON (scopes, capabilities, SANs) is text holding `JSON.stringify` output;
 * - secrets are never stored in the clear: tokens as SHA-256 hex, private keys sealed
 *   (AES-256-GCM envelopes from federation-core's `seal`) before they reach this layer.
 */
import type { Generated } from 'kysely';
import type { Timestamp } from './time.js';

/** 0 = false, 1 = true (CHECKed in the DDL). */
export type Flag = 0 | 1;

/** The engines behind {@link Database}. */
export type Engine = 'sqlite' | 'postgres';

export interface UsersTable {
  id: string;
  name: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface TeamsTable {
  id: string;
  name: string;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** A user's membership of a team; both sides cascade on delete. */
export interface MembershipsTable {
  team_id: string;
  user_id: string;
  created_at: Timestamp;
}

/**
 * The shape shared by the five resource tables (`tasks`, `notes`, `memory`, `credentials`,
 * `api_keys`): exactly one of `owner_user_id` (personal row) and `team_id` (team row) is set.
 */
export interface ResourceTable {
  id: string;
  title: string;
  body: string | null;
  owner_user_id: string | null;
  team_id: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Serving side: "peer P may read, on behalf of local user U, what scope S allows". */
export interface GrantsTable {
  id: string;
  subject_user_id: string;
  peer_name: string;
  status: 'pending' | 'active' | 'revoked' | 'expired';
  /** The validated, normalised scope as JSON text. */
  scope: string;
  allow_sensitive: Flag;
  created_at: Timestamp;
  activated_at: Timestamp | null;
  revoked_at: Timestamp | null;
  revoke_reason: string | null;
  expires_at: Timestamp | null;
  /** The serial of the certificate currently valid for the grant (lowercase hex). */
  current_cert_serial: string | null;
  /** Starts at 1, bumped by every scope edit (caches and cursors compare it). */
  scope_version: Generated<number>;
}

/** Single-use enrollment tokens. Only the SHA-256 of the token is kept. */
export interface EnrollmentTokensTable {
  id: string;
  grant_id: string;
  /** SHA-256 of the token, 64 lowercase hex characters. UNIQUE. */
  token_hash: string;
  reenroll: Flag;
  created_at: Timestamp;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  cancelled_at: Timestamp | null;
}

/** Every certificate the CA issued. `revoked_at` may lie in the future (a delayed revoke). */
export interface IssuedCertsTable {
  /** Canonical serial: lowercase hex, no leading zero bytes (`normaliseSerialHex`). */
  serial: string;
  grant_id: string;
  not_before: Timestamp;
  not_after: Timestamp;
  issued_at: Timestamp;
  revoked_at: Timestamp | null;
  /** An RFC 5280 reason name (`superseded`, `privilegeWithdrawn`, …). */
  revoke_reason: string | null;
  /** The certificate itself (migration 3; null for ones issued before): a lost renewal answer is sent again. */
  cert_pem: string | null;
}

/** Requesting side: a remote gateway this one reads from, through a grant there. */
export interface PeersTable {
  name: string;
  endpoint: string;
  /** The remote gateway's own name (from its enrollment answer). */
  server_name: string | null;
  local_user_id: string;
  grant_id: string;
  subject_user_id: string;
  ca_cert_pem: string;
  ca_pin: string;
  cert_pem: string;
  /** The client key, sealed (a federation-core `seal` envelope as text). */
  sealed_key: string;
  cert_serial: string;
  cert_not_before: Timestamp;
  cert_not_after: Timestamp;
  state: 'active' | 'degraded' | 'revoked';
  /** The last `capabilities` answer as JSON text, or null. */
  capabilities: string | null;
  last_success_at: Timestamp | null;
  last_failure_at: Timestamp | null;
  last_error: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  /**
   * Certificate renewal (migration 2): when the current failure streak began (null while
   * renewals succeed — a successful read does not clear it, only a successful renewal), its
   * failures so far, and when the renewal job may try again.
   */
  renewal_failed_since: Timestamp | null;
  renewal_failures: number;
  renewal_retry_at: Timestamp | null;
  /** A renewal in progress somewhere (a replica, the job or `peer renew`): its claim token and lease end. */
  renewal_claim: string | null;
  renewal_claimed_until: Timestamp | null;
  /**
   * A renewal in progress (migration 3): the sealed `{ serial, keyPem, csrPem }` of the key and
   * CSR sent to renew `serial`, kept until the renewal is stored, so a retry sends the same CSR
   * and the serving side can answer with the certificate it already issued.
   */
  renewal_pending: string | null;
}

/**
 * The embedded CA: one row (id = 1). The root (`ca_*`, `created_at`) is created once and never
 * overwritten; the federation listener's server certificate (`server_*`, all set or all null)
 * is added later and replaced by compare-and-swap on `server_serial_hex`.
 */
export interface CaStateTable {
  id: number;
  ca_cert_pem: string;
  /** The root key, sealed (base64 text of a `sealText` envelope). */
  ca_sealed_key: string;
  created_at: Timestamp;
  /** The number of the last CRL published (0: none yet). */
  crl_number: Generated<number>;
  server_cert_pem: string | null;
  /** The server key, sealed (base64 text of a `sealText` envelope). */
  server_sealed_key: string | null;
  /** Lowercase hex serial of the server certificate: the compare-and-swap key. */
  server_serial_hex: string | null;
  /** The server certificate's subject alternative names, JSON array text. */
  server_sans: string | null;
  server_not_before: Timestamp | null;
  server_not_after: Timestamp | null;
  server_issued_at: Timestamp | null;
}

/** Named admin API tokens, stored as SHA-256. */
export interface AdminTokensTable {
  name: string;
  token_hash: string;
  created_at: Timestamp;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

/** Columns of the audit trail (the live table and its archive). */
export interface AuditColumns {
  /** The row id given by its spool: stable, part of the chain digest, the SSE `id:`. UNIQUE. */
  id: string;
  at: Timestamp;
  request_id: string;
  caller_request_id: string | null;
  trace_id: string | null;
  grant_id: string | null;
  peer: string | null;
  subject_user_id: string | null;
  admin_token_name: string | null;
  verb: string;
  resource: string | null;
  query_hash: string | null;
  outcome: 'allowed' | 'denied' | 'rate_limited' | 'error';
  status_code: number;
  rows_out: number;
  bytes_out: number;
  latency_ms: number;
  prev_hash: string | null;
  /** This row's chain digest (`auditRowDigest`), as computed by its spool. */
  hash: string | null;
  /** The spool (replica) whose chain the row belongs to. */
  spool: string | null;
  /** Free-form detail of an admin mutation (JSON text), never a request body. */
  detail: string | null;
}

/** The audit trail. `seq` is the store's arrival order (SSE resume), assigned by the engine. */
export interface AuditLogTable extends AuditColumns {
  seq: Generated<number>;
}

/** Rows rolled over from `audit_log` (older than the retention window), `seq` kept. */
export interface AuditLogArchiveTable extends AuditColumns {
  seq: number;
}

/** Small key/value facts about the deployment (e.g. the gateway name that created the store). */
export interface MetaTable {
  key: string;
  value: string;
}

/** Applied schema migrations. */
export interface SchemaMigrationsTable {
  version: number;
  name: string;
  applied_at: Timestamp;
}

/** Every table of the store. */
export interface Database {
  users: UsersTable;
  teams: TeamsTable;
  memberships: MembershipsTable;
  tasks: ResourceTable;
  notes: ResourceTable;
  memory: ResourceTable;
  credentials: ResourceTable;
  api_keys: ResourceTable;
  grants: GrantsTable;
  enrollment_tokens: EnrollmentTokensTable;
  issued_certs: IssuedCertsTable;
  peers: PeersTable;
  ca_state: CaStateTable;
  admin_tokens: AdminTokensTable;
  audit_log: AuditLogTable;
  audit_log_archive: AuditLogArchiveTable;
  meta: MetaTable;
  schema_migrations: SchemaMigrationsTable;
}

/** The tables, in an order that satisfies foreign keys when copying (`migrate-storage`). */
export const TABLES = [
  'meta',
  'users',
  'teams',
  'memberships',
  'tasks',
  'notes',
  'memory',
  'credentials',
  'api_keys',
  'grants',
  'enrollment_tokens',
  'issued_certs',
  'peers',
  'ca_state',
  'admin_tokens',
  'audit_log',
  'audit_log_archive',
] as const satisfies readonly (keyof Database)[];
