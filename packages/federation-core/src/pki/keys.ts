/**
 * ECDSA key pairs (WebCrypto) and their PEM forms: PKCS#8 for private keys, SPKI for public
 * keys. The private key of a peer never leaves the requesting side; these functions are how it
 * is made, sealed (as PKCS#8) and restored.
 */
import { createPrivateKey, createPublicKey, KeyObject } from 'node:crypto';
import { KeyInvalidError } from './errors.js';
import { decodePem, decodePemBlock, encodePem, PemError } from './pem.js';
import { defaultCrypto, type WebCrypto, type WebCryptoKey, type WebCryptoKeyPair } from './x509.js';

/** The curve Mosaic generates. P-384 keys can be imported (a CA migrated from elsewhere). */
export const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;

/** Options for {@link generateKeyPair}. */
export interface GenerateKeyPairOptions {
  /**
   * Whether the private key can be exported. Default true: the gateway seals the PKCS#8 at rest.
   * Pass false for a key that lives only in memory.
   */
  extractable?: boolean;
  crypto?: WebCrypto;
}

/** Generate an ECDSA P-256 key pair. */
export async function generateKeyPair(options: GenerateKeyPairOptions = {}): Promise<WebCryptoKeyPair> {
  const crypto = options.crypto ?? defaultCrypto;
  return crypto.subtle.generateKey(KEY_ALGORITHM, options.extractable ?? true, ['sign', 'verify']);
}

/** PKCS#8 PEM of a private key (which must be extractable). Handle the result as a secret. */
export async function exportPrivateKeyPem(privateKey: WebCryptoKey, crypto: WebCrypto = defaultCrypto): Promise<string> {
  if (privateKey.type !== 'private') throw new KeyInvalidError('a private key is required');
  if (!privateKey.extractable) throw new KeyInvalidError('the private key was created non-extractable');
  const der = new Uint8Array(await crypto.subtle.exportKey('pkcs8', privateKey));
  try {
    return encodePem(der, 'PRIVATE KEY');
  } finally {
    der.fill(0);
  }
}

/** Options for {@link importPrivateKeyPem}. */
export interface ImportPrivateKeyOptions {
  /** Default true, so the key can be sealed again after a rotation of the master secret. */
  extractable?: boolean;
  crypto?: WebCrypto;
}

/**
 * Read an unencrypted ECDSA P-256/P-384 private key (PKCS#8 `PRIVATE KEY` or SEC1
 * `EC PRIVATE KEY`) and return the key pair, the public half derived from it.
 * @example
 * const keys = await importPrivateKeyPem(unsealed);
 * const csrPem = await createCsr({ keys });
 */
export async function importPrivateKeyPem(pem: string, options: ImportPrivateKeyOptions = {}): Promise<WebCryptoKeyPair> {
  const crypto = options.crypto ?? defaultCrypto;
  let keyObject: KeyObject;
  try {
    const block = decodePemBlock(pem, ['PRIVATE KEY', 'EC PRIVATE KEY'], 64 * 1024);
    const der = Buffer.from(block.der.buffer, block.der.byteOffset, block.der.byteLength);
    try {
      keyObject = createPrivateKey({ key: der, format: 'der', type: block.label === 'EC PRIVATE KEY' ? 'sec1' : 'pkcs8' });
    } finally {
      der.fill(0);
    }
  } catch (err) {
    if (err instanceof PemError) throw new KeyInvalidError(err.message);
    // Node's decoder messages carry no key bytes, but say nothing useful either.
    throw new KeyInvalidError('the private key could not be decoded (expected unencrypted PKCS#8 or SEC1 DER)', { cause: err });
  }
  return keyPairFromKeyObject(keyObject, options.extractable ?? true, crypto);
}

