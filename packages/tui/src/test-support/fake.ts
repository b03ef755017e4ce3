/** A fake admin API for screen tests: canned answers, a controllable audit stream, recorded calls. */
import type { AuditRow, Grant, Peer, StatusReport } from '@mosaic/federation-core';
import { GatewayUnreachableError } from '@mosaic/federation-core/admin-client';
import type { AdminApi } from '../lib/api.js';

export const NOW = Date.parse('2030-01-10T12:00:00Z');
const DAY = 86_400_000;

export function peer(over: Partial<Peer> = {}): Peer {
  return {
    name: 'work',
    endpoint: 'https://work.example.net:8443',
    state: 'active',
    localUserId: 'alice',
    grantId: '6b1f0000-0000-4000-8000-000000000001',
    subjectUserId: 'alice',
    certSerial: '4c19aa',
    certNotAfter: new Date(NOW + 23 * DAY).toISOString(),
    renewalDueAt: new Date(NOW + 13 * DAY).toISOString(),
    caPin: `sha256:${'9f3a41c2'.repeat(8)}`,
    capabilities: { server: 'work', resources: ['tasks', 'notes'], excluded_resources: [], max_rows_per_query: 500, supported_verbs: ['list', 'get', 'search'], rate_limit_per_minute: 60 },
    lastSuccessAt: new Date(NOW - 4000).toISOString(),
    lastFailureAt: null,
    lastError: null,
    circuit: 'closed',
    ...over,
  };
}

export function grant(over: Partial<Grant> = {}): Grant {
  return {
    id: '6b1f0000-0000-4000-8000-000000000001',
    subjectUserId: 'alice',
    peerName: 'home',
    status: 'active',
    scope: { resources: ['tasks', 'notes'], excluded_resources: [], filters: {}, max_rows_per_query: 500, rate_limit_per_minute: 60 },
    createdAt: new Date(NOW - DAY).toISOString(),
    activatedAt: new Date(NOW - DAY).toISOString(),
    revokedAt: null,
    revokeReason: null,
    expiresAt: null,
    certSerial: '4c19aa',
    certNotAfter: new Date(NOW + 23 * DAY).toISOString(),
    ...over,
  };
}

let rowId = 0;
export function auditRow(over: Partial<AuditRow> = {}): AuditRow {
  rowId++;
  return {
    id: `row-${String(rowId).padStart(6, '0')}`,
    at: new Date(NOW).toISOString(),
    requestId: `req-${rowId}`,
    callerRequestId: null,
    traceId: '0af7651916cd43dd8448eb211c80319c',
    grantId: '6b1f0000-0000-4000-8000-000000000001',
    peer: 'home',
    subjectUserId: 'alice',
    adminTokenName: null,
    verb: 'list',
    resource: 'tasks',
    queryHash: null,
    outcome: 'allowed',
    statusCode: 200,
    rowsOut: 12,
    bytesOut: 900,
    latencyMs: 6,
    prevHash: null,
    ...over,
  };
}

export interface FakeApi extends AdminApi {
  calls: Array<[string, ...unknown[]]>;
  /** Rows for the live stream. */
  emit(...rows: AuditRow[]): void;
  peers: Peer[];
  grants: Grant[];
  down: boolean;
}

export function fakeApi(init: { peers?: Peer[]; grants?: Grant[]; backfill?: AuditRow[]; down?: boolean; status?: Partial<StatusReport> } = {}): FakeApi {
  const queue: AuditRow[] = [];
  let wake: (() => void) | null = null;
  const calls: FakeApi['calls'] = [];
  const status = { name: 'work', version: '0.1.0', ...init.status } as StatusReport;
  const guard = () => {
    if (api.down) throw new GatewayUnreachableError('http://127.0.0.1:8400', 'connection refused (is it running?)');
  };
  const api: FakeApi = {
    baseUrl: 'http://127.0.0.1:8400',
    calls,
    peers: init.peers ?? [peer()],
    grants: init.grants ?? [grant()],
    down: init.down ?? false,
    emit(...rows) {
      queue.push(...rows);
      wake?.();
    },
    status: () => Promise.resolve().then(() => (guard(), status)),
    listPeers: () => Promise.resolve().then(() => (guard(), { items: api.peers })),
    getPeer: (name) => Promise.resolve(api.peers.find((p) => p.name === name)!),
    renewPeer: (name) => (calls.push(['renewPeer', name]), Promise.resolve(api.peers.find((p) => p.name === name)!)),
    removePeer: (name) => {
      calls.push(['removePeer', name]);
      api.peers = api.peers.filter((p) => p.name !== name);
      return Promise.resolve({ name, removed: true as const });
    },
    previewPeer: (url) => (calls.push(['previewPeer', url]), Promise.resolve({ caPin: `sha256:${'9f3a41c2'.repeat(8)}`, serverName: 'work.example.net', gatewayName: 'work' })),
    addPeer: (body) => (calls.push(['addPeer', body]), Promise.resolve(peer({ name: body.name ?? 'work' }))),
    listGrants: () => Promise.resolve().then(() => (guard(), { items: api.grants })),
    getGrant: (id) => Promise.resolve(api.grants.find((g) => g.id.startsWith(id))!),
    updateGrant: (id, body) => {
      calls.push(['updateGrant', id, body]);
      const g = { ...api.grants.find((x) => x.id.startsWith(id))!, scope: body.scope as Grant['scope'] };
      api.grants = api.grants.map((x) => (x.id === g.id ? g : x));
      return Promise.resolve(g);
    },
    revokeGrant: (id, reason) => (calls.push(['revokeGrant', id, reason]), Promise.resolve({ ...api.grants[0]!, status: 'revoked' })),
    createToken: (id) =>
      (calls.push(['createToken', id]),
      Promise.resolve({ token: 'x'.repeat(43), enrollmentUrl: 'https://work.example.net:8443/api/federation/v1/enroll/kq3Zs', caPin: `sha256:${'9f3a41c2'.repeat(8)}`, expiresAt: new Date(NOW + 900_000).toISOString() })),
    explainGrant: (id, resource) =>
      (calls.push(['explainGrant', id, resource]),
      Promise.resolve({ grantId: id, resource, rows: [{ id: 'task-1', title: 'Ship it', included: true, rule: 'ok' }, { id: 'task-9', title: 'Bob', included: false, rule: 'rbac' }] } as never)),
    audit: () => Promise.resolve({ items: [...(init.backfill ?? [])].reverse() }),
    async *auditStream(options = {}) {
      options.onConnect?.();
      while (!options.signal?.aborted) {
        while (queue.length > 0) yield queue.shift()!;
        await new Promise<void>((r) => {
          wake = r;
          options.signal?.addEventListener('abort', () => r(), { once: true });
        });
      }
    },
  };
  return api;
}
