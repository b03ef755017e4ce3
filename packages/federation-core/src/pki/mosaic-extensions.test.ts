import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isMosaicError } from '../errors.js';
import { makeClientCert, makeTestCa } from '../test-support/pki.js';
import {
  decodeGrantIdValue,
  decodeSubjectUserIdValue,
  encodeGrantIdValue,
  encodeSubjectUserIdValue,
  grantIdExtension,
  isGrantId,
  MAX_SUBJECT_USER_ID_BYTES,
  MosaicExtensionRegistry,
  mosaicExtensions,
  MosaicGrantIdExtension,
  MosaicSubjectUserIdExtension,
  subjectUserIdExtension,
} from './mosaic-extensions.js';
import { Oid } from './oids.js';
import { x509 } from './x509.js';

const GRANT = '0b8f6a3e-2a1c-4a53-9d8e-1f2a3b4c5d6e';
const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (isMosaicError(err)) return err.code;
    throw err;
  }
  return 'ok';
};

describe('values', () => {
  it('encodes a grant id as UTF8String of 36 bytes and reads it back', () => {
    const der = encodeGrantIdValue(GRANT);
    expect(Buffer.from(der.subarray(0, 2)).toString('hex')).toBe('0c24');
    expect(decodeGrantIdValue(der)).toBe(GRANT);
  });

  it.each([
    ['upper case', GRANT.toUpperCase()],
    ['braces', `{${GRANT}}`],
    ['no hyphens', GRANT.replace(/-/g, '')],
    ['not hex', GRANT.replace('b', 'g')],
    ['empty', ''],
  ])('refuses to encode a grant id with %s', (_name, value) => {
    expect(codeOf(() => encodeGrantIdValue(value))).toBe('ISSUE_INVALID');
    expect(isGrantId(value)).toBe(false);
  });

  it('refuses to decode a grant id that is not a lowercase UUID', () => {
    const upper = Buffer.concat([Buffer.from([0x0c, 36]), Buffer.from(GRANT.toUpperCase())]);
    expect(codeOf(() => decodeGrantIdValue(upper))).toBe('EXT_BAD_GRANT_ID');
    const long = Buffer.concat([Buffer.from([0x0c, 37]), Buffer.from(`${GRANT}0`)]);
    expect(codeOf(() => decodeGrantIdValue(long))).toBe('EXT_TOO_LONG');
  });

  it('encodes subject user ids of any well-formed text up to the byte limit', () => {
    expect(decodeSubjectUserIdValue(encodeSubjectUserIdValue('ünïcødé 🙂'))).toBe('ünïcødé 🙂');
    const max = 'x'.repeat(MAX_SUBJECT_USER_ID_BYTES);
    expect(decodeSubjectUserIdValue(encodeSubjectUserIdValue(max))).toBe(max);
    expect(codeOf(() => encodeSubjectUserIdValue(`${max}x`))).toBe('ISSUE_INVALID');
    expect(codeOf(() => encodeSubjectUserIdValue(''))).toBe('ISSUE_INVALID');
    expect(codeOf(() => encodeSubjectUserIdValue('a\ud800'))).toBe('ISSUE_INVALID');
  });

  it.each([
    ['EXT_BAD_TAG', '130161'],
    ['EXT_BAD_LENGTH', '0c8101' + '61'],
    ['EXT_TRAILING_BYTES', '0c016100'],
    ['EXT_BAD_UTF8', '0c01ff'],
    ['EXT_EMPTY', '0c00'],
  ])('maps a bad subject value to %s (401)', (code, hex) => {
    let err: unknown;
    try {
      decodeSubjectUserIdValue(Buffer.from(hex, 'hex'));
    } catch (e) {
      err = e;
    }
    expect(isMosaicError(err) && err.code).toBe(code);
    expect(isMosaicError(err) && err.statusCode).toBe(401);
    expect(isMosaicError(err) && err.message).toMatch(/subject user id/);
  });
});

