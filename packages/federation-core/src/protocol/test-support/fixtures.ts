/** Valid sample bodies of every wire type, for the schema tests (and anyone else's). */
import type {
  AddPeerRequest,
  AuditRow,
  CapabilitiesResponse,
  CreateGrantRequest,
  DoctorReport,
  EnrollResponse,
  ExplainResponse,
  FederationItem,
  Grant,
  Peer,
  QueryResponse,
  SeedFile,
  StatusReport,
  TokenResponse,
} from '../types.js';

export const GRANT_ID = '6b1f0e3a-9c4d-4e2f-8a1b-0c2d3e4f5a6b';
export const PIN = 'sha256:9f3a41c287ec0b6e9f3a41c287ec0b6e9f3a41c287ec0b6e9f3a41c287ec0b6e';
export const TOKEN = 'kq3AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-Zs';
export const ENROLLMENT_URL = `https://work.example.net:8443/api/federation/v1/enroll/${TOKEN}`;
export const AT = '2030-01-31T12:00:00.000Z';
export const CERT_PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ==\n-----END CERTIFICATE-----\n';
export const CSR_PEM = '-----BEGIN CERTIFICATE REQUEST-----\nMIIBDjCBtQIBADAA\n-----END CERTIFICATE REQUEST-----\n';

export const item: FederationItem = { id: 'task-1', title: 'Ship it', body: 'details', ownerUserId: 'alice', teamId: null, updatedAt: AT };

export const enrollResponse: EnrollResponse = {
  certPem: CERT_PEM,
  certChainPem: CERT_PEM,
  caCertPem: CERT_PEM,
  grantId: GRANT_ID,
  subjectUserId: 'alice',
  serverName: 'work',
  notAfter: AT,
};

export const capabilities: CapabilitiesResponse = {
  server: 'work',
  resources: ['tasks', 'notes'],
  excluded_resources: ['credentials', 'api_keys'],
  max_rows_per_query: 500,
  supported_verbs: ['capabilities', 'list', 'get', 'search'],
  rate_limit_per_minute: 60,
};

export const scope = {
  resources: ['tasks', 'notes'],
  excluded_resources: ['credentials'],
  filters: { tasks: { include_teams: ['t-eng'], include_personal: true } },
  max_rows_per_query: 500,
  rate_limit_per_minute: 60,
} satisfies Grant['scope'];

export const grant: Grant = {
  id: GRANT_ID,
  subjectUserId: 'alice',
  peerName: 'home',
  status: 'active',
  scope,
  createdAt: AT,
  activatedAt: AT,
  revokedAt: null,
  revokeReason: null,
  expiresAt: AT,
  certSerial: '4c19a0',
  certNotAfter: AT,
};

export const createGrant: CreateGrantRequest = { subjectUserId: 'alice', peerName: 'home', scope: { resources: ['tasks'] }, allowSensitive: false, expiresAt: AT };

export const tokenResponse: TokenResponse = { token: TOKEN, enrollmentUrl: ENROLLMENT_URL, caPin: PIN, expiresAt: AT };

export const explainResponse: ExplainResponse = {
  grantId: GRANT_ID,
  resource: 'tasks',
  rows: [
    { id: 'task-1', title: 'mine', included: true, rule: 'ok' },
    { id: 'task-2', title: 'other team', included: false, rule: 'filter.team' },
  ],
};

export const addPeer: AddPeerRequest = { enrollmentUrl: ENROLLMENT_URL, caPin: PIN.toUpperCase(), name: 'work', localUserId: 'alice' };

export const peer: Peer = {
  name: 'work',
  endpoint: 'https://work.example.net:8443',
  state: 'active',
  localUserId: 'alice',
  grantId: GRANT_ID,
  subjectUserId: 'alice',
  certSerial: '4C19A0',
  certNotAfter: AT,
  renewalDueAt: AT,
  caPin: PIN,
  capabilities,
  lastSuccessAt: AT,
  lastFailureAt: null,
  lastError: null,
  circuit: 'closed',
};

export const queryResponse: QueryResponse = {
  items: [
    { ...item, _source: 'local' },
    { ...item, id: 'task-9', _source: 'federated:work', _cached: true },
  ],
  sources: [
    { source: 'local', ok: true, cached: false, latencyMs: 1.5 },
    { source: 'federated:work', ok: true, cached: true, latencyMs: 0 },
    { source: 'federated:lab', ok: false, cached: false, latencyMs: 3000, error: { code: 'PEER_UNREACHABLE', message: 'connection refused' } },
  ],
  partial: true,
};

export const statusReport: StatusReport = {
  name: 'work',
  version: '0.1.0',
  startedAt: AT,
  federationUrl: 'https://work.example.net:8443',
  adminUrl: 'http://127.0.0.1:8400',
  storage: { engine: 'sqlite', location: '/home/a/.local/share/mosaic/work/gateway.db' },
  ca: { mode: 'embedded', caPin: PIN, notAfter: AT },
  counts: { grants: { pending: 1, active: 3, revoked: 0, expired: 0 }, peers: { active: 1, degraded: 0, revoked: 0 } },
  audit: { spoolBacklog: 0, unavailableRefusals: 0 },
};

export const doctorReport: DoctorReport = {
  status: 'yellow',
  checks: [
    { id: 'storage.reachable', status: 'green', message: 'SQLite, 4 ms', remediation: null },
    { id: 'peers.cert_expiry', status: 'yellow', message: 'lab expires in 2d', remediation: 'mosaic federation peer renew lab' },
  ],
};

export const auditRow: AuditRow = {
  id: '42',
  at: AT,
  requestId: '0b5c7a6e-1d2f-4a3b-9c8d-7e6f5a4b3c2d',
  callerRequestId: 'req-1',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  grantId: GRANT_ID,
  peer: 'home',
  subjectUserId: 'alice',
  adminTokenName: null,
  verb: 'search',
  resource: 'notes',
  queryHash: '577c915f8ace13e1d08ca2ad41d2d5ad1c70ab2f60a43e3aa1724d80edb96969',
  outcome: 'allowed',
  statusCode: 200,
  rowsOut: 3,
  bytesOut: 1024,
  latencyMs: 6.2,
  prevHash: null,
};

export const seedFile: SeedFile = {
  users: [{ id: 'alice', name: 'Alice' }],
  teams: [{ id: 't-eng', name: 'Engineering' }],
  memberships: [{ teamId: 't-eng', userId: 'alice' }],
  resources: {
    tasks: [
      { id: 'task-1', ownerUserId: 'alice', title: '…', body: '…' },
      { id: 'task-2', teamId: 't-eng', title: '…' },
    ],
    notes: [],
    memory: [],
    credentials: [],
    api_keys: [],
  },
};
