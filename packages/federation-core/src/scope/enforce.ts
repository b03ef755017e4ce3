/**
 * The enforcement pipeline: one pure function from (grant scope, the subject's native facts
 * now, the request) to either a row condition + cap or a structured denial. No I/O.
 *
 * Order (each step can only narrow):
 *   1. resource known, not excluded, listed — else deny before any row is touched;
 *   2. native visibility: the subject's personal rows + rows of the teams they are in *now*;
 *   3. the resource's filter: `include_teams` (absent = all the subject's teams, `[]` = none;
 *      a listed team the subject is not in adds nothing), `include_personal` (default true);
 *   4. the row cap: min(requested limit, `max_rows_per_query`); `get` reads at most one row.
 *
 * The result's {@link Visibility} is the WHERE condition of ONE query:
 * `owner_user_id = :ownerUserId OR team_id IN (:teamIds)`, each part present only when
 * non-null/non-empty, and `FALSE` when both are empty — see {@link visibilityToSql}.
 */
import { codedError } from '../protocol/codes.js';
import { FEDERATION_VERBS, type RowVerb } from '../protocol/constants.js';
import { MAX_ROWS_PER_QUERY_LIMIT, type Scope } from './schema.js';
import { isResource, type Resource } from './resources.js';

/** What the serving side knows about the grant's subject user, computed at request time. */
export interface SubjectFacts {
  /** The subject user's id (non-empty). */
  readonly userId: string;
  /** The ids of the teams the subject belongs to now (a user who left a team is not in it). */
  readonly teamIds: readonly string[];
}

/**
 * The rows a request may read, as the two halves of one SQL condition:
 * `owner_user_id = ownerUserId` (personal rows; `null` = none) OR `team_id IN teamIds`
 * (team rows; `[]` = none). Both empty → nothing is visible.
 */
export interface Visibility {
  readonly ownerUserId: string | null;
  /** Sorted, without duplicates. */
  readonly teamIds: readonly string[];
}

/** The visibility under which no row is visible. */
export const NOTHING_VISIBLE: Visibility = Object.freeze({ ownerUserId: null, teamIds: Object.freeze([]) });

/** A row as far as visibility goes: a personal row has an owner, a team row a team. */
export interface VisibilityRow {
  readonly ownerUserId?: string | null | undefined;
  readonly teamId?: string | null | undefined;
}

/** A request that reads rows. `resource` is the raw name from the path (validated here). */
export interface RowRequest {
  readonly verb: RowVerb;
  readonly resource: string;
  /** The caller's `limit`, if any: a whole number ≥ 1. */
  readonly limit?: number | undefined;
}

/** `capabilities`: reads no rows. */
export interface CapabilitiesRequest {
  readonly verb: 'capabilities';
}

/** Any request the pipeline judges. */
export type ScopeRequest = RowRequest | CapabilitiesRequest;

/** Why a request was refused at resource level. */
export type DenyReason = 'resource.unknown' | 'scope.excluded' | 'scope.not_listed';

/** A resource-level refusal, decided before any row is touched. */
export interface ScopeDenied {
  readonly allowed: false;
  readonly verb: RowVerb;
  readonly reason: DenyReason;
  /** The resource when it is a known one, else `null` (the raw name is never echoed). */
  readonly resource: Resource | null;
  /** The wire code: `RESOURCE_DENIED` (403, whatever the id) or `RESOURCE_UNKNOWN` (404). */
  readonly code: 'RESOURCE_DENIED' | 'RESOURCE_UNKNOWN';
  readonly statusCode: 403 | 404;
}

/** A row-reading request that may go ahead under `visibility`, returning at most `cap` rows. */
export interface RowsAllowed {
  readonly allowed: true;
  readonly verb: RowVerb;
  readonly resource: Resource;
  readonly visibility: Visibility;
  /** At most this many rows in the answer (≥ 1). */
  readonly cap: number;
}

/** `capabilities` is always allowed; it reads no rows. */
export interface CapabilitiesAllowed {
  readonly allowed: true;
  readonly verb: 'capabilities';
  readonly resource: null;
  readonly visibility: Visibility;
  readonly cap: 0;
}

