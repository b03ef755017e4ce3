import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, encodeLength, enumerated, integer, integerFromMagnitude, oid, setOf, time, tlv } from './der-writer.js';
import {
  bitIsSet,
  bytesEqual,
  DerCursor,
  DerError,
  decodeBitString,
  decodeBoolean,
  decodeInteger,
  decodeOid,
  decodeTime,
  readSingle,
  readTlv,
  Tag,
  toHex,
  valueOf,
} from './der.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const kindOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    if (err instanceof DerError) return err.kind;
    throw err;
  }
  return 'ok';
};

describe('readTlv', () => {
  it.each([
    ['short form', bytes(0x04, 0x02, 1, 2), 'ok'],
    ['long form at 128', concatBytes([bytes(0x04, 0x81, 0x80), new Uint8Array(128)]), 'ok'],
    ['long form below 128 (non-minimal)', bytes(0x04, 0x81, 0x02, 1, 2), 'non-minimal-length'],
    ['long form with a leading zero', concatBytes([bytes(0x04, 0x82, 0x00, 0x80), new Uint8Array(128)]), 'non-minimal-length'],
    ['indefinite length', bytes(0x30, 0x80, 0x00, 0x00), 'indefinite-length'],
    ['five length bytes', bytes(0x04, 0x85, 1, 0, 0, 0, 0), 'length-too-large'],
    ['length past the end', bytes(0x04, 0x05, 1, 2), 'truncated'],
    ['long-form length past the end', bytes(0x04, 0x82, 0x01), 'truncated'],
    ['no length byte', bytes(0x04), 'truncated'],
    ['empty input', bytes(), 'truncated'],
    ['multi-byte tag', bytes(0x1f, 0x81, 0x01, 0x00), 'high-tag-number'],
    ['length over 16 MiB', bytes(0x04, 0x84, 0x02, 0, 0, 0), 'length-too-large'],
  ])('%s → %s', (_name, input, kind) => {
    expect(kindOf(() => readTlv(input, 0))).toBe(kind);
  });

  it('reports offsets of header, value and end', () => {
    expect(readTlv(bytes(0xff, 0x04, 0x02, 7, 8), 1)).toEqual({ tag: 0x04, start: 1, valueStart: 3, end: 5 });
  });

  it('readSingle refuses trailing bytes and a wrong tag', () => {
    expect(kindOf(() => readSingle(bytes(0x04, 0x00, 0x00)))).toBe('trailing-bytes');
    expect(kindOf(() => readSingle(bytes(0x04, 0x00), Tag.SEQUENCE))).toBe('unexpected-tag');
    expect(readSingle(bytes(0x05, 0x00), Tag.NULL).end).toBe(2);
  });

  it('round-trips any value through the writer, at every length form', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70_000 }), (value) => {
        const der = tlv(Tag.OCTET_STRING, value);
        const t = readSingle(der, Tag.OCTET_STRING);
        return bytesEqual(valueOf(der, t), value);
      }),
      { numRuns: 60 },
    );
  });
});

describe('DerCursor', () => {
  const seq = tlv(Tag.SEQUENCE, bytes(0x02, 0x01, 0x05), bytes(0x05, 0x00));
  it('walks children, reads optionals and checks the end', () => {
    const c = new DerCursor(seq, readSingle(seq));
    expect(c.peekTag()).toBe(Tag.INTEGER);
    expect(c.optional(Tag.BOOLEAN)).toBeUndefined();
    expect(decodeInteger(valueOf(seq, c.next(Tag.INTEGER)))).toBe(5n);
    expect(c.optional(Tag.NULL)).toBeDefined();
    expect(c.hasMore()).toBe(false);
    expect(c.peekTag()).toBeUndefined();
    c.finish();
    expect(kindOf(() => c.next())).toBe('truncated');
  });
  it('refuses trailing children, wrong tags and primitive parents', () => {
    const c = new DerCursor(seq, readSingle(seq));
    expect(kindOf(() => c.finish('x'))).toBe('trailing-bytes');
    expect(kindOf(() => c.next(Tag.OID))).toBe('unexpected-tag');
    const prim = bytes(0x04, 0x00);
    expect(kindOf(() => new DerCursor(prim, readSingle(prim)))).toBe('unexpected-tag');
  });
});

