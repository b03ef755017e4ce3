/**
 * Every wire type, and nothing else: `import type { Grant } from '…/protocol/types.js'` is
 * erased at compile time, so the admin client, the CLI and the TUI get the types without
 * loading zod. The types are inferred from the schemas (`z.output` — what a parser returns;
 * `z.input` where a caller may send a looser form), so they cannot drift from what the
 * gateway accepts.
 *
 * Only `import type` / `export type` in this file (a test enforces it).
 */
import type { z } from 'zod';
import type * as A from './admin.js';
import type * as Au from './audit.js';
import type * as C from './common.js';
import type * as F from './federation.js';
import type * as S from './seed.js';

export type {
  AuditOutcome,
  AuditVerb,
  DoctorStatus,
  FederationVerb,
  GrantStatus,
  PeerCircuitState,
  PeerState,
  RowVerb,
} from './constants.js';
export type { ErrorCode, ErrorCodeInfo, ErrorCodeOrigin } from './codes.js';
export type { FieldProblem, CheckResult, ParseOptions } from './issues.js';
export type { TraceParent, TraceContext, EnrollmentUrlParts, HeaderValue } from './identifiers.js';
export type { QueryHashParams, AuditKey } from './query-hash.js';
export type { Scope, ScopeInput, ResourceFilter, Resource } from '../scope/types.js';

/** `{ "items": [...] }` — every list answer. */
export interface ListOf<T> {
  items: T[];
}
/** `{ "items": [...], "nextCursor": string | null }` — list answers that page. */
export interface PageOf<T> extends ListOf<T> {
  nextCursor: string | null;
}

/** One problem of a refused input (`details` of a 400). */
export type Problem = z.output<typeof C.problemSchema>;

// ── federation listener ──────────────────────────────────────────────────────────────────
export type EnrollRequest = z.output<typeof F.enrollRequestSchema>;
export type EnrollResponse = z.output<typeof F.enrollResponseSchema>;
export type RenewRequest = z.output<typeof F.renewRequestSchema>;
export type RenewResponse = z.output<typeof F.renewResponseSchema>;
export type CapabilitiesResponse = z.output<typeof F.capabilitiesResponseSchema>;
export type FederationItem = z.output<typeof F.federationItemSchema>;
export type ListRequest = z.output<typeof F.listRequestSchema>;
export type ListResponse = z.output<typeof F.listResponseSchema>;
export type GetRequest = z.output<typeof F.getRequestSchema>;
export type GetResponse = z.output<typeof F.getResponseSchema>;
export type SearchRequest = z.output<typeof F.searchRequestSchema>;
export type SearchHit = z.output<typeof F.searchHitSchema>;
export type SearchResponse = z.output<typeof F.searchResponseSchema>;
export type RowRouteParams = z.output<typeof F.rowRouteParamsSchema>;
export type ErrorEnvelope = z.output<typeof F.errorEnvelopeSchema>;
export type ErrorBody = ErrorEnvelope['error'];
export type CliError = z.output<typeof F.cliErrorSchema>;

// ── admin API ────────────────────────────────────────────────────────────────────────────
export type CreateGrantRequest = z.input<typeof A.createGrantRequestSchema>;
export type UpdateGrantRequest = z.input<typeof A.updateGrantRequestSchema>;
export type RevokeGrantRequest = z.output<typeof A.revokeGrantRequestSchema>;
export type CreateTokenRequest = z.output<typeof A.createTokenRequestSchema>;
export type TokenResponse = z.output<typeof A.tokenResponseSchema>;
export type Grant = z.output<typeof A.grantSchema>;
export type GrantList = z.output<typeof A.grantListSchema>;
export type GrantListQuery = z.output<typeof A.grantListQuerySchema>;
export type ExplainQuery = z.output<typeof A.explainQuerySchema>;
export type ExplainRow = z.output<typeof A.explainRowSchema>;
export type ExplainResponse = z.output<typeof A.explainResponseSchema>;
export type PeerPreviewRequest = z.output<typeof A.peerPreviewRequestSchema>;
export type PeerPreview = z.output<typeof A.peerPreviewSchema>;
/** What a client sends: the pin in any accepted spelling. */
export type AddPeerRequest = z.input<typeof A.addPeerRequestSchema>;
/** What the gateway works with after parsing: the pin canonical. */
export type AddPeerRequestParsed = z.output<typeof A.addPeerRequestSchema>;
export type Peer = z.output<typeof A.peerSchema>;
export type PeerList = z.output<typeof A.peerListSchema>;
export type PeerCertificate = z.output<typeof A.peerCertificateSchema>;
export type PeerRemoved = z.output<typeof A.peerRemovedSchema>;
export type QuerySource = z.output<typeof A.querySourceSchema>;
export type QueryRequest = z.output<typeof A.queryRequestSchema>;
export type QueryItem = z.output<typeof A.queryItemSchema>;
export type QuerySourceStatus = z.output<typeof A.querySourceStatusSchema>;
export type QueryResponse = z.output<typeof A.queryResponseSchema>;
export type HealthResponse = z.output<typeof A.healthResponseSchema>;
export type StatusReport = z.output<typeof A.statusReportSchema>;
export type PeerHealth = z.output<typeof A.peerHealthSchema>;
export type DoctorCheck = z.output<typeof A.doctorCheckSchema>;
export type DoctorReport = z.output<typeof A.doctorReportSchema>;
export type UserRemoved = z.output<typeof A.userRemovedSchema>;
export type TeamMemberRemoved = z.output<typeof A.teamMemberRemovedSchema>;
export type CreateAdminTokenRequest = z.output<typeof A.createAdminTokenRequestSchema>;
export type AdminTokenCreated = z.output<typeof A.adminTokenCreatedSchema>;
export type AdminTokenInfo = z.output<typeof A.adminTokenInfoSchema>;
export type GatewayInfo = z.output<typeof A.gatewayInfoSchema>;

// ── audit ────────────────────────────────────────────────────────────────────────────────
export type AuditRow = z.output<typeof Au.auditRowSchema>;
export type AuditList = z.output<typeof Au.auditListSchema>;
/** The audit query as sent (query-string text). */
export type AuditQueryInput = z.input<typeof Au.auditQuerySchema>;
export type AuditQuery = z.output<typeof Au.auditQuerySchema>;
export type AuditArchiveRequest = z.input<typeof Au.auditArchiveRequestSchema>;
export type AuditArchiveResult = z.output<typeof Au.auditArchiveResponseSchema>;

// ── seed ─────────────────────────────────────────────────────────────────────────────────
export type SeedFile = z.output<typeof S.seedFileSchema>;
export type SeedUser = z.output<typeof S.seedUserSchema>;
export type SeedTeam = z.output<typeof S.seedTeamSchema>;
export type SeedMembership = z.output<typeof S.seedMembershipSchema>;
export type SeedRow = z.output<typeof S.seedRowSchema>;
export type SeedResult = z.output<typeof S.seedResultSchema>;
