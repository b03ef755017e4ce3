import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  addPeerRequestSchema,
  adminTokenCreatedSchema,
  adminTokenListSchema,
  auditListSchema,
  auditQuerySchema,
  auditRowDigest,
  auditRowSchema,
  capabilitiesResponseSchema,
  checkWith,
  cliErrorSchema,
  createAdminTokenRequestSchema,
  createGrantRequestSchema,
  createTokenRequestSchema,
  doctorReportSchema,
  enrollRequestSchema,
  enrollResponseSchema,
  errorEnvelopeSchema,
  explainQuerySchema,
  explainResponseSchema,
  gatewayInfoSchema,
  getRequestSchema,
  getResponseSchema,
  grantListQuerySchema,
  grantListSchema,
  grantSchema,
  healthResponseSchema,
  listRequestSchema,
  listResponseSchema,
  pageOf,
  peerListSchema,
  peerPreviewRequestSchema,
  peerPreviewSchema,
  peerRemovedSchema,
  peerSchema,
  queryRequestSchema,
  queryResponseSchema,
  renewRequestSchema,
  renewResponseSchema,
  revokeGrantRequestSchema,
  rowRouteParamsSchema,
  searchRequestSchema,
  searchResponseSchema,
  seedFileSchema,
  seedResultSchema,
  statusReportSchema,
  teamMemberRemovedSchema,
  tokenResponseSchema,
  updateGrantRequestSchema,
  userRemovedSchema,
} from './index.js';
import * as fx from './test-support/fixtures.js';

type Case = [name: string, schema: z.ZodType, body: unknown];

