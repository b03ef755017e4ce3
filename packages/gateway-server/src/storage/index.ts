/**
 * The gateway's store: one schema, one typed query layer (Kysely), two engines — embedded
 * SQLite through `node:sqlite` in the data dir, and PostgreSQL at `DATABASE_URL`.
 *
 * Conventions of every repository:
 * - lookups (`get…`, `find…`) return `null` for "no such thing";
 * - mutations of a named thing that does not exist throw its coded error (GRANT_NOT_FOUND,
 *   PEER_NOT_FOUND, …) from federation-core's catalogue, so the admin API passes them on;
 * - times go in as `Date` or ISO strings and come out as {@link Timestamp}s (ISO-8601 UTC,
 *   millisecond precision), which sort correctly as text on both engines;
 * - secrets never reach the store in the clear: tokens as SHA-256 ({@link hashToken}),
 *   private keys sealed by the caller.
 */
export { openStorage, LATEST_SCHEMA_VERSION, type Storage, type OpenStorageOptions, type StorageLocation } from './storage.js';
export type { Repositories } from './repositories.js';
export { migrateToLatest, MIGRATIONS, type Migration, type MigrationResult } from './migrations.js';
export { TABLES, type Database, type Engine, type Flag } from './schema.js';
export { toTimestamp, toTimestampOrNull, isStoredTimestamp, type Timestamp, type TimeInput } from './time.js';
export { describePostgresUrl, isPostgresUrl, type PostgresOptions } from './postgres.js';
export { SQLITE_FILE_NAME, SQLITE_BUSY_TIMEOUT_MS } from './sqlite.js';
export { StorageUnavailableError, StorageSchemaTooNewError, AdminTokenExistsError, AdminTokenNotFoundError, CaStateMissingError, isStorageUnreachable } from './errors.js';
export { DirectoryRepository, type UserRecord, type TeamRecord, type UserDeleted } from './directory.js';
export {
  ResourcesRepository,
  searchTerms,
  MAX_SEARCH_TERMS,
  type ResourceRow,
  type ExplainRow,
  type VisiblePage,
  type SearchHitRow,
} from './resources.js';
export { GrantsRepository, toWireGrant, MIN_GRANT_PREFIX, type GrantRecord, type NewGrant, type GrantFilter } from './grants.js';
export {
  EnrollmentTokensRepository,
  hashToken,
  assertTokenHash,
  type EnrollmentTokenRecord,
  type NewEnrollmentToken,
  type ClaimResult,
  type ClaimFailure,
} from './tokens.js';
export { IssuedCertsRepository, canonicalSerial, type IssuedCertRecord, type NewIssuedCert, type RevokeOptions, type RevokedCertEntry } from './certs.js';
export { PeersRepository, type PeerRecord, type NewPeer, type PeerCertificate } from './peers.js';
export { CaStateRepository, type CaStateRecord, type NewCaState, type ServerCertRecord, type NewServerCert, type ServerCertSwap } from './ca-state.js';
export { AdminTokensRepository, type AdminTokenRecord } from './admin-tokens.js';
export { AuditRepository, AUDIT_DEFAULT_LIMIT, AUDIT_MAX_LIMIT, type AuditRecord, type NewAuditRecord, type AuditFilter } from './audit.js';
export { MetaRepository } from './meta.js';