describe('extension classes', () => {
  it('build from a typed value: non-critical, right OID, right value', () => {
    const g = new MosaicGrantIdExtension(GRANT);
    expect(g.type).toBe(Oid.mosaicGrantId);
    expect(g.critical).toBe(false);
    expect(g.grantId).toBe(GRANT);
    expect(g.text).toBe(GRANT);
    expect(g.field).toBe('grantId');
    const s = new MosaicSubjectUserIdExtension('alice');
    expect(s.type).toBe(Oid.mosaicSubjectUserId);
    expect(s.subjectUserId).toBe('alice');
    expect(s.text).toBe('alice');
  });

  it('build from DER (Uint8Array or ArrayBuffer) and round-trip', () => {
    const g = new MosaicGrantIdExtension(GRANT);
    expect(new MosaicGrantIdExtension(new Uint8Array(g.rawData)).grantId).toBe(GRANT);
    expect(new MosaicGrantIdExtension(g.rawData).grantId).toBe(GRANT);
    const s = new MosaicSubjectUserIdExtension('bob');
    expect(new MosaicSubjectUserIdExtension(new Uint8Array(s.rawData)).subjectUserId).toBe('bob');
  });

  it('refuse DER of another OID, a critical one, or a bad value', () => {
    const other = new x509.Extension(Oid.mosaicSubjectUserId, false, new Uint8Array(encodeSubjectUserIdValue('alice')));
    expect(() => new MosaicGrantIdExtension(new Uint8Array(other.rawData))).toThrow(TypeError);
    const critical = new x509.Extension(Oid.mosaicGrantId, true, new Uint8Array(encodeGrantIdValue(GRANT)));
    expect(codeOf(() => new MosaicGrantIdExtension(new Uint8Array(critical.rawData)))).toBe('EXT_CRITICAL');
    const criticalSubject = new x509.Extension(Oid.mosaicSubjectUserId, true, new Uint8Array(encodeSubjectUserIdValue('a')));
    expect(codeOf(() => new MosaicSubjectUserIdExtension(new Uint8Array(criticalSubject.rawData)))).toBe('EXT_CRITICAL');
    const badTag = new x509.Extension(Oid.mosaicGrantId, false, Uint8Array.from([0x04, 0x01, 0x61]));
    expect(codeOf(() => new MosaicGrantIdExtension(new Uint8Array(badTag.rawData)))).toBe('EXT_BAD_TAG');
  });
});

describe('registry', () => {
  it('dispatches by OID, explicitly', () => {
    expect(mosaicExtensions.get(Oid.mosaicGrantId)).toBe(grantIdExtension);
    expect(mosaicExtensions.get(Oid.mosaicSubjectUserId)).toBe(subjectUserIdExtension);
    expect(mosaicExtensions.get(Oid.basicConstraints)).toBeUndefined();
    expect(mosaicExtensions.definitions().map((d) => d.field)).toEqual(['grantId', 'subjectUserId']);
    const parsed = mosaicExtensions.parse(new MosaicSubjectUserIdExtension('carol'));
    expect(parsed).toBeInstanceOf(MosaicSubjectUserIdExtension);
    expect(parsed.text).toBe('carol');
    const fromDer = mosaicExtensions.parse(new Uint8Array(new MosaicGrantIdExtension(GRANT).rawData));
    expect(fromDer).toBeInstanceOf(MosaicGrantIdExtension);
    expect(mosaicExtensions.create('grantId', GRANT)).toBeInstanceOf(MosaicGrantIdExtension);
  });

  it('refuses unknown OIDs, unknown fields and double definitions', () => {
    expect(() => mosaicExtensions.parse(new x509.BasicConstraintsExtension(false))).toThrow(TypeError);
    expect(() => new MosaicExtensionRegistry([grantIdExtension]).create('subjectUserId', 'x')).toThrow(TypeError);
    expect(() => new MosaicExtensionRegistry([grantIdExtension, grantIdExtension])).toThrow(/twice/);
  });

  it('registers nothing with @peculiar/x509 until asked to', async () => {
    const ca = await makeTestCa();
    const client = await makeClientCert(ca, { grantId: GRANT, subjectUserId: 'alice' });
    const before = new x509.X509Certificate(client.certPem).getExtension(Oid.mosaicGrantId);
    expect(before).not.toBeInstanceOf(MosaicGrantIdExtension);

    const registered: [string, unknown][] = [];
    mosaicExtensions.registerWith({ register: (id, type) => registered.push([id, type]) });
    expect(registered).toEqual([
      [Oid.mosaicGrantId, MosaicGrantIdExtension],
      [Oid.mosaicSubjectUserId, MosaicSubjectUserIdExtension],
    ]);

    mosaicExtensions.registerWith(x509.ExtensionFactory);
    const cert = new x509.X509Certificate(client.certPem);
    expect(cert.getExtension(Oid.mosaicGrantId)).toBeInstanceOf(MosaicGrantIdExtension);
    expect(cert.getExtension<MosaicSubjectUserIdExtension>(Oid.mosaicSubjectUserId)?.subjectUserId).toBe('alice');
  });
});

describe('properties', () => {
  it('round-trips any grant UUID and any subject id', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.string({ unit: 'binary', minLength: 1, maxLength: 64 }), (uuid, subject) => {
        expect(new MosaicGrantIdExtension(new Uint8Array(new MosaicGrantIdExtension(uuid).rawData)).grantId).toBe(uuid);
        expect(decodeSubjectUserIdValue(encodeSubjectUserIdValue(subject))).toBe(subject);
      }),
    );
  });

  it('never accepts garbage as a grant id; every failure is a typed 401', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (garbage) => {
        let err: unknown;
        try {
          decodeGrantIdValue(garbage);
        } catch (e) {
          err = e;
        }
        expect(isMosaicError(err) && err.code.startsWith('EXT_') && err.statusCode === 401).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
