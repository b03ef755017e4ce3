/**
 * The coded errors of the embedded CA. None carries key material or PEM: at most a seal key
 * id (a public fingerprint), a serial, or a date.
 */
import { createError } from '@mosaic/federation-core';

const NEVER_RECREATE =
  'never delete the CA state to get past this: a new CA means every peer must enroll again, and it is exactly what a copy of the data dir without the secret must not be able to do';

/** The stored CA key was sealed under another master secret (case 32/33). */
export const CaSecretMismatch = createError<[string, string]>(
  'CA_SECRET_MISMATCH',
  'the stored CA key was sealed with a different master secret (its key id is %s; the master secret in use gives %s)',
  500,
  `start the gateway with the master secret the CA was created with — MOSAIC_SECRET, the OS keyring entry mosaic/<name>, or $XDG_CONFIG_HOME/mosaic/<name>/secret from the original machine; ${NEVER_RECREATE}`,
);

/** The stored CA key does not open or does not fit the certificate: the store was altered or damaged. */
export const CaKeyCorrupt = createError<[string]>(
  'CA_KEY_CORRUPT',
  'the stored CA key cannot be used: %s',
  500,
  `restore the CA state (data dir or database) from a backup taken with the same master secret; ${NEVER_RECREATE}`,
);

/** The stored CA certificate cannot be read as a CA certificate. */
export const CaCertCorrupt = createError<[string]>(
  'CA_CERT_CORRUPT',
  'the stored CA certificate cannot be used: %s',
  500,
  `restore the CA state (data dir or database) from a backup; ${NEVER_RECREATE}`,
);

/** The public URL (or an extra host) given for the server certificate is not usable. */
export const ServerNameInvalid = createError<[string]>(
  'CA_SERVER_NAME_INVALID',
  'cannot name the federation listener in its certificate: %s',
  400,
  'pass --public-url as https://<host>[:port] with a DNS name or an IP address (no wildcard, no credentials)',
);

/** Another process kept replacing the server certificate with one for different names. */
export const ServerCertContended = createError<[string]>(
  'CA_SERVER_CERT_CONTENDED',
  'the federation server certificate kept being replaced by another gateway process: %s',
  500,
  'every replica sharing a database must be started with the same --public-url',
);

/** No CRL could be issued and none was issued before. */
export const CrlUnavailable = createError<[string]>(
  'CRL_UNAVAILABLE',
  'no CRL can be published: %s',
  503,
  'run `mosaic gateway doctor`; the listener still refuses revoked serials from the store, only the published CRL is missing',
);

/** A programming error in a call into the CA (renewal scheduled before a server certificate was ensured…). */
export const CaArgumentInvalid = createError<[string]>('CA_ARGUMENT_INVALID', 'invalid call into the embedded CA: %s', 500, 'this is a bug in the caller');
