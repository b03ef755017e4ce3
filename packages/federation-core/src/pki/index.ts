/**
 * The PKI of Mosaic Federation: keys and CSRs, the Mosaic certificate extensions, issuing,
 * SPKI pins, chain verification, CRLs, and an ECDSA P-256 signature wrapper.
 *
 * Importing this module loads `reflect-metadata` before @peculiar/x509 and registers nothing
 * globally; every function that needs WebCrypto takes it as a defaulted parameter.
 */

// errors
export * from './errors.js';

// keys and CSRs
export {
  generateKeyPair,
  exportPrivateKeyPem,
  importPrivateKeyPem,
  exportPublicKeyPem,
  importPublicKeyPem,
  publicKeySpki,
  KEY_ALGORITHM,
  type GenerateKeyPairOptions,
  type ImportPrivateKeyOptions,
  type PublicKeyInput,
} from './keys.js';
export { createCsr, parseCsr, isVerifiedCsr, csrToPem, MAX_CSR_DER_BYTES, MAX_CSR_PEM_BYTES, type CreateCsrOptions, type ParsedCsr } from './csr.js';
export { describeKey, type KeyDescription } from './key-policy.js';

// the Mosaic extensions and identity
export {
  MOSAIC_GRANT_ID_OID,
  MOSAIC_SUBJECT_USER_ID_OID,
  MAX_SUBJECT_USER_ID_BYTES,
  isGrantId,
  decodeGrantIdValue,
  decodeSubjectUserIdValue,
  encodeGrantIdValue,
  encodeSubjectUserIdValue,
  MosaicExtension,
  MosaicGrantIdExtension,
  MosaicSubjectUserIdExtension,
  MosaicExtensionRegistry,
  mosaicExtensions,
  grantIdExtension,
  subjectUserIdExtension,
  type MosaicExtensionDefinition,
  type MosaicExtensionClass,
  type MosaicField,
  type ExtensionFactoryLike,
} from './mosaic-extensions.js';
export { decodeMosaicIdentity, mosaicIdentityFromExtensions, type MosaicIdentity } from './mosaic-identity.js';
export { decodeUtf8String, encodeUtf8String, type Utf8StringResult, type Utf8StringFailure } from './utf8-string.js';

// certificates
export { certificateToDer, certificateToPem, loadCertificate, type CertificateInput } from './certificate-input.js';
export { parseCertificateDer, type CertificateDer, type RawExtension } from './certificate-der.js';
export { createRootCa, type CreateRootCaOptions, type RootCa } from './root-ca.js';
export type { CaMaterial } from './ca-material.js';
export type { IssuedCertificate } from './issue.js';
export {
  issueClientCertificate,
  DEFAULT_CLIENT_LIFETIME_DAYS,
  MAX_CLIENT_LIFETIME_DAYS,
  type IssueClientCertificateOptions,
  type IssuedClientCertificate,
} from './issue-client.js';
export {
  issueServerCertificate,
  DEFAULT_SERVER_LIFETIME_DAYS,
  MAX_SERVER_LIFETIME_DAYS,
  type IssueServerCertificateOptions,
  type IssuedServerCertificate,
} from './issue-server.js';
export { normaliseSerialHex, randomSerialHex } from './serial.js';
export { BACKDATE_MS } from './validity.js';

// pins and verification
export { spkiPin, spkiPinFromSpki, parsePin, pinsEqual, formatPin } from './pins.js';
export { verifyClientCertificate, type VerifyCertificateOptions, type VerifiedCertificate } from './verify.js';
export { isIntermediateOf, leafOfChain, MAX_INTERMEDIATES, parseCrlUnderRoot, splitCertificates, verifyCertificateChain, type VerifiedChain } from './chain.js';

// CRLs
export { buildCrl, crlToPem, DEFAULT_CRL_VALIDITY_MS, type BuildCrlOptions, type BuiltCrl, type RevokedEntry, type RevocationReason } from './crl-build.js';
export { parseCrl, MAX_CRL_BYTES, type ParsedCrl, type ParsedCrlEntry } from './crl-parse.js';
export { assertCrlNumberIncreases, nextCrlNumber, toCrlNumber, MAX_CRL_NUMBER } from './crl-number.js';
export { REVOCATION_REASONS, type RevocationReasonName } from './crl-reasons.js';

// signatures
export { verifyEcdsaP256, signEcdsaP256, type EcdsaSignatureEncoding, type EcdsaPublicKeyInput, type EcdsaPrivateKeyInput } from './ecdsa.js';

// WebCrypto types used in the signatures above
export type { WebCrypto, WebCryptoKey, WebCryptoKeyPair } from './x509.js';
