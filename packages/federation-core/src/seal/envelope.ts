/**
 * The seal envelope: AES-256-GCM with a random 96-bit nonce per seal, the record id bound
 * as associated data, and a header naming the envelope version and the key.
 *
 * Byte layout (version 1), n = plaintext length:
 *
 *   offset    size  field
 *   0         1     version = 0x01
 *   1         8     key id  = SHA-256(sealing key)[0..8]
 *   9         12    nonce   (random per seal)
 *   21        n     ciphertext
 *   21 + n    16    GCM tag
 *
 * Associated data = bytes 0..9 (version ‖ key id) ‖ UTF-8(record id). The header is fixed
 * length, so the concatenation is unambiguous. Any change to the version, the key id, the
 * nonce, the ciphertext, the tag or the record id fails the tag check.
 *
 * Text form (for TEXT columns and files): standard base64 of the bytes, with padding.
 */
import { randomBytes } from 'node:crypto';
import { aesGcmDecrypt, aesGcmEncrypt, GCM_NONCE_BYTES, GCM_TAG_BYTES } from './aead.js';
import { SealArgumentInvalid, SealMalformed, SealUnknownKey, SealVersionUnsupported } from './errors.js';
import { KEY_ID_BYTES, SealKey, sealKeyMaterial, type SealKeyring } from './keys.js';

/** The envelope version this build writes (and the only one it opens). */
export const SEAL_VERSION = 1;
const HEADER_BYTES = 1 + KEY_ID_BYTES;
const NONCE_OFFSET = HEADER_BYTES;
const BODY_OFFSET = NONCE_OFFSET + GCM_NONCE_BYTES;
/** The smallest envelope: header, nonce and tag around an empty plaintext (37 bytes). */
export const SEALED_OVERHEAD_BYTES = BODY_OFFSET + GCM_TAG_BYTES;
/** Longest record id, in UTF-8 bytes. */
export const RECORD_ID_MAX_BYTES = 1024;

// A lone UTF-16 surrogate has no UTF-8 form: Buffer.from would turn it into U+FFFD, so two
// different strings would seal (or bind) as the same bytes.
const LONE_SURROGATE = /\p{Cs}/u;

/** Where a sealed value belongs. Opening it under any other record id fails. */
export interface SealOptions {
  /** A stable name of the record the value is stored in, e.g. `ca:key` or `peer:<name>:key`. */
  recordId: string;
}

/** The header of a sealed value: which envelope version and which key sealed it. */
export interface SealHeader {
  version: number;
  keyId: string;
}

function recordIdBytes(options: SealOptions | undefined): Buffer {
  const recordId = options?.recordId;
  if (typeof recordId !== 'string' || recordId.length === 0) throw new SealArgumentInvalid('a non-empty recordId is required');
  if (LONE_SURROGATE.test(recordId)) throw new SealArgumentInvalid('recordId is not well-formed Unicode');
  const bytes = Buffer.from(recordId, 'utf8');
  if (bytes.byteLength > RECORD_ID_MAX_BYTES) throw new SealArgumentInvalid(`recordId is longer than ${RECORD_ID_MAX_BYTES} bytes`);
  return bytes;
}

function plaintextBytes(plaintext: Uint8Array | string): { bytes: Uint8Array; copied: boolean } {
  if (plaintext instanceof Uint8Array) return { bytes: plaintext, copied: false };
  if (typeof plaintext !== 'string') throw new SealArgumentInvalid('plaintext must be a Uint8Array or a string');
  if (LONE_SURROGATE.test(plaintext)) throw new SealArgumentInvalid('plaintext string is not well-formed Unicode');
  return { bytes: Buffer.from(plaintext, 'utf8'), copied: true };
}

/**
 * Read a sealed value's header without opening it: its version and key id.
 * Throws `SEAL_MALFORMED` or `SEAL_VERSION_UNSUPPORTED` as {@link open} would.
 *
 * @example
 * if (readSealHeader(blob).keyId !== currentKey.id) blob = reseal(ring, currentKey, blob, { recordId });
 */
export function readSealHeader(sealed: Uint8Array | string): SealHeader {
  const bytes = typeof sealed === 'string' ? decodeSealedText(sealed) : sealed;
  if (!(bytes instanceof Uint8Array)) throw new SealMalformed('it is neither bytes nor text');
  if (bytes.byteLength === 0) throw new SealMalformed('it is empty');
  const version = bytes[0]!;
  if (version !== SEAL_VERSION) throw new SealVersionUnsupported(String(version));
  if (bytes.byteLength < SEALED_OVERHEAD_BYTES) {
    throw new SealMalformed(`it is ${bytes.byteLength} bytes, an envelope has at least ${SEALED_OVERHEAD_BYTES}`);
  }
  return { version, keyId: Buffer.from(bytes.subarray(1, HEADER_BYTES)).toString('hex') };
}

