import { createPrivateKey, sign as nodeSign } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { isMosaicError, type MosaicError } from '../errors.js';
import { makeCustomCert, makeTestCa, type RootCa } from '../test-support/pki.js';
import { parseCertificateDer } from './certificate-der.js';
import { buildCrl, crlToPem, DEFAULT_CRL_VALIDITY_MS } from './crl-build.js';
import { assertCrlNumberIncreases, MAX_CRL_NUMBER, nextCrlNumber, toCrlNumber } from './crl-number.js';
import { parseCrl } from './crl-parse.js';
import { crlReasonCode, crlReasonName } from './crl-reasons.js';
import { bitString, booleanTrue, enumerated, explicit, integer, octetString, oid, sequence, time, tlv } from './der-writer.js';
import { Oid } from './oids.js';
import { x509 } from './x509.js';

let ca: RootCa & { keyPem: string };
let otherCa: RootCa;
let sameNameCa: RootCa;
const T0 = new Date('2026-02-01T10:00:00Z');
beforeAll(async () => {
  ca = await makeTestCa({ commonName: 'CRL CA', now: new Date('2025-06-01T00:00:00Z') });
  otherCa = await makeTestCa({ commonName: 'Other CA', now: new Date('2025-06-01T00:00:00Z') });
  sameNameCa = await makeTestCa({ commonName: 'CRL CA', now: new Date('2025-06-01T00:00:00Z') });
});

async function failure(fn: () => unknown): Promise<MosaicError> {
  try {
    await fn();
  } catch (err) {
    if (isMosaicError(err)) return err;
    throw err;
  }
  throw new Error('expected a MosaicError');
}

