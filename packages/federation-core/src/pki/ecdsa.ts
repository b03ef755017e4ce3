/**
 * ECDSA P-256 with SHA-256 on Node's crypto (OpenSSL), in both signature encodings: DER
 * (X.509, CSRs, CRLs) and IEEE P1363 `r||s` (WebCrypto, JOSE ES256). Checked against the
 * Wycheproof vectors.
 */
import { createPrivateKey, createPublicKey, KeyObject, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { KeyInvalidError } from './errors.js';
import type { WebCryptoKey } from './x509.js';

/** Signature encoding: `der` (ECDSA-Sig-Value) or `p1363` (64 bytes r||s). */
export type EcdsaSignatureEncoding = 'der' | 'p1363';

/** A P-256 public key: SPKI DER, SPKI PEM, a Node KeyObject or a WebCrypto key. */
export type EcdsaPublicKeyInput = Uint8Array | string | KeyObject | WebCryptoKey;
/** A P-256 private key: PKCS#8/SEC1 PEM, a Node KeyObject or a WebCrypto key. */
export type EcdsaPrivateKeyInput = string | KeyObject | WebCryptoKey;

const P1363_LENGTH = 64;

function requireP256(key: KeyObject): KeyObject {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new KeyInvalidError('an ECDSA P-256 key is required');
  }
  return key;
}

function publicKeyObject(key: EcdsaPublicKeyInput): KeyObject {
  let object: KeyObject;
  try {
    if (key instanceof KeyObject) object = key.type === 'private' ? createPublicKey(key) : key;
    else if (typeof key === 'string') object = createPublicKey(key);
    else if (key instanceof Uint8Array) object = createPublicKey({ key: Buffer.from(key.buffer, key.byteOffset, key.byteLength), format: 'der', type: 'spki' });
    else object = KeyObject.from(key);
  } catch (err) {
    throw new KeyInvalidError('the public key could not be decoded', { cause: err });
  }
  if (object.type !== 'public') throw new KeyInvalidError('a public key is required');
  return requireP256(object);
}

function privateKeyObject(key: EcdsaPrivateKeyInput): KeyObject {
  let object: KeyObject;
  try {
    if (key instanceof KeyObject) object = key;
    else if (typeof key === 'string') object = createPrivateKey(key);
    else object = KeyObject.from(key);
  } catch (err) {
    throw new KeyInvalidError('the private key could not be decoded', { cause: err });
  }
  if (object.type !== 'private') throw new KeyInvalidError('a private key is required');
  return requireP256(object);
}

/**
 * Verify an ECDSA P-256/SHA-256 signature. Malformed signatures are `false`, never an exception;
 * a key that is not P-256 is KEY_INVALID (a programming error, not a bad signature).
 * @example
 * verifyEcdsaP256(spkiDer, body, Buffer.from(sig, 'base64url'), 'p1363');
 */
export function verifyEcdsaP256(key: EcdsaPublicKeyInput, data: Uint8Array, signature: Uint8Array, encoding: EcdsaSignatureEncoding): boolean {
  const publicKey = publicKeyObject(key);
  // OpenSSL would read a short or long P1363 value as some other (r, s) split.
  if (encoding === 'p1363' && signature.length !== P1363_LENGTH) return false;
  try {
    return nodeVerify('sha256', data, { key: publicKey, dsaEncoding: encoding === 'der' ? 'der' : 'ieee-p1363' }, signature);
  } catch {
    /* v8 ignore next -- OpenSSL 3 answers false for every Wycheproof vector; kept so a future throw is not a crash */
    return false;
  }
}

/** Sign with ECDSA P-256/SHA-256 in the requested encoding. */
export function signEcdsaP256(key: EcdsaPrivateKeyInput, data: Uint8Array, encoding: EcdsaSignatureEncoding): Uint8Array {
  const privateKey = privateKeyObject(key);
  return new Uint8Array(nodeSign('sha256', data, { key: privateKey, dsaEncoding: encoding === 'der' ? 'der' : 'ieee-p1363' }));
}

/**
 * Re-encode a P1363 `r||s` signature (WebCrypto's output) as a DER ECDSA-Sig-Value, as X.509
 * and CRLs carry it.
 */
export function p1363ToDer(signature: Uint8Array): Uint8Array {
  if (signature.length === 0 || signature.length % 2 !== 0) throw new RangeError('a P1363 signature has an even, non-zero length');
  const half = signature.length / 2;
  const encodeInt = (bytes: Uint8Array): number[] => {
    let start = 0;
    while (start < bytes.length - 1 && bytes[start] === 0) start++;
    const body = Array.from(bytes.subarray(start));
    if (body[0]! & 0x80) body.unshift(0);
    return [0x02, body.length, ...body];
  };
  const content = [...encodeInt(signature.subarray(0, half)), ...encodeInt(signature.subarray(half))];
  const length = content.length < 0x80 ? [content.length] : [0x81, content.length];
  return Uint8Array.from([0x30, ...length, ...content]);
}