const valid: Case[] = [
  // federation listener
  ['enroll request', enrollRequestSchema, { csrPem: fx.CSR_PEM }],
  ['enroll request (NEW CERTIFICATE REQUEST)', enrollRequestSchema, { csrPem: '-----BEGIN NEW CERTIFICATE REQUEST-----\nx\n' }],
  ['enroll response', enrollResponseSchema, fx.enrollResponse],
  ['renew request', renewRequestSchema, { csrPem: fx.CSR_PEM }],
  ['renew response', renewResponseSchema, fx.enrollResponse],
  ['capabilities', capabilitiesResponseSchema, fx.capabilities],
  ['capabilities of a newer server (unknown resource and verb)', capabilitiesResponseSchema, { ...fx.capabilities, resources: ['tasks', 'calendar'], supported_verbs: ['list', 'watch'] }],
  ['list request, empty', listRequestSchema, {}],
  ['list request', listRequestSchema, { limit: 10000, cursor: 'opaque' }],
  ['list response', listResponseSchema, { items: [fx.item, { id: 't2', title: '', teamId: 't-eng', ownerUserId: null }], nextCursor: null, _source: 'work' }],
  ['list response, next page', listResponseSchema, { items: [], nextCursor: 'c2', _source: 'work' }],
  ['get request', getRequestSchema, {}],
  ['get response', getResponseSchema, { item: fx.item, _source: 'work' }],
  ['search request', searchRequestSchema, { query: 'salary', limit: 5 }],
  ['search response', searchResponseSchema, { hits: [{ item: fx.item, score: 1.25 }, { item: fx.item, score: 0 }], _source: 'work' }],
  ['row route params', rowRouteParamsSchema, { resource: 'Tasks', id: 'task-1' }],
  ['error envelope', errorEnvelopeSchema, { error: { code: 'RESOURCE_DENIED', message: 'no', requestId: 'r-1' } }],
  ['error envelope with details', errorEnvelopeSchema, { error: { code: 'SCOPE_INVALID', message: 'bad', requestId: 'r', remediation: 'fix', details: [{ path: 'resources', message: 'x' }] } }],
  ['CLI error', cliErrorSchema, { error: { code: 'GRANT_NOT_FOUND', message: 'no such grant', remediation: 'mosaic federation grant list' } }],
  // admin API
  ['grant create', createGrantRequestSchema, fx.createGrant],
  ['grant create, minimal', createGrantRequestSchema, { subjectUserId: 'alice', peerName: 'home', scope: {} }],
  ['grant patch', updateGrantRequestSchema, { scope: fx.scope, allowSensitive: true }],
  ['grant revoke, empty', revokeGrantRequestSchema, {}],
  ['grant revoke', revokeGrantRequestSchema, { reason: 'laptop stolen' }],
  ['token request, empty', createTokenRequestSchema, {}],
  ['token request', createTokenRequestSchema, { ttlSeconds: 900, reenroll: true }],
  ['token response', tokenResponseSchema, fx.tokenResponse],
  ['grant', grantSchema, fx.grant],
  ['pending grant', grantSchema, { ...fx.grant, status: 'pending', activatedAt: null, certSerial: null, certNotAfter: null, expiresAt: null }],
  ['grant list', grantListSchema, { items: [fx.grant] }],
  ['grant list query', grantListQuerySchema, { status: 'revoked', peer: 'home' }],
  ['explain query', explainQuerySchema, { resource: 'tasks' }],
  ['explain response', explainResponseSchema, fx.explainResponse],
  ['peer preview request', peerPreviewRequestSchema, { enrollmentUrl: fx.ENROLLMENT_URL }],
  ['peer preview', peerPreviewSchema, { caPin: fx.PIN, serverName: 'work' }],
  ['peer add', addPeerRequestSchema, fx.addPeer],
  ['peer add, pin with separators', addPeerRequestSchema, { enrollmentUrl: fx.ENROLLMENT_URL, caPin: fx.PIN.slice(7).match(/../g)!.join(':') }],
  ['peer', peerSchema, fx.peer],
  ['peer before its first capabilities check', peerSchema, { ...fx.peer, capabilities: null, lastSuccessAt: null, state: 'degraded', circuit: 'half_open', lastError: 'renewal refused 403' }],
  ['peer list', peerListSchema, { items: [fx.peer] }],
  ['peer removed', peerRemovedSchema, { name: 'work', removed: true }],
  ['query list', queryRequestSchema, { verb: 'list', resource: 'tasks', source: 'all', limit: 20 }],
  ['query get', queryRequestSchema, { verb: 'get', resource: 'notes', id: 'n-7', source: 'federated:work', asUser: 'alice' }],
  ['query search', queryRequestSchema, { verb: 'search', resource: 'memory', query: 'salary', source: 'local' }],
  ['query response', queryResponseSchema, fx.queryResponse],
  ['health', healthResponseSchema, { status: 'ok' }],
  ['status', statusReportSchema, fx.statusReport],
  [
    'status with peer health',
    statusReportSchema,
    { ...fx.statusReport, peers: [{ name: 'work', state: 'active', circuit: 'open', offlineSince: fx.AT, lastSuccessAt: null, lastFailureAt: fx.AT, lastError: 'work: connection refused' }] },
  ],
  ['doctor', doctorReportSchema, fx.doctorReport],
  ['user removed', userRemovedSchema, { userId: 'alice', revokedGrantIds: [fx.GRANT_ID] }],
  ['team member removed', teamMemberRemovedSchema, { teamId: 't-eng', userId: 'alice' }],
  ['admin token create', createAdminTokenRequestSchema, { name: 'ci-bot' }],
  ['admin token created', adminTokenCreatedSchema, { name: 'ci-bot', token: 'x'.repeat(43), createdAt: fx.AT }],
  ['admin token list', adminTokenListSchema, { items: [{ name: 'root', createdAt: fx.AT, lastUsedAt: null }] }],
  ['gateway.json', gatewayInfoSchema, { name: 'work', pid: 4242, adminUrl: 'http://127.0.0.1:8400', federationUrl: 'https://work.example.net:8443', version: '0.1.0' }],
  // audit
  ['audit row', auditRowSchema, fx.auditRow],
  ['audit row of an admin mutation', auditRowSchema, { ...fx.auditRow, verb: 'admin.grant.create', grantId: fx.GRANT_ID, peer: null, adminTokenName: 'root', queryHash: null, resource: null, traceId: null, callerRequestId: null }],
  ['audit list', auditListSchema, { items: [fx.auditRow] }],
  ['audit query, empty', auditQuerySchema, {}],
  ['audit query', auditQuerySchema, { since: '15m', grant: '6b1f', peer: 'home', verb: 'list', outcome: 'rate_limited', limit: '50' }],
  ['audit query, ISO since', auditQuerySchema, { since: fx.AT }],
  // seed
  ['seed file (contract example)', seedFileSchema, fx.seedFile],
  ['seed file, empty', seedFileSchema, {}],
  ['seed row with explicit null on the other side', seedFileSchema, { resources: { notes: [{ id: 'n', title: 't', ownerUserId: null, teamId: 't-eng' }] } }],
  ['seed result', seedResultSchema, { users: 1, teams: 1, memberships: 1, resources: { tasks: 2, notes: 0, memory: 0, credentials: 0, api_keys: 0 } }],
  ['pageOf', pageOf(auditRowSchema), { items: [fx.auditRow], nextCursor: null }],
];

