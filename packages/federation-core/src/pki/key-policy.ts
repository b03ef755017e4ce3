/**
 * Which public keys Mosaic certifies: ECDSA P-256 or P-384 (named curves only), RSA 2048–4096
 * with an odd exponent of at least 65537. Everything else — RSA 1024, P-192, P-521, Ed25519,
 * explicit curve parameters, RSA-PSS keys — is refused with a sentence saying why.
 *
 * The SubjectPublicKeyInfo is checked twice: structurally here (strict DER, so the bytes we
 * certify are exactly the bytes that were checked), then by OpenSSL through Node, which
 * validates the point is on the curve and the modulus parses.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { DerCursor, DerError, decodeBitString, decodeOid, readSingle, Tag, valueOf } from './der.js';
import { Oid } from './oids.js';

/** What kind of key was accepted. */
export type KeyDescription = { readonly type: 'ec'; readonly curve: 'P-256' | 'P-384' } | { readonly type: 'rsa'; readonly bits: number };

/** A public key that passed the policy. */
export interface AcceptedPublicKey {
  readonly description: KeyDescription;
  /** The SubjectPublicKeyInfo DER exactly as checked. */
  readonly spki: Uint8Array;
  readonly keyObject: KeyObject;
}

/** A key outside policy or malformed; callers turn it into their own typed error. */
export class KeyPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyPolicyError';
  }
}

const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 4096;
const MIN_RSA_EXPONENT = 65537n;

const CURVES: ReadonlyMap<string, { name: 'P-256' | 'P-384'; nodeName: string; pointBytes: number }> = new Map([
  [Oid.p256, { name: 'P-256', nodeName: 'prime256v1', pointBytes: 32 }],
  [Oid.p384, { name: 'P-384', nodeName: 'secp384r1', pointBytes: 48 }],
]);

const REFUSED_CURVES: ReadonlyMap<string, string> = new Map([
  [Oid.p192, 'P-192 (prime192v1) is too weak'],
  [Oid.p521, 'P-521 is not supported (use P-256)'],
]);

/**
 * Check a SubjectPublicKeyInfo against the policy.
 * @throws KeyPolicyError saying what is wrong with the key
 */
export function checkPublicKey(spki: Uint8Array): AcceptedPublicKey {
  let algorithm: string;
  let parameters: { tag: number; value: Uint8Array } | undefined;
  let keyBits: Uint8Array;
  try {
    const root = readSingle(spki, Tag.SEQUENCE, 'SubjectPublicKeyInfo');
    const outer = new DerCursor(spki, root);
    const algTlv = outer.next(Tag.SEQUENCE, 'the key AlgorithmIdentifier');
    const bitsTlv = outer.next(Tag.BIT_STRING, 'the subjectPublicKey BIT STRING');
    outer.finish('SubjectPublicKeyInfo');
    const alg = new DerCursor(spki, algTlv);
    algorithm = decodeOid(valueOf(spki, alg.next(Tag.OID, 'the key algorithm OID')));
    if (alg.hasMore()) {
      const p = alg.next();
      parameters = { tag: p.tag, value: valueOf(spki, p) };
    }
    alg.finish('the key AlgorithmIdentifier');
    const bits = decodeBitString(valueOf(spki, bitsTlv));
    if (bits.unusedBits !== 0) throw new KeyPolicyError('the public key BIT STRING has unused bits');
    keyBits = bits.bytes;
  } catch (err) {
    if (err instanceof DerError) throw new KeyPolicyError(`the public key is not valid DER (${err.message})`);
    throw err;
  }

  if (algorithm === Oid.ecPublicKey) return checkEcKey(spki, parameters, keyBits);
  if (algorithm === Oid.rsaEncryption) return checkRsaKey(spki, parameters);
  if (algorithm === Oid.ed25519 || algorithm === Oid.ed448) {
    throw new KeyPolicyError(`${algorithm === Oid.ed25519 ? 'Ed25519' : 'Ed448'} keys are not supported (use ECDSA P-256)`);
  }
  if (algorithm === Oid.rsassaPss) throw new KeyPolicyError('RSA-PSS-only keys are not supported (use an rsaEncryption key or ECDSA P-256)');
  throw new KeyPolicyError(`key algorithm ${algorithm} is not supported (use ECDSA P-256)`);
}

