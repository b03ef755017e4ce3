/**
 * The one AES-GCM primitive of the project: AES-256, 96-bit nonce, 128-bit tag, nothing
 * else. Internal to the seal module (the envelope is the public surface); it exists as its
 * own function so the Wycheproof vectors run through exactly the code the envelope uses.
 *
 * Anything else — a 128/192-bit key, a short or long nonce (GHASH-derived counters, the
 * zero-length nonce of CVE-2017-7822), a truncated tag (Node deprecates short GCM tags) —
 * is refused up front with `SEAL_PARAMS_UNSUPPORTED`, never passed on to OpenSSL.
 */
import { createCipheriv, createDecipheriv, type KeyObject } from 'node:crypto';
import { SealParamsUnsupported, SealTampered } from './errors.js';

/** AES-256: the key is 32 bytes. */
export const AES_KEY_BYTES = 32;
/** The nonce is 96 bits, the only size GCM uses directly as the counter block. */
export const GCM_NONCE_BYTES = 12;
/** The tag is always the full 128 bits. */
export const GCM_TAG_BYTES = 16;

const ALGORITHM = 'aes-256-gcm';

/** A 256-bit AES key: raw bytes or a secret `KeyObject`. */
export type AesKey = Uint8Array | KeyObject;

/** Ciphertext and tag, kept apart as in NIST SP 800-38D and the Wycheproof vectors. */
export interface AesGcmSealed {
  ciphertext: Buffer;
  tag: Buffer;
}

function checkKey(key: AesKey): void {
  if (key instanceof Uint8Array) {
    if (key.byteLength !== AES_KEY_BYTES) throw new SealParamsUnsupported(`key is ${key.byteLength * 8} bits, need 256`);
    return;
  }
  if (key.type !== 'secret' || key.symmetricKeySize !== AES_KEY_BYTES) {
    throw new SealParamsUnsupported(`key object is not a 256-bit secret key`);
  }
}

function checkNonce(iv: Uint8Array): void {
  if (iv.byteLength !== GCM_NONCE_BYTES) throw new SealParamsUnsupported(`nonce is ${iv.byteLength * 8} bits, need 96`);
}

/**
 * AES-256-GCM encryption with an explicit nonce. The caller owns nonce uniqueness: the
 * envelope draws a fresh random one per seal. Internal; use {@link seal} instead.
 *
 * @example
 * const { ciphertext, tag } = aesGcmEncrypt(key32, randomBytes(12), aad, plaintext);
 */
export function aesGcmEncrypt(key: AesKey, iv: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): AesGcmSealed {
  checkKey(key);
  checkNonce(iv);
  const cipher = createCipheriv(ALGORITHM, key, iv, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(aad);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

/**
 * AES-256-GCM decryption: returns the plaintext only once the tag has verified, and
 * throws `SEAL_TAMPERED` otherwise (the partial output is wiped, never returned).
 * Internal; use {@link open} instead.
 */
export function aesGcmDecrypt(key: AesKey, iv: Uint8Array, aad: Uint8Array, ciphertext: Uint8Array, tag: Uint8Array): Buffer {
  checkKey(key);
  checkNonce(iv);
  if (tag.byteLength !== GCM_TAG_BYTES) throw new SealParamsUnsupported(`tag is ${tag.byteLength * 8} bits, need 128`);
  const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: GCM_TAG_BYTES });
  decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  // update() hands out plaintext before the tag is checked; hold it until final() succeeds.
  const head = decipher.update(ciphertext);
  try {
    const tail = decipher.final();
    return tail.byteLength === 0 ? head : Buffer.concat([head, tail]);
  } catch {
    head.fill(0);
    throw new SealTampered();
  }
}