/** Turn a Node private KeyObject (ECDSA P-256/P-384) into a WebCrypto key pair. */
export async function keyPairFromKeyObject(keyObject: KeyObject, extractable: boolean, crypto: WebCrypto = defaultCrypto): Promise<WebCryptoKeyPair> {
  if (keyObject.type !== 'private') throw new KeyInvalidError('a private key is required');
  if (keyObject.asymmetricKeyType !== 'ec') throw new KeyInvalidError(`expected an ECDSA key, got ${keyObject.asymmetricKeyType ?? 'an unknown type'}`);
  const nodeCurve = keyObject.asymmetricKeyDetails?.namedCurve;
  const namedCurve = nodeCurve === 'prime256v1' ? 'P-256' : nodeCurve === 'secp384r1' ? 'P-384' : undefined;
  if (!namedCurve) throw new KeyInvalidError(`curve ${nodeCurve ?? 'unknown'} is not supported (use P-256)`);
  const algorithm = { name: 'ECDSA', namedCurve };
  const pkcs8 = keyObject.export({ type: 'pkcs8', format: 'der' });
  try {
    const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, algorithm, extractable, ['sign']);
    const spki = createPublicKey(keyObject).export({ type: 'spki', format: 'der' });
    const publicKey = await crypto.subtle.importKey('spki', spki, algorithm, true, ['verify']);
    return { privateKey, publicKey };
  } finally {
    pkcs8.fill(0);
  }
}

/** SPKI DER of a public key given as a WebCrypto key, a Node KeyObject, SPKI DER, or PEM. */
export async function publicKeySpki(key: PublicKeyInput, crypto: WebCrypto = defaultCrypto): Promise<Uint8Array> {
  if (typeof key === 'string') {
    try {
      return decodePem(key, ['PUBLIC KEY'], 64 * 1024);
    } catch (err) {
      /* v8 ignore next -- decodePem only throws PemError */
      throw new KeyInvalidError(err instanceof PemError ? err.message : 'the public key PEM could not be read');
    }
  }
  if (key instanceof Uint8Array) return key;
  if (key instanceof KeyObject) {
    if (key.type === 'secret') throw new KeyInvalidError('a public key is required, got a secret key');
    const pub = key.type === 'private' ? createPublicKey(key) : key;
    return new Uint8Array(pub.export({ type: 'spki', format: 'der' }));
  }
  if (key.type === 'secret') throw new KeyInvalidError('a public key is required, got a secret key');
  if (key.type === 'private') throw new KeyInvalidError('a public key is required, got a private CryptoKey');
  return new Uint8Array(await crypto.subtle.exportKey('spki', key));
}

/** Accepted forms of a public key. */
export type PublicKeyInput = WebCryptoKey | KeyObject | Uint8Array | string;

/** SPKI PEM (`PUBLIC KEY`) of a public key. */
export async function exportPublicKeyPem(key: PublicKeyInput, crypto: WebCrypto = defaultCrypto): Promise<string> {
  return encodePem(await publicKeySpki(key, crypto), 'PUBLIC KEY');
}

/**
 * Import an ECDSA public key (SPKI PEM or DER) as a WebCrypto verification key.
 * @example
 * const key = await importPublicKeyPem(pem);
 * await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, key, sig, data);
 */
export async function importPublicKeyPem(pem: string | Uint8Array, crypto: WebCrypto = defaultCrypto): Promise<WebCryptoKey> {
  const spki = await publicKeySpki(pem, crypto);
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (err) {
    throw new KeyInvalidError('the public key could not be decoded', { cause: err });
  }
  const nodeCurve = keyObject.asymmetricKeyDetails?.namedCurve;
  const namedCurve = nodeCurve === 'prime256v1' ? 'P-256' : nodeCurve === 'secp384r1' ? 'P-384' : undefined;
  if (keyObject.asymmetricKeyType !== 'ec' || !namedCurve) throw new KeyInvalidError('expected an ECDSA P-256 or P-384 public key');
  return crypto.subtle.importKey('spki', Buffer.from(spki), { name: 'ECDSA', namedCurve }, true, ['verify']);
}