/** Any decision of {@link evaluateScope}. */
export type ScopeDecision = RowsAllowed | CapabilitiesAllowed | ScopeDenied;

function checkSubject(subject: SubjectFacts): void {
  // The facts come from our own store; an empty id would match rows with an empty owner.
  if (typeof subject.userId !== 'string' || subject.userId === '') throw new TypeError('scope: subject user id must be a non-empty string');
  for (const t of subject.teamIds) {
    if (typeof t !== 'string' || t === '') throw new TypeError('scope: subject team ids must be non-empty strings');
  }
}

function capFor(request: RowRequest, scope: Scope): number {
  const max = Math.min(scope.max_rows_per_query, MAX_ROWS_PER_QUERY_LIMIT);
  const limit = request.limit;
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit >= 1)) {
    throw codedError('VALIDATION_FAILED', `limit must be a whole number from 1 to ${MAX_ROWS_PER_QUERY_LIMIT}`, {
      details: [{ path: 'limit', message: `must be a whole number from 1 to ${MAX_ROWS_PER_QUERY_LIMIT}` }],
    });
  }
  const wanted = request.verb === 'get' ? 1 : (limit ?? max);
  return Math.min(wanted, max);
}

function deny(verb: RowVerb, reason: DenyReason, resource: Resource | null): ScopeDenied {
  return reason === 'resource.unknown'
    ? { allowed: false, verb, reason, resource, code: 'RESOURCE_UNKNOWN', statusCode: 404 }
    : { allowed: false, verb, reason, resource, code: 'RESOURCE_DENIED', statusCode: 403 };
}

/** Step 1: is the resource readable under this scope at all? */
export function resourceDecision(scope: Scope, resource: string): { allowed: true; resource: Resource } | { allowed: false; reason: DenyReason; resource: Resource | null } {
  if (!isResource(resource)) return { allowed: false, reason: 'resource.unknown', resource: null };
  if (scope.excluded_resources.includes(resource)) return { allowed: false, reason: 'scope.excluded', resource };
  if (!scope.resources.includes(resource)) return { allowed: false, reason: 'scope.not_listed', resource };
  return { allowed: true, resource };
}

/** Step 2: what the subject can read natively (personal rows + their teams' rows). */
export function nativeVisibility(subject: SubjectFacts): Visibility {
  checkSubject(subject);
  return { ownerUserId: subject.userId, teamIds: [...new Set(subject.teamIds)].sort() };
}

/** Step 3: narrow native visibility by the resource's filter (never widens). */
export function applyFilter(native: Visibility, filter: Scope['filters'][Resource]): Visibility {
  if (filter === undefined) return native;
  const listed = filter.include_teams === undefined ? null : new Set(filter.include_teams);
  return {
    ownerUserId: filter.include_personal ? native.ownerUserId : null,
    teamIds: listed === null ? native.teamIds : native.teamIds.filter((t) => listed.has(t)),
  };
}

/**
 * Judge a request against the grant's scope and the subject's native rights, in pipeline
 * order. Row verbs get either `{ allowed: true, visibility, cap }` or a resource-level denial;
 * `capabilities` is always allowed and reads nothing.
 *
 * `scope` must be a `validateScope` output (parse a stored scope once when the grant is
 * loaded into the cache, not per request). Throws `VALIDATION_FAILED` for a `limit` that is not
 * a whole number ≥ 1, and a TypeError for malformed subject facts (a bug in the caller).
 *
 * @example
 * const d = evaluateScope(grant.scope, { userId, teamIds }, { verb: 'list', resource: 'tasks', limit: 50 });
 * if (!d.allowed) throw codedError(d.code);
 * const { sql, params } = visibilityToSql(d.visibility);
 */
