import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { isMosaicError, type MosaicError } from '../errors.js';
import {
  clientProfileExtensions,
  makeClientCert,
  makeCustomCert,
  makeTestCa,
  mosaicRawExtensions,
  randomGrantId,
  rawExtension,
  utf8StringDer,
  type RootCa,
} from '../test-support/pki.js';
import { decodeMosaicIdentity, mosaicIdentityFromExtensions } from './mosaic-identity.js';
import { Oid } from './oids.js';
import { verifyClientCertificate } from './verify.js';
import { generateKeyPair } from './keys.js';
import { x509 } from './x509.js';

const GRANT = '7d3c9b1e-5f4a-4e2b-8c1d-0a9b8c7d6e5f';

function failure(fn: () => unknown): MosaicError {
  try {
    fn();
  } catch (err) {
    if (isMosaicError(err)) return err;
    throw err;
  }
  throw new Error('expected a MosaicError');
}

let ca: RootCa;
beforeAll(async () => {
  ca = await makeTestCa();
});

/** A CA-signed client certificate whose Mosaic part is exactly `mosaic`. */
async function certWith(mosaic: x509.Extension[]): Promise<string> {
  const keys = await generateKeyPair();
  const { certPem } = await makeCustomCert(ca, { keys, extensions: [...(await clientProfileExtensions(ca, keys.publicKey)), ...mosaic] });
  return certPem;
}

const grantExt = (value: Uint8Array, critical = false): x509.Extension => rawExtension(Oid.mosaicGrantId, critical, value);
const subjectExt = (value: Uint8Array, critical = false): x509.Extension => rawExtension(Oid.mosaicSubjectUserId, critical, value);
const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));

