/**
 * The coded errors of the seal module. Messages and details never carry plaintext, key
 * bytes or the master secret: at most a key id (a public fingerprint) or a length.
 */
import { createError } from '../errors.js';

const NEW_SECRET = 'generate one with `openssl rand -base64 32` (or `mosaic gateway start` in embedded mode, which keeps one outside the data dir)';

/** The master secret (`MOSAIC_SECRET` or the stored secret file) is not base64 of ≥ 32 random bytes. */
export const MasterSecretInvalid = createError<[string, string]>(
  'MASTER_SECRET_INVALID',
  '%s is not a usable master secret: %s',
  500,
  `${NEW_SECRET}; every replica sharing a database needs the same value, and changing it makes existing sealed keys unreadable`,
);

/** The sealed value is not a seal envelope at all: too short, or not the base64 text form. */
export const SealMalformed = createError<[string]>(
  'SEAL_MALFORMED',
  'sealed value is malformed: %s',
  500,
  'the stored value was truncated or is not a Mosaic sealed value; restore it from a backup',
);

/** The envelope's version byte is not one this build can open. */
export const SealVersionUnsupported = createError<[string]>(
  'SEAL_VERSION_UNSUPPORTED',
  'sealed value has envelope version %s, which this version of Mosaic cannot open',
  500,
  'it was sealed by a newer Mosaic, or the value is corrupt: upgrade, or restore the value from a backup',
);

/** The envelope names a key id that is not in the keyring. */
export const SealUnknownKey = createError<[string, string]>(
  'SEAL_UNKNOWN_KEY',
  'sealed value was sealed under key %s; the keys available are %s',
  500,
  'the master secret (MOSAIC_SECRET) differs from the one that sealed this value: start with the original secret (a copy of the data dir alone opens nothing)',
);

/** Authentication failed: a flipped bit, a blob moved to another record, or a wrong key. */
export const SealTampered = createError<[]>(
  'SEAL_TAMPERED',
  'sealed value failed authentication: it was modified, belongs to another record, or was sealed under another key',
  500,
  'restore the value from a backup; never work around this check, it is what keeps a swapped or edited key from being used',
);

/** An AES-GCM parameter outside what the wrapper supports (256-bit key, 96-bit nonce, 128-bit tag). */
export const SealParamsUnsupported = createError<[string]>(
  'SEAL_PARAMS_UNSUPPORTED',
  'AES-GCM parameters refused: %s',
  500,
  'only AES-256-GCM with a 96-bit nonce and a 128-bit tag is supported; this is a bug in the caller',
);

/** An HKDF parameter out of range (output size, info length). */
export const KdfParamsInvalid = createError<[string]>(
  'KDF_PARAMS_INVALID',
  'HKDF-SHA-256 parameters refused: %s',
  500,
  'this is a bug in the caller: HKDF-SHA-256 yields 1..8160 bytes with an info of at most 1024 bytes',
);

/** A programming error in a call into the seal module (empty record id, bad purpose, inconsistent keyring). */
export const SealArgumentInvalid = createError<[string]>(
  'SEAL_ARGUMENT_INVALID',
  'invalid argument to seal: %s',
  500,
  'this is a bug in the caller',
);
