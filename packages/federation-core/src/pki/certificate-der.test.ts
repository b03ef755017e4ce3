import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBasicConstraints, decodeKeyUsage, decodeSubjectKeyIdentifier, KeyUsageBit } from './ca-material.js';
import { parseCertificateDer, serialToHex } from './certificate-der.js';
import { certificateToPem, loadCertificate, toNodeCertificate } from './certificate-input.js';
import { booleanTrue, explicit, integer, octetString, oid, sequence, setOf, tlv, time } from './der-writer.js';
import { DerError, readSingle, Tag } from './der.js';
import { Oid } from './oids.js';
import { acceptedSignatureAlgorithm, parseAlgorithmIdentifier } from './signature-algorithm.js';

const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }));
const alg = sequence(oid(Oid.ecdsaWithSha256));
const name = sequence(setOf(sequence(oid(Oid.commonName), tlv(Tag.UTF8_STRING, Buffer.from('x')))));
const ext = (id: string, value: Uint8Array, critical = false): Uint8Array =>
  critical ? sequence(oid(id), booleanTrue(), octetString(value)) : sequence(oid(id), octetString(value));

interface Parts {
  version?: Uint8Array | null;
  serial?: Uint8Array;
  innerAlg?: Uint8Array;
  validity?: Uint8Array;
  uids?: Uint8Array[];
  extensions?: Uint8Array | null;
  signature?: Uint8Array;
  trailer?: Uint8Array[];
}

/** An (unsigned) certificate structure: the DER parser does not look at signatures. */
function cert(p: Parts = {}): Uint8Array {
  const tbs = sequence(
    ...(p.version === null ? [] : [p.version ?? explicit(0, integer(2))]),
    p.serial ?? integer(0x1234),
    p.innerAlg ?? alg,
    name,
    p.validity ?? sequence(time(new Date('2026-01-01T00:00:00Z')), time(new Date('2026-02-01T00:00:00Z'))),
    name,
    spki,
    ...(p.uids ?? []),
    ...(p.extensions === null ? [] : [p.extensions ?? explicit(3, sequence(ext(Oid.basicConstraints, sequence())))]),
  );
  return sequence(tbs, alg, p.signature ?? tlv(Tag.BIT_STRING, Uint8Array.of(0, 0x30, 0x00)), ...(p.trailer ?? []));
}

function derKind(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof DerError) return err.message;
    throw err;
  }
  return 'ok';
}

