/**
 * Formats of identifiers that cross the wire: `x-request-id`, W3C `traceparent`, CA pins and
 * enrollment URLs. A caller's identifiers are accepted only in their exact valid form —
 * anything else is ignored (the parser returns `null`) and never stored raw (SECURITY.md 37).
 *
 * No zod here: the admin client may import this module at runtime.
 */
// node:crypto is loaded on first use: the admin client (so every CLI command) imports this
// module, and loading node:crypto up front costs several milliseconds of start-up.
const nodeCrypto = () => process.getBuiltinModule('node:crypto');

/** `x-request-id`: 1–128 characters of `[A-Za-z0-9._:-]` (a UUID, a ULID, `req-1.2:3` …). */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** A header value as Node hands it over: absent, one string, or several (the parsers take `unknown`). */
export type HeaderValue = string | readonly string[] | undefined;

function single(value: unknown): string | null {
  // Node folds repeated headers into an array (or a comma list for unknown ones); a repeated
  // identifier is ambiguous, so it is treated as malformed.
  return typeof value === 'string' ? value : null;
}

/**
 * The caller's `x-request-id` when it is exactly valid, else `null` (to be ignored, not
 * sanitised: a sanitised value could collide with someone else's id).
 */
export function parseRequestId(value: unknown): string | null {
  const v = single(value);
  return v !== null && REQUEST_ID_PATTERN.test(v) ? v : null;
}

/** A fresh request id for the gateway's own `x-request-id` (a random UUID). */
export function generateRequestId(): string {
  return nodeCrypto().randomUUID();
}

/** A parsed W3C trace context (`traceparent`, version 00). */
export interface TraceParent {
  readonly version: '00';
  /** 32 lowercase hex, not all zero. */
  readonly traceId: string;
  /** 16 lowercase hex, not all zero. */
  readonly parentId: string;
  /** 2 lowercase hex. */
  readonly flags: string;
  /** The `sampled` bit of the flags. */
  readonly sampled: boolean;
}

const TRACEPARENT_PATTERN = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ALL_ZERO = /^0+$/;

/**
 * Parse a `traceparent` header: version `00`, a 32-hex trace id and a 16-hex parent id, both
 * lowercase and not all zero, and 2-hex flags. Anything else (other versions, upper case,
 * padding, repeated headers) → `null`.
 */
export function parseTraceparent(value: unknown): TraceParent | null {
  const v = single(value);
  if (v === null) return null;
  const m = TRACEPARENT_PATTERN.exec(v);
  if (m === null) return null;
  const [, traceId, parentId, flags] = m as unknown as [string, string, string, string];
  if (ALL_ZERO.test(traceId) || ALL_ZERO.test(parentId)) return null;
  return { version: '00', traceId, parentId, flags, sampled: (Number.parseInt(flags, 16) & 1) === 1 };
}

/** The trace context of the gateway's own span: the caller's trace continued, or a new one. */
export interface TraceContext {
  readonly traceId: string;
  /** This span's id (16 hex). */
  readonly spanId: string;
  /** The caller's span id when the trace was continued, else `null`. */
  readonly parentId: string | null;
  readonly sampled: boolean;
  /** The `traceparent` value to send onwards for this span. */
  readonly traceparent: string;
}

const ID_POOL_BYTES = 4096;
let idPool: Buffer | null = null;
let idPoolOffset = ID_POOL_BYTES;

/**
 * `bytes` random bytes (CSPRNG) as lowercase hex, for **identifiers** — trace and span ids,
 * audit row ids — never for secrets (tokens, keys use `randomBytes` directly). Drawn from a
 * 4 KiB buffer filled by `randomFillSync` and refilled when used up, each byte handed out
 * once: a `randomBytes` call per id cost more than the rest of making the id, three times per
 * federation request (`pnpm bench`).
 */
export function randomIdHex(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > 256) throw new RangeError('randomIdHex: 1 to 256 bytes');
  if (idPool === null) idPool = Buffer.alloc(ID_POOL_BYTES);
  if (idPoolOffset + bytes > ID_POOL_BYTES) {
    nodeCrypto().randomFillSync(idPool);
    idPoolOffset = 0;
  }
  const hex = idPool.toString('hex', idPoolOffset, idPoolOffset + bytes);
  idPoolOffset += bytes;
  return hex;
}

function nonZeroHex(bytes: number): string {
  for (;;) {
    const hex = randomIdHex(bytes);
    if (!ALL_ZERO.test(hex)) return hex;
  }
}

