/**
 * HKDF-SHA-256 (RFC 5869) over `crypto.hkdfSync`, with its limits checked first so that a
 * bad size is a typed error, not a Node `RangeError` — and never a silently short key.
 */
import { hkdfSync } from 'node:crypto';
import { KdfParamsInvalid } from './errors.js';

/** SHA-256 output size, in bytes. */
const HASH_BYTES = 32;
/** RFC 5869 §2.3: L ≤ 255·HashLen. */
export const HKDF_MAX_OUTPUT_BYTES = 255 * HASH_BYTES;
/** Node refuses a longer `info` (OpenSSL's limit); refused here first. */
export const HKDF_MAX_INFO_BYTES = 1024;

/**
 * HKDF-SHA-256: extract with `salt` (empty means HashLen zero bytes), expand with `info`
 * to `length` bytes (1..8160). Internal; derive keys with {@link deriveKey}.
 *
 * @example
 * const okm = hkdf(ikm, new Uint8Array(0), 'mosaic/seal/v1', 32);
 */
export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array | string, length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 1 || length > HKDF_MAX_OUTPUT_BYTES) {
    throw new KdfParamsInvalid(`output size ${String(length)} is outside 1..${HKDF_MAX_OUTPUT_BYTES} bytes`);
  }
  const infoBytes = typeof info === 'string' ? Buffer.from(info, 'utf8') : info;
  if (infoBytes.byteLength > HKDF_MAX_INFO_BYTES) {
    throw new KdfParamsInvalid(`info is ${infoBytes.byteLength} bytes, at most ${HKDF_MAX_INFO_BYTES}`);
  }
  return Buffer.from(hkdfSync('sha256', ikm, salt, infoBytes, length));
}
