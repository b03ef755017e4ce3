/**
 * The scope module's types, and only types: `import type { Scope } from
 * '@mosaic/federation-core/…/scope/types.js'` costs nothing at runtime (no zod is loaded).
 */
export type { Resource } from './resources.js';
export type { Scope, ScopeInput, ResourceFilter, ValidateScopeOptions, ScopeCheck } from './schema.js';
export type {
  CapabilitiesAllowed,
  CapabilitiesRequest,
  DenyReason,
  RowRequest,
  RowsAllowed,
  ScopeDecision,
  ScopeDenied,
  ScopeRequest,
  SubjectFacts,
  Visibility,
  VisibilityRow,
  VisibilitySqlOptions,
} from './enforce.js';
export type { ExplainCandidate, ExplainedRow, ExplainRequest, ExplainRule, Explanation } from './explain.js';
export type { ScopeEdit } from './edit.js';
