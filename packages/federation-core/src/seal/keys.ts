/**
 * Sealing keys, their ids, and keyrings (the keys one may open with, for rotation).
 */
import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';
import { AES_KEY_BYTES } from './aead.js';
import { SealArgumentInvalid } from './errors.js';
import { deriveKey, type MasterSecret } from './secret.js';

/** Bytes of a key id inside an envelope (16 hex characters as text). */
export const KEY_ID_BYTES = 8;

/**
 * A key's id: the first 8 bytes of SHA-256 over the key, lowercase hex. A public
 * fingerprint — it names the key in a blob (and in logs) without revealing it.
 *
 * @example
 * keyId(deriveKey(master, 'audit-hmac')); // '3f9c0a…' (16 hex digits)
 */
export function keyId(key: Uint8Array): string {
  return createHash('sha256').update(key).digest().subarray(0, KEY_ID_BYTES).toString('hex');
}

let material: (key: SealKey) => KeyObject;

/**
 * An AES-256 sealing key with its id. The key bytes stay inside a `KeyObject`; the value
 * prints and serialises as `SealKey(<id>)`.
 */
export class SealKey {
  /** {@link keyId} of the key: 16 lowercase hex digits. */
  readonly id: string;
  readonly #key: KeyObject;

  static {
    material = (key) => key.#key;
  }

  private constructor(bytes: Uint8Array) {
    this.id = keyId(bytes);
    this.#key = createSecretKey(bytes);
  }

  /**
   * The sealing key of a master secret (HKDF label `mosaic/seal/v1`).
   *
   * @example
   * const key = SealKey.fromMaster(parseMasterSecret(process.env.MOSAIC_SECRET ?? ''));
   */
  static fromMaster(master: MasterSecret): SealKey {
    const bytes = deriveKey(master, 'seal', AES_KEY_BYTES);
    try {
      return new SealKey(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /** A sealing key from 32 raw bytes (copied; wipe yours afterwards). Prefer {@link SealKey.fromMaster}. */
  static fromBytes(bytes: Uint8Array): SealKey {
    if (!(bytes instanceof Uint8Array) || bytes.byteLength !== AES_KEY_BYTES) {
      throw new SealArgumentInvalid(`a sealing key is ${AES_KEY_BYTES} bytes`);
    }
    return new SealKey(bytes);
  }

  /** The id, never the key. */
  toString(): string {
    return `SealKey(${this.id})`;
  }

  /** The id, never the key. */
  toJSON(): { id: string } {
    return { id: this.id };
  }

  /** The id, never the key, also under `console.log` / `util.inspect`. */
  [inspect.custom](): string {
    return this.toString();
  }
}

/** @internal The key material, for the envelope only (not exported by the barrel). */
export function sealKeyMaterial(key: SealKey): KeyObject {
  return material(key);
}

/** Keys one may open with, by key id. Build it with {@link createKeyring}. */
export type SealKeyring = ReadonlyMap<string, SealKey>;

/**
 * A keyring from the current key and any earlier ones, so values sealed before a rotation
 * still open while they are re-sealed under the current key.
 *
 * @example
 * const ring = createKeyring([current, previous]);
 * const pem = open(ring, blob, { recordId: 'ca:key' }).toString('utf8');
 */
export function createKeyring(keys: Iterable<SealKey>): SealKeyring {
  const ring = new Map<string, SealKey>();
  for (const key of keys) {
    if (!(key instanceof SealKey)) throw new SealArgumentInvalid('a keyring holds SealKey values');
    ring.set(key.id, key);
  }
  if (ring.size === 0) throw new SealArgumentInvalid('a keyring needs at least one key');
  return ring;
}