describe('parseCertificateDer', () => {
  it('reads a v3 certificate into views of its parts', () => {
    const der = cert();
    const parsed = parseCertificateDer(der);
    expect(parsed.version).toBe(3);
    expect(parsed.serialHex).toBe('1234');
    expect(parsed.notBefore.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(Buffer.from(parsed.spki)).toEqual(Buffer.from(spki));
    expect(parsed.extensions).toEqual([{ oid: Oid.basicConstraints, critical: false, value: sequence() }]);
  });

  it('reads v1 (no version, no extensions) and v2 (unique ids) certificates', () => {
    expect(parseCertificateDer(cert({ version: null, extensions: null })).version).toBe(1);
    const v2 = parseCertificateDer(cert({ version: explicit(0, integer(1)), extensions: null, uids: [tlv(0x81, Uint8Array.of(0, 1)), tlv(0x82, Uint8Array.of(0, 2))] }));
    expect(v2.version).toBe(2);
  });

  it.each<[string, Parts, RegExp]>([
    ['an explicit v1 version (DER omits the default)', { version: explicit(0, integer(0)) }, /version 0 is not v2 or v3/],
    ['version 5', { version: explicit(0, integer(4)) }, /version 4/],
    ['extensions in a v2 certificate', { version: explicit(0, integer(1)) }, /need a v3/],
    ['unique ids in a v1 certificate', { version: null, extensions: null, uids: [tlv(0x81, Uint8Array.of(0, 1))] }, /issuerUniqueID/],
    ['a subject unique id in a v1 certificate', { version: null, extensions: null, uids: [tlv(0x82, Uint8Array.of(0, 1))] }, /subjectUniqueID/],
    ['an empty Extensions sequence', { extensions: explicit(3, sequence()) }, /empty Extensions/],
    ['critical=FALSE written out', { extensions: explicit(3, sequence(sequence(oid(Oid.keyUsage), Uint8Array.of(0x01, 0x01, 0x00), octetString(Uint8Array.of(3, 1, 0))))) }, /critical=FALSE/],
    ['a non-DER BOOLEAN', { extensions: explicit(3, sequence(sequence(oid(Oid.keyUsage), Uint8Array.of(0x01, 0x01, 0x01), octetString(Uint8Array.of(3, 1, 0))))) }, /BOOLEAN/],
    ['trailing data in an extension', { extensions: explicit(3, sequence(sequence(oid(Oid.keyUsage), octetString(Uint8Array.of(3, 1, 0)), Uint8Array.of(5, 0)))) }, /unexpected byte/],
    ['a second element in the extensions wrapper', { extensions: explicit(3, Uint8Array.from([...sequence(ext(Oid.keyUsage, Uint8Array.of(3, 1, 0))), 5, 0])) }, /unexpected byte/],
    ['a negative serial', { serial: Uint8Array.of(0x02, 0x01, 0xff) }, /not positive/],
    ['a zero serial', { serial: integer(0) }, /not positive/],
    ['a 33-byte serial', { serial: tlv(Tag.INTEGER, Uint8Array.from([0x01, ...new Uint8Array(32)])) }, /longer than 32 bytes/],
    ['a GeneralizedTime before 2050', { validity: sequence(tlv(Tag.GENERALIZED_TIME, Buffer.from('20260101000000Z')), time(new Date('2026-02-01T00:00:00Z'))) }, /must be a UTCTime/],
    ['a validity with three times', { validity: sequence(time(new Date()), time(new Date()), time(new Date())) }, /unexpected byte/],
    ['signature bits with unused bits', { signature: tlv(Tag.BIT_STRING, Uint8Array.of(1, 0x30)) }, /unused bits/],
    ['something after the signature', { trailer: [Uint8Array.of(5, 0)] }, /unexpected byte/],
  ])('refuses %s', (_name, parts, message) => {
    expect(derKind(() => parseCertificateDer(cert(parts)))).toMatch(message);
  });

  it('turns DER problems into CERT_MALFORMED when loading, and writes PEM', () => {
    expect(() => loadCertificate(cert({ serial: integer(0) }))).toThrow(expect.objectContaining({ code: 'CERT_MALFORMED' }) as Error);
    expect(() => certificateToPem('nope')).toThrow(expect.objectContaining({ code: 'CERT_MALFORMED' }) as Error);
    expect(certificateToPem(cert())).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    expect(() => toNodeCertificate(Uint8Array.of(0x30, 0x00))).toThrow(/OpenSSL cannot parse it/);
  });

  it('gives serials in canonical hex', () => {
    expect(serialToHex(Uint8Array.of(0x00, 0x80))).toBe('80');
    expect(serialToHex(Uint8Array.of(0x7f, 0x01))).toBe('7f01');
  });
});

describe('extension value decoders', () => {
  it('basicConstraints', () => {
    expect(decodeBasicConstraints(sequence())).toEqual({ ca: false, pathLength: undefined });
    expect(decodeBasicConstraints(sequence(booleanTrue(), integer(0)))).toEqual({ ca: true, pathLength: 0n });
    expect(decodeBasicConstraints(sequence(booleanTrue(), integer(300)))).toEqual({ ca: true, pathLength: 300n });
    expect(() => decodeBasicConstraints(sequence(Uint8Array.of(1, 1, 0)))).toThrow(/cA=FALSE/);
    expect(() => decodeBasicConstraints(sequence(booleanTrue(), Uint8Array.of(2, 1, 0xff)))).toThrow(/pathLenConstraint/);
    expect(() => decodeBasicConstraints(sequence(booleanTrue(), integer(0), integer(0)))).toThrow(DerError);
  });

  it('keyUsage', () => {
    const has = decodeKeyUsage(Uint8Array.of(0x03, 0x02, 0x01, 0x06));
    expect([has(KeyUsageBit.keyCertSign), has(KeyUsageBit.cRLSign), has(KeyUsageBit.digitalSignature)]).toEqual([true, true, false]);
    expect(() => decodeKeyUsage(Uint8Array.of(0x04, 0x01, 0x00))).toThrow(DerError);
  });

  it('subjectKeyIdentifier', () => {
    expect(decodeSubjectKeyIdentifier(octetString(Uint8Array.of(1, 2)))).toEqual(Uint8Array.of(1, 2));
    expect(() => decodeSubjectKeyIdentifier(octetString(new Uint8Array(0)))).toThrow(/empty/);
  });
});

describe('signature AlgorithmIdentifier', () => {
  const accepted = (der: Uint8Array): string | undefined => acceptedSignatureAlgorithm(parseAlgorithmIdentifier(der, readSingle(der)))?.name;
  it('accepts SHA-2 ECDSA (no parameters) and RSA PKCS#1 v1.5 (NULL or absent)', () => {
    expect(accepted(sequence(oid(Oid.ecdsaWithSha384)))).toBe('ecdsa-with-SHA384');
    expect(accepted(sequence(oid(Oid.sha512WithRsa), Uint8Array.of(5, 0)))).toBe('sha512WithRSAEncryption');
    expect(accepted(sequence(oid(Oid.sha256WithRsa)))).toBe('sha256WithRSAEncryption');
    expect(accepted(sequence(oid(Oid.sha1WithRsa), Uint8Array.of(5, 0)))).toBeUndefined();
    expect(accepted(sequence(oid(Oid.rsassaPss), sequence()))).toBeUndefined();
  });
  it('refuses parameters where the RFCs forbid them', () => {
    expect(() => accepted(sequence(oid(Oid.ecdsaWithSha256), Uint8Array.of(5, 0)))).toThrow(/take no parameters/);
    expect(() => accepted(sequence(oid(Oid.sha256WithRsa), integer(1)))).toThrow(/must be NULL/);
    expect(() => accepted(sequence(oid(Oid.sha256WithRsa), Uint8Array.of(5, 0), Uint8Array.of(5, 0)))).toThrow(DerError);
  });
});