describe('decodeMosaicIdentity', () => {
  it('reads the identity from PEM, DER, ArrayBuffer, Node and @peculiar/x509 certificates', async () => {
    const client = await makeClientCert(ca, { grantId: GRANT, subjectUserId: 'alice' });
    const expected = { grantId: GRANT, subjectUserId: 'alice' };
    const der = client.certDer;
    expect(decodeMosaicIdentity(client.certPem)).toEqual(expected);
    expect(decodeMosaicIdentity(der)).toEqual(expected);
    expect(decodeMosaicIdentity(Buffer.from(der))).toEqual(expected);
    expect(decodeMosaicIdentity(der.slice().buffer)).toEqual(expected);
    expect(decodeMosaicIdentity(new NodeX509Certificate(der))).toEqual(expected);
    expect(decodeMosaicIdentity(new x509.X509Certificate(client.certPem))).toEqual(expected);
  });

  it('reads a certificate whose extensions another issuer wrote (raw UTF8String, long form)', async () => {
    const longSubject = 'ü'.repeat(100); // 200 bytes: long-form length 0x81 0xc8
    const pem = await certWith(mosaicRawExtensions(GRANT, longSubject));
    expect(decodeMosaicIdentity(pem)).toEqual({ grantId: GRANT, subjectUserId: longSubject });
  });

  it('does not care about extension order', async () => {
    const [g, s] = mosaicRawExtensions(GRANT, 'bob');
    expect(decodeMosaicIdentity(await certWith([s!, g!]))).toEqual({ grantId: GRANT, subjectUserId: 'bob' });
  });

  // SECURITY.md adversarial cases 8 and 9, each on a real CA-signed certificate.
  it.each<[string, string, () => x509.Extension[], RegExp?]>([
    ['grant id missing', 'EXT_MISSING', () => [subjectExt(utf8StringDer('alice'))], /grant id/],
    ['subject missing', 'EXT_MISSING', () => [grantExt(utf8StringDer(GRANT))], /subject user id/],
    ['both missing', 'EXT_MISSING', () => [], /grant id/],
    ['grant id twice (same value)', 'EXT_DUPLICATE', () => [...mosaicRawExtensions(GRANT, 'alice'), grantExt(utf8StringDer(GRANT))], /grant id/],
    ['subject twice (different values)', 'EXT_DUPLICATE', () => [...mosaicRawExtensions(GRANT, 'alice'), subjectExt(utf8StringDer('mallory'))]],
    ['grant id critical', 'EXT_CRITICAL', () => [grantExt(utf8StringDer(GRANT), true), subjectExt(utf8StringDer('alice'))]],
    ['subject critical', 'EXT_CRITICAL', () => [grantExt(utf8StringDer(GRANT)), subjectExt(utf8StringDer('alice'), true)]],
    ['PrintableString tag', 'EXT_BAD_TAG', () => [grantExt(hex(`13 24 ${Buffer.from(GRANT).toString('hex')}`)), subjectExt(utf8StringDer('a'))]],
    ['OCTET STRING tag', 'EXT_BAD_TAG', () => [grantExt(utf8StringDer(GRANT)), subjectExt(hex('04 05 616c696365'))]],
    ['long-form length that lies (non-minimal)', 'EXT_BAD_LENGTH', () => [grantExt(hex(`0c 81 24 ${Buffer.from(GRANT).toString('hex')}`)), subjectExt(utf8StringDer('a'))]],
    ['length longer than the value', 'EXT_BAD_LENGTH', () => [grantExt(utf8StringDer(GRANT)), subjectExt(hex('0c 81 c8 616c696365'))]],
    ['indefinite length', 'EXT_BAD_LENGTH', () => [grantExt(utf8StringDer(GRANT)), subjectExt(hex('0c 80 616c696365 0000'))]],
    ['trailing bytes', 'EXT_TRAILING_BYTES', () => [grantExt(hex(`0c 24 ${Buffer.from(GRANT).toString('hex')} 00`)), subjectExt(utf8StringDer('a'))]],
    ['invalid UTF-8', 'EXT_BAD_UTF8', () => [grantExt(utf8StringDer(GRANT)), subjectExt(hex('0c 03 61 c3 28'))]],
    ['empty subject', 'EXT_EMPTY', () => [grantExt(utf8StringDer(GRANT)), subjectExt(hex('0c 00'))]],
    ['subject over 256 bytes', 'EXT_TOO_LONG', () => [grantExt(utf8StringDer(GRANT)), subjectExt(utf8StringDer('x'.repeat(257)))]],
    ['non-UUID grant id', 'EXT_BAD_GRANT_ID', () => [grantExt(utf8StringDer('not-a-uuid-but-exactly-36-characters')), subjectExt(utf8StringDer('a'))]],
    ['upper-case grant id', 'EXT_BAD_GRANT_ID', () => [grantExt(utf8StringDer(GRANT.toUpperCase())), subjectExt(utf8StringDer('a'))]],
  ])('%s → %s (401)', async (_name, code, extensions, message) => {
    const pem = await certWith(extensions());
    const err = failure(() => decodeMosaicIdentity(pem));
    expect(err.code).toBe(code);
    expect(err.statusCode).toBe(401);
    expect(err.remediation).toMatch(/re-enroll/);
    if (message) expect(err.message).toMatch(message);
  });

  it('refuses what is not one strict DER certificate with CERT_MALFORMED', () => {
    expect(failure(() => decodeMosaicIdentity('hello')).code).toBe('CERT_MALFORMED');
    expect(failure(() => decodeMosaicIdentity(`${ca.certPem}${ca.certPem}`)).code).toBe('CERT_MALFORMED');
    expect(failure(() => decodeMosaicIdentity(Uint8Array.of(0x30, 0x00))).code).toBe('CERT_MALFORMED');
    expect(failure(() => decodeMosaicIdentity({} as unknown as Uint8Array)).code).toBe('CERT_MALFORMED');
    expect(failure(() => decodeMosaicIdentity(new Uint8Array(70 * 1024))).code).toBe('CERT_MALFORMED');
  });

  it('never echoes an extension value in its message', async () => {
    const pem = await certWith([grantExt(utf8StringDer('<script>x</script>-padding-to-36-ch')), subjectExt(utf8StringDer('\u001b[31mred'))]);
    const message = failure(() => decodeMosaicIdentity(pem)).message;
    expect(message).not.toMatch(/script/);
    expect(message).not.toContain('\u001b');
  });
});

