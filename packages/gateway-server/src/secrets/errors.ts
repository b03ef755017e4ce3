/**
 * The coded errors of the secrets module. Messages name places (a path, a keyring entry,
 * an environment variable) and never a secret's bytes.
 */
import { createError } from '@mosaic/federation-core';

const MAKE_SECRET = 'generate one with `openssl rand -base64 32` and set it as MOSAIC_SECRET on every replica';

/** PostgreSQL mode (DATABASE_URL) without MOSAIC_SECRET: replicas must share one secret, so none is generated. */
export const MasterSecretRequired = createError<[]>(
  'MASTER_SECRET_REQUIRED',
  'MOSAIC_SECRET is required when the gateway uses PostgreSQL (DATABASE_URL): every replica must seal and open with the same master secret',
  500,
  `${MAKE_SECRET}; keep it in your secret manager, never in the database, and never change it once keys are sealed with it`,
);

/** The secret file (or its directory) can be read or replaced by other users. */
export const SecretFileInsecure = createError<[string, string]>(
  'SECRET_FILE_INSECURE',
  'the master secret at %s is refused: %s',
  500,
  'make it private to the gateway user, as ssh wants its keys: `chmod 600` the file and `chmod 700` its directory; if someone else could have copied it, treat the sealed keys (CA, peers) as exposed',
);

/** The secret file would live inside the data dir, so a copy of the data dir would open everything. */
export const SecretInsideDataDir = createError<[string, string]>(
  'SECRET_INSIDE_DATA_DIR',
  'the master secret file %s is inside the data dir %s; a copy of the data dir must open nothing on its own',
  500,
  'point XDG_CONFIG_HOME (or HOME) somewhere outside the data dir, or set MOSAIC_SECRET; move an existing secret file there rather than deleting it, or the sealed keys are lost',
);

/** The keyring and the secret file both hold a master secret, and they differ. */
export const SecretSourcesConflict = createError<[string, string]>(
  'SECRET_SOURCES_CONFLICT',
  'two different master secrets were found, in %s and in %s; the gateway will not guess which one sealed its keys',
  500,
  'keep the one that opens the data dir (try each with MOSAIC_SECRET=… `mosaic gateway doctor`), then remove the other',
);

/** The secret file is not a regular file, or is not readable as one. */
export const SecretFileUnreadable = createError<[string, string]>(
  'SECRET_FILE_UNREADABLE',
  'the master secret at %s cannot be read: %s',
  500,
  'check the path; it must be a regular file owned by the gateway user, mode 0600',
);

/**
 * Fallback signal: there is no usable OS keyring here (a headless machine, no Secret Service
 * on the session bus). Not a failure: the caller falls back to the secret file.
 */
export const KeyringUnavailable = createError<[string]>(
  'KEYRING_UNAVAILABLE',
  'no usable OS keyring: %s',
  500,
  'the master secret is kept in a 0600 file under $XDG_CONFIG_HOME/mosaic/<name>/ instead',
);

/** The OS keyring exists but failed in a way that is not "absent" (ambiguous entry, locked, bad encoding). */
export const KeyringFailed = createError<[string, string]>(
  'KEYRING_FAILED',
  'the OS keyring entry %s could not be used: %s',
  500,
  'unlock the keyring or remove the duplicate entry, or set MOSAIC_SECRET to the secret it holds; the gateway does not fall back to a new secret while the keyring may hold the real one',
);

/** A gateway name that cannot name a keyring entry and a directory. */
export const GatewayNameInvalid = createError<[string]>(
  'GATEWAY_NAME_INVALID',
  'the gateway name is not usable for its secret: %s',
  400,
  'use letters, digits, dots, hyphens and underscores (at most 64 characters)',
);

/** A programming error in a call into the secrets module (unknown storage mode…). */
export const SecretArgumentInvalid = createError<[string]>('SECRET_ARGUMENT_INVALID', 'invalid argument: %s', 500, 'this is a bug in the caller');

/** The data dir may be written by anyone: refused (SECURITY.md, secrets at rest). */
export const DataDirWorldWritable = createError<[string, string]>(
  'DATA_DIR_WORLD_WRITABLE',
  'the data dir %s is world-writable (mode %s); anyone on this machine could replace the gateway state',
  500,
  'run `chmod 700` on it (and make sure the gateway user owns it)',
);

/** The data dir path exists but is not a directory. */
export const DataDirInvalid = createError<[string, string]>(
  'DATA_DIR_INVALID',
  'the data dir %s is not usable: %s',
  500,
  'point MOSAIC_DATA_DIR (or --data-dir) at a directory owned by the gateway user',
);

/** Re-exported so callers can branch on the secret-format error without importing federation-core. */
export { MasterSecretInvalid } from '@mosaic/federation-core';
