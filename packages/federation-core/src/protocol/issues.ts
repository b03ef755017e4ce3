/**
 * From zod issues to problems a person can act on: `{ path: 'filters.tasks.include_teams[0]',
 * message: 'must not be empty' }`. One error map gives every schema of this package the same
 * wording (what is wrong and what is allowed); schemas override it where they know better.
 *
 * Messages describe values by type, never echo a string the caller sent (it could be a token
 * pasted into the wrong field); key names and enum candidates are shown quoted and escaped.
 */
import type { z } from 'zod';
import type { MosaicError } from '../errors.js';
import { codedError, type ErrorCode } from './codes.js';

/** One problem with an input: where (a JS-like path) and what is wrong / what is allowed. */
export interface FieldProblem {
  /** `''` for the document itself, else e.g. `filters.tasks.include_teams[0]`. */
  readonly path: string;
  readonly message: string;
}

/** At most this many problems are reported; the last one then says how many were left out. */
export const MAX_PROBLEMS = 50;

// Characters that would let a value rewrite a terminal line or reorder text: DEL and C1
// controls, line/paragraph separators and bidi controls. (JSON.stringify already escapes C0.)
const UNSAFE_DISPLAY = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `value` as a quoted, escaped, length-bounded string safe to put in a message or a terminal
 * (control, bidi and separator characters become `\uXXXX`).
 */
export function quoteForDisplay(value: string, maxLength = 60): string {
  const cut = value.length > maxLength ? `${value.slice(0, maxLength)}…` : value;
  return JSON.stringify(cut).replace(UNSAFE_DISPLAY, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * A zod path as a person writes it: `filters.tasks.include_teams[0]`; odd keys are quoted
 * (`filters["a b"]`); the root is `''`.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && IDENTIFIER.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${quoteForDisplay(String(seg), 80)}]`;
  }
  return out;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list (JSON array)',
  object: 'an object',
  null: 'null',
  literal: 'a fixed value',
};

function expectedText(expected: string): string {
  return EXPECTED[expected] ?? expected;
}

/** A value's kind for "got …" — numbers and booleans are shown, strings never are. */
function describeReceived(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  switch (typeof input) {
    case 'number':
      return Number.isFinite(input) ? String(input) : 'a non-finite number';
    case 'boolean':
      return String(input);
    case 'string':
      return 'a string';
    case 'object':
      return 'an object';
    default:
      return typeof input;
  }
}

function listValues(values: readonly unknown[]): string {
  return values.map((v) => (typeof v === 'string' ? quoteForDisplay(v) : String(v))).join(', ');
}

const FORMAT_TEXT: Record<string, string> = {
  datetime: 'must be an ISO 8601 date-time with a time zone, such as 2030-01-31T12:00:00Z',
  url: 'must be an absolute URL',
  uuid: 'must be a UUID',
  regex: 'has an invalid format',
};

/**
 * The package's zod error map: plain wording for every issue kind. Pass it per parse
 * (`schema.safeParse(v, { error: friendlyErrorMap })`); schema-level messages take precedence.
 */
export const friendlyErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined
        ? `required: ${expectedText(issue.expected)}`
        : `expected ${expectedText(issue.expected)}, got ${describeReceived(issue.input)}`;
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'string') return min <= 1 ? 'must not be empty' : `must be at least ${min} characters long`;
      if (issue.origin === 'array' || issue.origin === 'set') return min <= 1 ? 'must list at least one item' : `must list at least ${min} items`;
      return issue.inclusive === false ? `must be greater than ${min}` : `must be at least ${min}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'string') return `must be at most ${max} characters long`;
      if (issue.origin === 'array' || issue.origin === 'set') return `must list at most ${max} items`;
      return issue.inclusive === false ? `must be less than ${max}` : `must be at most ${max}`;
    }
    case 'invalid_value':
      return issue.values.length === 1 ? `must be ${listValues(issue.values)}` : `must be one of: ${listValues(issue.values)}`;
    case 'invalid_format':
      return FORMAT_TEXT[issue.format] ?? `must be a valid ${issue.format}`;
    case 'not_multiple_of':
      return `must be a multiple of ${issue.divisor}`;
    case 'unrecognized_keys':
      return 'unknown key';
    case 'invalid_union':
      return Array.isArray(issue.options) && issue.options.length > 0
        ? `must be one of: ${listValues(issue.options)}`
        : 'does not match any allowed form';
    case 'invalid_key':
      return 'has an invalid key';
    case 'invalid_element':
      return 'has an invalid element';
    default:
      return undefined;
  }
};

/**
 * Turn zod issues into {@link FieldProblem}s: one per unknown key (the key joins the path),
 * paths formatted by {@link formatPath}, at most {@link MAX_PROBLEMS}.
 */
export function issuesToProblems(issues: readonly z.core.$ZodIssue[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) problems.push({ path: formatPath([...issue.path, key]), message: issue.message });
    } else {
      problems.push({ path: formatPath(issue.path), message: issue.message });
    }
  }
  return capProblems(problems);
}

/** Keep at most {@link MAX_PROBLEMS}; the last one then says how many were left out. */
export function capProblems(problems: FieldProblem[]): FieldProblem[] {
  if (problems.length <= MAX_PROBLEMS) return problems;
  const kept = problems.slice(0, MAX_PROBLEMS - 1);
  kept.push({ path: '', message: `and ${problems.length - kept.length} more problems` });
  return kept;
}

/** One line summing up problems: the first one, and how many more there are. */
export function summarizeProblems(problems: readonly FieldProblem[]): string {
  const first = problems[0];
  if (first === undefined) return 'no problems';
  const head = first.path === '' ? first.message : `${first.path}: ${first.message}`;
  return problems.length === 1 ? head : `${head} (and ${problems.length - 1} more)`;
}

/** The outcome of {@link checkWith}. */
export type CheckResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problems: FieldProblem[] };

/** Parse `input` with `schema` and {@link friendlyErrorMap}; problems instead of a throw. */
export function checkWith<S extends z.ZodType>(schema: S, input: unknown): CheckResult<z.output<S>> {
  const result = schema.safeParse(input, { error: friendlyErrorMap });
  return result.success ? { ok: true, value: result.data } : { ok: false, problems: issuesToProblems(result.error.issues) };
}

/** Options of {@link parseOrThrow}. */
export interface ParseOptions {
  /** The error code thrown (default `VALIDATION_FAILED`). */
  readonly code?: ErrorCode;
  /** What is being parsed, for the message (default `request body`). */
  readonly what?: string;
}

/** The error {@link parseOrThrow} throws: `details` holds the problems. */
export function problemsError(problems: FieldProblem[], options: ParseOptions = {}): MosaicError {
  const what = options.what ?? 'request body';
  return codedError(options.code ?? 'VALIDATION_FAILED', `${what} is invalid: ${summarizeProblems(problems)}`, { details: problems });
}

/**
 * Parse `input` with `schema`, or throw a coded error (`VALIDATION_FAILED`, 400, by default)
 * whose `details` lists every problem with its path.
 *
 * @example
 * const body = parseOrThrow(GrantTokenRequestSchema, req.body);
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, options: ParseOptions = {}): z.output<S> {
  const result = checkWith(schema, input);
  if (result.ok) return result.value;
  throw problemsError(result.problems, options);
}