function checkEcKey(spki: Uint8Array, parameters: { tag: number; value: Uint8Array } | undefined, point: Uint8Array): AcceptedPublicKey {
  if (!parameters) throw new KeyPolicyError('the EC key names no curve');
  if (parameters.tag !== Tag.OID) throw new KeyPolicyError('explicit EC curve parameters are not accepted (use the named curve P-256)');
  let curveOid: string;
  try {
    curveOid = decodeOid(parameters.value);
  } catch {
    throw new KeyPolicyError('the EC curve identifier is not a valid OID');
  }
  const refused = REFUSED_CURVES.get(curveOid);
  if (refused) throw new KeyPolicyError(refused);
  const curve = CURVES.get(curveOid);
  if (!curve) throw new KeyPolicyError(`EC curve ${curveOid} is not supported (use P-256)`);
  const uncompressed = point.length === 1 + 2 * curve.pointBytes && point[0] === 0x04;
  const compressed = point.length === 1 + curve.pointBytes && (point[0] === 0x02 || point[0] === 0x03);
  if (!uncompressed && !compressed) throw new KeyPolicyError(`the ${curve.name} public point has the wrong size or form`);
  const keyObject = importSpki(spki);
  const details = keyObject.asymmetricKeyDetails;
  /* v8 ignore next 3 -- OpenSSL agreeing on the curve is a cross-check; the DER check above already decided */
  if (keyObject.asymmetricKeyType !== 'ec' || details?.namedCurve !== curve.nodeName) {
    throw new KeyPolicyError(`OpenSSL reads this key differently (${String(details?.namedCurve)})`);
  }
  return { description: { type: 'ec', curve: curve.name }, spki, keyObject };
}

function checkRsaKey(spki: Uint8Array, parameters: { tag: number; value: Uint8Array } | undefined): AcceptedPublicKey {
  if (parameters && !(parameters.tag === Tag.NULL && parameters.value.length === 0)) {
    throw new KeyPolicyError('rsaEncryption key parameters must be NULL');
  }
  const keyObject = importSpki(spki);
  /* v8 ignore next -- rsaEncryption always imports as 'rsa'; kept as a cross-check */
  if (keyObject.asymmetricKeyType !== 'rsa') throw new KeyPolicyError('OpenSSL does not read this as an RSA key');
  const bits = keyObject.asymmetricKeyDetails?.modulusLength ?? 0;
  const exponent = keyObject.asymmetricKeyDetails?.publicExponent ?? 0n;
  if (bits < MIN_RSA_BITS) throw new KeyPolicyError(`RSA ${bits} is too weak (at least ${MIN_RSA_BITS} bits)`);
  if (bits > MAX_RSA_BITS) throw new KeyPolicyError(`RSA ${bits} is larger than the ${MAX_RSA_BITS}-bit limit`);
  if (exponent < MIN_RSA_EXPONENT || exponent % 2n === 0n) throw new KeyPolicyError('the RSA public exponent must be odd and at least 65537');
  return { description: { type: 'rsa', bits }, spki, keyObject };
}

function importSpki(spki: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: Buffer.from(spki.buffer, spki.byteOffset, spki.byteLength), format: 'der', type: 'spki' });
  } catch {
    throw new KeyPolicyError('OpenSSL cannot read the public key (for an EC key: the point is not on the curve)');
  }
}

/** Display form of a key description: `ECDSA P-256`, `RSA 3072`. */
export function describeKey(description: KeyDescription): string {
  return description.type === 'ec' ? `ECDSA ${description.curve}` : `RSA ${description.bits}`;
}
