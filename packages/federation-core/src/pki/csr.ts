/**
 * PKCS#10 certificate requests. A CSR proves possession of a key and nothing else: the CA
 * decides subject, extensions and validity itself, so the only thing ever taken from a CSR is
 * its public key — after the self-signature has been checked over the exact signed bytes.
 */
import { CsrInvalidError } from './errors.js';
import { DerCursor, DerError, decodeBitString, decodeInteger, decodeOid, encodingOf, readSingle, Tag, valueOf, type Tlv } from './der.js';
import { checkPublicKey, KeyPolicyError, type KeyDescription } from './key-policy.js';
import { validateCommonName } from './names.js';
import { Oid } from './oids.js';
import { decodePem, encodePem, PemError } from './pem.js';
import { acceptedSignatureAlgorithm, parseAlgorithmIdentifier, verifySignature } from './signature-algorithm.js';
import { defaultCrypto, ecdsaSigningAlgorithm, toArrayBuffer, x509, type WebCrypto, type WebCryptoKeyPair } from './x509.js';

/** PEM text above this is refused before any parsing (an enrollment body is capped at 64 KiB). */
export const MAX_CSR_PEM_BYTES = 64 * 1024;
/** An RSA-4096 CSR with a few attributes is under 2 KiB; 16 KiB leaves ample room. */
export const MAX_CSR_DER_BYTES = 16 * 1024;

/** Options for {@link createCsr}. */
export interface CreateCsrOptions {
  keys: WebCryptoKeyPair;
  /** Subject CN to request. Informational only: the serving CA sets the subject itself. */
  commonName?: string;
  crypto?: WebCrypto;
}

/**
 * Make a PEM CSR for an ECDSA key pair, signed with it.
 * @example
 * const keys = await generateKeyPair();
 * const csrPem = await createCsr({ keys, commonName: 'home' });
 */
export async function createCsr(options: CreateCsrOptions): Promise<string> {
  const crypto = options.crypto ?? defaultCrypto;
  const signingAlgorithm = ecdsaSigningAlgorithm(options.keys.privateKey);
  if (!signingAlgorithm) throw new CsrInvalidError('the key pair must be ECDSA P-256 or P-384');
  const name =
    options.commonName === undefined
      ? undefined
      : new x509.Name([{ [Oid.commonName]: [{ utf8String: validateCommonName(options.commonName, 'commonName', CsrInvalidError) }] }]);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { ...(name ? { name } : {}), keys: options.keys, signingAlgorithm },
    crypto,
  );
  return encodePem(new Uint8Array(csr.rawData), 'CERTIFICATE REQUEST');
}

/** A CSR whose self-signature verified and whose key is within policy. */
export interface ParsedCsr {
  /** The CSR DER as received. */
  readonly der: Uint8Array;
  /** The SubjectPublicKeyInfo DER: the only thing an issued certificate takes from the CSR. */
  readonly spki: Uint8Array;
  readonly key: KeyDescription;
  /** e.g. `ecdsa-with-SHA256`. */
  readonly signatureAlgorithm: string;
  /** The subject the requester asked for — untrusted, for display only, never copied. */
  readonly requestedSubject: string;
  /** OIDs of extensions the requester asked for — untrusted, for display only, never copied. */
  readonly requestedExtensions: readonly string[];
}

// Only objects made by parseCsr are trusted by the issuer: a hand-built ParsedCsr would skip
// the signature check.
const verifiedCsrs = new WeakSet<ParsedCsr>();

/** True when `csr` came out of {@link parseCsr} (and so was verified). */
export function isVerifiedCsr(csr: unknown): csr is ParsedCsr {
  return typeof csr === 'object' && csr !== null && verifiedCsrs.has(csr as ParsedCsr);
}

/**
 * Parse a CSR (PEM or DER), verify its self-signature and apply the key policy.
 * @throws CSR_INVALID (400) saying what is wrong and how to fix it
 * @example
 * const csr = parseCsr(body.csrPem);   // before the enrollment token is claimed
 * const issued = await issueClientCertificate({ ca, csr, peerName, grantId, subjectUserId });
 */
