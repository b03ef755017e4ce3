/** Object identifiers this module reads or writes, by name. */
export const Oid = {
  // Mosaic (CONTRACT.md "Certificate extensions")
  mosaicGrantId: '1.3.6.1.4.1.99999.1',
  mosaicSubjectUserId: '1.3.6.1.4.1.99999.2',

  // certificate extensions (RFC 5280 §4.2)
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  crlNumber: '2.5.29.20',
  crlReason: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  deltaCrlIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  certificateIssuer: '2.5.29.29',
  nameConstraints: '2.5.29.30',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',

  // extended key usages
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  anyExtendedKeyUsage: '2.5.29.37.0',

  // key algorithms and curves
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  rsassaPss: '1.2.840.113549.1.1.10',
  ed25519: '1.3.101.112',
  ed448: '1.3.101.113',
  p256: '1.2.840.10045.3.1.7',
  p384: '1.3.132.0.34',
  p521: '1.3.132.0.35',
  p192: '1.2.840.10045.3.1.1',

  // signature algorithms
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  sha1WithRsa: '1.2.840.113549.1.1.5',
  ecdsaWithSha1: '1.2.840.10045.4.1',

  // PKCS#9
  extensionRequest: '1.2.840.113549.1.9.14',

  // attribute types
  commonName: '2.5.4.3',
} as const;

/** A signature algorithm we accept on certificates, CSRs and CRLs, and how Node verifies it. */
export interface SignatureAlgorithm {
  readonly name: string;
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  readonly family: 'ecdsa' | 'rsa';
}

/**
 * SHA-2 with ECDSA or RSA PKCS#1 v1.5. SHA-1 and MD5 are refused; RSA-PSS is refused because
 * nothing in Mosaic produces it and its parameters are a classic source of parser bugs.
 */
export const ACCEPTED_SIGNATURE_ALGORITHMS: ReadonlyMap<string, SignatureAlgorithm> = new Map([
  [Oid.ecdsaWithSha256, { name: 'ecdsa-with-SHA256', hash: 'sha256', family: 'ecdsa' }],
  [Oid.ecdsaWithSha384, { name: 'ecdsa-with-SHA384', hash: 'sha384', family: 'ecdsa' }],
  [Oid.ecdsaWithSha512, { name: 'ecdsa-with-SHA512', hash: 'sha512', family: 'ecdsa' }],
  [Oid.sha256WithRsa, { name: 'sha256WithRSAEncryption', hash: 'sha256', family: 'rsa' }],
  [Oid.sha384WithRsa, { name: 'sha384WithRSAEncryption', hash: 'sha384', family: 'rsa' }],
  [Oid.sha512WithRsa, { name: 'sha512WithRSAEncryption', hash: 'sha512', family: 'rsa' }],
]);
