import { createHash, X509Certificate as NodeX509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { isMosaicError } from '../errors.js';
import { makeTestCa, type RootCa } from '../test-support/pki.js';
import { parseCertificateDer } from './certificate-der.js';
import { createRootCa } from './root-ca.js';
import { formatPin, parsePin, pinsEqual, spkiPin, spkiPinFromSpki } from './pins.js';
import { x509 } from './x509.js';

let ca: RootCa;
beforeAll(async () => {
  ca = await makeTestCa();
});

const HEX = '9f3a41c287ec0b6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d';

describe('spkiPin', () => {
  it('is sha256: + hex of SHA-256 over the certificate SPKI bytes', () => {
    const spki = parseCertificateDer(ca.certDer).spki;
    const expected = `sha256:${createHash('sha256').update(spki).digest('hex')}`;
    expect(spkiPin(ca.certPem)).toBe(expected);
    expect(spkiPin(ca.certDer)).toBe(expected);
    expect(spkiPin(new NodeX509Certificate(ca.certPem))).toBe(expected);
    expect(spkiPin(new x509.X509Certificate(ca.certPem))).toBe(expected);
    expect(spkiPinFromSpki(spki)).toBe(expected);
    // Node re-encodes the key the same way for a named-curve uncompressed point.
    expect(spkiPin(ca.certPem)).toBe(`sha256:${createHash('sha256').update(new NodeX509Certificate(ca.certPem).publicKey.export({ type: 'spki', format: 'der' })).digest('hex')}`);
  });

  it('survives re-issuing the CA certificate with the same key, and differs for another key', async () => {
    const reissued = await createRootCa({ commonName: 'renamed', keys: ca.keys });
    expect(spkiPin(reissued.certPem)).toBe(spkiPin(ca.certPem));
    const other = await makeTestCa();
    expect(spkiPin(other.certPem)).not.toBe(spkiPin(ca.certPem));
  });

  it('refuses input that is not one certificate', () => {
    expect(() => spkiPin('<html>')).toThrow(expect.objectContaining({ code: 'CERT_MALFORMED' }) as Error);
    expect(() => spkiPin(ca.certPem + ca.certPem)).toThrow(/expected one CERTIFICATE/);
  });
});

describe('parsePin', () => {
  it.each([
    [`sha256:${HEX}`],
    [`SHA256:${HEX.toUpperCase()}`],
    [`  sha256:${HEX}\n`],
    [HEX],
    [HEX.match(/.{2}/g)!.join(':')],
    [`sha256:${HEX.match(/.{4}/g)!.join(' ')}`],
    [`sha256: ${HEX.toUpperCase().match(/.{2}/g)!.join(':')}`],
  ])('accepts %s', (input) => {
    expect(parsePin(input)).toBe(`sha256:${HEX}`);
  });

  it.each([
    ['sha1 pin', `sha1:${HEX.slice(0, 40)}`, /only sha256/],
    ['md5 prefix', `md5:${HEX}`, /only sha256/],
    ['too short', `sha256:${HEX.slice(2)}`, /62 hex digits/],
    ['too long', `sha256:${HEX}00`, /66 hex digits/],
    ['non-hex', `sha256:${HEX.slice(1)}g`, /only hold hex/],
    ['dash separators', HEX.match(/.{4}/g)!.join('-'), /only hold hex/],
    ['a double separator', `${HEX.slice(0, 4)}::${HEX.slice(4)}`, /only hold hex/],
    ['a trailing separator', `${HEX}:`, /only hold hex/],
    ['a tab', `${HEX.slice(0, 4)}\t${HEX.slice(4)}`, /only hold hex/],
    ['empty', '', /only hold hex/],
    ['base64', Buffer.from(HEX, 'hex').toString('base64'), /only hold hex|only sha256/],
  ])('refuses %s with PIN_INVALID (400)', (_name, input, message) => {
    let err: unknown;
    try {
      parsePin(input);
    } catch (e) {
      err = e;
    }
    expect(isMosaicError(err) && err.code).toBe('PIN_INVALID');
    expect(isMosaicError(err) && err.statusCode).toBe(400);
    expect((err as Error).message).toMatch(message);
  });

  it('refuses a non-string', () => {
    expect(() => parsePin(42 as unknown as string)).toThrow(/expected a string/);
  });

  it('round-trips every spelling it produces or displays', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.boolean(), (bytes, upper) => {
        const pin = `sha256:${Buffer.from(bytes).toString('hex')}`;
        const shown = formatPin(pin, { groupsPerLine: 8 }).replace(/\n/g, ' ');
        expect(parsePin(upper ? shown : shown.toLowerCase())).toBe(pin);
      }),
    );
  });
});

describe('pinsEqual / formatPin', () => {
  it('compares canonical forms', () => {
    expect(pinsEqual(`sha256:${HEX}`, HEX.toUpperCase())).toBe(true);
    expect(pinsEqual(`sha256:${HEX}`, `sha256:${HEX.slice(0, 63)}0`)).toBe(false);
    expect(() => pinsEqual('x', HEX)).toThrow(expect.objectContaining({ code: 'PIN_INVALID' }) as Error);
  });

  it('groups by four, upper case, optionally over several lines', () => {
    expect(formatPin(`sha256:${HEX}`)).toBe('9F3A 41C2 87EC 0B6D 5E4F 3A2B 1C0D 9E8F 7A6B 5C4D 3E2F 1A0B 9C8D 7E6F 5A4B 3C2D');
    expect(formatPin(HEX, { groupsPerLine: 8 })).toBe('9F3A 41C2 87EC 0B6D 5E4F 3A2B 1C0D 9E8F\n7A6B 5C4D 3E2F 1A0B 9C8D 7E6F 5A4B 3C2D');
  });
});
