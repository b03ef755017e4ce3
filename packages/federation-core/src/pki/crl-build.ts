/**
 * Building the CA's CRL (RFC 5280 §5), encoded here byte for byte: @peculiar/x509's generator
 * writes an empty crlEntryExtensions SEQUENCE for entries without a reason, which RFC 5280
 * forbids (SIZE (1..MAX)) and strict parsers reject. Issuer = the CA subject bytes verbatim;
 * CRL number and AKI extensions; v2; signed with the CA key; parsed and verified back before
 * it is returned.
 */
import { resolveCa, type CaMaterial } from './ca-material.js';
import { assertCrlNumberIncreases, toCrlNumber } from './crl-number.js';
import { parseCrl } from './crl-parse.js';
import { crlReasonCode, type RevocationReasonName } from './crl-reasons.js';
import { bitString, enumerated, explicit, integer, integerFromMagnitude, octetString, oid, sequence, time, tlv } from './der-writer.js';
import { p1363ToDer } from './ecdsa.js';
import { CrlParamsInvalidError, IssueSelfCheckFailedError } from './errors.js';
import { Oid } from './oids.js';
import { encodePem } from './pem.js';
import { normaliseSerialHex } from './serial.js';
import { truncateToSecond } from './validity.js';
import { defaultCrypto, type WebCrypto } from './x509.js';

/** A revocation reason name. */
export type RevocationReason = RevocationReasonName;

/** One revoked certificate. */
export interface RevokedEntry {
  /** Serial as stored (`IssuedCertificate.serialHex`); case and `:` separators are tolerated. */
  serialHex: string;
  revokedAt: Date;
  reason?: RevocationReason;
}

/** Options for {@link buildCrl}. */
export interface BuildCrlOptions {
  ca: CaMaterial;
  revoked: readonly RevokedEntry[];
  /** This CRL's number; must exceed the last published one (see {@link assertCrlNumberIncreases}). */
  crlNumber: bigint | number;
  /** When given, `crlNumber` is checked against it. */
  previousCrlNumber?: bigint | number | null;
  /** Default: now. */
  thisUpdate?: Date;
  /** Default: thisUpdate + 7 days (the gateway reissues at half-life). */
  nextUpdate?: Date;
  crypto?: WebCrypto;
}

/** A built CRL. */
export interface BuiltCrl {
  readonly der: Uint8Array;
  readonly crlNumber: bigint;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
}

/** Default CRL validity. */
export const DEFAULT_CRL_VALIDITY_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * Build and sign a CRL.
 * @throws CRL_PARAMS_INVALID, CRL_NUMBER_NOT_INCREASING, CA_INVALID
 * @example
 * const crl = await buildCrl({ ca, revoked: await store.revokedSerials(), crlNumber: last + 1n, previousCrlNumber: last });
 * reply.type('application/pkix-crl').send(Buffer.from(crl.der));
 */
export async function buildCrl(options: BuildCrlOptions): Promise<BuiltCrl> {
  const crypto = options.crypto ?? defaultCrypto;
  const crlNumber =
    options.previousCrlNumber === undefined ? toCrlNumber(options.crlNumber) : assertCrlNumberIncreases(options.previousCrlNumber, options.crlNumber);
  const thisUpdate = truncateToSecond(validDate(options.thisUpdate ?? new Date(), 'thisUpdate'));
  const nextUpdate = truncateToSecond(validDate(options.nextUpdate ?? new Date(thisUpdate.getTime() + DEFAULT_CRL_VALIDITY_MS), 'nextUpdate'));
  if (nextUpdate <= thisUpdate) throw new CrlParamsInvalidError('nextUpdate must be after thisUpdate');

  const ca = await resolveCa(options.ca, { now: thisUpdate, forCrl: true, crypto });
  const entries = buildEntries(options.revoked, thisUpdate);
  const signatureOid = ca.signingAlgorithm.hash === 'SHA-256' ? Oid.ecdsaWithSha256 : Oid.ecdsaWithSha384;
  const algorithm = sequence(oid(signatureOid));
  const extensions = explicit(
    0,
    sequence(
      sequence(oid(Oid.authorityKeyIdentifier), octetString(sequence(tlv(0x80, Buffer.from(ca.keyIdentifierHex, 'hex'))))),
      sequence(oid(Oid.crlNumber), octetString(integer(crlNumber))),
    ),
  );
  const tbs = sequence(
    integer(1), // v2: required once extensions are present
    algorithm,
    ca.cert.subject,
    time(thisUpdate),
    time(nextUpdate),
    ...(entries.length > 0 ? [sequence(...entries)] : []), // absent, not empty, when nothing is revoked
    extensions,
  );
  const p1363 = new Uint8Array(await crypto.subtle.sign(ca.signingAlgorithm, ca.signingKey, tbs));
  const der = sequence(tbs, algorithm, bitString(p1363ToDer(p1363)));

  try {
    parseCrl(der, ca.cert.der);
  } catch (err) {
    throw new IssueSelfCheckFailedError('the CRL does not verify against its own CA (key pair mismatch?)', { cause: err });
  }
  return { der, crlNumber, thisUpdate, nextUpdate };
}

/** PEM (`X509 CRL`) of a CRL's DER. */
export function crlToPem(der: Uint8Array): string {
  return encodePem(der, 'X509 CRL');
}

function buildEntries(revoked: readonly RevokedEntry[], thisUpdate: Date): Uint8Array[] {
  const isArray: (x: unknown) => boolean = Array.isArray;
  if (!isArray(revoked)) throw new CrlParamsInvalidError('revoked must be an array');
  const seen = new Set<string>();
  return revoked.map((entry, i) => {
    const serial = typeof entry?.serialHex === 'string' ? normaliseSerialHex(entry.serialHex) : undefined;
    if (!serial) throw new CrlParamsInvalidError(`revoked[${i}].serialHex is not a positive hex serial of at most 20 bytes`);
    if (seen.has(serial)) throw new CrlParamsInvalidError(`revoked[${i}] repeats serial ${serial}`);
    seen.add(serial);
    const revokedAt = truncateToSecond(validDate(entry.revokedAt, `revoked[${i}].revokedAt`));
    if (revokedAt > thisUpdate) throw new CrlParamsInvalidError(`revoked[${i}].revokedAt is after thisUpdate`);
    const parts = [integerFromMagnitude(Buffer.from(serial, 'hex')), time(revokedAt)];
    if (entry.reason !== undefined) {
      const code = crlReasonCode(entry.reason);
      if (code === undefined) throw new CrlParamsInvalidError(`revoked[${i}].reason is not a known RFC 5280 reason`);
      // RFC 5280 §5.3.1: rather than "unspecified", leave the reasonCode out.
      if (code !== 0) parts.push(sequence(sequence(oid(Oid.crlReason), octetString(enumerated(code)))));
    }
    return sequence(...parts);
  });
}

function validDate(value: unknown, field: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new CrlParamsInvalidError(`${field} must be a valid Date`);
  return value;
}
