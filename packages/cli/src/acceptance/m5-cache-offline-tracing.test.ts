// Acceptance, milestone M5: the requesting side's cache, circuit breaker and offline signal,
// traces across the boundary, `federation status` (docs/acceptance.md). Work serves; home
// reads with `mosaic federation query`. Home reaches work directly for alice's and bob's peers,
// and through a TCP proxy (which counts every connection attempt and can refuse them, as a
// dead network would) for dan's. Both gateways export traces to a small OTLP/HTTP collector
// started here.
//
// The circuit's cooldown is 30 s and not configurable from outside: M5.4 opens it first, the
// other tests run meanwhile, and M5.5 (last) waits for whatever is left of the cooldown.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Peer } from '@mosaic/federation-core';
import { startTcpProxy, type TcpProxy } from '@mosaic/gateway-server/test-support/tcp-proxy';
import { acceptanceHome, auditRows, ids, link, linkAsync, query, queryAsync, seed, startGateway, until, type Gateway } from '../test-support/acceptance.js';
import { HOME_SEED, WORK_SEED, WORK_TASKS_OF } from '../test-support/acceptance-seed.js';

const home = acceptanceHome('mosaic-acc-m5-');
let work: Gateway;
let homeGw: Gateway;
let proxy: TcpProxy;
let collector: Server;
/** OTLP/JSON bodies the gateways exported. */
const exported: string[] = [];
let circuitOpenedAt = 0;
const WIDE = { resources: ['tasks', 'notes'], max_rows_per_query: 500, rate_limit_per_minute: 6000 };

beforeAll(async () => {
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/traces') exported.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const otel = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`, OTEL_BSP_SCHEDULE_DELAY: '200' };
  [work, homeGw] = await Promise.all([startGateway(home, 'work', { env: otel }), startGateway(home, 'home', { env: otel })]);
  seed(work, WORK_SEED);
  seed(homeGw, HOME_SEED);
  proxy = await startTcpProxy(work.federationUrl);
  link(work, homeGw, { user: 'alice', scope: WIDE, name: 'work' });
  link(work, homeGw, { user: 'bob', scope: WIDE, name: 'work-r', localUser: 'bob' });
  // through the proxy, served by this process: those commands must not block it (queryAsync, linkAsync)
  await linkAsync(work, homeGw, { user: 'dan', scope: WIDE, name: 'work-p', localUser: 'dan', via: (url) => proxy.via(url) });
}, 60_000);

afterAll(async () => {
  await Promise.all([work?.stop(), homeGw?.stop()]);
  await proxy?.close();
  await new Promise((r) => collector?.close(r));
  home.cleanup();
});

const peer = (name: string) => homeGw.json<Peer>(['federation', 'peer', 'show', name]);
const logLines = (msg: string) => homeGw.logs().split('\n').filter((l) => l.includes(`"msg":"${msg}"`));
let limit = 1;
/** dan's tasks from work-p, a different --limit each time (never a cached answer). */
const danList = () => queryAsync(homeGw, 'list', 'tasks', undefined, { as: 'dan', source: 'federated:work-p', limit: limit++ });

