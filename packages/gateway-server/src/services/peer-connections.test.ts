/**
 * The requesting side's live links against a scripted serving side (a real TLS listener):
 * revoked or just unreachable, the breaker, the cache, the offline signal, credential swaps.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { generateMasterSecret, parseMasterSecret, SealKey, sealText } from '@mosaic/federation-core';
import { startFakePeer, type FakePeer } from '../test-support/fake-peer.js';
import { cleanupTestGateways, startTestGateway, type TestGateway } from '../test-support/gateway.js';
import { PeerClients } from './peer-clients.js';
import { clockSkewCheck, LATENCY_WINDOW_MS, medianLatency, PeerConnections } from './peer-connections.js';
import { peerKeyRecordId } from './peers.js';
import type { PeerRecord } from '../storage/index.js';

const LIST = (ids: string[]) => ({ kind: 'json' as const, body: { items: ids.map((id) => ({ id, title: `row ${id}` })), nextCursor: null, _source: 'fake' } });

describe('PeerConnections', () => {
  let gw: TestGateway;
  let sealKey: SealKey;
  let fake: FakePeer;
  let logs: Array<{ level: number; msg: string; peer?: string }>;
  let connections: PeerConnections;
  let n = 0;
  let name: string;
  let now: number;

  beforeAll(async () => {
    const secret = generateMasterSecret();
    gw = await startTestGateway({ name: 'home', secret });
    sealKey = SealKey.fromMaster(parseMasterSecret(secret));
    fake = await startFakePeer();
  });
  afterAll(async () => {
    await fake?.close();
    await cleanupTestGateways();
  });

  beforeEach(async () => {
    logs = [];
    now = Date.now();
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) });
    connections = new PeerConnections({
      storage: gw.gateway.storage,
      peerClients: new PeerClients({ storage: gw.gateway.storage, sealKey }),
      logger,
      options: { cooldownMs: 60_000, requestTimeoutMs: 2_000, crlTimeoutMs: 2_000, now: () => now },
    });
    name = `fake-${++n}`;
    await fake.insertPeer(gw.gateway.storage, sealKey, { name, localUserId: 'alice' });
    fake.behaviour = LIST(['r1']);
    fake.crlSerials = [];
    fake.clockOffsetMs = 0;
  });
  afterEach(async () => connections.close());

  const record = async (): Promise<PeerRecord> => (await gw.gateway.storage.peers.get(name))!;
  const offline = () => logs.filter((l) => l.msg === `federation offline: ${name}`);

  it('a closed handshake with our serial on the CRL: revoked (persisted), cache flushed, breaker not charged, nothing more sent', async () => {
    expect((await connections.list(await record(), 'tasks')).cached).toBe(false);
    expect((await connections.list(await record(), 'tasks')).cached).toBe(true);
    fake.behaviour = { kind: 'refuse-cert' };
    fake.crlSerials = [fake.client.serialHex];
    const before = fake.requests.length;
    await expect(connections.search(await record(), 'tasks', 'x')).rejects.toMatchObject({ code: 'GRANT_REVOKED', message: expect.stringContaining('CRL') });
    // only the CRL was read (the verb request never reached a handler)
    expect(fake.requests.slice(before)).toEqual(['GET /api/federation/v1/crl']);
    const r = await record();
    expect(r.state).toBe('revoked');
    expect(r.lastError).toMatch(/on fake-\d+'s CRL/);
    expect(connections.circuit(name)).toBe('closed');
    expect(offline()).toHaveLength(0);
    expect(logs.filter((l) => l.msg === `federation peer revoked: ${name}`)).toHaveLength(1);
    // the cached list is gone, and a revoked peer is not called at all
    const sent = fake.requests.length;
    await expect(connections.list(r, 'tasks')).rejects.toMatchObject({ code: 'GRANT_REVOKED' });
    expect(fake.requests.length).toBe(sent);
  });

  it('a closed handshake with our serial NOT on the CRL, or no CRL to be had: a network failure — active, counted, one offline signal', async () => {
    fake.behaviour = { kind: 'refuse-cert' };
    fake.crlSerials = ['0badc0de'];
    for (let i = 0; i < 2; i++) await expect(connections.list(await record(), 'tasks', { limit: i + 1 })).rejects.toMatchObject({ code: 'PEER_REFUSED_CERT' });
    fake.crlSerials = null; // the CRL route fails: still not "revoked"
    for (let i = 2; i < 5; i++) await expect(connections.list(await record(), 'tasks', { limit: i + 1 })).rejects.toMatchObject({ code: 'PEER_REFUSED_CERT' });
    const r = await record();
    expect(r.state).toBe('active');
    expect(r.lastFailureAt).not.toBeNull();
    expect(r.lastError).toMatch(/refused our certificate/);
    expect(connections.circuit(name)).toBe('open');
    expect(offline()).toHaveLength(1);
    expect(connections.health(name)).toMatchObject({ circuit: 'open', failedCalls: 5, offlineSince: expect.any(String) });
    // open: failing fast, nothing sent
    const sent = fake.requests.length;
    await expect(connections.list(await record(), 'tasks', { limit: 99 })).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(fake.requests.length).toBe(sent);
    // after the cooldown one probe goes; it succeeds: closed, one recovery line
    fake.behaviour = LIST(['r2']);
    now += 60_001;
    expect(connections.circuit(name)).toBe('half_open');
    expect((await connections.list(await record(), 'tasks', { limit: 99 })).body.items.map((i) => i.id)).toEqual(['r2']);
    expect(connections.circuit(name)).toBe('closed');
    expect(logs.filter((l) => l.msg === `federation back online: ${name}`)).toHaveLength(1);
    expect(offline()).toHaveLength(1);
    expect(connections.health(name).offlineSince).toBeNull();
    expect((await record()).lastSuccessAt).not.toBeNull();
  });

  it('403 GRANT_REVOKED marks the peer revoked; 403 GRANT_EXPIRED degraded; both flush its cache; neither is an outage', async () => {
    await connections.list(await record(), 'tasks');
    fake.behaviour = { kind: 'json', status: 403, body: { error: { code: 'GRANT_EXPIRED', message: 'the grant has expired', requestId: 'x' } } };
    await expect(connections.search(await record(), 'tasks', 'q')).rejects.toMatchObject({ code: 'GRANT_EXPIRED', status: 403 });
    expect((await record()).state).toBe('degraded');
    // flushed: the same list goes out again (and is refused)
    await expect(connections.list(await record(), 'tasks')).rejects.toMatchObject({ code: 'GRANT_EXPIRED' });
    fake.behaviour = { kind: 'json', status: 403, body: { error: { code: 'GRANT_REVOKED', message: 'the grant has been revoked', requestId: 'x' } } };
    await expect(connections.search(await record(), 'tasks', 'q')).rejects.toMatchObject({ code: 'GRANT_REVOKED' });
    expect((await record()).state).toBe('revoked');
    expect(connections.circuit(name)).toBe('closed');
    expect(offline()).toHaveLength(0);
  });

  it('a 404 and other answers below 500 are a working link: no breaker count, no outage', async () => {
    fake.behaviour = { kind: 'json', status: 404, body: { error: { code: 'NOT_FOUND', message: 'no row', requestId: 'x' } } };
    for (let i = 0; i < 6; i++) await expect(connections.get(await record(), 'tasks', `id-${i}`)).rejects.toMatchObject({ status: 404 });
    expect(connections.circuit(name)).toBe('closed');
    expect(offline()).toHaveLength(0);
    expect((await record()).state).toBe('active');
  });

  it('answers off the schema and 5xx count against the breaker; the lastError is bounded printable text, never the body', async () => {
    fake.behaviour = { kind: 'json', body: { items: [{ id: 'x' }], nextCursor: null, _source: 'fake', secret: 'BODY-MARKER' } };
    await expect(connections.list(await record(), 'tasks')).rejects.toMatchObject({ code: 'PEER_RESPONSE_INVALID' });
    fake.behaviour = { kind: 'json', status: 500, body: { error: { code: 'INTERNAL', message: `boom\u001b[31m${'x'.repeat(5000)}`, requestId: 'x' } } };
    await expect(connections.search(await record(), 'tasks', 'q')).rejects.toMatchObject({ status: 500 });
    const r = await record();
    expect(r.lastError).not.toContain('BODY-MARKER');
    expect(r.lastError!.length).toBeLessThanOrEqual(501);
    expect(r.lastError).not.toContain('\u001b');
    expect(offline()).toHaveLength(1);
  });

  it('list/get are cached per peer for the TTL, search never; flush drops them; traceparent goes out per call', async () => {
    const rec = await record();
    const a = await connections.list(rec, 'tasks', { limit: 5 }, { headers: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01` } });
    const b = await connections.list(rec, 'tasks', { limit: 5 });
    expect([a.cached, b.cached]).toEqual([false, true]);
    expect(fake.headers.at(-1)?.traceparent).toBe(`00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`);
    fake.behaviour = { kind: 'json', body: { hits: [], _source: 'fake' } };
    const sent = fake.requests.length;
    await connections.search(rec, 'tasks', 'q', {}, { headers: { traceparent: `00-${'c'.repeat(32)}-${'d'.repeat(16)}-01` } });
    await connections.search(rec, 'tasks', 'q');
    expect(fake.requests.length).toBe(sent + 2);
    expect(fake.headers.at(-2)?.traceparent).toBe(`00-${'c'.repeat(32)}-${'d'.repeat(16)}-01`);
    expect(fake.headers.at(-1)?.traceparent).toBeUndefined();
    expect(connections.flush(name)).toBe(1);
    fake.behaviour = LIST(['r9']);
    expect((await connections.list(rec, 'tasks', { limit: 5 })).cached).toBe(false);
    now += 30_001;
    expect((await connections.list(rec, 'tasks', { limit: 5 })).cached).toBe(false);
  });

  it('a certificate renewed in the store (another replica) is used from the next call; an older record never swaps it back', async () => {
    const oldCert = await fake.issueClientCert(new Date(Date.now() - 3_600_000));
    const other = `${name}-r`;
    await fake.insertPeer(gw.gateway.storage, sealKey, { name: other, localUserId: 'alice', client: oldCert });
    const stale = (await gw.gateway.storage.peers.get(other))!;
    await connections.search(stale, 'tasks', 'a').catch(() => undefined);
    expect(fake.serials.at(-1)).toBe(oldCert.serialHex);
    const renewed = await fake.issueClientCert();
    const fresh = await gw.gateway.storage.peers.replaceCertificate(other, {
      certPem: renewed.certPem,
      sealedKey: sealText(sealKey, renewed.keyPem, { recordId: peerKeyRecordId(other) }),
      certSerial: renewed.serialHex,
      certNotBefore: renewed.notBefore,
      certNotAfter: renewed.notAfter,
    });
    await connections.search(fresh, 'tasks', 'b').catch(() => undefined);
    expect(fake.serials.at(-1)).toBe(renewed.serialHex);
    // a query that read the record before the renewal does not bring the old certificate back
    await connections.search(stale, 'tasks', 'c').catch(() => undefined);
    expect(fake.serials.at(-1)).toBe(renewed.serialHex);
  });

  it('updateCredentials swaps the certificate for later calls and flushes; invalidate forgets the peer', async () => {
    const rec = await record();
    await connections.list(rec, 'tasks');
    // (the same certificate again: what is tested is the swap and the flush)
    await connections.updateCredentials(name, { certPem: fake.client.certPem, keyPem: fake.client.keyPem, certSerial: fake.client.serialHex, certNotBefore: fake.client.notBefore });
    expect((await connections.list(rec, 'tasks')).cached).toBe(false);
    await connections.invalidate(name);
    expect(connections.circuit(name)).toBe('closed');
    expect((await connections.list(rec, 'tasks')).cached).toBe(false);
  });

  it('latency: the median of the recent calls that answered (not cached answers, not failures); none once the window is over', async () => {
    const rec = await record();
    expect(connections.health(name).latencyP50Ms).toBeNull();
    const hits = { hits: [{ item: { id: 'r1', title: 'row r1' }, score: 1 }], _source: 'fake' };
    const slow = (ms: number) => ({
      kind: 'handler' as const,
      handle: async () => {
        await new Promise((r) => setTimeout(r, ms));
        return { body: hits };
      },
    });
    // one quick call, then the same answer from the cache (not a call)
    await connections.list(rec, 'tasks');
    expect((await connections.list(rec, 'tasks')).cached).toBe(true);
    // three calls of ~80 ms: the median of the four is over 80 ms
    fake.behaviour = slow(80);
    for (const q of ['a', 'b', 'c']) await connections.search(rec, 'tasks', q);
    const p50 = connections.health(name).latencyP50Ms;
    expect(p50).toBeGreaterThanOrEqual(80);
    expect(p50).toBeLessThan(2_000);
    // a failed call adds nothing
    fake.behaviour = { kind: 'json', status: 404, body: { error: { code: 'NOT_FOUND', message: 'no row', requestId: 'x' } } };
    await expect(connections.get(rec, 'tasks', 'nope')).rejects.toMatchObject({ status: 404 });
    expect(connections.health(name).latencyP50Ms).toBe(p50);
    // ten minutes without a call: no recent latency
    now += LATENCY_WINDOW_MS + 1;
    expect(connections.health(name).latencyP50Ms).toBeNull();
    fake.behaviour = LIST(['r1']);
  });

  it('medianLatency: odd and even counts, rounded; none is null', () => {
    expect(medianLatency([])).toBeNull();
    expect(medianLatency([9, 1, 5])).toBe(5);
    expect(medianLatency([1, 2, 3, 10])).toBe(3); // (2 + 3) / 2 = 2.5, rounded
  });

  it('clock skew: read from the Date header of non-cached successful calls; ahead, behind, within the header resolution', async () => {
    const rec = await record();
    expect(connections.health(name).clockSkewMs).toBeNull();
    fake.clockOffsetMs = 7 * 60_000;
    await connections.list(rec, 'tasks');
    expect(connections.health(name).clockSkewMs).toBeGreaterThan(7 * 60_000 - 3_000);
    expect(connections.health(name).clockSkewMs).toBeLessThan(7 * 60_000 + 3_000);
    // a cached answer is a past reading: ignored
    fake.clockOffsetMs = -90_000;
    expect((await connections.list(rec, 'tasks')).cached).toBe(true);
    expect(connections.health(name).clockSkewMs).toBeGreaterThan(6 * 60_000);
    await connections.list(rec, 'tasks', { limit: 3 });
    expect(connections.health(name).clockSkewMs).toBeGreaterThan(-93_000);
    expect(connections.health(name).clockSkewMs).toBeLessThan(-87_000);
    // a failed call keeps the last reading
    fake.clockOffsetMs = 0;
    fake.behaviour = { kind: 'json', status: 404, body: { error: { code: 'NOT_FOUND', message: 'no row', requestId: 'x' } } };
    await expect(connections.get(rec, 'tasks', 'nope')).rejects.toMatchObject({ status: 404 });
    expect(connections.health(name).clockSkewMs).toBeLessThan(-87_000);
    fake.behaviour = LIST(['r1']);
    await connections.list(rec, 'tasks', { limit: 4 });
    expect(connections.health(name).clockSkewMs).toBe(0);
  });

  it('clockSkewCheck: green within 60 s or with no reading, yellow over 60 s, red over 5 min, naming the peer', () => {
    expect(clockSkewCheck([{ name: 'a', clockSkewMs: null }])).toEqual(['peers.clock_skew', 'green', 'no peer reading yet', null]);
    expect(clockSkewCheck([{ name: 'a', clockSkewMs: 0 }, { name: 'b', clockSkewMs: -59_000 }, { name: 'c', clockSkewMs: null }])).toEqual(['peers.clock_skew', 'green', '2 peers within 60 s', null]);
    const yellow = clockSkewCheck([{ name: 'work', clockSkewMs: -120_000 }]);
    expect(yellow.slice(0, 3)).toEqual(['peers.clock_skew', 'yellow', 'work is 2 min behind']);
    expect(yellow[3]).toMatch(/chrony/);
    const red = clockSkewCheck([{ name: 'a', clockSkewMs: 80_000 }, { name: 'work', clockSkewMs: 7 * 60_000 }]);
    expect(red[1]).toBe('red');
    expect(red[2]).toMatch(/^work is 7 min ahead; a is 80 s ahead/);
  });

  it('doctor peers.clock_skew on a real gateway: yellow at +2 min, red at +10 min, green at 0', async () => {
    const rec = await record();
    const skewCheck = async () => (await gw.admin.doctor()).checks.find((c) => c.id === 'peers.clock_skew');
    expect(await skewCheck()).toMatchObject({ status: 'green', message: 'no peer reading yet', remediation: null });
    fake.clockOffsetMs = 2 * 60_000;
    fake.behaviour = { kind: 'json', body: { hits: [], _source: 'fake' } };
    await gw.gateway.connections.search(rec, 'tasks', 'a');
    expect(await skewCheck()).toMatchObject({ status: 'yellow', message: `${name} is 2 min ahead`, remediation: expect.stringContaining('sync this host') });
    fake.clockOffsetMs = 10 * 60_000;
    await gw.gateway.connections.search(rec, 'tasks', 'b');
    expect(await skewCheck()).toMatchObject({ status: 'red', message: expect.stringContaining(`${name} is 10 min ahead`) });
    fake.clockOffsetMs = 0;
    await gw.gateway.connections.search(rec, 'tasks', 'c');
    expect(await skewCheck()).toMatchObject({ status: 'green', message: '1 peer within 60 s', remediation: null });
    await gw.gateway.connections.invalidate(name);
  });
});
