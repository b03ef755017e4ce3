/**
 * The scope JSON (CONTRACT.md "Scope JSON"): its zod schema, the rules across fields, and
 * `validateScope`, which turns any input into a normalised scope or a typed error listing
 * problems a person can act on.
 *
 * Parsing normalises: defaults are written out (`excluded_resources: []`, `filters: {}`,
 * `include_personal: true`, `max_rows_per_query`, `rate_limit_per_minute`), so a stored scope
 * keeps its meaning even if a default changes in a later release. `include_teams` stays
 * absent when absent: absent means "all of the subject's teams", which is not the same as any
 * list.
 */
import { z } from 'zod';
import { codedError } from '../protocol/codes.js';
import type { MosaicError } from '../errors.js';
import { checkWith, quoteForDisplay, summarizeProblems, type FieldProblem } from '../protocol/issues.js';
import { isSensitiveResource, RESOURCES, suggestResource, type Resource } from './resources.js';

/** The largest `max_rows_per_query` a scope may set. */
export const MAX_ROWS_PER_QUERY_LIMIT = 10_000;
/**
 * `max_rows_per_query` when the scope leaves it out: 100. A page, not an export — an agent
 * session rarely needs more at once, cursors page on, and an admin who wants more writes it
 * (the contract's example says 500). Least privilege by default.
 */
export const DEFAULT_MAX_ROWS_PER_QUERY = 100;
/** `rate_limit_per_minute` when the scope leaves it out (CONTRACT.md). */
export const DEFAULT_RATE_LIMIT_PER_MINUTE = 60;
/**
 * The largest `rate_limit_per_minute`: 6000 (100 requests a second for one grant) — well
 * above interactive use, low enough that one grant cannot starve a small gateway.
 */
export const MAX_RATE_LIMIT_PER_MINUTE = 6000;
/** Team ids in `include_teams`: non-empty, at most this long. */
export const MAX_TEAM_ID_LENGTH = 256;
/** At most this many teams in one `include_teams`. */
export const MAX_INCLUDE_TEAMS = 1000;

/** The keys a scope may have. */
export const SCOPE_KEYS = ['resources', 'excluded_resources', 'filters', 'max_rows_per_query', 'rate_limit_per_minute'] as const;
/** The keys a per-resource filter may have. */
export const FILTER_KEYS = ['include_teams', 'include_personal'] as const;

const unknownKeyError =
  (hint: string) =>
  (issue: { code?: string }): string | undefined =>
    issue.code === 'unrecognized_keys' ? `unknown key; ${hint}` : undefined;

function resourceError(issue: { input?: unknown }): string {
  const input = issue.input;
  if (typeof input !== 'string') return `expected a resource name (a string); known: ${RESOURCES.join(', ')}`;
  const hint = suggestResource(input);
  const dym = hint !== undefined && hint !== input ? ` — did you mean "${hint}"? (names are lower case)` : '';
  return `${quoteForDisplay(input)} is not a known resource${dym}; known: ${RESOURCES.join(', ')}`;
}

/** A known resource name; anything else (including `Tasks`) is refused with a hint. */
export const resourceSchema = z.enum(RESOURCES, { error: resourceError });

const teamIdSchema = z
  .string({ error: 'a team id must be a string' })
  .min(1, 'a team id must not be empty')
  .max(MAX_TEAM_ID_LENGTH, `a team id must be at most ${MAX_TEAM_ID_LENGTH} characters long`);

/** One resource's filter: `{ include_teams?: string[], include_personal?: boolean }`. */
export const resourceFilterSchema = z.strictObject(
  {
    include_teams: z.array(teamIdSchema).max(MAX_INCLUDE_TEAMS, `must list at most ${MAX_INCLUDE_TEAMS} teams`).optional(),
    include_personal: z.boolean({ error: 'must be true or false' }).default(true),
  },
  { error: unknownKeyError(`a filter allows: ${FILTER_KEYS.join(', ')}`) },
);

/** `filters`: keyed by resource name. */
export const filtersSchema = z.strictObject(
  {
    tasks: resourceFilterSchema.optional(),
    notes: resourceFilterSchema.optional(),
    memory: resourceFilterSchema.optional(),
    credentials: resourceFilterSchema.optional(),
    api_keys: resourceFilterSchema.optional(),
  } satisfies Record<Resource, unknown>,
  { error: unknownKeyError(`filters are keyed by resource (lower case): ${RESOURCES.join(', ')}`) },
);