describe('primitive decoders', () => {
  it('decodes OIDs and refuses non-minimal or truncated ones', () => {
    expect(decodeOid(oid('1.2.840.113549.1.1.11').subarray(2))).toBe('1.2.840.113549.1.1.11');
    expect(decodeOid(bytes(0x2b, 0x06, 0x01, 0x04, 0x01, 0x86, 0x8d, 0x1f, 0x01))).toBe('1.3.6.1.4.1.99999.1');
    expect(decodeOid(bytes(0x00))).toBe('0.0');
    expect(decodeOid(bytes(0x88, 0x37))).toBe('2.999');
    expect(kindOf(() => decodeOid(bytes()))).toBe('invalid-value');
    expect(kindOf(() => decodeOid(bytes(0x2b, 0x80, 0x01)))).toBe('invalid-value');
    expect(kindOf(() => decodeOid(bytes(0x2b, 0x86)))).toBe('invalid-value');
  });

  it('round-trips OIDs, including 128-bit UUID arcs', () => {
    const arc = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n });
    fc.assert(
      fc.property(fc.constantFrom(0n, 1n, 2n), fc.bigInt({ min: 0n, max: 39n }), fc.array(arc, { maxLength: 6 }), (a, b, rest) => {
        const dotted = [a, b, ...rest].join('.');
        return decodeOid(oid(dotted).subarray(2)) === dotted;
      }),
    );
    expect(() => oid('1.40')).toThrow(RangeError);
    expect(() => oid('1.02')).toThrow(RangeError);
  });

  it('decodes INTEGERs strictly', () => {
    expect(decodeInteger(bytes(0x00))).toBe(0n);
    expect(decodeInteger(bytes(0x00, 0x80))).toBe(128n);
    expect(decodeInteger(bytes(0xff))).toBe(-1n);
    expect(decodeInteger(bytes(0x80))).toBe(-128n);
    expect(kindOf(() => decodeInteger(bytes()))).toBe('invalid-value');
    expect(kindOf(() => decodeInteger(bytes(0x00, 0x7f)))).toBe('invalid-value');
    expect(kindOf(() => decodeInteger(bytes(0xff, 0x80)))).toBe('invalid-value');
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 1n << 200n }), (n) => decodeInteger(integer(n).subarray(2)) === n));
    expect(() => integer(-1n)).toThrow(RangeError);
  });

  it('writes magnitudes as positive minimal INTEGERs', () => {
    expect(toHex(integerFromMagnitude(bytes(0x00, 0x00, 0x7f)))).toBe('02017f');
    expect(toHex(integerFromMagnitude(bytes(0x80)))).toBe('02020080');
    expect(toHex(integerFromMagnitude(bytes()))).toBe('020100');
    expect(toHex(enumerated(1))).toBe('0a0101');
  });

  it('decodes BOOLEANs strictly', () => {
    expect(decodeBoolean(bytes(0xff))).toBe(true);
    expect(decodeBoolean(bytes(0x00))).toBe(false);
    expect(kindOf(() => decodeBoolean(bytes(0x01)))).toBe('invalid-value');
    expect(kindOf(() => decodeBoolean(bytes(0xff, 0xff)))).toBe('invalid-value');
  });

  it('decodes BIT STRINGs and refuses non-zero unused bits', () => {
    const ku = decodeBitString(bytes(0x05, 0xa0));
    expect(bitIsSet(ku, 0)).toBe(true);
    expect(bitIsSet(ku, 1)).toBe(false);
    expect(bitIsSet(ku, 2)).toBe(true);
    expect(bitIsSet(ku, 9)).toBe(false);
    expect(kindOf(() => decodeBitString(bytes()))).toBe('invalid-value');
    expect(kindOf(() => decodeBitString(bytes(0x08, 0x00)))).toBe('invalid-value');
    expect(kindOf(() => decodeBitString(bytes(0x01)))).toBe('invalid-value');
    expect(kindOf(() => decodeBitString(bytes(0x01, 0x01)))).toBe('invalid-value');
  });

  it.each([
    [Tag.UTC_TIME, '491231235959Z', '2049-12-31T23:59:59.000Z'],
    [Tag.UTC_TIME, '500101000000Z', '1950-01-01T00:00:00.000Z'],
    [Tag.GENERALIZED_TIME, '20500101000000Z', '2050-01-01T00:00:00.000Z'],
  ])('decodes time %s %s', (tag, text, iso) => {
    expect(decodeTime(tag, Buffer.from(text)).toISOString()).toBe(iso);
  });

  it.each([
    [Tag.UTC_TIME, '2402301200Z'],
    [Tag.UTC_TIME, '240230120000Z'],
    [Tag.UTC_TIME, '240101120000+0100'],
    [Tag.GENERALIZED_TIME, '20240101120000.5Z'],
    [Tag.GENERALIZED_TIME, '20241301120000Z'],
    [Tag.OCTET_STRING, '240101120000Z'],
  ])('refuses time %s %s', (tag, text) => {
    expect(() => decodeTime(tag, Buffer.from(text))).toThrow(DerError);
  });

  it('writes UTCTime through 2049 and GeneralizedTime after, and reads it back', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1950-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }), (d) => {
        const der = time(d);
        const t = readSingle(der);
        expect(t.tag).toBe(d.getUTCFullYear() < 2050 ? Tag.UTC_TIME : Tag.GENERALIZED_TIME);
        expect(decodeTime(t.tag, valueOf(der, t)).getTime()).toBe(Math.floor(d.getTime() / 1000) * 1000);
      }),
    );
    expect(() => time(new Date('+010000-01-01T00:00:00Z'))).toThrow(RangeError);
  });
});

describe('writer', () => {
  it('encodes lengths minimally', () => {
    expect(toHex(encodeLength(0))).toBe('00');
    expect(toHex(encodeLength(127))).toBe('7f');
    expect(toHex(encodeLength(128))).toBe('8180');
    expect(toHex(encodeLength(256))).toBe('820100');
    expect(() => encodeLength(-1)).toThrow(RangeError);
  });
  it('sorts SET OF elements as DER requires', () => {
    expect(toHex(setOf(bytes(0x02, 0x01, 0x09), bytes(0x02, 0x01, 0x01)))).toBe('3106020101020109');
  });
});