describe('every body accepts its valid form', () => {
  it.each(valid)('%s', (_name, schema, body) => {
    const result = checkWith(schema, body);
    expect(result.ok ? 'ok' : result.problems).toBe('ok');
  });
});

type Bad = [name: string, schema: z.ZodType, body: unknown, path: string, message?: RegExp];

const { limit: _limit, ...queryGet } = { verb: 'get', resource: 'notes', id: 'n', source: 'all', limit: 1 };

const invalid: Bad[] = [
  // requests are strict: unknown keys refused with their path
  ['enroll request: unknown key', enrollRequestSchema, { csrPem: fx.CSR_PEM, grantId: fx.GRANT_ID }, 'grantId', /unknown key/],
  ['enroll request: not PEM', enrollRequestSchema, { csrPem: 'hello' }, 'csrPem', /PEM certificate signing request/],
  ['enroll request: huge CSR', enrollRequestSchema, { csrPem: `-----BEGIN CERTIFICATE REQUEST-----${'A'.repeat(20000)}` }, 'csrPem', /at most 16384/],
  ['list request: limit 0', listRequestSchema, { limit: 0 }, 'limit', /whole number from 1 to 10000/],
  ['list request: limit above 10000', listRequestSchema, { limit: 10001 }, 'limit', /whole number from 1 to 10000/],
  ['list request: limit as text', listRequestSchema, { limit: '5' }, 'limit', /whole number/],
  ['list request: empty cursor', listRequestSchema, { cursor: '' }, 'cursor', /must not be empty/],
  ['list request: unknown key', listRequestSchema, { filter: 'mine' }, 'filter', /unknown key/],
  ['get request: a body with keys', getRequestSchema, { id: 'x' }, 'id', /unknown key/],
  ['search request: blank query', searchRequestSchema, { query: '   ' }, 'query', /something to search for/],
  ['search request: missing query', searchRequestSchema, {}, 'query', /required: a string/],
  ['search request: huge query', searchRequestSchema, { query: 'x'.repeat(1001) }, 'query', /at most 1000/],
  ['grant create: unknown key', createGrantRequestSchema, { ...fx.createGrant, subject: 'bob' }, 'subject', /unknown key/],
  ['grant create: scope not an object', createGrantRequestSchema, { ...fx.createGrant, scope: ['tasks'] }, 'scope', /must be a scope object/],
  ['grant create: empty user', createGrantRequestSchema, { ...fx.createGrant, subjectUserId: '' }, 'subjectUserId', /must not be empty/],
  ['grant create: expiresAt not ISO', createGrantRequestSchema, { ...fx.createGrant, expiresAt: 'tomorrow' }, 'expiresAt', /ISO 8601/],
  ['grant create: allowSensitive as text', createGrantRequestSchema, { ...fx.createGrant, allowSensitive: 'yes' }, 'allowSensitive', /true or false/],
  ['grant patch: scope missing', updateGrantRequestSchema, {}, 'scope', /must be a scope object/],
  ['grant revoke: huge reason', revokeGrantRequestSchema, { reason: 'x'.repeat(1001) }, 'reason', /at most 1000/],
  ['token request: ttl above 15 min', createTokenRequestSchema, { ttlSeconds: 901 }, 'ttlSeconds', /at most 900/],
  ['token request: ttl 0', createTokenRequestSchema, { ttlSeconds: 0 }, 'ttlSeconds', /at least 1/],
  ['grant list query: unknown status', grantListQuerySchema, { status: 'deleted' }, 'status', /must be one of: "pending", "active", "revoked", "expired"/],
  ['explain query: case games', explainQuerySchema, { resource: 'Tasks' }, 'resource', /did you mean "tasks"/],
  ['peer add: bad pin', addPeerRequestSchema, { ...fx.addPeer, caPin: 'sha256:abc' }, 'caPin', /must be a CA pin/],
  ['peer add: http URL', addPeerRequestSchema, { ...fx.addPeer, enrollmentUrl: fx.ENROLLMENT_URL.replace('https', 'http') }, 'enrollmentUrl', /must be an enrollment URL/],
  ['peer preview: unknown key', peerPreviewRequestSchema, { enrollmentUrl: fx.ENROLLMENT_URL, pin: 'x' }, 'pin', /unknown key/],
  ['query: unknown verb', queryRequestSchema, { verb: 'delete', resource: 'tasks', source: 'all' }, 'verb', /must be one of: "list", "get", "search"/],
  ['query get: id missing', queryRequestSchema, { verb: 'get', resource: 'tasks', source: 'all' }, 'id', /required/],
  ['query get: limit not allowed', queryRequestSchema, { ...queryGet, limit: 5 }, 'limit', /unknown key/],
  ['query list: query not allowed', queryRequestSchema, { verb: 'list', resource: 'tasks', source: 'all', query: 'x' }, 'query', /unknown key/],
  ['query: bad source', queryRequestSchema, { verb: 'list', resource: 'tasks', source: 'remote' }, 'source', /must be local, all, or federated:<peer name>/],
  ['query: empty federated source', queryRequestSchema, { verb: 'list', resource: 'tasks', source: 'federated:' }, 'source', /federated:<peer name>/],
  ['query: unknown resource', queryRequestSchema, { verb: 'list', resource: 'calendar', source: 'all' }, 'resource', /not a known resource/],
  ['admin token name with spaces', createAdminTokenRequestSchema, { name: 'my token' }, 'name', /a-z, 0-9/],
  ['audit query: limit 0', auditQuerySchema, { limit: '0' }, 'limit', /at least 1/],
  ['audit query: limit not a number', auditQuerySchema, { limit: 'ten' }, 'limit', /whole number/],
  ['audit query: since nonsense', auditQuerySchema, { since: 'yesterday' }, 'since', /ISO date-time or a duration/],
  ['audit query: bad outcome', auditQuerySchema, { outcome: 'ok' }, 'outcome', /allowed/],
  ['audit query: grant prefix too short', auditQuerySchema, { grant: '6b1' }, 'grant', /at least 4/],
  ['seed: a row with both owner and team', seedFileSchema, { resources: { tasks: [{ id: 'x', title: 't', ownerUserId: 'a', teamId: 't' }] } }, 'resources.tasks[0]', /exactly one of ownerUserId .* not both/],
  ['seed: a row with neither', seedFileSchema, { resources: { tasks: [{ id: 'x', title: 't' }] } }, 'resources.tasks[0]', /needs exactly one of ownerUserId/],
  ['seed: a row with both null', seedFileSchema, { resources: { tasks: [{ id: 'x', title: 't', ownerUserId: null, teamId: null }] } }, 'resources.tasks[0]', /needs exactly one/],
  ['seed: empty id', seedFileSchema, { users: [{ id: '', name: 'A' }] }, 'users[0].id', /must not be empty/],
  ['seed: id too long', seedFileSchema, { teams: [{ id: 'x'.repeat(257), name: 'T' }] }, 'teams[0].id', /at most 256/],
  ['seed: unknown resource', seedFileSchema, { resources: { Tasks: [] } }, 'resources.Tasks', /unknown key; resources are: tasks/],
  ['seed: unknown row key', seedFileSchema, { resources: { notes: [{ id: 'n', title: 't', teamId: 'x', updated: 1 }] } }, 'resources.notes[0].updated', /unknown key/],
  ['seed: duplicate user', seedFileSchema, { users: [{ id: 'a', name: 'A' }, { id: 'a', name: 'B' }] }, 'users[1].id', /appears earlier/],
  ['seed: duplicate row', seedFileSchema, { resources: { memory: [{ id: 'm', title: '', ownerUserId: 'a' }, { id: 'm', title: '', ownerUserId: 'a' }] } }, 'resources.memory[1].id', /appears earlier/],
  ['seed: duplicate membership', seedFileSchema, { memberships: [{ teamId: 't', userId: 'a' }, { teamId: 't', userId: 'a' }] }, 'memberships[1]', /appears earlier/],
  ['seed: title missing', seedFileSchema, { resources: { tasks: [{ id: 'x', ownerUserId: 'a' }] } }, 'resources.tasks[0].title', /required: a string/],
  ['seed: unknown top-level key', seedFileSchema, { user: [] }, 'user', /unknown key/],
  // responses: still checked where the reader relies on them
  ['enroll response: grant id not a UUID', enrollResponseSchema, { ...fx.enrollResponse, grantId: 'grant-1' }, 'grantId', /lowercase UUID/],
  ['enroll response: upper-case UUID', enrollResponseSchema, { ...fx.enrollResponse, grantId: fx.GRANT_ID.toUpperCase() }, 'grantId', /lowercase UUID/],
  ['enroll response: cert not PEM', enrollResponseSchema, { ...fx.enrollResponse, certPem: 'MIIB' }, 'certPem', /PEM/],
  ['list response: items missing', listResponseSchema, { nextCursor: null, _source: 'work' }, 'items', /required/],
  ['list response: nextCursor missing', listResponseSchema, { items: [], _source: 'work' }, 'nextCursor', /required/],
  ['list response: item without id', listResponseSchema, { items: [{ title: 'x' }], nextCursor: null, _source: 'w' }, 'items[0].id', /required/],
  ['search response: negative score', searchResponseSchema, { hits: [{ item: fx.item, score: -1 }], _source: 'w' }, 'hits[0].score', /at least 0/],
  ['capabilities: upper-case resource', capabilitiesResponseSchema, { ...fx.capabilities, resources: ['Tasks'] }, 'resources[0]', /lower-case resource name/],
  ['error envelope: code not UPPER_SNAKE', errorEnvelopeSchema, { error: { code: 'oops', message: 'x' } }, 'error.code', /UPPER_SNAKE/],
  ['grant: unknown status', grantSchema, { ...fx.grant, status: 'deleted' }, 'status', /must be one of/],
  ['grant: invalid stored scope', grantSchema, { ...fx.grant, scope: { resources: [] } }, 'scope.resources', /at least one resource/],
  ['peer: bad circuit state', peerSchema, { ...fx.peer, circuit: 'half-open' }, 'circuit', /"half_open"/],
  ['peer: non-canonical pin', peerSchema, { ...fx.peer, caPin: fx.PIN.toUpperCase() }, 'caPin', /lowercase hex/],
  ['doctor: bad status', doctorReportSchema, { status: 'orange', checks: [] }, 'status', /"green", "yellow", "red"/],
  ['explain: unknown rule', explainResponseSchema, { ...fx.explainResponse, rows: [{ id: 'x', title: 't', included: false, rule: 'nope' }] }, 'rows[0].rule', /scope.excluded/],
  ['audit row: bad outcome', auditRowSchema, { ...fx.auditRow, outcome: 'ok' }, 'outcome', /"allowed", "denied", "rate_limited", "error"/],
  ['audit row: queryHash not hex', auditRowSchema, { ...fx.auditRow, queryHash: 'salary' }, 'queryHash', /64 lowercase hex/],
  ['audit row: bad trace id', auditRowSchema, { ...fx.auditRow, traceId: 'x' }, 'traceId', /format/],
  ['token response: pin without prefix', tokenResponseSchema, { ...fx.tokenResponse, caPin: fx.PIN.slice(7) }, 'caPin', /sha256:/],
  ['gateway.json: pid 0', gatewayInfoSchema, { name: 'w', pid: 0, adminUrl: 'http://x', federationUrl: 'https://x', version: '1' }, 'pid', /at least 1/],
  ['gateway.json: not a URL', gatewayInfoSchema, { name: 'w', pid: 1, adminUrl: 'localhost:8400', federationUrl: 'https://x', version: '1' }, 'adminUrl', /absolute http\(s\) URL/],
  ['status: storage engine', statusReportSchema, { ...fx.statusReport, storage: { engine: 'mysql', location: '' } }, 'storage.engine', /"sqlite", "postgres"/],
  ['seed result: negative count', seedResultSchema, { users: -1, teams: 0, memberships: 0, resources: { tasks: 0, notes: 0, memory: 0, credentials: 0, api_keys: 0 } }, 'users', /at least 0/],
];

