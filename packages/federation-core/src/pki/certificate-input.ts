/**
 * The forms a certificate may be handed in: PEM text, DER bytes, Node's
 * `crypto.X509Certificate`, or an @peculiar/x509 certificate. Everything is brought down to
 * DER bytes and read with the strict parser.
 */
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { parseCertificateDer, type CertificateDer } from './certificate-der.js';
import { DerError } from './der.js';
import { CertMalformedError } from './errors.js';
import { decodePem, encodePem, looksLikePem, PemError } from './pem.js';
import { x509 } from './x509.js';

/** A certificate as PEM (one block), DER, Node `X509Certificate`, or @peculiar/x509 certificate. */
export type CertificateInput = string | Uint8Array | ArrayBuffer | NodeX509Certificate | x509.X509Certificate;

/** Certificates beyond this size are refused before parsing. */
const MAX_CERTIFICATE_BYTES = 64 * 1024;

/**
 * DER bytes of a certificate input.
 * @throws CERT_MALFORMED when the input is not one certificate
 */
export function certificateToDer(input: CertificateInput): Uint8Array {
  if (typeof input === 'string') {
    if (!looksLikePem(input)) throw new CertMalformedError('expected PEM text with a CERTIFICATE block');
    try {
      return decodePem(input, ['CERTIFICATE'], MAX_CERTIFICATE_BYTES * 2);
    } catch (err) {
      /* v8 ignore next */
      if (!(err instanceof PemError)) throw err;
      throw new CertMalformedError(err.message);
    }
  }
  if (input instanceof Uint8Array) return input;
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  if (input instanceof NodeX509Certificate) return input.raw;
  if (input instanceof x509.X509Certificate) return new Uint8Array(input.rawData);
  throw new CertMalformedError('unsupported certificate input type');
}

/**
 * Strict DER view of a certificate input.
 * @throws CERT_MALFORMED saying which DER rule was broken
 */
export function loadCertificate(input: CertificateInput): CertificateDer {
  const der = certificateToDer(input);
  if (der.length > MAX_CERTIFICATE_BYTES) throw new CertMalformedError(`it is larger than ${MAX_CERTIFICATE_BYTES} bytes`);
  try {
    return parseCertificateDer(der);
  } catch (err) {
    /* v8 ignore next */
    if (!(err instanceof DerError)) throw err;
    throw new CertMalformedError(err.message);
  }
}

/**
 * Node's `X509Certificate` for an input (OpenSSL's parser; used for signature and issuer checks).
 * @throws CERT_MALFORMED when OpenSSL cannot read it
 */
export function toNodeCertificate(input: CertificateInput, der: Uint8Array = certificateToDer(input)): NodeX509Certificate {
  if (input instanceof NodeX509Certificate) return input;
  try {
    return new NodeX509Certificate(der);
  } catch (err) {
    throw new CertMalformedError('OpenSSL cannot parse it', { cause: err });
  }
}

/** PEM of a certificate input (after the strict DER check). */
export function certificateToPem(input: CertificateInput): string {
  return encodePem(loadCertificate(input).der, 'CERTIFICATE');
}
