import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeUtf8String, encodeUtf8String, isWellFormedUnicode } from './utf8-string.js';

const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));

describe('decodeUtf8String', () => {
  it.each([
    ['short form', '0c 05 616c696365', 'alice'],
    ['multi-byte UTF-8, not normalised', '0c 06 c3a97465cc81', '\u00e9te\u0301'],
    ['a leading BOM is kept, not stripped', '0c 04 efbbbf61', '\ufeffa'],
    ['long form at 128 bytes', `0c 81 80 ${'61'.repeat(128)}`, 'a'.repeat(128)],
    ['two-byte long form', `0c 82 0100 ${'62'.repeat(256)}`, 'b'.repeat(256)],
  ])('accepts %s', (_name, input, value) => {
    expect(decodeUtf8String(hex(input), 256)).toEqual({ ok: true, value });
  });

  it.each([
    ['no bytes at all', '', 'bad-tag'],
    ['PrintableString', '13 01 61', 'bad-tag'],
    ['OCTET STRING', '04 01 61', 'bad-tag'],
    ['constructed UTF8String (BER)', '2c 03 0c0161', 'bad-tag'],
    ['indefinite length', '0c 80 61 0000', 'bad-length'],
    ['non-minimal long form', '0c 81 01 61', 'bad-length'],
    ['long form with leading zero', `0c 82 0080 ${'61'.repeat(128)}`, 'bad-length'],
    ['length beyond the buffer', '0c 05 6162', 'bad-length'],
    ['long-form length beyond the buffer', '0c 81 ff 61', 'bad-length'],
    ['missing length', '0c', 'bad-length'],
    ['trailing bytes', '0c 01 61 00', 'trailing-bytes'],
    ['a second element after it', '0c 01 61 0c 01 62', 'trailing-bytes'],
    ['empty string', '0c 00', 'empty'],
    ['truncated sequence', '0c 01 c3', 'bad-utf8'],
    ['bad continuation', '0c 02 c328', 'bad-utf8'],
    ['overlong encoding of "/"', '0c 02 c0af', 'bad-utf8'],
    ['encoded surrogate (CESU-8)', '0c 03 eda080', 'bad-utf8'],
    ['code point above U+10FFFF', '0c 04 f4908080', 'bad-utf8'],
    ['too long for the limit', `0c 81 81 ${'61'.repeat(129)}`, 'too-long'],
  ])('refuses %s (%s)', (_name, input, reason) => {
    const result = decodeUtf8String(hex(input), 128);
    expect(result.ok).toBe(false);
    expect(result.ok ? undefined : result.reason).toBe(reason);
  });

  it('reports how many bytes trail and how long an over-long value is', () => {
    expect(decodeUtf8String(hex('0c 01 61 00 00'), 8)).toEqual({ ok: false, reason: 'trailing-bytes', count: 2 });
    expect(decodeUtf8String(hex('0c 03 616263'), 2)).toEqual({ ok: false, reason: 'too-long', length: 3, max: 2 });
  });
});

describe('encodeUtf8String', () => {
  it('uses the short form below 128 bytes and the minimal long form above', () => {
    expect(Buffer.from(encodeUtf8String('a', 300)).toString('hex')).toBe('0c0161');
    expect(Buffer.from(encodeUtf8String('a'.repeat(127), 300)).subarray(0, 2).toString('hex')).toBe('0c7f');
    expect(Buffer.from(encodeUtf8String('a'.repeat(128), 300)).subarray(0, 3).toString('hex')).toBe('0c8180');
    expect(Buffer.from(encodeUtf8String('a'.repeat(256), 300)).subarray(0, 4).toString('hex')).toBe('0c820100');
  });
  it('refuses empty, over-long and ill-formed strings', () => {
    expect(() => encodeUtf8String('', 10)).toThrow(RangeError);
    expect(() => encodeUtf8String('abc', 2)).toThrow(RangeError);
    expect(() => encodeUtf8String('a\ud800b', 10)).toThrow(/surrogate/);
    expect(() => encodeUtf8String('\udc00', 10)).toThrow(/surrogate/);
  });
  it('detects unpaired surrogates', () => {
    expect(isWellFormedUnicode('😀')).toBe(true);
    expect(isWellFormedUnicode('\ud83d')).toBe(false);
    expect(isWellFormedUnicode('\ude00x')).toBe(false);
  });
});

describe('properties', () => {
  const anyText = fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }).filter((s) => Buffer.byteLength(s) <= 256);

  it('round-trips any well-formed text, unicode included', () => {
    fc.assert(
      fc.property(anyText, (s) => {
        expect(decodeUtf8String(encodeUtf8String(s, 256), 256)).toEqual({ ok: true, value: s });
      }),
    );
  });

  it('accepts garbage only when it is the canonical encoding of what it decodes to', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (garbage) => {
        const result = decodeUtf8String(garbage, 256);
        if (result.ok) expect(Buffer.from(encodeUtf8String(result.value, 256)).equals(Buffer.from(garbage))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