export function evaluateScope(scope: Scope, subject: SubjectFacts, request: RowRequest): RowsAllowed | ScopeDenied;
export function evaluateScope(scope: Scope, subject: SubjectFacts, request: CapabilitiesRequest): CapabilitiesAllowed;
export function evaluateScope(scope: Scope, subject: SubjectFacts, request: ScopeRequest): ScopeDecision;
export function evaluateScope(scope: Scope, subject: SubjectFacts, request: ScopeRequest): ScopeDecision {
  checkSubject(subject);
  if (request.verb === 'capabilities') {
    return { allowed: true, verb: 'capabilities', resource: null, visibility: NOTHING_VISIBLE, cap: 0 };
  }
  const step1 = resourceDecision(scope, request.resource);
  if (!step1.allowed) return deny(request.verb, step1.reason, step1.resource);
  const cap = capFor(request, scope);
  const visibility = applyFilter(nativeVisibility(subject), scope.filters[step1.resource]);
  return { allowed: true, verb: request.verb, resource: step1.resource, visibility, cap };
}

/** True when nothing at all is visible (the SQL condition is `FALSE`). */
export function isNothingVisible(visibility: Visibility): boolean {
  return visibility.ownerUserId === null && visibility.teamIds.length === 0;
}

/**
 * A predicate equal to the SQL condition of `visibility`, for filtering rows in memory (e.g.
 * a resource provider that is not SQL, or tests). Build it once for many rows.
 */
export function visibilityPredicate(visibility: Visibility): (row: VisibilityRow) => boolean {
  const owner = visibility.ownerUserId;
  const teams = new Set(visibility.teamIds);
  return (row) =>
    (owner !== null && typeof row.ownerUserId === 'string' && row.ownerUserId === owner) ||
    (typeof row.teamId === 'string' && teams.has(row.teamId));
}

/** True when `row` satisfies `visibility` — the same answer as its SQL condition. */
export function isRowVisible(visibility: Visibility, row: VisibilityRow): boolean {
  return visibilityPredicate(visibility)(row);
}

/** Options of {@link visibilityToSql}. */
export interface VisibilitySqlOptions {
  /** The owner column (default `owner_user_id`); a plain or `table.column` identifier. */
  readonly ownerColumn?: string;
  /** The team column (default `team_id`). */
  readonly teamColumn?: string;
  /**
   * The placeholder of the n-th parameter, 1-based (default `?`; PostgreSQL:
   * `(n) => '$' + (n + offset)`).
   */
  readonly placeholder?: (n: number) => string;
}

const SQL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/**
 * The visibility as a parenthesised SQL condition with bound parameters:
 * `(owner_user_id = ? OR team_id IN (?, ?))`, `(owner_user_id = ?)`, `(team_id IN (?))`, or
 * `(1 = 0)` when nothing is visible (never an empty `IN ()`, which is a syntax error).
 */
export function visibilityToSql(visibility: Visibility, options: VisibilitySqlOptions = {}): { sql: string; params: string[] } {
  const owner = options.ownerColumn ?? 'owner_user_id';
  const team = options.teamColumn ?? 'team_id';
  if (!SQL_IDENTIFIER.test(owner) || !SQL_IDENTIFIER.test(team)) throw new TypeError('scope: column names must be plain SQL identifiers');
  const ph = options.placeholder ?? (() => '?');
  const params: string[] = [];
  const parts: string[] = [];
  if (visibility.ownerUserId !== null) {
    params.push(visibility.ownerUserId);
    parts.push(`${owner} = ${ph(params.length)}`);
  }
  if (visibility.teamIds.length > 0) {
    const marks = visibility.teamIds.map((t) => {
      params.push(t);
      return ph(params.length);
    });
    parts.push(`${team} IN (${marks.join(', ')})`);
  }
  return { sql: parts.length === 0 ? '(1 = 0)' : `(${parts.join(' OR ')})`, params };
}

/** The `capabilities` answer of a grant (CONTRACT.md), from its scope and the server's name. */
export function scopeCapabilities(
  scope: Scope,
  server: string,
): {
  server: string;
  resources: Resource[];
  excluded_resources: Resource[];
  max_rows_per_query: number;
  supported_verbs: (typeof FEDERATION_VERBS)[number][];
  rate_limit_per_minute: number;
} {
  return {
    server,
    resources: [...scope.resources],
    excluded_resources: [...scope.excluded_resources],
    max_rows_per_query: scope.max_rows_per_query,
    supported_verbs: [...FEDERATION_VERBS],
    rate_limit_per_minute: scope.rate_limit_per_minute,
  };
}
