import { describe, expect, it } from 'vitest';
import {
  randomIdHex,
  canonicalCaPin,
  continueTrace,
  generateRequestId,
  parseRequestId,
  parseTraceparent,
  enrollmentUrlProblem,
  redactEnrollmentUrl,
  redactEnrollPath,
  splitEnrollmentUrl,
} from './identifiers.js';

describe('parseRequestId (SECURITY 37: malformed → ignored)', () => {
  it.each([
    ['abc', 'abc'],
    ['req-1.2:3_4', 'req-1.2:3_4'],
    ['6b1f0e3a-0000-4000-8000-000000000000', '6b1f0e3a-0000-4000-8000-000000000000'],
    ['x'.repeat(128), 'x'.repeat(128)],
  ])('accepts %j', (value, expected) => {
    expect(parseRequestId(value)).toBe(expected);
  });
  it.each([
    ['empty', ''],
    ['too long', 'x'.repeat(129)],
    ['space', 'a b'],
    ['newline (log injection)', 'abc\ninjected: 1'],
    ['terminal escape', '\u001b[31mred'],
    ['slash', 'a/b'],
    ['unicode', 'réq'],
    ['repeated header', ['a', 'b']],
    ['a single-element array', ['abc']],
    ['absent', undefined],
    ['a number', 42],
  ])('ignores %s', (_name, value) => {
    expect(parseRequestId(value)).toBeNull();
  });
  it('generates ids that it would accept', () => {
    const id = generateRequestId();
    expect(parseRequestId(id)).toBe(id);
    expect(generateRequestId()).not.toBe(id);
  });
});

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('parseTraceparent', () => {
  it.each([
    [`00-${TRACE}-${PARENT}-01`, { version: '00', traceId: TRACE, parentId: PARENT, flags: '01', sampled: true }],
    [`00-${TRACE}-${PARENT}-00`, { version: '00', traceId: TRACE, parentId: PARENT, flags: '00', sampled: false }],
    [`00-${TRACE}-${PARENT}-03`, { version: '00', traceId: TRACE, parentId: PARENT, flags: '03', sampled: true }],
  ])('accepts %s', (value, expected) => {
    expect(parseTraceparent(value)).toEqual(expected);
  });
  it.each([
    ['all-zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    ['all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['another version', `01-${TRACE}-${PARENT}-01`],
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
    ['upper-case hex', `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ['short trace id', `00-${TRACE.slice(1)}-${PARENT}-01`],
    ['long parent id', `00-${TRACE}-${PARENT}0-01`],
    ['one-digit flags', `00-${TRACE}-${PARENT}-1`],
    ['trailing data on version 00', `00-${TRACE}-${PARENT}-01-extra`],
    ['surrounding space', ` 00-${TRACE}-${PARENT}-01`],
    ['newline', `00-${TRACE}-${PARENT}-01\n`],
    ['non-hex', `00-${TRACE.replace('4', 'g')}-${PARENT}-01`],
    ['empty', ''],
    ['repeated header', [`00-${TRACE}-${PARENT}-01`, `00-${TRACE}-${PARENT}-01`]],
    ['absent', undefined],
  ])('ignores %s', (_name, value) => {
    expect(parseTraceparent(value)).toBeNull();
  });
});

describe('continueTrace', () => {
  it('continues a valid caller trace with a new span', () => {
    const parent = parseTraceparent(`00-${TRACE}-${PARENT}-01`);
    const ctx = continueTrace(parent);
    expect(ctx.traceId).toBe(TRACE);
    expect(ctx.parentId).toBe(PARENT);
    expect(ctx.spanId).toMatch(/^[0-9a-f]{16}$/);
    expect(ctx.spanId).not.toBe(PARENT);
    expect(ctx.sampled).toBe(true);
    expect(parseTraceparent(ctx.traceparent)).toEqual({ version: '00', traceId: TRACE, parentId: ctx.spanId, flags: '01', sampled: true });
  });
  it('starts a new trace when there is none', () => {
    const ctx = continueTrace(null);
    expect(ctx.parentId).toBeNull();
    expect(ctx.sampled).toBe(false);
    expect(parseTraceparent(ctx.traceparent)?.traceId).toBe(ctx.traceId);
    expect(continueTrace(null).traceId).not.toBe(ctx.traceId);
    expect(continueTrace(null, { sampled: true }).traceparent).toMatch(/-01$/);
  });
});

const HEX = '9f3a41c287ec0b6e9f3a41c287ec0b6e9f3a41c287ec0b6e9f3a41c287ec0b6e';

describe('randomIdHex (identifiers from a pooled CSPRNG buffer)', () => {
  it('gives the asked number of bytes as lowercase hex, never the same bytes twice across refills', () => {
    const seen = new Set<string>();
    // 3 000 × 16 bytes: the 4 KiB pool is refilled about a dozen times, mid-id included (4096 / 24 is not whole).
    for (let i = 0; i < 3_000; i++) {
      const id = randomIdHex(i % 2 === 0 ? 16 : 8);
      expect(id).toMatch(i % 2 === 0 ? /^[0-9a-f]{32}$/ : /^[0-9a-f]{16}$/);
      seen.add(id);
    }
    expect(seen.size).toBe(3_000);
    // The bytes are spread: every hex digit shows up at about 1/16 of the time (a buffer handed out twice, or zeros, would not).
    const digits = [...seen].join('');
    for (const d of '0123456789abcdef') expect(digits.split(d).length - 1).toBeGreaterThan(digits.length / 16 / 1.2);
  });

  it('refuses sizes outside 1–256 bytes', () => {
    for (const n of [0, -1, 257, 1.5, Number.NaN]) expect(() => randomIdHex(n)).toThrow(RangeError);
  });
});

describe('canonicalCaPin', () => {
  it.each([
    [`sha256:${HEX}`],
    [`SHA256:${HEX.toUpperCase()}`],
    [HEX],
    [`sha256:${HEX.match(/../g)!.join(':')}`],
    [`sha256:${HEX.match(/..../g)!.join(' ')}`],
    [`  sha256:${HEX}\n`],
  ])('normalises %j', (input) => {
    expect(canonicalCaPin(input)).toBe(`sha256:${HEX}`);
  });
  it.each([[''], ['sha256:'], [`sha256:${HEX.slice(2)}`], [`sha256:${HEX}00`], [`sha1:${HEX}`], [`sha256:${HEX.replace('9', 'z')}`], [`sha256:${HEX.slice(0, 32)}-${HEX.slice(32)}`]])(
    'refuses %j',
    (input) => {
      expect(canonicalCaPin(input)).toBeNull();
    },
  );
});

const TOKEN = 'kq3AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-Zs';

describe('splitEnrollmentUrl', () => {
  it.each([
    [`https://work.example.net:8443/api/federation/v1/enroll/${TOKEN}`, { baseUrl: 'https://work.example.net:8443', host: 'work.example.net:8443', hostname: 'work.example.net', token: TOKEN }],
    [`https://work.example.net/mosaic/api/federation/v1/enroll/${TOKEN}`, { baseUrl: 'https://work.example.net/mosaic', host: 'work.example.net', hostname: 'work.example.net', token: TOKEN }],
    [`  https://127.0.0.1:9443/api/federation/v1/enroll/${TOKEN}\n`, { baseUrl: 'https://127.0.0.1:9443', host: '127.0.0.1:9443', hostname: '127.0.0.1', token: TOKEN }],
  ])('splits %s', (url, expected) => {
    expect(splitEnrollmentUrl(url)).toEqual(expected);
  });
  it.each([
    ['http', `http://work/api/federation/v1/enroll/${TOKEN}`],
    ['credentials', `https://u:p@work/api/federation/v1/enroll/${TOKEN}`],
    ['query', `https://work/api/federation/v1/enroll/${TOKEN}?x=1`],
    ['fragment', `https://work/api/federation/v1/enroll/${TOKEN}#x`],
    ['no token', 'https://work/api/federation/v1/enroll/'],
    ['short token', 'https://work/api/federation/v1/enroll/abc'],
    ['token with a slash', `https://work/api/federation/v1/enroll/${TOKEN}/x`],
    ['another route', `https://work/api/federation/v1/list/${TOKEN}`],
    ['not a URL', 'work.example.net'],
    ['empty', ''],
  ])('refuses %s', (_name, url) => {
    expect(splitEnrollmentUrl(url)).toBeNull();
  });
});

describe('redactEnrollPath', () => {
  it.each([
    [`/api/federation/v1/enroll/${TOKEN}`, '/api/federation/v1/enroll/<redacted>'],
    [`/api/federation/v1/enroll/${TOKEN}?a=b`, '/api/federation/v1/enroll/<redacted>'],
    ['/api/federation/v1/list/tasks', '/api/federation/v1/list/tasks'],
  ])('%s → %s', (path, expected) => {
    expect(redactEnrollPath(path)).toBe(expected);
  });
});

describe('enrollmentUrlProblem and redactEnrollmentUrl (the token is never repeated)', () => {
  const token = 'k'.repeat(43);
  const good = `https://work.example.net:8443/api/federation/v1/enroll/${token}`;
  it.each([
    [good, null],
    ['not a url', 'it does not parse as a URL'],
    [good.replace('https:', 'http:'), 'it must start with https:// (got http://)'],
    [good.replace('https://', 'https://u:p@'), 'it must not carry a user name or password'],
    [`${good}#x`, 'it must not have a query string or fragment'],
    [good.replace('enroll', 'enrol'), 'the path must end in /api/federation/v1/enroll/<token>'],
    [good.slice(0, -30), 'the token at its end is malformed (16–128 characters of A–Z a–z 0–9 _ -); was it cut when copied?'],
  ])('%s → %s', (url, problem) => {
    expect(enrollmentUrlProblem(url)).toBe(problem);
    if (problem !== null) expect(problem).not.toContain('kkkk');
  });

  it('redacts the token, keeping everything else', () => {
    expect(redactEnrollmentUrl(` ${good} `)).toBe('https://work.example.net:8443/api/federation/v1/enroll/<redacted>');
    expect(redactEnrollmentUrl('https://w/prefix/api/federation/v1/enroll/' + token)).toBe('https://w/prefix/api/federation/v1/enroll/<redacted>');
    expect(redactEnrollmentUrl('nope')).toBeNull();
  });
});