const rowsRange = `a whole number from 1 to ${MAX_ROWS_PER_QUERY_LIMIT}`;
const rateRange = `a whole number from 1 to ${MAX_RATE_LIMIT_PER_MINUTE}`;

/** The scope object without the cross-field rules (for composition; use {@link scopeSchema}). */
export const scopeShapeSchema = z.strictObject(
  {
    resources: z
      .array(resourceSchema, {
        error: (issue) =>
          `${issue.input === undefined ? 'required: ' : ''}must be a list of the resources the peer may read, e.g. ["tasks"]; known: ${RESOURCES.join(', ')}`,
      })
      .min(1, `must list at least one resource; known: ${RESOURCES.join(', ')}`),
    excluded_resources: z.array(resourceSchema, { error: 'must be a list of resources, e.g. ["credentials"]' }).default([]),
    filters: filtersSchema.default({}),
    max_rows_per_query: z
      .int({ error: `must be ${rowsRange}` })
      .min(1, `must be at least 1 (${rowsRange})`)
      .max(MAX_ROWS_PER_QUERY_LIMIT, `must be at most ${MAX_ROWS_PER_QUERY_LIMIT}`)
      .default(DEFAULT_MAX_ROWS_PER_QUERY),
    rate_limit_per_minute: z
      .int({ error: `must be ${rateRange}` })
      .min(1, `must be at least 1 (${rateRange})`)
      .max(MAX_RATE_LIMIT_PER_MINUTE, `must be at most ${MAX_RATE_LIMIT_PER_MINUTE}`)
      .default(DEFAULT_RATE_LIMIT_PER_MINUTE),
  },
  { error: unknownKeyError(`a scope allows: ${SCOPE_KEYS.join(', ')}`) },
);

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The string entries of `value` with their original indexes (non-strings are reported elsewhere). */
function stringEntries(value: unknown): [number, string][] | null {
  if (!Array.isArray(value)) return null;
  const out: [number, string][] = [];
  value.forEach((item: unknown, i) => {
    if (typeof item === 'string') out.push([i, item]);
  });
  return out;
}

function pushDuplicates(entries: [number, string][], path: (i: number) => PropertyKey[], what: string, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  for (const [i, item] of entries) {
    if (seen.has(item)) ctx.addIssue({ code: 'custom', path: path(i), message: `${what} ${quoteForDisplay(item)} is listed twice; list it once` });
    seen.add(item);
  }
}

/**
 * The rules across fields: no duplicates, resources ∩ excluded = ∅, filters ⊆ resources.
 * Written over the raw value so they run (and report) even when another field is malformed:
 * a person sees every problem at once.
 */
function crossFieldRules(value: unknown, ctx: z.RefinementCtx): void {
  if (!isJsonObject(value)) return;
  const resources = stringEntries(value.resources);
  const excluded = stringEntries(value.excluded_resources) ?? [];
  if (resources !== null) pushDuplicates(resources, (i) => ['resources', i], 'resource', ctx);
  pushDuplicates(excluded, (i) => ['excluded_resources', i], 'resource', ctx);
  const granted = new Set(resources?.map(([, r]) => r));
  for (const [i, r] of excluded) {
    if (granted.has(r)) {
      ctx.addIssue({
        code: 'custom',
        path: ['excluded_resources', i],
        message: `${quoteForDisplay(r)} is also in resources; a resource is either granted or excluded — remove it from one of the two lists`,
      });
    }
  }
  if (!isJsonObject(value.filters)) return;
  for (const r of RESOURCES) {
    const filter = value.filters[r];
    if (filter === undefined) continue;
    if (resources !== null && !granted.has(r)) {
      ctx.addIssue({
        code: 'custom',
        path: ['filters', r],
        message: `filters.${r} applies to "${r}", which is not in resources; add "${r}" to resources or remove this filter`,
      });
    }
    const teams = isJsonObject(filter) ? stringEntries(filter.include_teams) : null;
    if (teams !== null) pushDuplicates(teams, (i) => ['filters', r, 'include_teams', i], 'team', ctx);
  }
}

/**
 * The scope schema: strict at every level, defaults written out, cross-field rules checked.
 * Parse with `checkScope`/`validateScope` for the package's wording of generic problems.
 */
export const scopeSchema = scopeShapeSchema.superRefine(crossFieldRules, { when: (payload) => isJsonObject(payload.value) });

/** A validated, normalised scope (what is stored and enforced). */
export type Scope = z.output<typeof scopeSchema>;
/** A scope as a person writes it (defaults may be left out). */
export type ScopeInput = z.input<typeof scopeSchema>;
/** A validated per-resource filter. */
export type ResourceFilter = z.output<typeof resourceFilterSchema>;

