/**
 * `POST /api/admin/query` against a scripted serving side: what a peer sends beyond the
 * protocol never reaches the answer, a bad or slow source makes the answer partial (never a
 * failed whole answer), whose-peer and asUser inference, the audit row.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateMasterSecret, parseMasterSecret, SealKey, type QueryResponse } from '@mosaic/federation-core';
import type { AdminApiError } from '@mosaic/federation-core/admin-client';
import { waitForAuditRows } from '../test-support/audit-poll.js';
import { startFakePeer, type FakePeer } from '../test-support/fake-peer.js';
import { cleanupTestGateways, startTestGateway, type TestGateway } from '../test-support/gateway.js';

const refusal = async (p: Promise<unknown>) => (await p.then(() => null, (e: unknown) => e)) as AdminApiError;

describe('POST /api/admin/query (unit, one gateway and a scripted peer)', () => {
  let gw: TestGateway;
  let fake: FakePeer;
  let other: FakePeer;
  const DEADLINE = 600;

  beforeAll(async () => {
    const secret = generateMasterSecret();
    gw = await startTestGateway({ name: 'home', secret, peerConnections: { deadlineMs: DEADLINE, requestTimeoutMs: 3_000 } });
    const sealKey = SealKey.fromMaster(parseMasterSecret(secret));
    fake = await startFakePeer();
    other = await startFakePeer({ subjectUserId: 'bob' });
    await fake.insertPeer(gw.gateway.storage, sealKey, { name: 'fake', localUserId: 'alice' });
    await other.insertPeer(gw.gateway.storage, sealKey, { name: 'bobs', localUserId: 'bob' });
  });
  afterAll(async () => {
    await fake?.close();
    await other?.close();
    await cleanupTestGateways();
  });
  beforeEach(() => {
    fake.behaviour = { kind: 'json', body: { items: [], nextCursor: null, _source: 'fake' } };
  });

  it('asUser is inferred only when unambiguous: the owner of the peer named; else 400 with path asUser and a hint', async () => {
    // an empty directory: `local` has nobody to read for
    const local = await refusal(gw.admin.query({ verb: 'list', resource: 'tasks', source: 'local' }));
    expect(local).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', remediation: expect.stringContaining('--as') });
    expect(JSON.stringify(local.details)).toContain('asUser');
    // two owners among the peers: `all` is ambiguous
    expect(await refusal(gw.admin.query({ verb: 'list', resource: 'tasks', source: 'all' }))).toMatchObject({ status: 400, code: 'VALIDATION_FAILED' });
    // the peer named says whose it is
    const r = await gw.admin.query({ verb: 'list', resource: 'tasks', source: 'federated:fake', limit: 1 });
    expect(r.sources).toEqual([expect.objectContaining({ source: 'federated:fake', ok: true })]);
    // another user's peer, or one that does not exist
    expect(await refusal(gw.admin.query({ verb: 'list', resource: 'tasks', source: 'federated:bobs', asUser: 'alice' }))).toMatchObject({ status: 403, code: 'PEER_NOT_OWNED' });
    expect(await refusal(gw.admin.query({ verb: 'list', resource: 'tasks', source: 'federated:nope', asUser: 'alice' }))).toMatchObject({ status: 404, code: 'PEER_NOT_FOUND' });
  });

  it("sets _source here and keeps only the protocol's fields: a peer's own _source, _cached, _score and extra keys never reach the answer", async () => {
    fake.behaviour = {
      kind: 'json',
      body: {
        items: [{ id: 'x1', title: 'hello', body: 'b', ownerUserId: 'alice', _source: 'local', _cached: true, _score: 99, evil: '<script>' }],
        nextCursor: null,
        _source: 'local',
      },
    };
    const r = await gw.admin.query({ verb: 'list', resource: 'tasks', source: 'all', asUser: 'alice', limit: 2 });
    expect(r.items).toEqual([{ id: 'x1', title: 'hello', body: 'b', ownerUserId: 'alice', _source: 'federated:fake' }]);
    expect(r.sources.map((s) => s.source)).toEqual(['local', 'federated:fake']);
    expect(r.partial).toBe(false);
  });

  it('an answer failing the schema, a 5xx, or a peer that hangs past the deadline: partial, with the error per source — never a failed whole answer', async () => {
    fake.behaviour = { kind: 'json', body: { items: [{ id: 'no-title' }], nextCursor: null, _source: 'fake' } };
    let r: QueryResponse = await gw.admin.query({ verb: 'list', resource: 'tasks', source: 'all', asUser: 'alice', limit: 3 });
    expect(r.partial).toBe(true);
    expect(r.sources).toEqual([
      expect.objectContaining({ source: 'local', ok: true }),
      expect.objectContaining({ source: 'federated:fake', ok: false, error: expect.objectContaining({ code: 'PEER_RESPONSE_INVALID' }) }),
    ]);
    fake.behaviour = { kind: 'json', status: 503, body: { error: { code: 'SHUTTING_DOWN', message: 'bye', requestId: 'x' } } };
    r = await gw.admin.query({ verb: 'search', resource: 'tasks', query: 'q', source: 'federated:fake' });
    expect(r).toMatchObject({ partial: true, items: [], sources: [{ ok: false, error: { code: 'SHUTTING_DOWN' } }] });
    fake.behaviour = { kind: 'hang' };
    const started = performance.now();
    r = await gw.admin.query({ verb: 'search', resource: 'tasks', query: 'q', source: 'all', asUser: 'alice' });
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(DEADLINE - 20);
    expect(took).toBeLessThan(DEADLINE + 1_500);
    expect(r.partial).toBe(true);
    expect(r.sources[1]).toMatchObject({ source: 'federated:fake', ok: false, error: { code: 'PEER_UNREACHABLE', message: expect.stringContaining(`no answer within ${DEADLINE} ms`) } });
  });

  it('a get that is 404 at a source is ok with no item; search hits carry _score', async () => {
    fake.behaviour = { kind: 'json', status: 404, body: { error: { code: 'NOT_FOUND', message: 'no row', requestId: 'x' } } };
    let r = await gw.admin.query({ verb: 'get', resource: 'tasks', id: 'missing', source: 'all', asUser: 'alice' });
    expect(r).toEqual({ items: [], partial: false, sources: [expect.objectContaining({ source: 'local', ok: true }), expect.objectContaining({ source: 'federated:fake', ok: true, cached: false })] });
    fake.behaviour = { kind: 'json', body: { hits: [{ item: { id: 'h1', title: 'hit' }, score: 3 }], _source: 'fake' } };
    r = await gw.admin.query({ verb: 'search', resource: 'tasks', query: 'hit', source: 'federated:fake' });
    expect(r.items).toEqual([{ id: 'h1', title: 'hit', _source: 'federated:fake', _score: 3 }]);
  });

  it('holds a peer to the request: more rows than the limit, more hits than the limit, or a get answered with another id is PEER_RESPONSE_INVALID for that source', async () => {
    const row = (i: number) => ({ id: `r${i}`, title: `t${i}` });
    fake.behaviour = { kind: 'json', body: { items: Array.from({ length: 11 }, (_, i) => row(i)), nextCursor: null, _source: 'fake' } };
    let r = await gw.admin.query({ verb: 'list', resource: 'notes', source: 'all', asUser: 'alice', limit: 10 });
    expect(r.partial).toBe(true);
    expect(r.items).toEqual([]);
    expect(r.sources[1]).toMatchObject({ source: 'federated:fake', ok: false, error: { code: 'PEER_RESPONSE_INVALID', message: expect.stringContaining('at most 10 items') } });
    // exactly the limit is fine
    fake.behaviour = { kind: 'json', body: { items: Array.from({ length: 4 }, (_, i) => row(i)), nextCursor: null, _source: 'fake' } };
    r = await gw.admin.query({ verb: 'list', resource: 'notes', source: 'federated:fake', limit: 4 });
    expect(r).toMatchObject({ partial: false, sources: [{ ok: true }] });
    expect(r.items).toHaveLength(4);
    fake.behaviour = { kind: 'json', body: { hits: Array.from({ length: 3 }, (_, i) => ({ item: row(i), score: i })), _source: 'fake' } };
    r = await gw.admin.query({ verb: 'search', resource: 'notes', query: 'q', source: 'federated:fake', limit: 2 });
    expect(r).toMatchObject({ partial: true, items: [], sources: [{ ok: false, error: { code: 'PEER_RESPONSE_INVALID' } }] });
    fake.behaviour = { kind: 'json', body: { item: row(7), _source: 'fake' } };
    r = await gw.admin.query({ verb: 'get', resource: 'notes', id: 'asked-for', source: 'all', asUser: 'alice' });
    expect(r.partial).toBe(true);
    expect(r.items).toEqual([]);
    expect(r.sources[1]).toMatchObject({ source: 'federated:fake', ok: false, error: { code: 'PEER_RESPONSE_INVALID', message: expect.stringContaining('asked-for') } });
    fake.behaviour = { kind: 'json', body: { item: { id: 'asked-too', title: 'ok' }, _source: 'fake' } };
    r = await gw.admin.query({ verb: 'get', resource: 'notes', id: 'asked-too', source: 'federated:fake' });
    expect(r).toMatchObject({ partial: false, items: [{ id: 'asked-too', _source: 'federated:fake' }] });
  });

  it('writes one audit row per query — verb query, the admin token, the user, a keyed hash (never the text), rows out, a trace id sent to the peer', async () => {
    fake.behaviour = { kind: 'json', body: { hits: [{ item: { id: 'h1', title: 'hit' }, score: 3 }], _source: 'fake' } };
    const marker = `needle-${Date.now()}`;
    await gw.admin.query({ verb: 'search', resource: 'tasks', query: marker, source: 'federated:fake' });
    const sent = fake.headers.at(-1)!;
    const traceId = String(sent.traceparent).split('-')[1];
    const rows = await waitForAuditRows(gw.admin, (r) => r.traceId === traceId, { filter: { verb: 'query' } });
    expect(rows).toHaveLength(1);
    const row = rows[0]!;
    expect(row).toMatchObject({ verb: 'query', outcome: 'allowed', statusCode: 200, adminTokenName: 'root', subjectUserId: 'alice', peer: 'fake', resource: 'tasks', rowsOut: 1 });
    expect(row.queryHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify((await gw.admin.audit({ limit: 10_000 })).items)).not.toContain(marker);
    // a new trace is sampled (ParentBased(AlwaysOn)); the span id is the peer call's own CLIENT span
    expect(sent.traceparent).toBe(`00-${row.traceId}-${String(sent.traceparent).split('-')[2]}-01`);
    expect(sent['x-request-id']).toBe(row.requestId);
    // refusals are audited too
    const refused = await refusal(gw.admin.query({ verb: 'list', resource: 'tasks', source: 'federated:bobs', asUser: 'alice' }));
    const denied = await waitForAuditRows(gw.admin, (r) => r.requestId === refused.requestId);
    expect(denied).toEqual([expect.objectContaining({ verb: 'query', outcome: 'denied', statusCode: 403, subjectUserId: null, adminTokenName: 'root' })]);
  });
});
