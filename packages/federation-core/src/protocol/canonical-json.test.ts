import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { canonicalJson } from './canonical-json.js';

describe('canonicalJson — RFC 8785 behaviour', () => {
  it.each<[string, unknown, string]>([
    ['sorted keys, no whitespace', { b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }, '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}'],
    ['empty containers', { a: [], b: {} }, '{"a":[],"b":{}}'],
    ['primitives', [true, false, null, 'x'], '[true,false,null,"x"]'],
    ['-0 is 0', -0, '0'],
    ['shortest numbers (RFC 8785 §3.2.2.3 examples)', [1e30, 4.5, 0.002, 0.000001, 1e-7, 1e21, 1e20, 333333333.3333333, 9007199254740991], '[1e+30,4.5,0.002,0.000001,1e-7,1e+21,100000000000000000000,333333333.3333333,9007199254740991]'],
    ['string escapes as JSON.stringify', 'a"b\\c\n\u0001\u2028', '"a\\"b\\\\c\\n\\u0001\u2028"'],
    ['a lone surrogate is escaped, not rejected', '\ud800', '"\\ud800"'],
    ['undefined members dropped', { a: undefined, b: 1, c: () => 1, d: Symbol('x') }, '{"b":1}'],
    ['undefined in arrays becomes null', [undefined, () => 1], '[null,null]'],
    ['toJSON is honoured (Date)', { at: new Date('2030-01-31T12:00:00Z') }, '{"at":"2030-01-31T12:00:00.000Z"}'],
    ['null-prototype objects', Object.assign(Object.create(null) as object, { b: 2, a: 1 }), '{"a":1,"b":2}'],
    ['integer-like keys sort as strings', { '10': 1, '9': 2, a: 3 }, '{"10":1,"9":2,"a":3}'],
  ])('%s', (_name, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
  });

  it('sorts keys by UTF-16 code units (RFC 8785 §3.2.3 example)', () => {
    const input = {
      '\u20ac': 'Euro Sign',
      '\r': 'Carriage Return',
      '\ufb33': 'Hebrew Letter Dalet With Dagesh',
      '1': 'One',
      '\ud83d\ude00': 'Emoji: Grinning Face',
      '\u0080': 'Control',
      '\u00f6': 'Latin Small Letter O With Diaeresis',
    };
    // (Compared as text: parsing back would move the integer-like key "1" first again.)
    const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'];
    const expected = `{${order.map((k) => `${JSON.stringify(k)}:${JSON.stringify(input[k as keyof typeof input])}`).join(',')}}`;
    expect(canonicalJson(input)).toBe(expected);
  });

  it.each<[string, unknown]>([
    ['NaN', Number.NaN],
    ['Infinity', { a: Number.POSITIVE_INFINITY }],
    ['-Infinity in an array', [Number.NEGATIVE_INFINITY]],
    ['bigint', { n: 1n }],
    ['top-level undefined', undefined],
    ['top-level function', () => 1],
    ['a Map', new Map([['a', 1]])],
    ['a Set', { s: new Set([1]) }],
    ['a class instance', new (class Foo { a = 1; })()],
  ])('refuses %s', (_name, value) => {
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });

  it('refuses cycles but accepts shared (acyclic) references', () => {
    const shared = { x: 1 };
    expect(canonicalJson({ a: shared, b: shared })).toBe('{"a":{"x":1},"b":{"x":1}}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(/cyclic/);
  });

  it('never puts the value into an error message', () => {
    expect(() => canonicalJson({ secret: 'hunter2', n: Number.NaN })).toThrow(expect.objectContaining({ message: expect.not.stringContaining('hunter2') as string }) as Error);
  });

  it('property: parses back to the same data and is independent of key order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
          const reversed = Object.fromEntries(Object.entries(value).reverse());
          expect(canonicalJson(reversed)).toBe(text);
        }
      }),
    );
  });
});
