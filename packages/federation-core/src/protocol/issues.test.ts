import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { MosaicError } from '../errors.js';
import {
  MAX_PROBLEMS,
  capProblems,
  checkWith,
  formatPath,
  friendlyErrorMap,
  issuesToProblems,
  parseOrThrow,
  problemsError,
  quoteForDisplay,
  summarizeProblems,
} from './issues.js';

describe('formatPath', () => {
  it.each<[PropertyKey[], string]>([
    [[], ''],
    [['resources'], 'resources'],
    [['resources', 0], 'resources[0]'],
    [['filters', 'tasks', 'include_teams', 0], 'filters.tasks.include_teams[0]'],
    [['filters', 'a b'], 'filters["a b"]'],
    [['x', '\u001b[2J'], 'x["\\u001b[2J"]'],
    [[0, 1], '[0][1]'],
    [[Symbol('s')], '["Symbol(s)"]'],
  ])('%j → %s', (path, expected) => {
    expect(formatPath(path)).toBe(expected);
  });
});

describe('quoteForDisplay', () => {
  it.each([
    ['plain', '"plain"'],
    ['new\nline', '"new\\nline"'],
    ['\u001b[31m', '"\\u001b[31m"'],
    ['\u009b31m', '"\\u009b31m"'],
    ['bidi\u202ekcatta', '"bidi\\u202ekcatta"'],
    ['sep\u2028x', '"sep\\u2028x"'],
    ['del\u007f', '"del\\u007f"'],
  ])('%j → %s', (value, expected) => {
    expect(quoteForDisplay(value)).toBe(expected);
  });
  it('truncates long values', () => {
    expect(quoteForDisplay('x'.repeat(100), 5)).toBe('"xxxxx…"');
  });
});

describe('friendlyErrorMap wording', () => {
  const cases: [string, z.ZodType, unknown, string][] = [
    ['missing', z.object({ a: z.string() }), {}, 'required: a string'],
    ['wrong type, number shown', z.string(), 5, 'expected a string, got 5'],
    ['wrong type, string never shown', z.number(), 'secret-token', 'expected a number, got a string'],
    ['int', z.int(), 1.5, 'expected a whole number, got 1.5'],
    ['boolean', z.boolean(), 'yes', 'expected true or false, got a string'],
    ['array', z.array(z.string()), {}, 'expected a list (JSON array), got an object'],
    ['object', z.object({}), [], 'expected an object, got a list'],
    ['null', z.object({}), null, 'expected an object, got null'],
    ['non-finite', z.string(), Number.POSITIVE_INFINITY, 'expected a string, got a non-finite number'],
    ['undefined-ish kinds', z.string(), 10n, 'expected a string, got bigint'],
    ['empty string', z.string().min(1), '', 'must not be empty'],
    ['short string', z.string().min(3), 'ab', 'must be at least 3 characters long'],
    ['long string', z.string().max(2), 'abc', 'must be at most 2 characters long'],
    ['empty list', z.array(z.string()).min(1), [], 'must list at least one item'],
    ['short list', z.array(z.string()).min(2), ['a'], 'must list at least 2 items'],
    ['long list', z.array(z.string()).max(1), ['a', 'b'], 'must list at most 1 items'],
    ['small number', z.number().min(1), 0, 'must be at least 1'],
    ['exclusive min', z.number().gt(1), 1, 'must be greater than 1'],
    ['big number', z.number().max(1), 2, 'must be at most 1'],
    ['exclusive max', z.number().lt(1), 1, 'must be less than 1'],
    ['enum', z.enum(['a', 'b']), 'c', 'must be one of: "a", "b"'],
    ['literal', z.literal('ok'), 'no', 'must be "ok"'],
    ['datetime', z.iso.datetime(), 'now', 'must be an ISO 8601 date-time with a time zone, such as 2030-01-31T12:00:00Z'],
    ['url', z.url(), 'nope', 'must be an absolute URL'],
    ['uuid', z.uuid(), 'x', 'must be a UUID'],
    ['regex', z.string().regex(/^a$/), 'b', 'has an invalid format'],
    ['other format', z.email(), 'x', 'must be a valid email'],
    ['multiple of', z.number().multipleOf(5), 7, 'must be a multiple of 5'],
    ['union', z.union([z.string(), z.number()]), true, 'does not match any allowed form'],
    ['record key', z.record(z.string().min(2), z.string()), { b: 'x' }, 'has an invalid key'],
    ['custom refine', z.string().refine(() => false, 'custom words'), 'x', 'custom words'],
  ];
  it.each(cases)('%s', (_name, schema, input, message) => {
    const result = checkWith(schema, input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems[0]?.message).toBe(message);
  });

  it('returns undefined for what it does not know, leaving zod’s default', () => {
    expect(friendlyErrorMap({ code: 'custom', input: 1, message: undefined } as never)).toBeUndefined();
  });

  it('splits unknown keys into one problem each', () => {
    const result = checkWith(z.strictObject({ a: z.string().optional() }), { b: 1, c: 2 });
    expect(result).toEqual({ ok: false, problems: [{ path: 'b', message: 'unknown key' }, { path: 'c', message: 'unknown key' }] });
  });
});

describe('problem lists', () => {
  it('caps at MAX_PROBLEMS and says how many were left out', () => {
    const many = Array.from({ length: 120 }, (_, i) => ({ path: `p${i}`, message: 'x' }));
    const capped = capProblems(many);
    expect(capped).toHaveLength(MAX_PROBLEMS);
    expect(capped.at(-1)).toEqual({ path: '', message: 'and 71 more problems' });
    expect(capProblems(many.slice(0, 3))).toHaveLength(3);
  });
  it('issuesToProblems caps too', () => {
    const issues = Array.from({ length: 60 }, () => ({ code: 'custom' as const, path: ['x'], message: 'bad' }));
    expect(issuesToProblems(issues)).toHaveLength(MAX_PROBLEMS);
  });
  it.each([
    [[], 'no problems'],
    [[{ path: '', message: 'expected an object' }], 'expected an object'],
    [[{ path: 'a', message: 'm' }], 'a: m'],
    [[{ path: 'a', message: 'm' }, { path: 'b', message: 'n' }], 'a: m (and 1 more)'],
  ])('summarizeProblems(%j)', (problems, expected) => {
    expect(summarizeProblems(problems)).toBe(expected);
  });
});

describe('parseOrThrow', () => {
  const schema = z.strictObject({ n: z.int().min(1) });
  it('returns the parsed value', () => {
    expect(parseOrThrow(schema, { n: 2 })).toEqual({ n: 2 });
  });
  it('throws VALIDATION_FAILED (400) with every problem in details', () => {
    try {
      parseOrThrow(schema, { n: 0, x: 1 });
      expect.unreachable();
    } catch (err) {
      const e = err as MosaicError;
      expect(e.code).toBe('VALIDATION_FAILED');
      expect(e.statusCode).toBe(400);
      expect(e.message).toBe('request body is invalid: n: must be at least 1 (and 1 more)');
      expect(e.details).toEqual([
        { path: 'n', message: 'must be at least 1' },
        { path: 'x', message: 'unknown key' },
      ]);
    }
  });
  it('takes another code and noun', () => {
    expect(() => parseOrThrow(schema, {}, { code: 'SEED_INVALID', what: 'seed file' })).toThrow(
      expect.objectContaining({ code: 'SEED_INVALID', message: 'seed file is invalid: n: required: a number' }) as Error,
    );
    expect(problemsError([{ path: '', message: 'x' }]).code).toBe('VALIDATION_FAILED');
  });
});
