/**
 * Reading a CRL and verifying it against the CA that should have signed it. Only full v2 CRLs
 * of that CA are accepted: delta and partitioned (issuingDistributionPoint) CRLs change what
 * "not listed" means, so they are refused rather than half-understood.
 */
import { X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { decodeKeyUsage, decodeSubjectKeyIdentifier, KeyUsageBit, singleExtension } from './ca-material.js';
import { parseExtensionList, serialToHex, type RawExtension } from './certificate-der.js';
import { loadCertificate, type CertificateInput } from './certificate-input.js';
import { crlReasonName, type RevocationReasonName } from './crl-reasons.js';
import { bytesEqual, contextTag, DerCursor, DerError, decodeBitString, decodeInteger, decodeTime, encodingOf, readSingle, Tag, valueOf, type Tlv } from './der.js';
import { CaInvalidError, CrlInvalidError } from './errors.js';
import { Oid } from './oids.js';
import { decodePem, looksLikePem, PemError } from './pem.js';
import { acceptedSignatureAlgorithm, parseAlgorithmIdentifier, verifySignature } from './signature-algorithm.js';

/** One entry of a parsed CRL. */
export interface ParsedCrlEntry {
  /** Lowercase hex, as `IssuedCertificate.serialHex`. */
  readonly serialHex: string;
  readonly revokedAt: Date;
  readonly reason?: RevocationReasonName;
}

/** A CRL that verified against its CA. */
export interface ParsedCrl {
  readonly crlNumber: bigint;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly revoked: readonly ParsedCrlEntry[];
  /** The revoked serials, for lookups. */
  readonly revokedSerials: ReadonlySet<string>;
}

/** CRLs above this size are refused before parsing (thousands of entries fit in 1 MiB). */
export const MAX_CRL_BYTES = 1024 * 1024;

/**
 * Parse a CRL (DER or PEM) and verify it was signed by `ca`.
 * @throws CRL_INVALID saying what is wrong; CA_INVALID when `ca` cannot sign CRLs
 * @example
 * const crl = parseCrl(await (await fetch(url)).bytes(), pinnedCaPem);
 * if (crl.revokedSerials.has(myCert.serialHex)) …
 */
export function parseCrl(input: Uint8Array | string, ca: CertificateInput): ParsedCrl {
  const der = crlDer(input);
  const caCert = loadCa(ca);
  try {
    return parseVerified(der, caCert);
  } catch (err) {
    if (err instanceof DerError) throw new CrlInvalidError(`it is not strict DER (${err.message})`);
    throw err;
  }
}

function crlDer(input: Uint8Array | string): Uint8Array {
  if (typeof input !== 'string') {
    if (!(input instanceof Uint8Array)) throw new CrlInvalidError('expected DER bytes or PEM text');
    if (input.length > MAX_CRL_BYTES) throw new CrlInvalidError(`it is larger than ${MAX_CRL_BYTES} bytes`);
    return input;
  }
  if (!looksLikePem(input)) throw new CrlInvalidError('expected DER bytes or an X509 CRL PEM block');
  try {
    return decodePem(input, ['X509 CRL'], MAX_CRL_BYTES * 2);
  } catch (err) {
    /* v8 ignore next */
    if (!(err instanceof PemError)) throw err;
    throw new CrlInvalidError(err.message);
  }
}

function loadCa(ca: CertificateInput): { subject: Uint8Array; keyId: Uint8Array | undefined; key: KeyObject } {
  try {
    const cert = loadCertificate(ca);
    const ku = singleExtension(cert, Oid.keyUsage);
    if (ku && !decodeKeyUsage(ku.value)(KeyUsageBit.cRLSign)) throw new CaInvalidError('the CA certificate lacks the cRLSign key usage');
    const ski = singleExtension(cert, Oid.subjectKeyIdentifier);
    return {
      subject: cert.subject,
      keyId: ski ? decodeSubjectKeyIdentifier(ski.value) : undefined,
      key: new NodeX509Certificate(cert.der).publicKey,
    };
  } catch (err) {
    if (CaInvalidError.is(err)) throw err;
    throw new CaInvalidError('the CA certificate cannot be parsed', { cause: err });
  }
}

function parseVerified(der: Uint8Array, ca: ReturnType<typeof loadCa>): ParsedCrl {
  const root = readSingle(der, Tag.SEQUENCE, 'the CRL');
  const outer = new DerCursor(der, root);
  const tbsTlv = outer.next(Tag.SEQUENCE, 'TBSCertList');
  const algTlv = outer.next(Tag.SEQUENCE, 'the signatureAlgorithm');
  const sigTlv = outer.next(Tag.BIT_STRING, 'the signatureValue');
  outer.finish('the CRL');

  const tbs = new DerCursor(der, tbsTlv);
  const versionTlv = tbs.optional(Tag.INTEGER);
  if (!versionTlv || decodeInteger(valueOf(der, versionTlv)) !== 1n) throw new CrlInvalidError('only v2 CRLs are accepted');
  const innerAlg = encodingOf(der, tbs.next(Tag.SEQUENCE, 'the TBSCertList signature algorithm'));
  const issuer = encodingOf(der, tbs.next(Tag.SEQUENCE, 'the issuer Name'));
  const thisTlv = tbs.next(undefined, 'thisUpdate');
  const thisUpdate = decodeTime(thisTlv.tag, valueOf(der, thisTlv));
  const nextTag = tbs.peekTag();
  const nextTlv = nextTag === Tag.UTC_TIME || nextTag === Tag.GENERALIZED_TIME ? tbs.next() : undefined;
  if (!nextTlv) throw new CrlInvalidError('it has no nextUpdate (RFC 5280 requires one)');
  const nextUpdate = decodeTime(nextTlv.tag, valueOf(der, nextTlv));
  const entriesTlv = tbs.optional(Tag.SEQUENCE);
  const extsTlv = tbs.optional(contextTag(0, true));
  tbs.finish('TBSCertList');

  // Signature before meaning: nothing below is trusted until the CA's key vouches for it.
  if (!bytesEqual(innerAlg, encodingOf(der, algTlv))) throw new CrlInvalidError('the inner and outer signature algorithms differ');
  const alg = parseAlgorithmIdentifier(der, algTlv);
  const accepted = acceptedSignatureAlgorithm(alg);
  if (!accepted) throw new CrlInvalidError(`its signature algorithm ${alg.oid} is not accepted`);
  if (!bytesEqual(issuer, ca.subject)) throw new CrlInvalidError('its issuer is not the CA');
  const signature = decodeBitString(valueOf(der, sigTlv));
  if (signature.unusedBits !== 0 || !verifySignature(accepted, encodingOf(der, tbsTlv), signature.bytes, ca.key)) {
    throw new CrlInvalidError('its signature does not verify under the CA key');
  }

  if (nextUpdate <= thisUpdate) throw new CrlInvalidError('nextUpdate is not after thisUpdate');
  if (!extsTlv) throw new CrlInvalidError('it has no extensions, so no CRL number');
  const crlNumber = readCrlExtensions(der, extsTlv, ca.keyId);
  const revoked = entriesTlv ? readEntries(der, entriesTlv) : [];
  return { crlNumber, thisUpdate, nextUpdate, revoked, revokedSerials: new Set(revoked.map((e) => e.serialHex)) };
}

function readCrlExtensions(der: Uint8Array, wrapper: Tlv, caKeyId: Uint8Array | undefined): bigint {
  const cursor = new DerCursor(der, wrapper);
  const list = parseExtensionList(der, cursor.next(Tag.SEQUENCE, 'crlExtensions'));
  cursor.finish('crlExtensions');
  refuseDuplicates(list, 'CRL');
  let crlNumber: bigint | undefined;
  for (const ext of list) {
    if (ext.oid === Oid.crlNumber) {
      const tlv = readSingle(ext.value, Tag.INTEGER, 'the CRL number');
      crlNumber = decodeInteger(valueOf(ext.value, tlv));
      if (crlNumber < 0n || ext.value.length > 2 + 21) throw new CrlInvalidError('the CRL number is negative or longer than 20 octets');
    } else if (ext.oid === Oid.authorityKeyIdentifier) {
      const keyId = readAuthorityKeyId(ext.value);
      if (caKeyId && keyId && !bytesEqual(keyId, caKeyId)) throw new CrlInvalidError('its authorityKeyIdentifier names another CA key');
    } else if (ext.oid === Oid.deltaCrlIndicator) {
      throw new CrlInvalidError('delta CRLs are not supported');
    } else if (ext.oid === Oid.issuingDistributionPoint) {
      throw new CrlInvalidError('partitioned CRLs (issuingDistributionPoint) are not supported');
    } else if (ext.critical) {
      throw new CrlInvalidError(`it has an unknown critical extension ${ext.oid}`);
    }
  }
  if (crlNumber === undefined) throw new CrlInvalidError('it has no CRL number');
  return crlNumber;
}

function readAuthorityKeyId(value: Uint8Array): Uint8Array | undefined {
  const cursor = new DerCursor(value, readSingle(value, Tag.SEQUENCE, 'authorityKeyIdentifier'));
  const keyId = cursor.optional(contextTag(0, false));
  return keyId ? valueOf(value, keyId) : undefined;
}

function readEntries(der: Uint8Array, entriesTlv: Tlv): ParsedCrlEntry[] {
  const list = new DerCursor(der, entriesTlv);
  const entries: ParsedCrlEntry[] = [];
  const seen = new Set<string>();
  while (list.hasMore()) {
    const entry = new DerCursor(der, list.next(Tag.SEQUENCE, 'a revoked certificate'));
    const serialHex = serialToHex(valueOf(der, entry.next(Tag.INTEGER, 'userCertificate')));
    const dateTlv = entry.next(undefined, 'revocationDate');
    const revokedAt = decodeTime(dateTlv.tag, valueOf(der, dateTlv));
    const extsTlv = entry.optional(Tag.SEQUENCE);
    entry.finish('a revoked certificate');
    if (seen.has(serialHex)) throw new CrlInvalidError(`serial ${serialHex} is listed twice`);
    seen.add(serialHex);
    let reason: RevocationReasonName | undefined;
    if (extsTlv) {
      const exts = parseExtensionList(der, extsTlv);
      refuseDuplicates(exts, 'CRL entry');
      for (const ext of exts) {
        if (ext.oid === Oid.crlReason) {
          const tlv = readSingle(ext.value, Tag.ENUMERATED, 'the reason code');
          const name = crlReasonName(Number(decodeInteger(valueOf(ext.value, tlv))));
          if (!name) throw new CrlInvalidError(`serial ${serialHex} has an unknown reason code`);
          reason = name;
        } else if (ext.oid === Oid.certificateIssuer) {
          throw new CrlInvalidError('indirect CRLs (certificateIssuer) are not supported');
        } else if (ext.critical) {
          throw new CrlInvalidError(`serial ${serialHex} has an unknown critical entry extension ${ext.oid}`);
        }
      }
    }
    entries.push(reason === undefined ? { serialHex, revokedAt } : { serialHex, revokedAt, reason });
  }
  return entries;
}

function refuseDuplicates(list: readonly RawExtension[], where: string): void {
  const seen = new Set<string>();
  for (const ext of list) {
    if (seen.has(ext.oid)) throw new CrlInvalidError(`${where} extension ${ext.oid} appears twice`);
    seen.add(ext.oid);
  }
}
