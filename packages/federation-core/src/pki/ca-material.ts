/**
 * A CA as the issuing functions take it — its certificate and key pair — checked before use:
 * it must be a CA, able to sign what is asked, valid now, and its key must be the certified one.
 * Signing with a key that does not match the certificate would produce certificates nobody
 * can verify; catching it here turns a silent outage into one clear error.
 */
import type { CertificateDer } from './certificate-der.js';
import { loadCertificate, type CertificateInput } from './certificate-input.js';
import { bitIsSet, bytesEqual, DerCursor, DerError, decodeBitString, decodeBoolean, readSingle, Tag, toHex, valueOf } from './der.js';
import { CaInvalidError, CertMalformedError } from './errors.js';
import { Oid } from './oids.js';
import { defaultCrypto, ecdsaSigningAlgorithm, type WebCrypto, type WebCryptoKey, type WebCryptoKeyPair } from './x509.js';

/** What issuing and CRL functions need from a CA. */
export interface CaMaterial {
  /** The CA certificate. */
  readonly cert: CertificateInput;
  /** Its key pair; the private key must have the `sign` usage. */
  readonly keys: WebCryptoKeyPair;
}

/** A CA that passed {@link resolveCa}. */
export interface ResolvedCa {
  readonly cert: CertificateDer;
  readonly signingKey: WebCryptoKey;
  readonly signingAlgorithm: { name: 'ECDSA'; hash: 'SHA-256' | 'SHA-384' };
  /** Hex of the CA's subjectKeyIdentifier: what AKI in everything it signs must carry. */
  readonly keyIdentifierHex: string;
}

/** Key usage bit positions (RFC 5280 §4.2.1.3). */
export const KeyUsageBit = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
} as const;

/** Decoded basicConstraints: `{ ca, pathLength }`. */
export function decodeBasicConstraints(value: Uint8Array): { ca: boolean; pathLength: bigint | undefined } {
  const root = readSingle(value, Tag.SEQUENCE, 'basicConstraints');
  const cursor = new DerCursor(value, root);
  let ca = false;
  const caTlv = cursor.optional(Tag.BOOLEAN);
  if (caTlv) {
    ca = decodeBoolean(valueOf(value, caTlv));
    if (!ca) throw new DerError('invalid-value', 'basicConstraints encodes cA=FALSE, which DER omits');
  }
  let pathLength: bigint | undefined;
  const pathTlv = cursor.optional(Tag.INTEGER);
  if (pathTlv) {
    const bytes = valueOf(value, pathTlv);
    if (bytes.length === 0 || bytes.length > 4 || bytes[0]! & 0x80) throw new DerError('invalid-value', 'pathLenConstraint is not a small non-negative INTEGER');
    pathLength = BigInt(`0x${toHex(bytes)}`);
  }
  cursor.finish('basicConstraints');
  return { ca, pathLength };
}

/** Decoded keyUsage as a bit string. */
export function decodeKeyUsage(value: Uint8Array): (bit: number) => boolean {
  const tlv = readSingle(value, Tag.BIT_STRING, 'keyUsage');
  const bits = decodeBitString(valueOf(value, tlv));
  return (bit: number) => bitIsSet(bits, bit);
}

/** The value of the only extension with `oid`, undefined when absent; duplicates are malformed. */
export function singleExtension(cert: CertificateDer, oid: string): { critical: boolean; value: Uint8Array } | undefined {
  let found: { critical: boolean; value: Uint8Array } | undefined;
  for (const ext of cert.extensions) {
    if (ext.oid !== oid) continue;
    if (found) throw new CertMalformedError(`extension ${oid} appears more than once`);
    found = ext;
  }
  return found;
}

/** The keyIdentifier inside a subjectKeyIdentifier value (an OCTET STRING). */
export function decodeSubjectKeyIdentifier(value: Uint8Array): Uint8Array {
  const tlv = readSingle(value, Tag.OCTET_STRING, 'subjectKeyIdentifier');
  const id = valueOf(value, tlv);
  if (id.length === 0) throw new DerError('invalid-value', 'empty subjectKeyIdentifier');
  return id;
}

/**
 * Check a CA for signing at `now`: certificate is a v3 CA with keyCertSign (and cRLSign when
 * `forCrl`), currently valid, with an SKI, and `keys` is its key pair.
 * @throws CA_INVALID naming what is wrong
 */
export async function resolveCa(ca: CaMaterial, options: { now: Date; forCrl?: boolean; crypto?: WebCrypto }): Promise<ResolvedCa> {
  const crypto = options.crypto ?? defaultCrypto;
  let cert: CertificateDer;
  try {
    cert = loadCertificate(ca.cert);
  } catch (err) {
    throw new CaInvalidError('its certificate cannot be parsed', { cause: err });
  }
  let keyIdentifier: Uint8Array;
  try {
    const bc = singleExtension(cert, Oid.basicConstraints);
    if (!bc || !decodeBasicConstraints(bc.value).ca) throw new CaInvalidError('its certificate is not a CA certificate (basicConstraints CA:TRUE)');
    const ku = singleExtension(cert, Oid.keyUsage);
    const usage = ku ? decodeKeyUsage(ku.value) : undefined;
    if (!usage?.(KeyUsageBit.keyCertSign)) throw new CaInvalidError('its certificate lacks the keyCertSign key usage');
    if (options.forCrl && !usage(KeyUsageBit.cRLSign)) throw new CaInvalidError('its certificate lacks the cRLSign key usage');
    const ski = singleExtension(cert, Oid.subjectKeyIdentifier);
    if (!ski) throw new CaInvalidError('its certificate has no subjectKeyIdentifier');
    keyIdentifier = decodeSubjectKeyIdentifier(ski.value);
  } catch (err) {
    if (err instanceof DerError || CertMalformedError.is(err)) throw new CaInvalidError('its certificate extensions are malformed', { cause: err });
    throw err;
  }
  if (options.now < cert.notBefore) throw new CaInvalidError(`its certificate is not valid before ${cert.notBefore.toISOString()}`);
  if (options.now > cert.notAfter) throw new CaInvalidError(`its certificate expired at ${cert.notAfter.toISOString()}`);

  const { privateKey, publicKey } = ca.keys;
  if (privateKey?.type !== 'private' || !privateKey.usages.includes('sign')) throw new CaInvalidError('its private key is missing or cannot sign');
  const signingAlgorithm = ecdsaSigningAlgorithm(privateKey);
  if (!signingAlgorithm) throw new CaInvalidError('its key is not ECDSA P-256 or P-384');
  if (publicKey?.type !== 'public') throw new CaInvalidError('its public key is missing');
  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', publicKey));
  if (!bytesEqual(spki, cert.spki)) throw new CaInvalidError('its key pair does not match the key in its certificate');
  return { cert, signingKey: privateKey, signingAlgorithm, keyIdentifierHex: toHex(keyIdentifier) };
}
