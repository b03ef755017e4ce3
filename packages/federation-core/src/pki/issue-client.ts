/**
 * Issuing a peer's client certificate from its CSR. The CA decides everything: subject
 * `CN=<peer name>`, clientAuth, digitalSignature, CA:FALSE, the two Mosaic extensions, a random
 * serial, the validity window. From the CSR only the public key is taken — a CSR asking for
 * CA:TRUE, SANs or the Mosaic OIDs gets none of them.
 */
import { resolveCa, type CaMaterial } from './ca-material.js';
import { isVerifiedCsr, parseCsr, type ParsedCsr } from './csr.js';
import { IssueInvalidError, IssueSelfCheckFailedError } from './errors.js';
import { signCertificate, type IssuedCertificate } from './issue.js';
import { encodeGrantIdValue, encodeSubjectUserIdValue, mosaicExtensions } from './mosaic-extensions.js';
import { mosaicIdentityFromExtensions } from './mosaic-identity.js';
import { commonNameSubject, validateCommonName } from './names.js';
import { randomSerialHex } from './serial.js';
import { validityWindow } from './validity.js';
import { defaultCrypto, toArrayBuffer, x509, type WebCrypto } from './x509.js';

/** Default peer certificate lifetime (renewal is due at 2/3, CONTRACT.md). */
export const DEFAULT_CLIENT_LIFETIME_DAYS = 30;
/** Upper bound on a peer certificate lifetime. */
export const MAX_CLIENT_LIFETIME_DAYS = 365;

/** Options for {@link issueClientCertificate}. */
export interface IssueClientCertificateOptions {
  ca: CaMaterial;
  /** The CSR as PEM/DER, or as returned by {@link parseCsr} (verified once, before the token is claimed). */
  csr: string | Uint8Array | ParsedCsr;
  /** Written as the subject `CN=<peerName>`, whatever the CSR asked for. */
  peerName: string;
  /** Lowercase UUID of the grant. */
  grantId: string;
  subjectUserId: string;
  /** Default 30. */
  lifetimeDays?: number;
  /** The grant's expiresAt: notAfter never goes past it. */
  notAfterCap?: Date;
  now?: Date;
  crypto?: WebCrypto;
}

/** An issued client certificate and what it says. */
export interface IssuedClientCertificate extends IssuedCertificate {
  readonly peerName: string;
  readonly grantId: string;
  readonly subjectUserId: string;
}

/**
 * Issue a client certificate for a grant.
 * @throws CSR_INVALID for a bad CSR, ISSUE_INVALID for bad parameters, CA_INVALID for a CA that cannot sign
 * @example
 * const csr = parseCsr(body.csrPem);
 * const cert = await issueClientCertificate({
 *   ca, csr, peerName: grant.peerName, grantId: grant.id, subjectUserId: grant.subjectUserId,
 *   notAfterCap: grant.expiresAt ?? undefined,
 * });
 * await store.saveSerial(grant.id, cert.serialHex);
 */
export async function issueClientCertificate(options: IssueClientCertificateOptions): Promise<IssuedClientCertificate> {
  const crypto = options.crypto ?? defaultCrypto;
  const now = options.now ?? new Date();
  const peerName = validateCommonName(options.peerName, 'peerName', IssueInvalidError);
  // Encoding validates; done before any signing so a bad id never reaches the CA key.
  encodeGrantIdValue(options.grantId);
  encodeSubjectUserIdValue(options.subjectUserId);
  const csr = resolveCsr(options.csr);
  const ca = await resolveCa(options.ca, { now, crypto });
  const { notBefore, notAfter } = validityWindow({
    now,
    lifetimeDays: options.lifetimeDays ?? DEFAULT_CLIENT_LIFETIME_DAYS,
    maxLifetimeDays: MAX_CLIENT_LIFETIME_DAYS,
    notAfterCap: options.notAfterCap,
    caNotAfter: ca.cert.notAfter,
  });

  const { issued, parsed } = await signCertificate({
    issuer: ca,
    subject: commonNameSubject(peerName),
    spki: csr.spki,
    serialHex: randomSerialHex(crypto),
    notBefore,
    notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
      await x509.SubjectKeyIdentifierExtension.create(toArrayBuffer(csr.spki), false, crypto),
      new x509.AuthorityKeyIdentifierExtension(ca.keyIdentifierHex, false),
      mosaicExtensions.create('grantId', options.grantId),
      mosaicExtensions.create('subjectUserId', options.subjectUserId),
    ],
    crypto,
  });

  const identity = mosaicIdentityFromExtensions(parsed.extensions);
  /* v8 ignore next 3 -- the extension comparison in signCertificate already guarantees this */
  if (identity.grantId !== options.grantId || identity.subjectUserId !== options.subjectUserId) {
    throw new IssueSelfCheckFailedError('the Mosaic extensions do not read back as written');
  }
  return { ...issued, peerName, grantId: identity.grantId, subjectUserId: identity.subjectUserId };
}

function resolveCsr(csr: IssueClientCertificateOptions['csr']): ParsedCsr {
  if (typeof csr === 'string' || csr instanceof Uint8Array) return parseCsr(csr);
  if (!isVerifiedCsr(csr)) throw new IssueInvalidError('csr must be PEM/DER or the result of parseCsr()');
  return csr;
}
