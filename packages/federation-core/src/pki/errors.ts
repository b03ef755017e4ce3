/**
 * Every error the PKI module throws on purpose. One class per way a thing can be wrong, so
 * the gateway can branch on `code` and a person reading `docs/errors.md` learns the fix.
 *
 * Messages never carry PEM, key bytes or a peer-supplied string: a peer controls the
 * extension values and the CSR subject, and those end up in logs and error bodies.
 */
import { createError } from '../errors.js';

const REENROLL = 'the peer must re-enroll with a fresh token (`mosaic federation grant token <id> --reenroll`)';
const CSR_FIX = 'generate a new ECDSA P-256 key and CSR (`mosaic federation peer add` does this), or an RSA 2048–4096 / ECDSA P-384 one';

/** A CSR that cannot be used: malformed, bad self-signature, or a key outside policy (400). */
export const CsrInvalidError = createError('CSR_INVALID', 'the CSR is not acceptable: %s', 400, CSR_FIX);

/** Key material (PEM, SPKI, CryptoKey) that is malformed or outside policy (400). */
export const KeyInvalidError = createError(
  'KEY_INVALID',
  'the key is not usable: %s',
  400,
  'pass an unencrypted PKCS#8 (or SEC1) ECDSA P-256 private key, or an SPKI public key',
);

// --- the Mosaic extensions (all 401: the peer's credential is wrong) -----------------------
const EXT_FIX = `the certificate was not issued by a Mosaic CA or was altered; ${REENROLL}`;
/** A Mosaic extension is absent from the certificate. */
export const ExtMissingError = createError('EXT_MISSING', 'the certificate has no %s extension (%s)', 401, EXT_FIX);
/** A Mosaic extension appears more than once. */
export const ExtDuplicateError = createError('EXT_DUPLICATE', 'the certificate carries the %s extension (%s) more than once', 401, EXT_FIX);
/** A Mosaic extension is marked critical (OpenSSL would refuse the certificate; we refuse it too). */
export const ExtCriticalError = createError('EXT_CRITICAL', 'the %s extension (%s) is marked critical; it must be non-critical', 401, EXT_FIX);
/** The extension value is not a DER UTF8String (tag 0x0c). */
export const ExtBadTagError = createError('EXT_BAD_TAG', 'the %s extension value is not a DER UTF8String: %s', 401, EXT_FIX);
/** The UTF8String length is indefinite, non-minimal, or runs past the value. */
export const ExtBadLengthError = createError('EXT_BAD_LENGTH', 'the %s extension value has an invalid DER length: %s', 401, EXT_FIX);
/** Bytes follow the UTF8String inside the extension value. */
export const ExtTrailingBytesError = createError('EXT_TRAILING_BYTES', 'the %s extension value has %s byte(s) after the UTF8String', 401, EXT_FIX);
/** The UTF8String content is not valid UTF-8. */
export const ExtBadUtf8Error = createError('EXT_BAD_UTF8', 'the %s extension value is not valid UTF-8', 401, EXT_FIX);
/** The UTF8String is empty. */
export const ExtEmptyError = createError('EXT_EMPTY', 'the %s extension value is empty', 401, EXT_FIX);
/** The UTF8String is longer than the limit for that extension. */
export const ExtTooLongError = createError('EXT_TOO_LONG', 'the %s extension value is %s bytes long; the limit is %s', 401, EXT_FIX);
/** The grant id is not a lowercase 36-character UUID. */
export const ExtBadGrantIdError = createError('EXT_BAD_GRANT_ID', 'the grant id extension does not hold a lowercase UUID', 401, EXT_FIX);

