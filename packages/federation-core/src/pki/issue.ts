/**
 * The signing core shared by every certificate the CA makes, and the post-issuance check: the
 * issued DER is read back with the strict parser and compared field by field with what was
 * asked, and its signature is verified by OpenSSL under the CA certificate's key. The seeds
 * learned the hard way that a CA can silently drop an extension; here nothing leaves unchecked.
 */
import { createPublicKey, X509Certificate as NodeX509Certificate } from 'node:crypto';
import type { ResolvedCa } from './ca-material.js';
import { parseCertificateDer, type CertificateDer } from './certificate-der.js';
import { bytesEqual, DerError } from './der.js';
import { IssueSelfCheckFailedError } from './errors.js';
import { encodePem } from './pem.js';
import { spkiPinFromSpki } from './pins.js';
import { toArrayBuffer, x509, type WebCrypto } from './x509.js';

/** What every issuing function returns. */
export interface IssuedCertificate {
  readonly certPem: string;
  readonly certDer: Uint8Array;
  /** Lowercase hex, read back from the issued certificate — store this. */
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** `sha256:<hex>` of the certified key. */
  readonly spkiPin: string;
}

/** Inputs of {@link signCertificate}. */
export interface SignCertificateParams {
  /** The issuer; for a self-signed root, the root being made (with its own key). */
  readonly issuer: ResolvedCa | SelfIssuer;
  readonly subject: x509.Name;
  readonly spki: Uint8Array;
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: readonly x509.Extension[];
  readonly crypto: WebCrypto;
}

/** The issuer of a self-signed certificate: its own name, key and key identifier. */
export interface SelfIssuer {
  readonly selfSigned: true;
  readonly signingKey: ResolvedCa['signingKey'];
  readonly signingAlgorithm: ResolvedCa['signingAlgorithm'];
}

/** Sign a certificate and check what came out. */
export async function signCertificate(params: SignCertificateParams): Promise<{ issued: IssuedCertificate; parsed: CertificateDer }> {
  const { issuer, subject, spki, serialHex, notBefore, notAfter, extensions, crypto } = params;
  const selfSigned = 'selfSigned' in issuer;
  const subjectDer = new Uint8Array(subject.toArrayBuffer());
  const issuerDer = selfSigned ? subjectDer : issuer.cert.subject;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialHex,
      subject,
      // The issuer is the CA subject byte for byte, not a re-encoding of its string form.
      issuer: new x509.Name(toArrayBuffer(issuerDer)),
      notBefore,
      notAfter,
      publicKey: toArrayBuffer(spki),
      signingKey: issuer.signingKey,
      signingAlgorithm: issuer.signingAlgorithm,
      extensions: [...extensions],
    },
    crypto,
  );
  const der = new Uint8Array(cert.rawData);
  const parsed = selfCheck(der, { ...params, subjectDer, issuerDer, issuerSpki: selfSigned ? spki : issuer.cert.spki });
  return {
    issued: { certPem: encodePem(der, 'CERTIFICATE'), certDer: der, serialHex: parsed.serialHex, notBefore: parsed.notBefore, notAfter: parsed.notAfter, spkiPin: spkiPinFromSpki(parsed.spki) },
    parsed,
  };
}

function selfCheck(
  der: Uint8Array,
  expected: SignCertificateParams & { subjectDer: Uint8Array; issuerDer: Uint8Array; issuerSpki: Uint8Array },
): CertificateDer {
  let parsed: CertificateDer;
  try {
    parsed = parseCertificateDer(der);
  } catch (err) {
    /* v8 ignore next -- only reachable through a bug in the encoder */
    throw new IssueSelfCheckFailedError(`not strict DER (${err instanceof DerError ? err.message : 'parser failure'})`, { cause: err });
  }
  const problems: string[] = [];
  if (parsed.version !== 3) problems.push('version is not v3');
  if (parsed.serialHex !== expected.serialHex) problems.push('serial differs');
  if (!bytesEqual(parsed.subject, expected.subjectDer)) problems.push('subject differs');
  if (!bytesEqual(parsed.issuer, expected.issuerDer)) problems.push('issuer differs from the CA subject');
  if (!bytesEqual(parsed.spki, expected.spki)) problems.push('public key differs from the requested one');
  if (parsed.notBefore.getTime() !== expected.notBefore.getTime()) problems.push('notBefore differs');
  if (parsed.notAfter.getTime() !== expected.notAfter.getTime()) problems.push('notAfter differs');
  const want = expected.extensions.map((e) => `${e.type}:${e.critical}:${Buffer.from(e.value).toString('hex')}`);
  const got = parsed.extensions.map((e) => `${e.oid}:${e.critical}:${Buffer.from(e.value).toString('hex')}`);
  if (want.join('|') !== got.join('|')) problems.push('extensions differ from the ones the CA chose');
  if (!bytesEqual(parsed.innerSignatureAlgorithm, parsed.signatureAlgorithm)) problems.push('inner and outer signature algorithms differ');
  if (!verifiesUnder(der, expected.issuerSpki)) problems.push('the signature does not verify under the CA key (key pair mismatch?)');
  /* v8 ignore next -- only reachable through a bug */
  if (problems.length > 0) throw new IssueSelfCheckFailedError(problems.join('; '));
  return parsed;
}

function verifiesUnder(der: Uint8Array, issuerSpki: Uint8Array): boolean {
  try {
    return new NodeX509Certificate(der).verify(createPublicKey({ key: Buffer.from(issuerSpki), format: 'der', type: 'spki' }));
  } catch {
    /* v8 ignore next */
    return false;
  }
}