function pickKey(keys: SealKey | SealKeyring, id: string): SealKey {
  if (keys instanceof SealKey) {
    if (keys.id !== id) throw new SealUnknownKey(id, keys.id);
    return keys;
  }
  if (!(keys instanceof Map)) throw new SealArgumentInvalid('open needs a SealKey or a keyring from createKeyring()');
  const key: unknown = (keys as SealKeyring).get(id);
  if (key === undefined) throw new SealUnknownKey(id, [...keys.keys()].join(', ') || '(none)');
  if (!(key instanceof SealKey) || key.id !== id) throw new SealArgumentInvalid(`keyring entry ${id} does not hold the key with that id`);
  return key;
}

/**
 * Seal a secret for storage under one record: the binary envelope (layout above).
 * Every call draws a fresh nonce, so sealing the same value twice gives different bytes.
 *
 * @example
 * const blob = seal(SealKey.fromMaster(master), caKeyPem, { recordId: 'ca:key' });
 */
export function seal(key: SealKey, plaintext: Uint8Array | string, options: SealOptions): Buffer {
  if (!(key instanceof SealKey)) throw new SealArgumentInvalid('seal needs a SealKey');
  const rid = recordIdBytes(options);
  const { bytes, copied } = plaintextBytes(plaintext);
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = SEAL_VERSION;
  header.write(key.id, 1, 'hex');
  const nonce = randomBytes(GCM_NONCE_BYTES);
  try {
    const { ciphertext, tag } = aesGcmEncrypt(sealKeyMaterial(key), nonce, Buffer.concat([header, rid]), bytes);
    return Buffer.concat([header, nonce, ciphertext, tag]);
  } finally {
    if (copied) bytes.fill(0);
  }
}

/**
 * Open a binary envelope sealed for `recordId` with the key it names, taken from a keyring
 * (or a single key). Returns the plaintext only after the tag verified; otherwise throws
 * `SEAL_MALFORMED`, `SEAL_VERSION_UNSUPPORTED`, `SEAL_UNKNOWN_KEY` or `SEAL_TAMPERED`.
 *
 * @example
 * const pem = open(ring, blob, { recordId: 'ca:key' }).toString('utf8');
 */
export function open(keys: SealKey | SealKeyring, sealed: Uint8Array, options: SealOptions): Buffer {
  const rid = recordIdBytes(options);
  if (!(sealed instanceof Uint8Array)) throw new SealMalformed('it is not bytes (use openText for the text form)');
  const { keyId } = readSealHeader(sealed);
  const key = pickKey(keys, keyId);
  const end = sealed.byteLength - GCM_TAG_BYTES;
  const aad = Buffer.concat([sealed.subarray(0, HEADER_BYTES), rid]);
  return aesGcmDecrypt(
    sealKeyMaterial(key),
    sealed.subarray(NONCE_OFFSET, BODY_OFFSET),
    aad,
    sealed.subarray(BODY_OFFSET, end),
    sealed.subarray(end),
  );
}

/** The text form of a binary envelope: standard base64 with padding. */
export function encodeSealedText(sealed: Uint8Array): string {
  return Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength).toString('base64');
}

/** The binary envelope of a text form; anything but canonical base64 is `SEAL_MALFORMED`. */
export function decodeSealedText(text: string): Buffer {
  if (typeof text !== 'string') throw new SealMalformed('it is not text');
  const trimmed = text.trim();
  const bytes = Buffer.from(trimmed, 'base64');
  // Buffer.from skips characters it does not know; re-encoding shows any such liberty.
  if (bytes.toString('base64') !== trimmed) throw new SealMalformed('it is not the base64 text form of a sealed value');
  return bytes;
}

/**
 * {@link seal}, returning the base64 text form for a TEXT column or a file.
 *
 * @example
 * await store.setPeerKey(name, sealText(key, keyPem, { recordId: `peer:${name}:key` }));
 */
export function sealText(key: SealKey, plaintext: Uint8Array | string, options: SealOptions): string {
  return encodeSealedText(seal(key, plaintext, options));
}

/** {@link open} for the base64 text form made by {@link sealText}. */
export function openText(keys: SealKey | SealKeyring, sealed: string, options: SealOptions): Buffer {
  return open(keys, decodeSealedText(sealed), options);
}

/**
 * Rotation: open with the keyring and seal again under `current` (a fresh nonce), keeping
 * the form given (bytes in, bytes out; text in, text out). The plaintext copy is wiped.
 *
 * @example
 * if (readSealHeader(stored).keyId !== current.id) stored = reseal(ring, current, stored, { recordId });
 */
export function reseal(keys: SealKey | SealKeyring, current: SealKey, sealed: string, options: SealOptions): string;
export function reseal(keys: SealKey | SealKeyring, current: SealKey, sealed: Uint8Array, options: SealOptions): Buffer;
export function reseal(keys: SealKey | SealKeyring, current: SealKey, sealed: Uint8Array | string, options: SealOptions): Buffer | string {
  const plaintext = typeof sealed === 'string' ? openText(keys, sealed, options) : open(keys, sealed, options);
  try {
    const out = seal(current, plaintext, options);
    return typeof sealed === 'string' ? encodeSealedText(out) : out;
  } finally {
    plaintext.fill(0);
  }
}