describe('M5 — cache, circuit breaker, offline signal, tracing, status', () => {
  it('M5.4 after 5 consecutive failures the circuit opens; while open a query fails fast without any connection attempt', async () => {
    expect(ids((await danList()).answer)).toEqual(WORK_TASKS_OF.dan);
    proxy.mode = 'reset'; // the network to work now refuses every connection
    proxy.cut();
    for (let i = 0; i < 5; i++) {
      const r = await danList();
      expect(r.code).toBe(0); // a failed source does not fail the command
      expect(r.answer.partial).toBe(true);
      expect(['PEER_UNREACHABLE', 'PEER_REFUSED_CERT']).toContain(r.answer.sources[0]!.error?.code);
    }
    expect(peer('work-p')).toMatchObject({ state: 'active', circuit: 'open' });
    circuitOpenedAt = Date.now();
    const attempts = proxy.accepted;
    for (let i = 0; i < 3; i++) {
      const r = await danList();
      expect(r.answer.sources[0]).toMatchObject({ ok: false, error: { code: 'CIRCUIT_OPEN' } });
      expect(r.answer.sources[0]!.latencyMs).toBeLessThan(100);
    }
    expect(proxy.accepted).toBe(attempts); // not one connection was tried
  });

  it('M5.6 with the peer offline a session still completes on local data, and "federation offline" is signalled once for the outage', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await homeGw.cliAsync(['federation', 'query', 'list', 'tasks', '--as', 'dan', '--source', 'all', '--limit', String(20 + i)]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^local\s+h-d1\s+Home: call the bank$/m);
      expect(r.stdout).not.toContain('federated:');
      expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^warning: federated:work-p failed \((CIRCUIT_OPEN|PEER_UNREACHABLE)\): /)]);
    }
    expect(logLines('federation offline: work-p')).toHaveLength(1);
    const status = homeGw.json<{ status: { peers?: Array<{ name: string; offlineSince: string | null; circuit: string }> } }>(['federation', 'status']);
    expect(status.status.peers?.find((p) => p.name === 'work-p')).toMatchObject({ offlineSince: expect.any(String), circuit: 'open' });
    // alice's peer, on a working link, is not affected
    expect(query(homeGw, 'list', 'tasks', undefined, { as: 'alice', source: 'all' }).answer.partial).toBe(false);
  });

  it('M5.8 federation status prints each peer: state, certificate expiry, last success, last error, circuit', () => {
    const r = homeGw.cli(['federation', 'status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^PEERS \(this gateway reads from\)\nNAME\s+STATE\s+CERT EXPIRES\s+LAST OK\s+LAST ERROR\s+CIRCUIT\s+P50$/m);
    expect(r.stdout).toMatch(/^work\s+active\s+in (29|30)d\s+(now|\d+s ago|\d+m ago)\s+—?\s*closed\s+(\d+ ms|—)$/m);
    expect(r.stdout).toMatch(/^work-p\s+active\s+in (29|30)d\s+(now|\d+s ago|\d+m ago)\s+\S.*\s+open\s+(\d+ ms|—)$/m);
    for (const line of r.stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    const json = homeGw.json<{ peers: { items: Peer[] } }>(['federation', 'status']);
    expect(json.peers.items.find((p) => p.name === 'work-p')).toMatchObject({ circuit: 'open', lastFailureAt: expect.any(String), lastSuccessAt: expect.any(String), certNotAfter: expect.any(String) });
  });

  it('M5.1 two identical list calls within 30 s: the second is served from the cache, flagged _cached, and never reaches work', async () => {
    const grantId = peer('work').grantId;
    const listRows = () => auditRows(work, '--grant', grantId, '--verb', 'list').length;
    const before = listRows();
    const first = query(homeGw, 'list', 'notes', undefined, { as: 'alice', source: 'federated:work' });
    expect(first.answer.sources[0]).toMatchObject({ ok: true, cached: false });
    expect(first.answer.items.every((i) => i._cached === undefined)).toBe(true);
    await until(() => listRows() === before + 1, 'the first list audited on work');
    const second = query(homeGw, 'list', 'notes', undefined, { as: 'alice', source: 'federated:work' });
    expect(second.answer.sources[0]).toMatchObject({ ok: true, cached: true });
    expect(ids(second.answer)).toEqual(ids(first.answer));
    expect(second.answer.items.every((i) => i._cached === true)).toBe(true);
    const human = homeGw.cli(['federation', 'query', 'list', 'notes', '--as', 'alice', '--source', 'federated:work']);
    expect(human.stdout).toMatch(/^federated:work \(cached\)\s+n-a1\s+Ship checklist$/m);
    await new Promise((r) => setTimeout(r, 500));
    expect(listRows()).toBe(before + 1);
  });

  it('M5.2 search is never cached: two identical searches both reach work', async () => {
    const grantId = peer('work').grantId;
    const searchRows = () => auditRows(work, '--grant', grantId, '--verb', 'search').length;
    const before = searchRows();
    for (let i = 0; i < 2; i++) {
      const r = query(homeGw, 'search', 'tasks', 'ship', { as: 'alice', source: 'federated:work' });
      expect(r.answer.sources[0]).toMatchObject({ ok: true, cached: false });
      expect(r.answer.items.some((x) => x._cached === true)).toBe(false);
    }
    await until(() => searchRows() === before + 2, 'both searches audited on work');
  });

  it("M5.3 once home meets the revocation, the peer's cache is flushed: the cached list is not served again", () => {
    const first = query(homeGw, 'list', 'tasks', undefined, { as: 'bob', source: 'federated:work-r' });
    expect(ids(first.answer)).toEqual(WORK_TASKS_OF.bob);
    expect(query(homeGw, 'list', 'tasks', undefined, { as: 'bob', source: 'federated:work-r' }).answer.sources[0]!.cached).toBe(true);
    expect(work.cli(['federation', 'grant', 'revoke', peer('work-r').grantId, '--yes']).code).toBe(0);
    // the next call that goes out (search is never cached) is refused at the handshake; work's CRL tells home why
    const s = query(homeGw, 'search', 'tasks', 'review', { as: 'bob', source: 'federated:work-r' });
    expect(s.answer.sources[0]).toMatchObject({ ok: false, error: { code: 'GRANT_REVOKED' } });
    expect(peer('work-r').state).toBe('revoked');
    const again = query(homeGw, 'list', 'tasks', undefined, { as: 'bob', source: 'federated:work-r' });
    expect(again.answer.items).toEqual([]);
    expect(again.answer.sources[0]).toMatchObject({ ok: false, cached: false, error: { code: 'GRANT_REVOKED' } });
  });

  it("M5.7 one trace crosses the boundary: home's query and work's list share the trace id, in both audit trails and in the spans both gateways export", async () => {
    const r = query(homeGw, 'list', 'tasks', undefined, { as: 'alice', source: 'federated:work', limit: 77 });
    expect(r.answer.sources[0]).toMatchObject({ ok: true, cached: false });
    const mine = await until(() => auditRows(homeGw, '--verb', 'query').find((row) => row.traceId !== null), "home's query row");
    const traceId = mine.traceId!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const grantId = peer('work').grantId;
    const theirs = await until(() => auditRows(work, '--grant', grantId, '--verb', 'list').find((row) => row.traceId === traceId), "work's list row with the same trace id");
    expect(theirs).toMatchObject({ outcome: 'allowed', peer: 'home' });
    // the exported spans: both gateways, one trace
    const gatewaysInTrace = await until(() => {
      const names = new Set<string>();
      for (const body of exported) {
        const doc = JSON.parse(body) as { resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans: Array<{ spans: Array<{ traceId: string }> }> }> };
        for (const rs of doc.resourceSpans) {
          const name = rs.resource.attributes.find((a) => a.key === 'mosaic.gateway.name')?.value.stringValue;
          if (name !== undefined && rs.scopeSpans.some((s) => s.spans.some((sp) => sp.traceId === traceId))) names.add(name);
        }
      }
      return names.size === 2 ? [...names].sort() : undefined;
    }, 'spans of the trace from both gateways');
    expect(gatewaysInTrace).toEqual(['home', 'work']);
  });

  it('M5.5 after the cooldown the circuit lets a probe through; the peer answers and the circuit closes', async () => {
    proxy.mode = 'forward'; // the network is back
    await until(() => peer('work-p').circuit === 'half_open', 'the circuit half open after its 30 s cooldown', Math.max(1_000, circuitOpenedAt + 35_000 - Date.now()), 250);
    const attempts = proxy.accepted;
    const back = await danList();
    expect(back.answer.partial).toBe(false);
    expect(ids(back.answer)).toEqual(WORK_TASKS_OF.dan);
    expect(proxy.accepted).toBeGreaterThan(attempts);
    expect(peer('work-p')).toMatchObject({ state: 'active', circuit: 'closed' });
    expect(logLines('federation back online: work-p')).toHaveLength(1);
    expect(logLines('federation offline: work-p')).toHaveLength(1);
  }, 45_000);
});