describe('buildCrl / parseCrl', () => {
  it('round-trips number, dates, serials and reasons, and verifies against the CA', async () => {
    const crl = await buildCrl({
      ca,
      crlNumber: 7n,
      thisUpdate: new Date('2026-02-01T10:00:00.900Z'),
      revoked: [
        { serialHex: '7A0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d', revokedAt: new Date('2026-01-31T09:00:00Z'), reason: 'keyCompromise' },
        { serialHex: '00:ff:01', revokedAt: new Date('2026-01-30T09:00:00Z'), reason: 'unspecified' },
        { serialHex: '05', revokedAt: new Date('2026-01-29T09:00:00Z'), reason: 'superseded' },
      ],
    });
    expect(crl.thisUpdate.toISOString()).toBe('2026-02-01T10:00:00.000Z');
    expect(crl.nextUpdate.getTime() - crl.thisUpdate.getTime()).toBe(DEFAULT_CRL_VALIDITY_MS);
    const parsed = parseCrl(crl.der, ca.certPem);
    expect(parsed.crlNumber).toBe(7n);
    expect(parsed.thisUpdate).toEqual(crl.thisUpdate);
    expect(parsed.nextUpdate).toEqual(crl.nextUpdate);
    expect(parsed.revoked).toEqual([
      { serialHex: '7a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d', revokedAt: new Date('2026-01-31T09:00:00Z'), reason: 'keyCompromise' },
      // "unspecified" is written as no reasonCode at all (RFC 5280 §5.3.1).
      { serialHex: 'ff01', revokedAt: new Date('2026-01-30T09:00:00Z') },
      { serialHex: '05', revokedAt: new Date('2026-01-29T09:00:00Z'), reason: 'superseded' },
    ]);
    expect(parsed.revokedSerials.has('ff01')).toBe(true);
    expect(parseCrl(crlToPem(crl.der), ca.certDer).crlNumber).toBe(7n);
  });

  it('omits revokedCertificates entirely when nothing is revoked, and takes large numbers', async () => {
    const big = (1n << 150n) + 3n;
    const crl = await buildCrl({ ca, crlNumber: big, revoked: [], thisUpdate: T0, nextUpdate: new Date(T0.getTime() + 3_600_000) });
    const parsed = parseCrl(crl.der, ca.certPem);
    expect(parsed.revoked).toEqual([]);
    expect(parsed.crlNumber).toBe(big);
    expect(parsed.nextUpdate.toISOString()).toBe('2026-02-01T11:00:00.000Z');
  });

  it('carries the CA AKI and issuer bytes verbatim', async () => {
    const crl = await buildCrl({ ca, crlNumber: 1, revoked: [], thisUpdate: T0 });
    const peculiar = new x509.X509Crl(crl.der);
    const caSki = new x509.X509Certificate(ca.certPem).getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
    expect(peculiar.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(caSki);
    expect(Buffer.from(crl.der).includes(Buffer.from(parseCertificateDer(ca.certDer).subject))).toBe(true);
    expect(await peculiar.verify({ publicKey: new x509.X509Certificate(ca.certPem) })).toBe(true);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a repeated serial', { revoked: [{ serialHex: 'AB', revokedAt: T0 }, { serialHex: '00ab', revokedAt: T0 }] }, /repeats serial ab/],
    ['a zero serial', { revoked: [{ serialHex: '00', revokedAt: T0 }] }, /positive hex/],
    ['a non-hex serial', { revoked: [{ serialHex: 'xyz', revokedAt: T0 }] }, /positive hex/],
    ['a 21-byte serial', { revoked: [{ serialHex: '01'.repeat(21), revokedAt: T0 }] }, /20 bytes/],
    ['a missing serial', { revoked: [{ revokedAt: T0 }] }, /serialHex/],
    ['a revocation after thisUpdate', { revoked: [{ serialHex: '01', revokedAt: new Date(T0.getTime() + 5000) }] }, /after thisUpdate/],
    ['an invalid revokedAt', { revoked: [{ serialHex: '01', revokedAt: 'yesterday' }] }, /revokedAt must be a valid Date/],
    ['removeFromCRL', { revoked: [{ serialHex: '01', revokedAt: T0, reason: 'removeFromCRL' }] }, /reason/],
    ['a non-array', { revoked: 'all' }, /must be an array/],
    ['nextUpdate before thisUpdate', { nextUpdate: new Date(T0.getTime() - 1000) }, /after thisUpdate/],
    ['an invalid thisUpdate', { thisUpdate: new Date(Number.NaN) }, /thisUpdate must be a valid Date/],
    ['a negative number', { crlNumber: -1 }, /negative/],
    ['a fractional number', { crlNumber: 1.5 }, /safe integer/],
    ['a number over 20 octets', { crlNumber: MAX_CRL_NUMBER + 1n }, /20 octets/],
  ])('refuses %s with CRL_PARAMS_INVALID', async (_name, override, message) => {
    const err = await failure(() => buildCrl({ ca, crlNumber: 2, revoked: [], thisUpdate: T0, ...override }));
    expect(err.code).toBe('CRL_PARAMS_INVALID');
    expect(err.message).toMatch(message);
  });

  it('refuses a CA without cRLSign, and a CA whose private key is not its own', async () => {
    const keys = ca.keys;
    const noCrlSign = await makeCustomCert(ca, {
      keys,
      selfSigned: true,
      subjectCn: 'No CRL CA',
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    expect((await failure(() => buildCrl({ ca: { cert: noCrlSign.certPem, keys }, crlNumber: 1, revoked: [] }))).message).toMatch(/cRLSign/);
    expect((await failure(() => parseCrl(Uint8Array.of(0x30, 0x00), noCrlSign.certPem))).code).toBe('CA_INVALID');
    const err = await failure(() => buildCrl({ ca: { cert: ca.certPem, keys: { publicKey: ca.keys.publicKey, privateKey: otherCa.keys.privateKey } }, crlNumber: 1, revoked: [] }));
    expect(err.code).toBe('ISSUE_SELF_CHECK_FAILED');
  });
});

describe('CRL numbers (adversarial case 34)', () => {
  it('refuses a number that does not increase', async () => {
    expect(assertCrlNumberIncreases(undefined, 1)).toBe(1n);
    expect(assertCrlNumberIncreases(null, 0n)).toBe(0n);
    expect(assertCrlNumberIncreases(4, 5n)).toBe(5n);
    for (const [prev, next] of [[5, 5], [5n, 4n]] as const) {
      const err = await failure(() => assertCrlNumberIncreases(prev, next));
      expect(err.code).toBe('CRL_NUMBER_NOT_INCREASING');
      expect(err.statusCode).toBe(409);
    }
    await expect(buildCrl({ ca, crlNumber: 3, previousCrlNumber: 3, revoked: [] })).rejects.toMatchObject({ code: 'CRL_NUMBER_NOT_INCREASING' });
    expect((await buildCrl({ ca, crlNumber: 4, previousCrlNumber: 3, revoked: [] })).crlNumber).toBe(4n);
    expect((await buildCrl({ ca, crlNumber: 1, previousCrlNumber: null, revoked: [] })).crlNumber).toBe(1n);
  });

  it('two revokes racing on one counter: the second publish is refused, no serial lost on retry', async () => {
    const store = { last: 5n, revoked: [] as { serialHex: string; revokedAt: Date }[] };
    const publish = async (serialHex: string, seenLast: bigint): Promise<bigint> => {
      store.revoked.push({ serialHex, revokedAt: new Date(Date.now() - 1000) });
      const crl = await buildCrl({ ca, crlNumber: seenLast + 1n, previousCrlNumber: store.last, revoked: store.revoked });
      store.last = crl.crlNumber;
      return crl.crlNumber;
    };
    const seen = store.last; // both writers read the counter before either published
    expect(await publish('0a', seen)).toBe(6n);
    await expect(publish('0b', seen)).rejects.toMatchObject({ code: 'CRL_NUMBER_NOT_INCREASING' });
    expect(await publish('0c', store.last)).toBe(7n);
    const crl = parseCrl((await buildCrl({ ca, crlNumber: nextCrlNumber(store.last), previousCrlNumber: store.last, revoked: store.revoked })).der, ca.certPem);
    expect([...crl.revokedSerials].sort()).toEqual(['0a', '0b', '0c']);
    expect(crl.crlNumber).toBe(8n);
  });

  it('validates numbers', () => {
    expect(nextCrlNumber(undefined)).toBe(1n);
    expect(nextCrlNumber(9)).toBe(10n);
    expect(toCrlNumber(MAX_CRL_NUMBER)).toBe(MAX_CRL_NUMBER);
    expect(() => toCrlNumber(Number.MAX_SAFE_INTEGER + 1)).toThrow(/safe integer/);
    expect(() => toCrlNumber('3' as unknown as number)).toThrow(/number or bigint/);
    expect(crlReasonName(1)).toBe('keyCompromise');
    expect(crlReasonName(8)).toBeUndefined();
    expect(crlReasonCode('toString')).toBeUndefined();
  });
});

describe('parseCrl refuses', () => {
  it('a CRL of another CA, of a same-name CA, or altered in transit', async () => {
    const crl = await buildCrl({ ca, crlNumber: 1, revoked: [{ serialHex: '01', revokedAt: T0 }], thisUpdate: T0 });
    expect((await failure(() => parseCrl(crl.der, otherCa.certPem))).message).toMatch(/issuer is not the CA/);
    expect((await failure(() => parseCrl(crl.der, sameNameCa.certPem))).message).toMatch(/signature does not verify/);
    // Flip the revoked serial 01 → 03 inside the signed part.
    const altered = Uint8Array.from(crl.der);
    const at = Buffer.from(altered).indexOf(Buffer.from([0x02, 0x01, 0x01, 0x17]));
    altered[at + 2] = 0x03;
    expect((await failure(() => parseCrl(altered, ca.certPem))).message).toMatch(/signature does not verify/);
  });

  it.each<[string, () => Uint8Array | string]>([
    ['garbage', () => Uint8Array.of(1, 2, 3)],
    ['a non-CRL PEM', () => '-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n'],
    ['text', () => 'not a crl'],
    ['a number', () => 7 as unknown as string],
    ['an over-sized input', () => new Uint8Array(1024 * 1024 + 1)],
  ])('%s with CRL_INVALID', async (_name, input) => {
    expect((await failure(() => parseCrl(input(), ca.certPem))).code).toBe('CRL_INVALID');
  });

  it('a CA certificate that cannot be parsed with CA_INVALID', async () => {
    expect((await failure(() => parseCrl(Uint8Array.of(0x30, 0x00), 'nope'))).code).toBe('CA_INVALID');
  });

  // Hand-built CRLs, correctly signed by the CA, each breaking one rule.
  describe('foreign CRL shapes', () => {
    const alg = sequence(oid(Oid.ecdsaWithSha256));
    const subject = (): Uint8Array => parseCertificateDer(ca.certDer).subject;
    const ext = (id: string, value: Uint8Array, critical = false): Uint8Array =>
      critical ? sequence(oid(id), booleanTrue(), octetString(value)) : sequence(oid(id), octetString(value));
    const crlNumberExt = ext(Oid.crlNumber, integer(1));
    const entry = (serial: number, ...exts: Uint8Array[]): Uint8Array => sequence(integer(serial), time(T0), ...(exts.length ? [sequence(...exts)] : []));
    function signed(parts: { version?: boolean; innerAlg?: Uint8Array; next?: boolean; entries?: Uint8Array[]; exts?: Uint8Array[] | null }): Uint8Array {
      const tbs = sequence(
        ...(parts.version === false ? [] : [integer(1)]),
        parts.innerAlg ?? alg,
        subject(),
        time(T0),
        ...(parts.next === false ? [] : [time(new Date(T0.getTime() + 86_400_000))]),
        ...(parts.entries?.length ? [sequence(...parts.entries)] : []),
        ...(parts.exts === null ? [] : [explicit(0, sequence(...(parts.exts ?? [crlNumberExt])))]),
      );
      const sig = nodeSign('sha256', tbs, createPrivateKey(ca.keyPem));
      return sequence(tbs, alg, bitString(sig));
    }

    it('accepts the minimal valid shape (control)', () => {
      expect(parseCrl(signed({}), ca.certPem).crlNumber).toBe(1n);
    });

    it.each<[string, () => Uint8Array, RegExp]>([
      ['a v1 CRL', () => signed({ version: false }), /only v2/],
      ['no nextUpdate', () => signed({ next: false }), /no nextUpdate/],
      ['no extensions', () => signed({ exts: null }), /no CRL number/],
      ['no CRL number', () => signed({ exts: [ext(Oid.authorityKeyIdentifier, sequence(tlv(0x80, new Uint8Array(20))))] }), /no CRL number|another CA key/],
      ['a negative CRL number', () => signed({ exts: [ext(Oid.crlNumber, Uint8Array.of(0x02, 0x01, 0xff))] }), /negative/],
      ['an AKI naming another key', () => signed({ exts: [crlNumberExt, ext(Oid.authorityKeyIdentifier, sequence(tlv(0x80, new Uint8Array(20))))] }), /another CA key/],
      ['a delta CRL', () => signed({ exts: [crlNumberExt, ext(Oid.deltaCrlIndicator, integer(0), true)] }), /delta/],
      ['a partitioned CRL', () => signed({ exts: [crlNumberExt, ext(Oid.issuingDistributionPoint, sequence(), true)] }), /partitioned/],
      ['an unknown critical CRL extension', () => signed({ exts: [crlNumberExt, ext('1.2.3.4', Uint8Array.of(5, 0), true)] }), /unknown critical extension 1\.2\.3\.4/],
      ['a duplicated CRL extension', () => signed({ exts: [crlNumberExt, crlNumberExt] }), /appears twice/],
      ['an indirect CRL entry', () => signed({ entries: [entry(1, ext(Oid.certificateIssuer, sequence(), true))] }), /indirect/],
      ['an unknown critical entry extension', () => signed({ entries: [entry(1, ext('1.2.3.5', Uint8Array.of(5, 0), true))] }), /critical entry extension/],
      ['an unknown reason code', () => signed({ entries: [entry(1, ext(Oid.crlReason, enumerated(7)))] }), /unknown reason/],
      ['a serial listed twice', () => signed({ entries: [entry(1), entry(1)] }), /listed twice/],
      ['a negative serial', () => signed({ entries: [sequence(Uint8Array.of(0x02, 0x01, 0xff), time(T0))] }), /not positive/],
      ['inner and outer algorithms that differ', () => signed({ innerAlg: sequence(oid(Oid.ecdsaWithSha384)) }), /differ/],
    ])('%s', async (_name, make, message) => {
      const err = await failure(() => parseCrl(make(), ca.certPem));
      expect(err.code).toBe('CRL_INVALID');
      expect(err.message).toMatch(message);
    });

    it('an unaccepted signature algorithm', async () => {
      const sha1 = sequence(oid(Oid.ecdsaWithSha1));
      const tbs = sequence(integer(1), sha1, subject(), time(T0), time(new Date(T0.getTime() + 1000)), explicit(0, sequence(crlNumberExt)));
      const der = sequence(tbs, sha1, bitString(nodeSign('sha1', tbs, createPrivateKey(ca.keyPem))));
      expect((await failure(() => parseCrl(der, ca.certPem))).message).toMatch(/not accepted/);
    });

    it('a nextUpdate that is not after thisUpdate', async () => {
      const tbs = sequence(integer(1), alg, subject(), time(T0), time(T0), explicit(0, sequence(crlNumberExt)));
      const der = sequence(tbs, alg, bitString(nodeSign('sha256', tbs, createPrivateKey(ca.keyPem))));
      expect((await failure(() => parseCrl(der, ca.certPem))).message).toMatch(/nextUpdate is not after/);
    });
  });
});
