/**
 * `grant edit --set key=value`: apply small edits to a stored scope, then validate the result
 * as a whole (so an edit can never produce a scope `validateScope` would refuse).
 *
 * Keys and values:
 *
 * | key | value |
 * | --- | --- |
 * | `resources`, `excluded_resources` | comma list: `tasks,notes` (empty → `[]`) |
 * | `max_rows_per_query`, `rate_limit_per_minute` | whole number; `null` → back to the default |
 * | `filters.<resource>` | `null` removes the filter; or a JSON object |
 * | `filters.<resource>.include_teams` | comma list `t1,t2`; empty → `[]` (no team rows); `null` → removed (all the subject's teams) |
 * | `filters.<resource>.include_personal` | `true` / `false`; `null` → removed (default `true`) |
 *
 * A value starting with `[` or `{` is read as JSON (`include_teams=["a,b"]` for ids with
 * commas, or a team literally named `null`). Later edits of the same key win.
 */
import { capProblems, quoteForDisplay, type FieldProblem } from '../protocol/issues.js';
import { codedError } from '../protocol/codes.js';
import { isResource, RESOURCES, suggestResource } from './resources.js';
import { validateScope, type Scope, type ValidateScopeOptions } from './schema.js';

/** One parsed `--set` edit: the path in the scope and the JSON value to put there (`undefined` = remove). */
export interface ScopeEdit {
  readonly path: readonly string[];
  readonly value: unknown;
}

const LIST_KEYS = new Set(['resources', 'excluded_resources']);
const NUMBER_KEYS = new Set(['max_rows_per_query', 'rate_limit_per_minute']);
const ALLOWED_KEYS =
  'resources, excluded_resources, max_rows_per_query, rate_limit_per_minute, filters.<resource>, filters.<resource>.include_teams, filters.<resource>.include_personal';

class EditProblem extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

function commaList(value: string): string[] {
  return value.trim() === '' ? [] : value.split(',').map((s) => s.trim());
}

function jsonValue(path: string, value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new EditProblem(path, 'the value starts like JSON but is not valid JSON');
  }
}

function listValue(path: string, value: string): unknown {
  return value.trimStart().startsWith('[') ? jsonValue(path, value) : commaList(value);
}

function parseValue(path: readonly string[], raw: string): unknown {
  const shown = path.join('.');
  const value = raw.trim();
  const key = path.at(-1) ?? '';
  if (path.length === 1 && LIST_KEYS.has(key)) return listValue(shown, value);
  if (path.length === 1 && NUMBER_KEYS.has(key)) {
    if (value === 'null') return undefined;
    if (!/^\d{1,9}$/.test(value)) throw new EditProblem(shown, 'expected a whole number, e.g. 100 (or null for the default)');
    return Number(value);
  }
  if (path.length === 2) {
    if (value === 'null') return undefined;
    if (value.startsWith('{')) return jsonValue(shown, value);
    throw new EditProblem(shown, 'expected null (remove the filter) or a JSON object such as {"include_personal":false}');
  }
  if (key === 'include_teams') return value === 'null' ? undefined : listValue(shown, value);
  // include_personal
  if (value === 'null') return undefined;
  if (/^true$/i.test(value)) return true;
  if (/^false$/i.test(value)) return false;
  throw new EditProblem(shown, 'expected true or false (or null for the default, true)');
}

function parsePath(key: string): string[] {
  const path = key.trim().split('.');
  const [head, resource, field] = path;
  if (path.length === 1 && head !== undefined && (LIST_KEYS.has(head) || NUMBER_KEYS.has(head))) return path;
  if (head === 'filters' && resource !== undefined && (path.length === 2 || (path.length === 3 && (field === 'include_teams' || field === 'include_personal')))) {
    if (!isResource(resource)) {
      const hint = suggestResource(resource);
      const dym = hint !== undefined && hint !== resource ? ` — did you mean "${hint}"?` : '';
      throw new EditProblem(key, `${quoteForDisplay(resource)} is not a known resource${dym}; known: ${RESOURCES.join(', ')}`);
    }
    return path;
  }
  throw new EditProblem(key === '' ? '' : quoteForDisplay(key, 60).slice(1, -1), `unknown key; --set accepts: ${ALLOWED_KEYS}`);
}

/**
 * Parse one `key=value` (the text after `--set`). Throws `SCOPE_INVALID` with the problem in
 * `details` when the key is unknown or the value does not fit it.
 */
export function parseScopeEdit(text: string): ScopeEdit {
  const problems: FieldProblem[] = [];
  const edit = parseOne(text, problems);
  if (edit === null) throw editError(problems);
  return edit;
}

function parseOne(text: string, problems: FieldProblem[]): ScopeEdit | null {
  try {
    const eq = text.indexOf('=');
    if (eq < 0) throw new EditProblem(quoteForDisplay(text.trim(), 60).slice(1, -1), 'expected key=value, e.g. max_rows_per_query=100');
    const path = parsePath(text.slice(0, eq));
    return { path, value: parseValue(path, text.slice(eq + 1)) };
  } catch (err) {
    if (!(err instanceof EditProblem)) throw err;
    problems.push({ path: err.path, message: err.message });
    return null;
  }
}

function editError(problems: FieldProblem[]): Error {
  const capped = capProblems(problems);
  const first = capped[0];
  const head = first === undefined ? '' : first.path === '' ? first.message : `${first.path}: ${first.message}`;
  const more = capped.length > 1 ? ` (and ${capped.length - 1} more)` : '';
  return codedError('SCOPE_INVALID', `invalid --set: ${head}${more}`, { details: capped });
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function setIn(target: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = target;
  for (const seg of path.slice(0, -1)) {
    const next = node[seg];
    if (!isPlainObject(next)) {
      const fresh: Record<string, unknown> = {};
      node[seg] = fresh;
      node = fresh;
    } else {
      node = next;
    }
  }
  const last = path.at(-1) as string;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

/**
 * Apply `--set` edits (`['max_rows_per_query=100', 'filters.tasks.include_teams=t1,t2']`) to
 * the current scope and validate the result with {@link validateScope}. Every malformed edit
 * is reported at once (`SCOPE_INVALID`, details with paths); the current scope is not modified.
 *
 * @example
 * const next = applyScopeEdits(grant.scope, flags.set, { allowSensitive: flags.allowSensitive, previous: grant.scope });
 */
export function applyScopeEdits(current: unknown, edits: readonly string[], options: ValidateScopeOptions = {}): Scope {
  if (!isPlainObject(current)) throw codedError('SCOPE_INVALID', 'invalid scope: the current scope is not an object', { details: [{ path: '', message: 'expected an object' }] });
  const problems: FieldProblem[] = [];
  const parsed: ScopeEdit[] = [];
  // Only text edits: every path then went through parsePath, so no edit can reach
  // `__proto__` or any key outside the scope's own shape.
  for (const text of edits) {
    const edit = parseOne(text, problems);
    if (edit !== null) parsed.push(edit);
  }
  if (problems.length > 0) throw editError(problems);
  const next = structuredClone(current);
  for (const edit of parsed) setIn(next, edit.path, edit.value);
  return validateScope(next, options);
}