export function parseCsr(input: string | Uint8Array): ParsedCsr {
  const der = csrDer(input);
  let criTlv: Tlv;
  let spkiBytes: Uint8Array;
  let subjectBytes: Uint8Array;
  let requestedExtensions: string[];
  let algTlv: Tlv;
  let signatureTlv: Tlv;
  try {
    const root = readSingle(der, Tag.SEQUENCE, 'the CSR');
    const outer = new DerCursor(der, root);
    criTlv = outer.next(Tag.SEQUENCE, 'CertificationRequestInfo');
    algTlv = outer.next(Tag.SEQUENCE, 'the signature AlgorithmIdentifier');
    signatureTlv = outer.next(Tag.BIT_STRING, 'the signature');
    outer.finish('the CSR');

    const cri = new DerCursor(der, criTlv);
    const version = decodeInteger(valueOf(der, cri.next(Tag.INTEGER, 'the CSR version')));
    if (version !== 0n) throw new DerError('invalid-value', `CSR version ${version} is unknown (only v1, encoded 0, exists)`);
    subjectBytes = encodingOf(der, cri.next(Tag.SEQUENCE, 'the subject Name'));
    spkiBytes = encodingOf(der, cri.next(Tag.SEQUENCE, 'the SubjectPublicKeyInfo'));
    // PKCS#10 makes the attributes field mandatory, but some encoders drop it when empty.
    const attributes = cri.optional(0xa0);
    cri.finish('CertificationRequestInfo');
    requestedExtensions = attributes ? readRequestedExtensions(der, attributes) : [];
  } catch (err) {
    if (err instanceof DerError) throw new CsrInvalidError(`it is not a valid DER PKCS#10 request (${err.message})`);
    /* v8 ignore next */
    throw err;
  }

  let accepted;
  try {
    accepted = checkPublicKey(spkiBytes);
  } catch (err) {
    /* v8 ignore next */
    if (!(err instanceof KeyPolicyError)) throw err;
    throw new CsrInvalidError(err.message);
  }

  let signatureAlgorithm;
  let signature: Uint8Array;
  try {
    const alg = parseAlgorithmIdentifier(der, algTlv);
    signatureAlgorithm = acceptedSignatureAlgorithm(alg);
    if (!signatureAlgorithm) throw new CsrInvalidError(`its signature algorithm ${alg.oid} is not accepted (use ECDSA or RSA with SHA-256 or stronger)`);
    const bits = decodeBitString(valueOf(der, signatureTlv));
    if (bits.unusedBits !== 0) throw new DerError('invalid-value', 'the signature BIT STRING has unused bits');
    signature = bits.bytes;
  } catch (err) {
    if (err instanceof DerError) throw new CsrInvalidError(`its signature field is malformed (${err.message})`);
    throw err;
  }
  if (!verifySignature(signatureAlgorithm, encodingOf(der, criTlv), signature, accepted.keyObject)) {
    throw new CsrInvalidError('its self-signature does not verify (the request was altered, or signed with a different key)');
  }

  let requestedSubject: string;
  try {
    requestedSubject = new x509.Name(toArrayBuffer(subjectBytes)).toString();
  } catch {
    throw new CsrInvalidError('its subject is not a valid X.501 Name');
  }

  const parsed: ParsedCsr = Object.freeze({
    der,
    spki: accepted.spki,
    key: accepted.description,
    signatureAlgorithm: signatureAlgorithm.name,
    requestedSubject,
    requestedExtensions: Object.freeze(requestedExtensions),
  });
  verifiedCsrs.add(parsed);
  return parsed;
}

function csrDer(input: string | Uint8Array): Uint8Array {
  if (typeof input !== 'string') {
    if (!(input instanceof Uint8Array)) throw new CsrInvalidError('expected PEM text or DER bytes');
    if (input.length > MAX_CSR_DER_BYTES) throw new CsrInvalidError(`it is larger than ${MAX_CSR_DER_BYTES} bytes`);
    // Copy: the caller's buffer may be reused, and ParsedCsr must stay what was verified.
    return Uint8Array.from(input);
  }
  if (input.length > MAX_CSR_PEM_BYTES) throw new CsrInvalidError(`the PEM is larger than ${MAX_CSR_PEM_BYTES} bytes`);
  try {
    const der = decodePem(input, ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'], MAX_CSR_PEM_BYTES);
    if (der.length > MAX_CSR_DER_BYTES) throw new CsrInvalidError(`it is larger than ${MAX_CSR_DER_BYTES} bytes`);
    return der;
  } catch (err) {
    if (err instanceof PemError) throw new CsrInvalidError(`${err.message} (expected one -----BEGIN CERTIFICATE REQUEST----- block)`);
    throw err;
  }
}

/** OIDs inside the PKCS#9 extensionRequest attribute; other attributes are skipped. */
function readRequestedExtensions(der: Uint8Array, attributes: Tlv): string[] {
  const oids: string[] = [];
  const attrs = new DerCursor(der, attributes);
  while (attrs.hasMore()) {
    const attr = new DerCursor(der, attrs.next(Tag.SEQUENCE, 'a CSR attribute'));
    const type = decodeOid(valueOf(der, attr.next(Tag.OID, 'the attribute type')));
    const values = attr.next(Tag.SET, 'the attribute values');
    attr.finish('a CSR attribute');
    if (type !== Oid.extensionRequest) continue;
    const set = new DerCursor(der, values);
    while (set.hasMore()) {
      const exts = new DerCursor(der, set.next(Tag.SEQUENCE, 'the requested Extensions'));
      while (exts.hasMore()) {
        const ext = new DerCursor(der, exts.next(Tag.SEQUENCE, 'a requested extension'));
        oids.push(decodeOid(valueOf(der, ext.next(Tag.OID, 'the extension OID'))));
      }
    }
  }
  return oids;
}

/** PEM of a CSR given as DER. */
export function csrToPem(der: Uint8Array): string {
  return encodePem(der, 'CERTIFICATE REQUEST');
}