describe('properties', () => {
  it('round-trips arbitrary valid ids (unicode included) through a real certificate', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uuid(), fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }), async (grantId, subjectUserId) => {
        const client = await makeClientCert(ca, { grantId, subjectUserId });
        expect(decodeMosaicIdentity(client.certDer)).toEqual({ grantId, subjectUserId });
      }),
      { numRuns: 40 },
    );
  });

  it('arbitrary garbage never decodes to an identity; it throws a typed 401', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (garbage) => {
        const err = failure(() => decodeMosaicIdentity(garbage));
        expect(err.statusCode).toBe(401);
      }),
      { numRuns: 1000 },
    );
  });

  it('garbage extension values never decode; every failure is a typed 401', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 300 }), (g, s) => {
        const extensions = [
          { oid: Oid.mosaicGrantId, critical: false, value: g },
          { oid: Oid.mosaicSubjectUserId, critical: false, value: s },
        ];
        let identity;
        try {
          identity = mosaicIdentityFromExtensions(extensions);
        } catch (err) {
          expect(isMosaicError(err) && err.statusCode === 401 && err.code.startsWith('EXT_')).toBe(true);
          return;
        }
        // Only the canonical encodings of a UUID and of a string can get here.
        expect(Buffer.from(g)).toEqual(Buffer.from(utf8StringDer(identity.grantId)));
        expect(Buffer.from(s)).toEqual(Buffer.from(utf8StringDer(identity.subjectUserId)));
      }),
      { numRuns: 3000 },
    );
  });

  // Without a signature, no decoder can tell a mutated encoding from the honest encoding of
  // another string (inserting 0x05 after the tag of 0c 04 F0908080 gives the valid 0c 05
  // 04F0908080). What strictness guarantees is that nothing is ever *misparsed*: a mutation
  // throws a typed error, or is itself the one canonical DER of what it decodes to — and it
  // decodes to the original exactly when the bytes are the original. The signed-certificate
  // property below is the one where "throw or the original identity" must hold.
  it('mutated extension values throw, or are the canonical encoding of exactly what they decode to', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat(400), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('header' as const), at: fc.nat(3), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(400), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(400), byte: fc.constant(0) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(400), byte: fc.constant(0) }),
      fc.record({ kind: fc.constant('append' as const), at: fc.constant(0), byte: fc.integer({ min: 0, max: 255 }) }),
    );
    const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }).filter((s) => Buffer.byteLength(s) <= 256);
    fc.assert(
      fc.property(fc.uuid(), text, fc.boolean(), mutation, (grantId, subject, mutateGrant, m) => {
        const original = Buffer.from(utf8StringDer(mutateGrant ? grantId : subject));
        const headerLength = original[1]! < 0x80 ? 2 : 2 + (original[1]! & 0x7f);
        const bytes = [...original];
        const at = m.at % (bytes.length + (m.kind === 'insert' ? 1 : 0));
        if (m.kind === 'replace') bytes[at] = m.byte;
        if (m.kind === 'header') bytes[m.at % headerLength] = m.byte;
        if (m.kind === 'insert') bytes.splice(at, 0, m.byte);
        if (m.kind === 'delete') bytes.splice(at, 1);
        if (m.kind === 'truncate') bytes.length = at;
        if (m.kind === 'append') bytes.push(m.byte);
        const mutated = Buffer.from(bytes);
        const extensions = [
          { oid: Oid.mosaicGrantId, critical: false, value: mutateGrant ? mutated : utf8StringDer(grantId) },
          { oid: Oid.mosaicSubjectUserId, critical: false, value: mutateGrant ? utf8StringDer(subject) : mutated },
        ];
        let identity: { grantId: string; subjectUserId: string };
        try {
          identity = mosaicIdentityFromExtensions(extensions);
        } catch (err) {
          expect(isMosaicError(err) && err.code.startsWith('EXT_') && err.statusCode === 401).toBe(true);
          return;
        }
        const decoded = mutateGrant ? identity.grantId : identity.subjectUserId;
        expect(mutated.equals(Buffer.from(utf8StringDer(decoded)))).toBe(true);
        expect(decoded === (mutateGrant ? grantId : subject)).toBe(mutated.equals(original));
      }),
      { numRuns: 5000 },
    );
  });

  it('a mutated signed certificate either fails verification or still names the original identity', async () => {
    const grantId = randomGrantId();
    const client = await makeClientCert(ca, { grantId, subjectUserId: 'alice' });
    const original = client.certDer;
    fc.assert(
      fc.property(fc.nat(original.length - 1), fc.integer({ min: 1, max: 255 }), (at, xor) => {
        const mutated = Uint8Array.from(original);
        mutated[at]! ^= xor;
        try {
          verifyClientCertificate(mutated, ca.certPem);
        } catch (err) {
          expect(isMosaicError(err) && err.statusCode === 401).toBe(true);
          return;
        }
        expect(decodeMosaicIdentity(mutated)).toEqual({ grantId, subjectUserId: 'alice' });
      }),
      { numRuns: 1500 },
    );
  });
});
