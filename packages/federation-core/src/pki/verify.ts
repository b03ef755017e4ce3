/**
 * Verifying a leaf certificate against the one CA that issues Mosaic certificates.
 *
 * OpenSSL does the cryptography and the issuer matching (`checkIssued`, `verify` on Node's
 * `X509Certificate`): @peculiar/x509's chain builder checks signatures only and pkijs accepts
 * half of the x509-limbo invalid chains, so neither is used as a validator. Around OpenSSL,
 * the profile is checked explicitly — validity window, leaf not a CA, keyUsage, extendedKeyUsage,
 * no unknown critical extension, an accepted key and signature algorithm — each with its own code.
 */
import type { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { decodeBasicConstraints, decodeKeyUsage, KeyUsageBit, singleExtension } from './ca-material.js';
import type { CertificateDer } from './certificate-der.js';
import { certificateToDer, loadCertificate, toNodeCertificate, type CertificateInput } from './certificate-input.js';
import { bytesEqual, DerCursor, DerError, decodeOid, readSingle, Tag, valueOf } from './der.js';
import {
  CaInvalidError,
  CertAlgorithmRejectedError,
  CertExpiredError,
  CertIsCaError,
  CertKeyRejectedError,
  CertKeyUsageInvalidError,
  CertMalformedError,
  CertNotYetValidError,
  CertSignatureInvalidError,
  CertUnknownCriticalExtensionError,
  CertUntrustedError,
  CertWrongPurposeError,
} from './errors.js';
import { checkPublicKey, KeyPolicyError } from './key-policy.js';
import { Oid } from './oids.js';
import { spkiPinFromSpki } from './pins.js';
import { acceptedSignatureAlgorithm, parseAlgorithmIdentifier } from './signature-algorithm.js';

/** Options for {@link verifyClientCertificate}. */
export interface VerifyCertificateOptions {
  /** The instant to judge validity at (default: now). */
  now?: Date;
  /** Which extendedKeyUsage the leaf must carry. Default `client`. */
  purpose?: 'client' | 'server';
}

/** Facts of a certificate that verified. */
export interface VerifiedCertificate {
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** `sha256:<hex>` of the leaf's key. */
  readonly spkiPin: string;
}

// Extensions whose criticality this verifier (with OpenSSL) understands for a leaf. Anything
// else marked critical is refused, as RFC 5280 §4.2 requires.
const UNDERSTOOD_LEAF_EXTENSIONS: ReadonlySet<string> = new Set([
  Oid.basicConstraints,
  Oid.keyUsage,
  Oid.extKeyUsage,
  Oid.subjectAltName,
  Oid.subjectKeyIdentifier,
  Oid.authorityKeyIdentifier,
]);

/**
 * Verify `leaf` was issued by `ca` and fits the Mosaic leaf profile for `purpose`.
 * @throws CERT_MALFORMED, CERT_UNTRUSTED, CERT_SIGNATURE_INVALID, CERT_ALGORITHM_REJECTED,
 *   CERT_EXPIRED, CERT_NOT_YET_VALID, CERT_IS_CA, CERT_KEY_USAGE_INVALID, CERT_WRONG_PURPOSE,
 *   CERT_UNKNOWN_CRITICAL_EXTENSION, CERT_KEY_REJECTED (all 401) or CA_INVALID (500)
 * @example
 * verifyClientCertificate(answer.certPem, pinnedCaPem, { purpose: 'client' });
 */
export function verifyClientCertificate(leaf: CertificateInput, ca: CertificateInput, options: VerifyCertificateOptions = {}): VerifiedCertificate {
  const now = options.now ?? new Date();
  const purpose = options.purpose ?? 'client';
  const caCert = loadCa(ca, now);
  const leafCert = loadCertificate(leaf);
  const leafNode = toNodeCertificate(leaf, leafCert.der);
  // Structure first (so a malformed certificate is reported as such, not as "untrusted" because
  // OpenSSL's issuer check trips on it), then authenticity, then what the content means.
  const profile = readLeafProfile(leafCert);

  if (!leafNode.checkIssued(caCert.node)) throw new CertUntrustedError();
  checkSignatureAlgorithm(leafCert);
  if (!safeVerify(leafNode, caCert.node)) throw new CertSignatureInvalidError();

  if (now < leafCert.notBefore) throw new CertNotYetValidError(leafCert.notBefore.toISOString());
  if (now > leafCert.notAfter) throw new CertExpiredError(leafCert.notAfter.toISOString());

  judgeLeafProfile(profile, purpose);
  try {
    checkPublicKey(leafCert.spki);
  } catch (err) {
    /* v8 ignore next */
    if (!(err instanceof KeyPolicyError)) throw err;
    throw new CertKeyRejectedError(err.message);
  }
  return { serialHex: leafCert.serialHex, notBefore: leafCert.notBefore, notAfter: leafCert.notAfter, spkiPin: spkiPinFromSpki(leafCert.spki) };
}

/**
 * The last CA certificate that passed the CA checks below, by its exact DER: the federation
 * listener verifies every new socket against the same CA, and parsing it again each time cost
 * a third of `verifyClientCertificate` (`pnpm bench`, docs/benchmarks.md). Its validity window
 * is still checked on every call.
 */
let lastCa: { readonly der: Uint8Array; readonly parsed: CertificateDer; readonly node: NodeX509Certificate } | undefined;

function loadCa(ca: CertificateInput, now: Date): { parsed: CertificateDer; node: NodeX509Certificate } {
  let der: Uint8Array;
  try {
    der = certificateToDer(ca);
  } catch (err) {
    throw new CaInvalidError('the trusted CA certificate cannot be parsed', { cause: err });
  }
  const cached = lastCa;
  if (cached !== undefined && bytesEqual(cached.der, der)) {
    if (now < cached.parsed.notBefore || now > cached.parsed.notAfter) throw new CaInvalidError('the trusted CA certificate is outside its validity period');
    return cached;
  }
  // Parsed from our own copy: the cached view must not change if the caller reuses its buffer.
  der = Uint8Array.from(der);
  let parsed: CertificateDer;
  let node: NodeX509Certificate;
  try {
    parsed = loadCertificate(der);
    node = toNodeCertificate(ca, parsed.der);
  } catch (err) {
    throw new CaInvalidError('the trusted CA certificate cannot be parsed', { cause: err });
  }
  let isCa: boolean;
  let canSign: boolean;
  try {
    const bc = singleExtension(parsed, Oid.basicConstraints);
    isCa = bc !== undefined && decodeBasicConstraints(bc.value).ca;
    const ku = singleExtension(parsed, Oid.keyUsage);
    canSign = ku === undefined || decodeKeyUsage(ku.value)(KeyUsageBit.keyCertSign);
  } catch (err) {
    throw new CaInvalidError('the trusted CA certificate has malformed extensions', { cause: err });
  }
  if (!isCa || !canSign) throw new CaInvalidError('the trusted certificate is not a CA certificate with keyCertSign');
  lastCa = { der, parsed, node };
  if (now < parsed.notBefore || now > parsed.notAfter) throw new CaInvalidError('the trusted CA certificate is outside its validity period');
  return { parsed, node };
}

function checkSignatureAlgorithm(cert: CertificateDer): void {
  if (!bytesEqual(cert.innerSignatureAlgorithm, cert.signatureAlgorithm)) throw new CertMalformedError('the inner and outer signature algorithms differ');
  let oid: string;
  let accepted;
  try {
    const alg = parseAlgorithmIdentifier(cert.signatureAlgorithm, readSingle(cert.signatureAlgorithm, Tag.SEQUENCE));
    oid = alg.oid;
    accepted = acceptedSignatureAlgorithm(alg);
  } catch (err) {
    /* v8 ignore next */
    if (!(err instanceof DerError)) throw err;
    throw new CertMalformedError(`its signature algorithm is malformed (${err.message})`);
  }
  if (!accepted) throw new CertAlgorithmRejectedError(oid);
}

function safeVerify(leaf: NodeX509Certificate, ca: NodeX509Certificate): boolean {
  try {
    return leaf.verify(ca.publicKey);
  } catch {
    /* v8 ignore next */
    return false;
  }
}

/** What the leaf's extensions say, decoded strictly but not yet judged. */
interface LeafProfile {
  readonly basicConstraintsCa: boolean;
  readonly keyUsage: ((bit: number) => boolean) | undefined;
  readonly extendedKeyUsage: readonly string[] | undefined;
  readonly unknownCritical: string | undefined;
}

function readLeafProfile(cert: CertificateDer): LeafProfile {
  const seen = new Set<string>();
  let unknownCritical: string | undefined;
  for (const ext of cert.extensions) {
    // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular extension."
    if (seen.has(ext.oid)) throw new CertMalformedError(`extension ${ext.oid} appears more than once`);
    seen.add(ext.oid);
    if (ext.critical && !UNDERSTOOD_LEAF_EXTENSIONS.has(ext.oid)) unknownCritical ??= ext.oid;
  }
  try {
    const bc = singleExtension(cert, Oid.basicConstraints);
    const ku = singleExtension(cert, Oid.keyUsage);
    const eku = singleExtension(cert, Oid.extKeyUsage);
    return {
      basicConstraintsCa: bc !== undefined && decodeBasicConstraints(bc.value).ca,
      keyUsage: ku && decodeKeyUsage(ku.value),
      extendedKeyUsage: eku && decodeExtendedKeyUsage(eku.value),
      unknownCritical,
    };
  } catch (err) {
    /* v8 ignore next */
    if (!(err instanceof DerError)) throw err;
    throw new CertMalformedError(`an extension is malformed (${err.message})`);
  }
}

function judgeLeafProfile(profile: LeafProfile, purpose: 'client' | 'server'): void {
  if (profile.unknownCritical) throw new CertUnknownCriticalExtensionError(profile.unknownCritical);
  if (profile.basicConstraintsCa) throw new CertIsCaError('basicConstraints CA:TRUE');
  const has = profile.keyUsage;
  if (!has) throw new CertKeyUsageInvalidError('keyUsage is missing');
  if (has(KeyUsageBit.keyCertSign)) throw new CertIsCaError('keyUsage keyCertSign');
  if (has(KeyUsageBit.cRLSign)) throw new CertIsCaError('keyUsage cRLSign');
  if (!has(KeyUsageBit.digitalSignature)) throw new CertKeyUsageInvalidError('keyUsage lacks digitalSignature, which TLS 1.3 needs');
  const wanted = purpose === 'client' ? Oid.clientAuth : Oid.serverAuth;
  if (!profile.extendedKeyUsage?.includes(wanted)) throw new CertWrongPurposeError(purpose);
}

/** The OIDs of an extendedKeyUsage value (SEQUENCE SIZE (1..MAX) OF OID). */
export function decodeExtendedKeyUsage(value: Uint8Array): string[] {
  const root = readSingle(value, Tag.SEQUENCE, 'extendedKeyUsage');
  const cursor = new DerCursor(value, root);
  const oids: string[] = [];
  while (cursor.hasMore()) oids.push(decodeOid(valueOf(value, cursor.next(Tag.OID, 'a key purpose'))));
  if (oids.length === 0) throw new DerError('invalid-value', 'empty extendedKeyUsage');
  return oids;
}
