/**
 * Errors of the storage layer that are not wire codes of federation-core's catalogue.
 * Domain errors that are (GRANT_NOT_FOUND, SEED_INVALID, PEER_EXISTS, …) are thrown with
 * `codedError` from `@mosaic/federation-core`, so the admin API passes them through as they are.
 */
import { createError } from '@mosaic/federation-core';

/** The database cannot be opened or reached (the message names where, never a password). */
export const StorageUnavailableError = createError<[string, string]>(
  'STORAGE_UNAVAILABLE',
  'cannot open the store (%s): %s',
  503,
  'Check DATABASE_URL (host, port, database, credentials) or the data dir’s permissions, then `mosaic gateway doctor`.',
);

/** The store was migrated by a newer gateway than this one. */
export const StorageSchemaTooNewError = createError<[string, string]>(
  'STORAGE_SCHEMA_TOO_NEW',
  'the store is at schema version %s, newer than this gateway knows (%s)',
  500,
  'Run the gateway version that last migrated this store, or a newer one; never downgrade over a migrated store.',
);

/** An admin token of that name exists and is not revoked. */
export const AdminTokenExistsError = createError<[string]>(
  'ADMIN_TOKEN_EXISTS',
  'an admin token named %s already exists',
  409,
  'Choose another name, or revoke the old token first (`mosaic gateway admin-token revoke <name>`).',
);

/** No admin token of that name (or it is already revoked). */
export const AdminTokenNotFoundError = createError<[string]>(
  'ADMIN_TOKEN_NOT_FOUND',
  'no active admin token named %s',
  404,
  'List tokens with `mosaic gateway admin-token list`.',
);

/** The CA state is needed but the CA has not been created yet. */
export const CaStateMissingError = createError<[]>(
  'CA_STATE_MISSING',
  'the embedded CA has not been created in this store yet',
  500,
  'Start the gateway once so it creates its CA; this is a bug if the gateway is running.',
);

const CONNECTION_ERRNOS: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * True when `err` says the database could not be reached (refused, reset, timed out, shutting
 * down) rather than that a statement failed: the federation verbs answer such a failure with
 * 503 STORAGE_UNAVAILABLE — authorization fails closed, it is never answered from memory.
 */
export function isStorageUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string') {
      if (CONNECTION_ERRNOS.has(code)) return true;
      // SQLSTATE class 08 (connection exception), 57P01–57P03 (shutdown, crash, cannot connect now)
      if (/^08[0-9A-Z]{3}$/.test(code) || code === '57P01' || code === '57P02' || code === '57P03') return true;
    }
    if (typeof message === 'string' && /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/.test(message)) return true;
  }
  return false;
}