/**
 * Continue the caller's trace (same trace id, new span id, caller's sampled flag) or, when the
 * caller sent none or a malformed one, start a new trace.
 */
export function continueTrace(parent: TraceParent | null, options: { sampled?: boolean } = {}): TraceContext {
  const traceId = parent?.traceId ?? nonZeroHex(16);
  const spanId = nonZeroHex(8);
  const sampled = parent?.sampled ?? options.sampled ?? false;
  return {
    traceId,
    spanId,
    parentId: parent?.parentId ?? null,
    sampled,
    traceparent: `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`,
  };
}

/** A CA pin in its canonical form: `sha256:` + 64 lowercase hex. */
export const CA_PIN_PATTERN = /^sha256:[0-9a-f]{64}$/;

/**
 * Normalise a CA pin as a person may type it — upper or lower case, with or without the
 * `sha256:` prefix, hex grouped with `:` or spaces — to `sha256:<64 lowercase hex>`; `null` when
 * it is not 32 bytes of hex.
 *
 * @example
 * canonicalCaPin('SHA256:9F:3A …') // 'sha256:9f3a…'
 */
export function canonicalCaPin(input: string): string | null {
  let s = input.trim();
  if (/^sha256:/i.test(s)) s = s.slice('sha256:'.length);
  s = s.replace(/[:\s]/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(s) ? `sha256:${s}` : null;
}

/** The federation path an enrollment URL ends with, followed by the token. */
export const ENROLL_PATH = '/api/federation/v1/enroll/';

/** Enrollment tokens as this project writes them: base64url or hex, 16–128 characters. */
export const ENROLLMENT_TOKEN_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

/** The parts of an enrollment URL. Never log `token`. */
export interface EnrollmentUrlParts {
  /** `https://host[:port][/prefix]` — the federation base URL, without a trailing slash. */
  readonly baseUrl: string;
  /** `host[:port]`. */
  readonly host: string;
  /** The host name alone, for SNI and the certificate name check. */
  readonly hostname: string;
  readonly token: string;
}

/**
 * Split `https://<host>[/prefix]/api/federation/v1/enroll/<token>` into its parts; `null` for
 * anything else (another scheme, credentials, a query or fragment, a malformed token).
 */
export function splitEnrollmentUrl(input: string): EnrollmentUrlParts | null {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    return null;
  }
  const at = url.pathname.lastIndexOf(ENROLL_PATH);
  if (at < 0) return null;
  const token = url.pathname.slice(at + ENROLL_PATH.length);
  if (!ENROLLMENT_TOKEN_PATTERN.test(token)) return null;
  return { baseUrl: `${url.origin}${url.pathname.slice(0, at)}`, host: url.host, hostname: url.hostname, token };
}

/**
 * Why `input` is not an enrollment URL, in words that never repeat it (it carries the token);
 * `null` when it is one.
 *
 * @example
 * enrollmentUrlProblem('http://work:8443/api/federation/v1/enroll/abc') // 'it must start with https:// (got http://)'
 */
export function enrollmentUrlProblem(input: string): string | null {
  if (splitEnrollmentUrl(input) !== null) return null;
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    return 'it does not parse as a URL';
  }
  if (url.protocol !== 'https:') return `it must start with https:// (got ${url.protocol}//)`;
  if (url.username || url.password) return 'it must not carry a user name or password';
  if (url.search || url.hash) return 'it must not have a query string or fragment';
  if (!url.pathname.includes(ENROLL_PATH)) return `the path must end in ${ENROLL_PATH}<token>`;
  return 'the token at its end is malformed (16–128 characters of A–Z a–z 0–9 _ -); was it cut when copied?';
}

/**
 * An enrollment URL as it may be shown or logged: everything but the token, which becomes
 * `<redacted>`; `null` when it is not an enrollment URL.
 * @example redactEnrollmentUrl('https://work:8443/api/federation/v1/enroll/kq3…Zs') // 'https://work:8443/api/federation/v1/enroll/<redacted>'
 */
export function redactEnrollmentUrl(input: string): string | null {
  const parts = splitEnrollmentUrl(input);
  return parts === null ? null : `${parts.baseUrl}${ENROLL_PATH}<redacted>`;
}

/** The enrollment URL path with the token replaced, for request logs. */
export function redactEnrollPath(path: string): string {
  const at = path.indexOf(ENROLL_PATH);
  return at < 0 ? path : `${path.slice(0, at + ENROLL_PATH.length)}<redacted>`;
}
