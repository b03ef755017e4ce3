/**
 * The row-level explainer behind `mosaic federation grant explain`: for candidate rows of a
 * resource, which would the peer see, and which rule decided — the first rule that excludes
 * a row, in pipeline order (scope → native RBAC → filters → cap). It is built from the same
 * steps as {@link evaluateScope}, and a row is `ok` exactly when the visibility condition
 * holds for it and it falls within the cap.
 */
import type { RowVerb } from '../protocol/constants.js';
import {
  evaluateScope,
  nativeVisibility,
  visibilityPredicate,
  type RowsAllowed,
  type ScopeDenied,
  type SubjectFacts,
} from './enforce.js';
import type { Scope } from './schema.js';

/** The rules of the explain answer, in pipeline order (CONTRACT.md admin `explain`). */
export const EXPLAIN_RULES = ['scope.excluded', 'scope.not_listed', 'rbac', 'filter.team', 'filter.personal', 'cap', 'ok'] as const;
/** Which rule decided a row. */
export type ExplainRule = (typeof EXPLAIN_RULES)[number];

/** A candidate row: the serving side's rows of the resource, in the order a list returns them. */
export interface ExplainCandidate {
  readonly id: string;
  readonly title: string;
  readonly ownerUserId?: string | null | undefined;
  readonly teamId?: string | null | undefined;
}

/** One row of the explain answer. */
export interface ExplainedRow {
  readonly id: string;
  readonly title: string;
  readonly included: boolean;
  readonly rule: ExplainRule;
}

/** The explainer's request: what a `list` of `resource` with `limit` would return. */
export interface ExplainRequest {
  readonly resource: string;
  readonly limit?: number | undefined;
  /** The verb whose cap applies (default `list`). */
  readonly verb?: RowVerb | undefined;
}

/** The decision for the request and the verdict on every candidate row, in input order. */
export interface Explanation {
  readonly decision: RowsAllowed | ScopeDenied;
  readonly rows: ExplainedRow[];
}

/**
 * Explain, row by row, what the grant's peer would see of `request.resource`.
 * A resource-level denial marks every row with its reason (`scope.excluded`, or
 * `scope.not_listed` — also for an unknown resource name, which no scope can list); otherwise
 * each row is `rbac` (not the subject's natively), `filter.team` / `filter.personal`
 * (natively visible, narrowed away by the resource's filter), `cap` (visible but past the row
 * cap, counting visible rows in input order) or `ok`.
 *
 * @example
 * const { rows } = explainRows(grant.scope, facts, { resource: 'tasks' }, candidates);
 */
export function explainRows(scope: Scope, subject: SubjectFacts, request: ExplainRequest, candidates: readonly ExplainCandidate[]): Explanation {
  const decision = evaluateScope(scope, subject, { verb: request.verb ?? 'list', resource: request.resource, limit: request.limit });
  if (!decision.allowed) {
    const rule: ExplainRule = decision.reason === 'scope.excluded' ? 'scope.excluded' : 'scope.not_listed';
    return { decision, rows: candidates.map((c) => ({ id: c.id, title: c.title, included: false, rule })) };
  }
  const native = nativeVisibility(subject);
  const nativeTeams = new Set(native.teamIds);
  const isNative = visibilityPredicate(native);
  const isVisible = visibilityPredicate(decision.visibility);
  const filteredTeams = new Set(decision.visibility.teamIds);
  let shown = 0;
  const rows = candidates.map((c): ExplainedRow => {
    let rule: ExplainRule;
    if (!isNative(c)) {
      rule = 'rbac';
    } else if (!isVisible(c)) {
      // Natively visible, filtered away: by the team filter when it is a team row of one of the
      // subject's teams that the filter dropped, else by include_personal.
      const teamDropped = typeof c.teamId === 'string' && nativeTeams.has(c.teamId) && !filteredTeams.has(c.teamId);
      rule = teamDropped ? 'filter.team' : 'filter.personal';
    } else {
      shown += 1;
      rule = shown <= decision.cap ? 'ok' : 'cap';
    }
    return { id: c.id, title: c.title, included: rule === 'ok', rule };
  });
  return { decision, rows };
}
