/**
 * scope — the grant scope: its schema and validation (`validateScope`, `checkScope`,
 * `applyScopeEdits` for `grant edit --set`), the enforcement pipeline (`evaluateScope` → a
 * visibility condition for one SQL WHERE clause and a row cap, or a resource-level denial),
 * the row-level explainer (`explainRows`) and the predicate consistent with the SQL
 * (`isRowVisible`). Pure: no I/O.
 *
 * Types alone (no runtime cost, no zod): `./types.js`.
 */
export { RESOURCES, SENSITIVE_RESOURCES, isResource, isSensitiveResource, suggestResource } from './resources.js';
export {
  DEFAULT_MAX_ROWS_PER_QUERY,
  DEFAULT_RATE_LIMIT_PER_MINUTE,
  FILTER_KEYS,
  filtersSchema,
  MAX_INCLUDE_TEAMS,
  MAX_RATE_LIMIT_PER_MINUTE,
  MAX_ROWS_PER_QUERY_LIMIT,
  MAX_TEAM_ID_LENGTH,
  resourceFilterSchema,
  resourceSchema,
  SCOPE_KEYS,
  scopeSchema,
  scopeShapeSchema,
  checkScope,
  describeScope,
  scopeError,
  validateScope,
} from './schema.js';
export { applyScopeEdits, parseScopeEdit } from './edit.js';
export {
  NOTHING_VISIBLE,
  applyFilter,
  evaluateScope,
  isNothingVisible,
  isRowVisible,
  nativeVisibility,
  resourceDecision,
  scopeCapabilities,
  visibilityPredicate,
  visibilityToSql,
} from './enforce.js';
export { EXPLAIN_RULES, explainRows } from './explain.js';
export type * from './types.js';
