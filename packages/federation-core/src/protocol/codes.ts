/**
 * The catalogue of stable wire error codes — data, so `docs/errors.md` can be generated from
 * it and every listener, client and CLI agrees on status, meaning and remediation.
 *
 * Zero runtime dependencies beyond `../errors.js` (no zod): the admin client may import this
 * module at runtime.
 */
import { createError, type MosaicError, type MosaicErrorClass, type MosaicErrorOptions } from '../errors.js';

/** Where a code can come from: the federation listener, the admin API, or either. */
export type ErrorCodeOrigin = 'federation' | 'admin' | 'both';

/** One catalogue entry. `meaning` and `remediation` are one line each, for people. */
export interface ErrorCodeInfo {
  readonly status: number;
  readonly origin: ErrorCodeOrigin;
  readonly meaning: string;
  readonly remediation: string;
}

/**
 * Every stable error code. Keys are UPPER_SNAKE and never renamed once shipped; new codes are
 * only added. Statuses follow CONTRACT.md (403 for anything grant- or scope-related on the
 * federation listener, 404 for rows, 410 for spent tokens, 429 with `Retry-After`).
 */
export const ERROR_CODES = {
  // --- federation listener: identity -------------------------------------------------------
  CLIENT_CERT_REQUIRED: {
    status: 401,
    origin: 'federation',
    meaning: 'This route needs a client certificate issued by this gateway’s CA, and none was presented.',
    remediation: 'Enroll first (`mosaic federation peer add <enrollment url>`) and call through the peer.',
  },
  IDENTITY_INVALID: {
    status: 401,
    origin: 'federation',
    meaning: 'The client certificate’s Mosaic extensions are missing, duplicated or malformed.',
    remediation: 'Re-enroll with a fresh token: `mosaic federation grant token <grant> --reenroll` on the serving side.',
  },
  GRANT_UNKNOWN: {
    status: 403,
    origin: 'federation',
    meaning: 'The grant named in the certificate is unknown, belongs to another subject, or the serial is no longer current.',
    remediation: 'Ask the serving admin for a new grant or a re-enrollment token; check `mosaic federation peer inspect <name>`.',
  },
  GRANT_REVOKED: {
    status: 403,
    origin: 'both',
    meaning: 'The grant has been revoked.',
    remediation: 'Ask the serving admin for a new grant; a revoked grant cannot be reactivated.',
  },
  GRANT_EXPIRED: {
    status: 403,
    origin: 'both',
    meaning: 'The grant has passed its expiry.',
    remediation: 'Ask the serving admin for a new grant (`mosaic federation grant create … --expires-in 90d`).',
  },
  RESOURCE_DENIED: {
    status: 403,
    origin: 'federation',
    meaning: 'The resource is outside the grant’s scope (not listed, or excluded).',
    remediation: 'Check what the grant allows with `mosaic federation peer show <name>`; the serving admin can widen the scope.',
  },
  // --- federation listener: enrollment and renewal -----------------------------------------
  TOKEN_UNKNOWN: {
    status: 404,
    origin: 'federation',
    meaning: 'The enrollment token is not known to this gateway.',
    remediation: 'Check the enrollment URL was copied whole, or ask for a new one: `mosaic federation grant token <grant>`.',
  },
  TOKEN_USED: {
    status: 410,
    origin: 'federation',
    meaning: 'The enrollment token has already been redeemed (tokens are single use).',
    remediation: 'Ask the serving admin for a new token: `mosaic federation grant token <grant>`.',
  },
  TOKEN_EXPIRED: {
    status: 410,
    origin: 'federation',
    meaning: 'The enrollment token has expired (tokens live at most 15 minutes).',
    remediation: 'Ask the serving admin for a new token and redeem it within its lifetime.',
  },
  CSR_INVALID: {
    status: 400,
    origin: 'federation',
    meaning: 'The certificate signing request is malformed, badly signed, or uses a key that is too weak.',
    remediation: 'Send a PKCS#10 CSR with an ECDSA P-256/P-384 or RSA 2048–4096 key (`mosaic federation peer add` makes one).',
  },
  GRANT_NOT_ENROLLABLE: {
    status: 409,
    origin: 'federation',
    meaning: 'The grant is revoked or expired, or already active and the token was not made for re-enrollment.',
    remediation: 'For an active grant ask for `mosaic federation grant token <grant> --reenroll`; otherwise a new grant.',
  },
  RENEWAL_NOT_DUE: {
    status: 409,
    origin: 'both',
    meaning: 'The certificate is not yet due for renewal (due after 2/3 of its lifetime, at the latest 7 days before expiry); on the admin API, the serving side said so to `peer renew`.',
    remediation: 'Retry once renewal is due; `mosaic federation peer needs-renewal <name>` tells when.',
  },
  // --- federation listener: reading ----------------------------------------------------------
  NOT_FOUND: {
    status: 404,
    origin: 'federation',
    meaning: 'No row with that id is visible to this grant.',
    remediation: 'List the resource to see the ids this grant can read.',
  },
  RESOURCE_UNKNOWN: {
    status: 404,
    origin: 'both',
    meaning: 'The resource name is not one this gateway knows (names are lower case).',
    remediation: 'Use one of: tasks, notes, memory, credentials, api_keys.',
  },
  CURSOR_INVALID: {
    status: 400,
    origin: 'federation',
    meaning: 'The paging cursor is malformed, expired, or was issued for another grant or query.',
    remediation: 'Start the listing again without a cursor.',
  },
  RATE_LIMITED: {
    status: 429,
    origin: 'federation',
    meaning: 'The grant’s request rate limit is exhausted.',
    remediation: 'Wait the number of seconds in `Retry-After`; the serving admin can raise rate_limit_per_minute.',
  },
  // --- both listeners: request shape -----------------------------------------------------------
  BODY_TOO_LARGE: {
    status: 413,
    origin: 'both',
    meaning: 'The request body is over the size limit (64 KiB by default).',
    remediation: 'Send a smaller body.',
  },
  BODY_INVALID: {
    status: 400,
    origin: 'both',
    meaning: 'The request body is not JSON, or the content type is not application/json.',
    remediation: 'Send a JSON body with `content-type: application/json`.',
  },
  VALIDATION_FAILED: {
    status: 400,
    origin: 'both',
    meaning: 'A request field is missing or invalid; `details` lists each problem with its path.',
    remediation: 'Fix the fields named in the error details and retry.',
  },
  ROUTE_NOT_FOUND: {
    status: 404,
    origin: 'both',
    meaning: 'No such route.',
    remediation: 'Check the URL and method against the API reference.',
  },
  // --- admin API -----------------------------------------------------------------------------
  ADMIN_AUTH_REQUIRED: {
    status: 401,
    origin: 'admin',
    meaning: 'The admin API needs a valid bearer token, and none or a wrong one was sent.',
    remediation: 'Pass --token-file <path|-> or set MOSAIC_ADMIN_TOKEN; the root token is in <data dir>/admin-token.',
  },
  SCOPE_INVALID: {
    status: 400,
    origin: 'admin',
    meaning: 'The scope JSON is invalid; `details` lists each problem with its path.',
    remediation: 'Fix the fields named in the details (see the scope reference) and retry.',
  },
  SCOPE_SENSITIVE: {
    status: 400,
    origin: 'admin',
    meaning: 'The scope grants credentials or api_keys, which needs an explicit opt-in.',
    remediation: 'Pass --allow-sensitive ("allowSensitive": true) if the peer really should read them, or exclude them.',
  },
  GRANT_NOT_FOUND: {
    status: 404,
    origin: 'admin',
    meaning: 'No grant has that id (or unique id prefix).',
    remediation: 'List grants with `mosaic federation grant list`.',
  },
  GRANT_ID_AMBIGUOUS: {
    status: 400,
    origin: 'admin',
    meaning: 'The grant id prefix matches more than one grant.',
    remediation: 'Give more characters of the grant id.',
  },
  GRANT_NOT_EDITABLE: {
    status: 409,
    origin: 'admin',
    meaning: 'The grant is revoked or expired; its scope and tokens can no longer change.',
    remediation: 'Create a new grant with `mosaic federation grant create`.',
  },
  USER_NOT_FOUND: {
    status: 404,
    origin: 'admin',
    meaning: 'No local user has that id.',
    remediation: 'Seed the user first (`mosaic gateway seed`) or check the id.',
  },
  TEAM_NOT_FOUND: {
    status: 404,
    origin: 'admin',
    meaning: 'No team has that id, or the user is not a member of it.',
    remediation: 'Check the team and user ids.',
  },
  SEED_INVALID: {
    status: 400,
    origin: 'admin',
    meaning: 'The seed file is invalid; `details` lists each problem with its path. Nothing was written.',
    remediation: 'Fix the fields named in the details and seed again.',
  },
  PEER_NOT_FOUND: {
    status: 404,
    origin: 'admin',
    meaning: 'No peer of this gateway (visible to that local user) has that name.',
    remediation: 'List peers with `mosaic federation peer list`.',
  },
  PEER_EXISTS: {
    status: 409,
    origin: 'admin',
    meaning: 'A peer with that name already exists.',
    remediation: 'Choose another --name, or remove the old peer first (`mosaic federation peer remove <name>`).',
  },
  PIN_MISMATCH: {
    status: 400,
    origin: 'admin',
    meaning: 'The remote CA key does not match the pin given; nothing was sent or stored.',
    remediation: 'Confirm the pin with the serving admin over a second channel; a mismatch may mean someone is in the middle.',
  },
  ENROLLMENT_URL_INVALID: {
    status: 400,
    origin: 'admin',
    meaning: 'The enrollment URL is not of the form https://<host>/…/api/federation/v1/enroll/<token>.',
    remediation: 'Copy the whole URL printed by `mosaic federation grant token`, or pipe it: `… | mosaic federation peer add -`.',
  },
  PEER_UNREACHABLE: {
    status: 502,
    origin: 'admin',
    meaning: 'The remote gateway could not be reached (DNS, connection refused, timeout).',
    remediation: 'Check the remote gateway is running and reachable from here; `mosaic federation status` shows the last error.',
  },
  PEER_REFUSED_CERT: {
    status: 502,
    origin: 'admin',
    meaning: 'The remote gateway refused our client certificate: revoked, expired, or issued by another CA.',
    remediation: 'Run `mosaic federation peer inspect <name>`, then ask the serving admin for a new enrollment token.',
  },
  PEER_ERROR: {
    status: 502,
    origin: 'admin',
    meaning: 'The remote gateway answered with an error or an answer that does not follow the protocol.',
    remediation: 'See the remote error code in the details; `mosaic federation status` shows recent failures.',
  },
  PEER_TLS_INVALID: {
    status: 502,
    origin: 'admin',
    meaning: 'The remote gateway’s server certificate does not verify against the pinned CA, or does not name the host.',
    remediation: 'Check the peer’s URL and CA pin (`mosaic federation peer show <name>`); a mismatch may mean someone is in the middle.',
  },
  PEER_RESPONSE_INVALID: {
    status: 502,
    origin: 'admin',
    meaning: 'The remote gateway’s answer was refused: over the size limit, not JSON, or failing the protocol schema. Nothing from it was used.',
    remediation: 'The peer runs an incompatible or misbehaving version; ask its admin to check it.',
  },
  CIRCUIT_OPEN: {
    status: 503,
    origin: 'admin',
    meaning: 'The peer failed repeatedly, so its circuit breaker is open: it is not called until the cooldown has passed.',
    remediation: 'Wait for the automatic probe after the cooldown; `mosaic federation status` shows the peer’s last error.',
  },
  RENEWAL_IN_PROGRESS: {
    status: 409,
    origin: 'admin',
    meaning: 'Another renewal of this peer’s certificate is running (the renewal job, or another replica sharing the store).',
    remediation: 'Wait a few seconds, then `mosaic federation peer show <name>`: the other renewal swaps the new certificate in.',
  },
  PEER_NOT_OWNED: {
    status: 403,
    origin: 'admin',
    meaning: 'The peer belongs to another local user: one local user never reads through another’s grant.',
    remediation: 'Query as the peer’s owner (`--as <localUserId>`, see `mosaic federation peer show <name>`), or get a grant of your own.',
  },
  // --- anywhere --------------------------------------------------------------------------------
  AUDIT_UNAVAILABLE: {
    status: 503,
    origin: 'both',
    meaning: 'The audit spool cannot be written, so the gateway refuses to answer unaudited.',
    remediation: 'Free disk space or fix permissions on the data dir; `mosaic gateway doctor` shows the audit checks.',
  },
  STORAGE_UNAVAILABLE: {
    status: 503,
    origin: 'both',
    meaning: 'The gateway cannot reach its store (PostgreSQL), so it refuses rather than authorize from memory.',
    remediation: 'Check that PostgreSQL is up and reachable (DATABASE_URL); the gateway recovers by itself, `mosaic gateway doctor` shows the store check.',
  },
  SHUTTING_DOWN: {
    status: 503,
    origin: 'both',
    meaning: 'The gateway is shutting down and accepts no new requests.',
    remediation: 'Retry against another replica or after the gateway restarts.',
  },
  INTERNAL: {
    status: 500,
    origin: 'both',
    meaning: 'An unexpected error; the details are in the gateway log under the request id.',
    remediation: 'This is a bug: report it with the request id and the gateway log lines for it.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

/** A stable wire error code. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Every code, in catalogue order. */
export const ERROR_CODE_LIST: readonly ErrorCode[] = Object.keys(ERROR_CODES) as ErrorCode[];

/** True when `code` is one of the catalogue's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** The catalogue entry of `code`. */
export function errorCodeInfo(code: ErrorCode): ErrorCodeInfo {
  return ERROR_CODES[code];
}

const classes = new Map<ErrorCode, MosaicErrorClass<[string]>>();

/**
 * The error class of a catalogue code (made once with {@link createError}, status and
 * remediation from the catalogue); its message is whatever the caller passes.
 */
export function errorClassFor(code: ErrorCode): MosaicErrorClass<[string]> {
  let cls = classes.get(code);
  if (cls === undefined) {
    const info = ERROR_CODES[code];
    cls = createError<[string]>(code, '%s', info.status, info.remediation);
    classes.set(code, cls);
  }
  return cls;
}

/**
 * A {@link MosaicError} for a catalogue code. The message must not carry secrets, tokens,
 * keys or row contents; `options.details` is shown to the caller.
 *
 * @example
 * throw codedError('GRANT_NOT_FOUND', `no grant matches "${prefix}"`);
 */
export function codedError(code: ErrorCode, message: string = ERROR_CODES[code].meaning, options?: MosaicErrorOptions): MosaicError {
  const Cls = errorClassFor(code);
  return options === undefined ? new Cls(message) : new Cls(message, options);
}

/** `docs/errors.md`, rendered from {@link ERROR_CODES} so the page cannot drift from the code. */
export function renderErrorCatalogue(): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|');
  const rows = Object.entries(ERROR_CODES as Record<string, ErrorCodeInfo>).map(
    ([code, info]) => `| \`${code}\` | ${info.status} | ${info.origin} | ${cell(info.meaning)} | ${cell(info.remediation)} |`,
  );
  return [
    '# Error codes',
    '',
    'Every error the federation listener and the admin API answer with carries one of these stable',
    'codes in `{"error":{"code","message","requestId"}}`. Codes are never renamed; new ones are only',
    'added. The CLI prints the message and the remediation, and maps the status to its exit code',
    '(400 → 2, 401 → 4, anything else → 1).',
    '',
    '_Generated from `packages/federation-core/src/protocol/codes.ts` by `pnpm docs:errors`; a test',
    'fails when this page and the catalogue differ._',
    '',
    '| code | status | where | meaning | what to do |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
