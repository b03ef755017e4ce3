/**
 * A light, strict view of an X.509 certificate straight from its DER: offsets and small decoded
 * fields, no ASN.1 object graph. The gateway reads the Mosaic identity of every TLS socket
 * through it, and the verifier reads extensions OpenSSL does not expose to Node.
 */
import {
  DerCursor,
  DerError,
  decodeBitString,
  decodeBoolean,
  decodeInteger,
  decodeOid,
  decodeTime,
  encodingOf,
  readSingle,
  Tag,
  toHex,
  valueOf,
  contextTag,
  type Tlv,
} from './der.js';

/** One extension as encoded: the value is the content of the extnValue OCTET STRING. */
export interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Uint8Array;
}

/** The parts of a certificate this module needs, as views into the DER. */
export interface CertificateDer {
  readonly der: Uint8Array;
  /** The TBSCertificate TLV: the bytes the signature covers. */
  readonly tbs: Uint8Array;
  readonly version: 1 | 2 | 3;
  /** Lowercase hex of the (positive) serial number, no leading zero byte. */
  readonly serialHex: string;
  /** The AlgorithmIdentifier inside TBSCertificate (TLV). */
  readonly innerSignatureAlgorithm: Uint8Array;
  /** The issuer Name (TLV). */
  readonly issuer: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** The subject Name (TLV). */
  readonly subject: Uint8Array;
  /** The SubjectPublicKeyInfo (TLV): what SPKI pins hash. */
  readonly spki: Uint8Array;
  readonly extensions: readonly RawExtension[];
  /** The outer signatureAlgorithm (TLV). */
  readonly signatureAlgorithm: Uint8Array;
  /** The signature bits (DER ECDSA-Sig-Value or RSA block). */
  readonly signature: Uint8Array;
}

/** Serial numbers longer than this are refused (RFC 5280 allows 20 octets; we leave slack). */
const MAX_SERIAL_BYTES = 32;

/**
 * Parse certificate DER strictly.
 * @throws DerError on anything that is not DER X.509
 */
export function parseCertificateDer(der: Uint8Array): CertificateDer {
  const root = readSingle(der, Tag.SEQUENCE, 'the certificate');
  const outer = new DerCursor(der, root);
  const tbsTlv = outer.next(Tag.SEQUENCE, 'TBSCertificate');
  const sigAlgTlv = outer.next(Tag.SEQUENCE, 'the signatureAlgorithm');
  const sigTlv = outer.next(Tag.BIT_STRING, 'the signatureValue');
  outer.finish('the certificate');

  const tbs = new DerCursor(der, tbsTlv);
  let version: 1 | 2 | 3 = 1;
  const versionTlv = tbs.optional(contextTag(0, true));
  if (versionTlv) {
    const inner = new DerCursor(der, versionTlv);
    const v = decodeInteger(valueOf(der, inner.next(Tag.INTEGER, 'the version')));
    inner.finish('the version');
    // DER omits DEFAULT values, so an explicit v1 (0) is not DER.
    if (v === 1n) version = 2;
    else if (v === 2n) version = 3;
    else throw new DerError('invalid-value', `version ${v} is not v2 or v3`);
  }

  const serialTlv = tbs.next(Tag.INTEGER, 'the serialNumber');
  const serialValue = valueOf(der, serialTlv);
  const serialHex = serialToHex(serialValue);

  const innerAlgTlv = tbs.next(Tag.SEQUENCE, 'the TBSCertificate signature algorithm');
  const issuerTlv = tbs.next(Tag.SEQUENCE, 'the issuer Name');
  const validity = new DerCursor(der, tbs.next(Tag.SEQUENCE, 'the validity'));
  const nb = validity.next(undefined, 'notBefore');
  const na = validity.next(undefined, 'notAfter');
  validity.finish('the validity');
  const notBefore = decodeTime(nb.tag, valueOf(der, nb));
  const notAfter = decodeTime(na.tag, valueOf(der, na));
  checkTimeChoice(notBefore, nb.tag);
  checkTimeChoice(notAfter, na.tag);

  const subjectTlv = tbs.next(Tag.SEQUENCE, 'the subject Name');
  const spkiTlv = tbs.next(Tag.SEQUENCE, 'the SubjectPublicKeyInfo');
  if (tbs.optional(contextTag(1, false)) && version === 1) throw new DerError('invalid-value', 'issuerUniqueID needs v2 or v3');
  if (tbs.optional(contextTag(2, false)) && version === 1) throw new DerError('invalid-value', 'subjectUniqueID needs v2 or v3');
  let extensions: RawExtension[] = [];
  const extsTlv = tbs.optional(contextTag(3, true));
  if (extsTlv) {
    if (version !== 3) throw new DerError('invalid-value', 'extensions need a v3 certificate');
    extensions = parseExtensions(der, extsTlv);
  }
  tbs.finish('TBSCertificate');

  const signature = decodeBitString(valueOf(der, sigTlv));
  if (signature.unusedBits !== 0) throw new DerError('invalid-value', 'the signature BIT STRING has unused bits');

  return {
    der,
    tbs: encodingOf(der, tbsTlv),
    version,
    serialHex,
    innerSignatureAlgorithm: encodingOf(der, innerAlgTlv),
    issuer: encodingOf(der, issuerTlv),
    notBefore,
    notAfter,
    subject: encodingOf(der, subjectTlv),
    spki: encodingOf(der, spkiTlv),
    extensions,
    signatureAlgorithm: encodingOf(der, sigAlgTlv),
    signature: signature.bytes,
  };
}