/** Options of {@link validateScope}. */
export interface ValidateScopeOptions {
  /** `--allow-sensitive`: credentials/api_keys may be granted. */
  readonly allowSensitive?: boolean | undefined;
  /**
   * The grant's current scope, on edit. Sensitive resources it already grants were approved
   * when it was stored, so keeping them needs no new `--allow-sensitive`; adding one does.
   * Leave it out to require the flag whenever a sensitive resource is granted.
   */
  readonly previous?: Pick<Scope, 'resources'> | null | undefined;
}

/** The outcome of {@link checkScope}. */
export type ScopeCheck =
  | { readonly ok: true; readonly scope: Scope }
  | { readonly ok: false; readonly code: 'SCOPE_INVALID'; readonly problems: FieldProblem[] }
  | { readonly ok: false; readonly code: 'SCOPE_SENSITIVE'; readonly problems: FieldProblem[]; readonly sensitive: Resource[] };

function unapprovedSensitive(scope: Scope, options: ValidateScopeOptions): { problems: FieldProblem[]; sensitive: Resource[] } {
  const problems: FieldProblem[] = [];
  const sensitive: Resource[] = [];
  if (options.allowSensitive === true) return { problems, sensitive };
  const approved = new Set<string>(options.previous?.resources ?? []);
  scope.resources.forEach((r, i) => {
    if (isSensitiveResource(r) && !approved.has(r)) {
      sensitive.push(r);
      problems.push({
        path: `resources[${i}]`,
        message: `"${r}" is sensitive (its rows are secrets): granting it needs --allow-sensitive ("allowSensitive": true), or move it to excluded_resources`,
      });
    }
  });
  return { problems, sensitive };
}

/**
 * Check a scope without throwing — for editors that show problems inline (the TUI).
 * Structural problems come first (`SCOPE_INVALID`); only a well-formed scope is checked for
 * sensitive resources (`SCOPE_SENSITIVE`).
 */
export function checkScope(input: unknown, options: ValidateScopeOptions = {}): ScopeCheck {
  const parsed = checkWith(scopeSchema, input);
  if (!parsed.ok) return { ok: false, code: 'SCOPE_INVALID', problems: parsed.problems };
  const { problems, sensitive } = unapprovedSensitive(parsed.value, options);
  if (sensitive.length > 0) return { ok: false, code: 'SCOPE_SENSITIVE', problems, sensitive };
  return { ok: true, scope: parsed.value };
}

/** The typed error for a failed {@link checkScope}: `details` is the list of problems. */
export function scopeError(check: Extract<ScopeCheck, { ok: false }>): MosaicError {
  if (check.code === 'SCOPE_SENSITIVE') {
    return codedError('SCOPE_SENSITIVE', `the scope grants sensitive resources (${check.sensitive.join(', ')}) without --allow-sensitive`, {
      details: check.problems,
    });
  }
  return codedError('SCOPE_INVALID', `invalid scope: ${summarizeProblems(check.problems)}`, { details: check.problems });
}

/**
 * Validate and normalise a scope, or throw `SCOPE_INVALID` (400; `details`: every problem as
 * `{ path, message }`) or `SCOPE_SENSITIVE` (400; credentials/api_keys without
 * `allowSensitive`).
 *
 * @example
 * const scope = validateScope(JSON.parse(text), { allowSensitive: flags.allowSensitive });
 */
export function validateScope(input: unknown, options: ValidateScopeOptions = {}): Scope {
  const check = checkScope(input, options);
  if (check.ok) return check.scope;
  throw scopeError(check);
}

function showTeam(id: string): string {
  return /^[\w.:-]+$/.test(id) ? id : quoteForDisplay(id, 40);
}

/**
 * A one-line summary for people: `tasks (teams: t-eng; personal), notes · max 500 rows · 60/min`.
 */
export function describeScope(scope: Scope): string {
  const parts = scope.resources.map((r) => {
    const f = scope.filters[r];
    if (f === undefined) return r;
    const teams = f.include_teams === undefined ? 'all teams' : f.include_teams.length === 0 ? 'no teams' : `teams: ${f.include_teams.map(showTeam).join(', ')}`;
    return `${r} (${teams}; ${f.include_personal ? 'personal' : 'no personal'})`;
  });
  return `${parts.join(', ')} · max ${scope.max_rows_per_query} rows · ${scope.rate_limit_per_minute}/min`;
}
