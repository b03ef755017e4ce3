/**
 * The master secret (`MOSAIC_SECRET`) and the keys derived from it.
 *
 * Derivation, exactly (so another tool can reproduce a key):
 *   key = HKDF-SHA-256(IKM = the decoded secret bytes, salt = empty (RFC 5869: HashLen
 *         zero bytes), info = UTF-8 of the purpose's label, L = length)
 * e.g. `openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:<secret hex>
 *       -kdfopt info:mosaic/seal/v1 HKDF`.
 * One label per purpose keeps the sealing key, the audit HMAC key and the cursor key
 * independent although one secret backs them all.
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { KdfParamsInvalid, MasterSecretInvalid, SealArgumentInvalid } from './errors.js';
import { hkdf } from './hkdf.js';

/** The least entropy accepted in a master secret, in bytes. */
export const MASTER_SECRET_MIN_BYTES = 32;

/** The HKDF `info` label of each purpose a key is derived for. Distinct by construction. */
export const KEY_PURPOSES = {
  /** AES-256-GCM key of the seal envelope (CA key, peers' client keys). */
  seal: 'mosaic/seal/v1',
  /** HMAC-SHA-256 key of the audit rows' `queryHash`. */
  'audit-hmac': 'mosaic/audit-hmac/v1',
  /** Key that authenticates list cursors. */
  cursor: 'mosaic/cursor/v1',
} as const;

/** A named purpose from {@link KEY_PURPOSES}. */
export type KeyPurpose = keyof typeof KEY_PURPOSES;
/** A custom label of the same shape, for a purpose not (yet) in {@link KEY_PURPOSES}. */
export type KeyLabel = `mosaic/${string}/v${number}`;

const LABEL = /^mosaic\/[a-z0-9][a-z0-9-]*\/v[1-9][0-9]*$/;
const EMPTY_SALT = new Uint8Array(0);

let secretBytes: (secret: MasterSecret) => Buffer;
let makeSecret: (bytes: Buffer) => MasterSecret;
const VERIFIED: unique symbol = Symbol('verified master secret');

/**
 * A parsed master secret, made only by {@link parseMasterSecret}. Its bytes stay inside:
 * it prints, logs and serialises as `MasterSecret(<redacted>)`, and the only way to use
 * it is {@link deriveKey}.
 */
export class MasterSecret {
  readonly #bytes: Buffer;

  static {
    secretBytes = (secret) => secret.#bytes;
    makeSecret = (bytes) => new MasterSecret(VERIFIED, bytes);
  }

  private constructor(token: typeof VERIFIED, bytes: Buffer) {
    // `private` is a compile-time word; this keeps untyped callers from skipping the checks.
    if (token !== VERIFIED) throw new SealArgumentInvalid('a MasterSecret comes from parseMasterSecret()');
    this.#bytes = bytes;
  }

  /** Number of secret bytes (≥ 32). */
  get byteLength(): number {
    return this.#bytes.byteLength;
  }

  /** Never the bytes. */
  toString(): string {
    return 'MasterSecret(<redacted>)';
  }

  /** Never the bytes. */
  toJSON(): string {
    return this.toString();
  }

  /** Never the bytes, also under `console.log` / `util.inspect`. */
  [inspect.custom](): string {
    return this.toString();
  }
}

/**
 * Decode base64 (standard or URL-safe alphabet, padded or not, line breaks allowed as
 * `openssl rand -base64 64` writes them) strictly: one alphabet, canonical trailing bits.
 */
function decodeBase64Strict(text: string): Buffer | undefined {
  const compact = text.replace(/[\t\n\r ]/g, '');
  if (/[+/]/.test(compact) && /[-_]/.test(compact)) return undefined;
  const normal = compact.replace(/-/g, '+').replace(/_/g, '/');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(normal)) return undefined;
  const unpadded = normal.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return undefined;
  if (normal.length !== unpadded.length && normal.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(unpadded, 'base64');
  if (bytes.toString('base64').replace(/=+$/, '') !== unpadded) return undefined;
  return bytes;
}

/**
 * Parse a master secret: base64 (standard or URL-safe) of at least 32 random bytes.
 * Refusals say why and how to make one, never echoing the input.
 *
 * @param source what to call the input in errors (`MOSAIC_SECRET`, a file path).
 * @example
 * const master = parseMasterSecret(process.env.MOSAIC_SECRET ?? '', 'MOSAIC_SECRET');
 */
export function parseMasterSecret(text: string, source = 'MOSAIC_SECRET'): MasterSecret {
  if (typeof text !== 'string' || text.trim() === '') throw new MasterSecretInvalid(source, 'it is empty');
  const bytes = decodeBase64Strict(text.trim());
  if (bytes === undefined) throw new MasterSecretInvalid(source, 'it is not base64 (standard or URL-safe alphabet)');
  if (bytes.byteLength < MASTER_SECRET_MIN_BYTES) {
    bytes.fill(0);
    throw new MasterSecretInvalid(source, `it decodes to ${bytes.byteLength} bytes, at least ${MASTER_SECRET_MIN_BYTES} are needed`);
  }
  // A run of one byte value (base64 of zeros, say) is a placeholder, not a secret.
  if (bytes.every((b) => b === bytes[0])) {
    bytes.fill(0);
    throw new MasterSecretInvalid(source, 'all its bytes are equal, so it is not random');
  }
  return makeSecret(bytes);
}

/**
 * A new master secret: 32 bytes from the CSPRNG, as the standard base64 text to store
 * (`MOSAIC_SECRET`, the OS keyring, or the 0600 secret file). Parse it to use it.
 *
 * @example
 * const text = generateMasterSecret(); // store it, then:
 * const master = parseMasterSecret(text);
 */
export function generateMasterSecret(): string {
  return randomBytes(MASTER_SECRET_MIN_BYTES).toString('base64');
}

/** The HKDF `info` label for a purpose name or a custom `mosaic/<name>/v<n>` label. */
export function keyLabel(purpose: KeyPurpose | KeyLabel): string {
  if (Object.hasOwn(KEY_PURPOSES, purpose)) return KEY_PURPOSES[purpose as KeyPurpose];
  if (typeof purpose === 'string' && LABEL.test(purpose)) return purpose;
  throw new SealArgumentInvalid(`key purpose ${JSON.stringify(purpose)} is neither one of ${Object.keys(KEY_PURPOSES).join(', ')} nor a label like mosaic/<name>/v1`);
}

/**
 * Derive a purpose-bound key from the master secret with HKDF-SHA-256 (16..64 bytes,
 * default 32). The same master and purpose always give the same key.
 *
 * @example
 * const auditKey = deriveKey(master, 'audit-hmac');
 * const queryHash = createHmac('sha256', auditKey).update(canonicalJson).digest('hex');
 */
export function deriveKey(master: MasterSecret, purpose: KeyPurpose | KeyLabel, length = 32): Buffer {
  if (!(master instanceof MasterSecret)) throw new SealArgumentInvalid('deriveKey needs a MasterSecret from parseMasterSecret()');
  if (!Number.isSafeInteger(length) || length < 16 || length > 64) {
    throw new KdfParamsInvalid(`a derived key is 16..64 bytes, not ${String(length)}`);
  }
  return hkdf(secretBytes(master), EMPTY_SALT, keyLabel(purpose), length);
}