/** Parse an `[n] EXPLICIT Extensions` wrapper: SEQUENCE SIZE (1..MAX) OF Extension. */
export function parseExtensions(der: Uint8Array, wrapper: Tlv): RawExtension[] {
  const explicitCursor = new DerCursor(der, wrapper);
  const seqTlv = explicitCursor.next(Tag.SEQUENCE, 'the Extensions');
  explicitCursor.finish('the extensions wrapper');
  return parseExtensionList(der, seqTlv);
}

/** Parse a SEQUENCE OF Extension (non-empty). */
export function parseExtensionList(der: Uint8Array, seqTlv: Tlv): RawExtension[] {
  const list = new DerCursor(der, seqTlv);
  if (!list.hasMore()) throw new DerError('invalid-value', 'an empty Extensions sequence is not allowed');
  const extensions: RawExtension[] = [];
  while (list.hasMore()) {
    const ext = new DerCursor(der, list.next(Tag.SEQUENCE, 'an Extension'));
    const oid = decodeOid(valueOf(der, ext.next(Tag.OID, 'the extnID')));
    let critical = false;
    const criticalTlv = ext.optional(Tag.BOOLEAN);
    if (criticalTlv) {
      critical = decodeBoolean(valueOf(der, criticalTlv));
      if (!critical) throw new DerError('invalid-value', `extension ${oid} encodes critical=FALSE, which DER omits`);
    }
    const value = valueOf(der, ext.next(Tag.OCTET_STRING, 'the extnValue'));
    ext.finish('an Extension');
    extensions.push({ oid, critical, value });
  }
  return extensions;
}

/** Lowercase hex of a positive INTEGER's magnitude. */
export function serialToHex(value: Uint8Array): string {
  const n = decodeInteger(value);
  if (n <= 0n) throw new DerError('invalid-value', 'the serial number is not positive');
  if (value.length > MAX_SERIAL_BYTES) throw new DerError('invalid-value', `the serial number is longer than ${MAX_SERIAL_BYTES} bytes`);
  return toHex(value[0] === 0 ? value.subarray(1) : value);
}

// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
function checkTimeChoice(date: Date, tag: number): void {
  const year = date.getUTCFullYear();
  if (tag === Tag.GENERALIZED_TIME && year < 2050) throw new DerError('invalid-value', 'a date before 2050 must be a UTCTime');
}