// --- certificates -----------------------------------------------------------------------------
const CERT_FIX = `present a certificate issued by this gateway's CA; ${REENROLL}`;
/** The certificate is not strict DER X.509 v3 (or not a certificate at all). */
export const CertMalformedError = createError('CERT_MALFORMED', 'the certificate is malformed: %s', 401, CERT_FIX);
/** The certificate was not issued by the trusted CA (name/key-identifier mismatch). */
export const CertUntrustedError = createError('CERT_UNTRUSTED', 'the certificate was not issued by the trusted CA', 401, CERT_FIX);
/** The certificate's signature does not verify under the CA key. */
export const CertSignatureInvalidError = createError('CERT_SIGNATURE_INVALID', 'the certificate signature does not verify under the CA key', 401, CERT_FIX);
/** The certificate uses a signature algorithm outside policy. */
export const CertAlgorithmRejectedError = createError('CERT_ALGORITHM_REJECTED', 'the certificate is signed with %s, which is not accepted', 401, CERT_FIX);
/** Past notAfter. */
export const CertExpiredError = createError(
  'CERT_EXPIRED',
  'the certificate expired at %s',
  401,
  `renew it (\`mosaic federation peer renew <name>\`); once expired, ${REENROLL}`,
);
/** Before notBefore. */
export const CertNotYetValidError = createError('CERT_NOT_YET_VALID', 'the certificate is not valid before %s', 401, 'check the clocks of both gateways (NTP)');
/** A leaf that claims CA powers (basicConstraints CA:TRUE, keyCertSign or cRLSign). */
export const CertIsCaError = createError('CERT_IS_CA', 'the certificate is a CA certificate (%s); a leaf is required', 401, CERT_FIX);
/** keyUsage missing, or without digitalSignature. */
export const CertKeyUsageInvalidError = createError('CERT_KEY_USAGE_INVALID', 'the certificate key usage is unsuitable: %s', 401, CERT_FIX);
/** extendedKeyUsage missing or without the purpose asked for. */
export const CertWrongPurposeError = createError('CERT_WRONG_PURPOSE', 'the certificate is not valid for %s authentication (extendedKeyUsage)', 401, CERT_FIX);
/** A critical extension we do not understand (RFC 5280 §4.2: must refuse). */
export const CertUnknownCriticalExtensionError = createError(
  'CERT_UNKNOWN_CRITICAL_EXTENSION',
  'the certificate has an unknown critical extension %s',
  401,
  CERT_FIX,
);
/** The certified key is outside policy (weak RSA, unsupported curve…). */
export const CertKeyRejectedError = createError('CERT_KEY_REJECTED', 'the certificate key is not accepted: %s', 401, CERT_FIX);

// --- the CA itself (500: our configuration, not the caller) -------------------------------------
/** The CA certificate/key handed in cannot act as a CA right now. */
export const CaInvalidError = createError(
  'CA_INVALID',
  'the CA cannot be used: %s',
  500,
  'check the CA files in the data dir; never re-create a CA silently (`mosaic gateway doctor`)',
);

// --- issuing ---------------------------------------------------------------------------------
/** Parameters of an issuance request are invalid (peer name, ids, lifetime, window). */
export const IssueInvalidError = createError('ISSUE_INVALID', 'cannot issue the certificate: %s', 400, 'fix the named parameter and retry');
/** The issued certificate did not read back as requested: a bug, never shipped to a peer. */
export const IssueSelfCheckFailedError = createError(
  'ISSUE_SELF_CHECK_FAILED',
  'the issued certificate failed its post-issuance check: %s',
  500,
  'this is a bug in Mosaic; report it with the gateway version',
);

// --- pins ------------------------------------------------------------------------------------
/** A CA pin that is not `sha256:` + 64 hex digits. */
export const PinInvalidError = createError(
  'PIN_INVALID',
  'the CA pin is not valid: %s',
  400,
  'copy the pin exactly as printed by `mosaic federation grant token`: sha256: followed by 64 hex digits (case, spaces and colons do not matter)',
);

// --- CRLs ------------------------------------------------------------------------------------
/** A CRL that is malformed or does not verify against the CA. */
export const CrlInvalidError = createError('CRL_INVALID', 'the CRL is not valid: %s', 400, 'fetch the CRL again from the serving gateway (`GET /api/federation/v1/crl`)');
/** Parameters to build a CRL are invalid. */
export const CrlParamsInvalidError = createError('CRL_PARAMS_INVALID', 'cannot build the CRL: %s', 400, 'fix the named parameter and retry');
/** A CRL number that does not increase (RFC 5280 §5.2.3: monotonically increasing). */
export const CrlNumberNotIncreasingError = createError(
  'CRL_NUMBER_NOT_INCREASING',
  'CRL number %s is not greater than the previous %s',
  409,
  'read the latest CRL number again and retry; two writers raced',
);