describe('every body refuses junk, naming the path', () => {
  it.each(invalid)('%s', (_name, schema, body, path, message) => {
    const result = checkWith(schema, body);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const problem = result.problems.find((p) => p.path === path);
    expect(problem, JSON.stringify(result.problems)).toBeDefined();
    if (message) expect(problem?.message).toMatch(message);
  });
});

describe('compatibility choices', () => {
  it('responses drop keys they do not know (a newer gateway may add fields)', () => {
    const parsed = listResponseSchema.parse({ items: [{ ...fx.item, tags: ['x'], secret: 's' }], nextCursor: null, _source: 'work', took: 3 });
    expect(parsed).toEqual({ items: [fx.item], nextCursor: null, _source: 'work' });
    expect(grantSchema.parse({ ...fx.grant, newField: 1 })).toEqual(fx.grant);
  });

  it('reads an error envelope without requestId, and does not lose the code over malformed details', () => {
    expect(errorEnvelopeSchema.parse({ error: { code: 'RATE_LIMITED', message: 'slow down', details: 'weird' } })).toEqual({
      error: { code: 'RATE_LIMITED', message: 'slow down', details: undefined },
    });
  });

  it('normalises a typed CA pin to the canonical form', () => {
    expect(addPeerRequestSchema.parse(fx.addPeer).caPin).toBe(fx.PIN);
  });

  it('turns the audit limit text into a number', () => {
    expect(auditQuerySchema.parse({ limit: '50' })).toEqual({ limit: 50 });
  });

  it('keeps the scope of a grant request untouched for validateScope to judge', () => {
    const scope = { resources: ['Tasks'], bogus: true };
    expect(createGrantRequestSchema.parse({ ...fx.createGrant, scope }).scope).toBe(scope);
  });

  it('never echoes an enrollment URL (it holds a token) in a problem', () => {
    const url = fx.ENROLLMENT_URL.replace('https', 'http');
    const result = checkWith(addPeerRequestSchema, { ...fx.addPeer, enrollmentUrl: url });
    expect(JSON.stringify(result)).not.toContain(fx.TOKEN);
  });
});

describe('auditRowDigest', () => {
  it('chains: a changed row changes its digest, and the digest covers prevHash', () => {
    const d1 = auditRowDigest(fx.auditRow);
    expect(d1).toMatch(/^[0-9a-f]{64}$/);
    expect(auditRowDigest({ ...fx.auditRow })).toBe(d1);
    expect(auditRowDigest({ ...fx.auditRow, rowsOut: 4 })).not.toBe(d1);
    expect(auditRowDigest({ ...fx.auditRow, prevHash: d1 })).not.toBe(d1);
  });
});
