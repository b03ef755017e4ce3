import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeMosaicIdentity } from '../pki/index.js';
import { makeClientCert, makeServerCert, makeTestCa, randomGrantId, type TestClientCert } from '../test-support/pki.js';
import { federationUrl, FederationClient, parseHttpDate } from './federation-client.js';
import { FederationRequestError } from './errors.js';
import { CircuitOpenError } from './breaker.js';
import { ResponseCache } from './cache.js';

type Ca = Awaited<ReturnType<typeof makeTestCa>>;
type Handler = (req: IncomingMessage, res: ServerResponse, body: string, socket: TLSSocket) => void;

let ca: Ca;
let otherCa: Ca;
let serverCert: Awaited<ReturnType<typeof makeServerCert>>;
let client1: TestClientCert;
const grantId = randomGrantId();
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  ca = await makeTestCa({ commonName: 'work CA' });
  otherCa = await makeTestCa({ commonName: 'impostor CA' });
  serverCert = await makeServerCert(ca, ['localhost', '127.0.0.1']);
  client1 = await makeClientCert(ca, { grantId, subjectUserId: 'alice', peerName: 'home' });
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': 'srv-1', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

const item = (id: string) => ({ id, title: `row ${id}`, body: 'b', ownerUserId: 'alice', teamId: null });

/** A federation listener the way SECURITY.md describes it: one port, untrusted certs closed at once. */
async function startServer(handler: Handler, opts: { cert?: { certPem: string; keyPem: string } } = {}) {
  const stats = { secureConnections: 0, requests: [] as string[], serials: [] as string[] };
  const server: Server = createHttpsServer(
    {
      key: (opts.cert ?? serverCert).keyPem,
      cert: (opts.cert ?? serverCert).certPem,
      ca: ca.certPem,
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
    },
    (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const socket = req.socket as TLSSocket;
        stats.requests.push(`${req.method} ${req.url}`);
        if (!socket.authorized) return send(res, 401, { error: { code: 'CLIENT_CERT_REQUIRED', message: 'no client certificate', requestId: 'srv-1' } });
        stats.serials.push(BigInt(`0x${socket.getPeerCertificate().serialNumber}`).toString(16));
        handler(req, res, body, socket);
      });
    },
  );
  // A certificate that was presented but does not chain to our CA ends the connection. This
  // must run before the HTTP server's own secureConnection listener: under TLS 1.3 the client
  // sends its request in the same flight as its Finished, and with a plain `on` the request
  // reached the handler before the socket was destroyed.
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    stats.secureConnections++;
    if (!socket.authorized && socket.getPeerCertificate()?.raw) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { server, stats, port: (server.address() as AddressInfo).port };
}

function makeClient(port: number, over: Partial<ConstructorParameters<typeof FederationClient>[0]> = {}) {
  const client = new FederationClient({
    peerName: 'work',
    endpoint: `https://localhost:${port}`,
    caPem: ca.certPem,
    certPem: client1.certPem,
    keyPem: client1.keyPem,
    grantId,
    ...over,
  });
  cleanups.push(() => client.close());
  return client;
}

const standardHandler: Handler = (req, res, body, socket) => {
  const url = req.url ?? '';
  const identity = decodeMosaicIdentity(socket.getPeerCertificate(true).raw);
  if (url === '/api/federation/v1/capabilities')
    return send(res, 200, { server: 'work', resources: ['tasks'], excluded_resources: ['credentials'], max_rows_per_query: 100, supported_verbs: ['capabilities', 'list', 'get', 'search'], rate_limit_per_minute: 60 });
  if (url === '/api/federation/v1/list/tasks') {
    const { limit } = JSON.parse(body || '{}') as { limit?: number };
    return send(res, 200, { items: [item(`for-${identity.subjectUserId}`), item(`limit-${limit ?? 'none'}`)], nextCursor: null, _source: 'work' });
  }
  if (url === '/api/federation/v1/get/tasks/t%2F1') return send(res, 200, { item: item('t/1'), _source: 'work' });
  if (url === '/api/federation/v1/search/tasks') return send(res, 200, { hits: [{ item: item('s1'), score: 1.5 }], _source: 'work' });
  send(res, 404, { error: { code: 'NOT_FOUND', message: 'no such route', requestId: 'srv-1' } });
};

describe('FederationClient over real mTLS', () => {
  it('runs every verb with our certificate, whose identity the server decodes, over keep-alive connections', async () => {
    const { stats, port } = await startServer(standardHandler);
    const client = makeClient(port);
    const caps = await client.capabilities();
    expect(caps.body.resources).toEqual(['tasks']);
    const list = await client.list('tasks', { limit: 5 });
    expect(list.body.items.map((i) => i.id)).toEqual(['for-alice', 'limit-5']);
    expect(list.cached).toBe(false);
    expect(list.requestId).toBe('srv-1');
    // the peer's clock, from its Date header (1 s resolution)
    expect(Math.abs(list.serverDate! - Date.now())).toBeLessThan(3_000);
    expect((await client.get('tasks', 't/1')).body.item.id).toBe('t/1');
    expect((await client.search('tasks', 'ship')).body.hits[0]!.score).toBe(1.5);
    for (let i = 0; i < 10; i++) await client.search('tasks', 'again');
    // undici may open a second socket while the first is being released; never one per request
    expect(stats.secureConnections).toBeLessThanOrEqual(2);
    expect(new Set(stats.serials)).toEqual(new Set([BigInt(`0x${client1.serialHex}`).toString(16)]));
  });

  it('serves a second identical list or get from the cache, never a search', async () => {
    const { stats, port } = await startServer(standardHandler);
    const client = makeClient(port);
    await client.list('tasks', { limit: 5 });
    const again = await client.list('tasks', { limit: 5 });
    expect(again.cached).toBe(true);
    expect(again.serverDate).toEqual(expect.any(Number)); // the cached (past) reading
    expect((await client.list('tasks', { limit: 6 })).cached).toBe(false); // other parameters, other key
    await client.get('tasks', 't/1');
    expect((await client.get('tasks', 't/1')).cached).toBe(true);
    await client.search('tasks', 'ship');
    const search2 = await client.search('tasks', 'ship');
    expect(search2.cached).toBe(false);
    expect(stats.requests.filter((r) => r.includes('/list/'))).toHaveLength(2);
    expect(stats.requests.filter((r) => r.includes('/get/'))).toHaveLength(1);
    expect(stats.requests.filter((r) => r.includes('/search/'))).toHaveLength(2);
  });

  it('maps an error envelope to a typed error, and a revoked grant flushes that grant from the cache', async () => {
    let revoked = false;
    const { port } = await startServer((req, res, body, socket) => {
      if (revoked) return send(res, 403, { error: { code: 'GRANT_REVOKED', message: 'grant revoked', requestId: 'srv-9' } }, { 'x-request-id': 'srv-9' });
      standardHandler(req, res, body, socket);
    });
    const client = makeClient(port);
    await client.list('tasks');
    expect(client.cache!.size).toBe(1);
    revoked = true;
    const err = (await client.capabilities().catch((e: unknown) => e)) as FederationRequestError;
    expect(err).toBeInstanceOf(FederationRequestError);
    expect(err).toMatchObject({ status: 403, code: 'GRANT_REVOKED', requestId: 'srv-9', peer: 'work' });
    expect(err.remediation).toContain('new grant');
    expect(client.cache!.size).toBe(0);
    // a refusal is an answer: it does not count against the link
    expect(client.breaker!.consecutiveFailures).toBe(0);
  });

  it('carries Retry-After on a 429', async () => {
    const { port } = await startServer((_req, res) => send(res, 429, { error: { code: 'RATE_LIMITED', message: 'slow down', requestId: 'x' } }, { 'retry-after': '17' }));
    const err = (await makeClient(port).capabilities().catch((e: unknown) => e)) as FederationRequestError;
    expect(err).toMatchObject({ status: 429, code: 'RATE_LIMITED', retryAfterSeconds: 17 });
  });

  it.each([
    ['larger than the limit', (res: ServerResponse) => send(res, 200, { items: [item('x'.repeat(5000))], nextCursor: null, _source: 'work' }), /larger than the limit/],
    ['not JSON', (res: ServerResponse) => send(res, 200, '<html>'), /not JSON/],
    ['failing its schema', (res: ServerResponse) => send(res, 200, { items: 'nope', nextCursor: null, _source: 'work' }), /does not fit the protocol \(items/],
    ['an error status without an envelope', (res: ServerResponse) => send(res, 500, 'oops'), /HTTP 500/],
  ])('refuses an answer %s', async (_name, respond, message) => {
    const { port } = await startServer((_req, res) => respond(res));
    const err = (await makeClient(port, { maxResponseBytes: 2048 }).list('tasks').catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(message);
  });

  it('refuses a server certificate from another CA before sending anything', async () => {
    const impostor = await makeServerCert(otherCa, ['localhost', '127.0.0.1']);
    const { stats, port } = await startServer(standardHandler, { cert: impostor });
    const err = (await makeClient(port).capabilities().catch((e: unknown) => e)) as { code: string; message: string };
    expect(err.code).toBe('PEER_TLS_INVALID');
    expect(stats.requests).toEqual([]);
  });

  it('refuses a server certificate that does not name the host', async () => {
    const elsewhere = await makeServerCert(ca, ['other.example.net']);
    const { stats, port } = await startServer(standardHandler, { cert: elsewhere });
    const err = (await makeClient(port).capabilities().catch((e: unknown) => e)) as { code: string; message: string };
    expect(err.code).toBe('PEER_TLS_INVALID');
    expect(err.message).toContain('does not name this host');
    expect(stats.requests).toEqual([]);
  });

  it('turns "other side closed" after the handshake into a refused-certificate error', async () => {
    const foreign = await makeClientCert(otherCa, { grantId, subjectUserId: 'alice' });
    const { stats, port } = await startServer(standardHandler);
    const err = (await makeClient(port, { certPem: foreign.certPem, keyPem: foreign.keyPem }).capabilities().catch((e: unknown) => e)) as {
      code: string;
      remediation: string;
    };
    expect(err.code).toBe('PEER_REFUSED_CERT');
    expect(err.remediation).toContain('peer inspect');
    expect(stats.requests).toEqual([]);
  });

  it('opens the circuit after 5 failures and then makes no connection until the cooldown', async () => {
    let connections = 0;
    const tcp: TcpServer = createTcpServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => tcp.close(() => resolve())));
    let now = 0;
    const client = makeClient((tcp.address() as AddressInfo).port, { breaker: { failureThreshold: 5, cooldownMs: 30_000, now: () => now } });
    for (let i = 0; i < 5; i++) await expect(client.capabilities()).rejects.toMatchObject({ code: expect.stringMatching(/^PEER_/) });
    expect(connections).toBe(5);
    expect(client.breaker!.state).toBe('open');
    const fast = await client.capabilities().catch((e: unknown) => e);
    expect(CircuitOpenError.is(fast)).toBe(true);
    expect(connections).toBe(5);
    now += 30_000;
    await expect(client.capabilities()).rejects.toMatchObject({ code: expect.stringMatching(/^PEER_/) });
    expect(connections).toBe(6); // exactly one half-open probe
    expect(client.breaker!.state).toBe('open');
  });

  it('swaps credentials atomically: the request in flight finishes on the old certificate, later ones use the new', async () => {
    const client2 = await makeClientCert(ca, { grantId, subjectUserId: 'alice', peerName: 'home' });
    let release: (() => void) | undefined;
    const { stats, port } = await startServer((req, res, body, socket) => {
      if (req.url?.includes('slow')) {
        release = () => send(res, 200, { items: [], nextCursor: null, _source: 'work' });
        return;
      }
      standardHandler(req, res, body, socket);
    });
    const client = makeClient(port);
    await client.list('tasks');
    const inFlight = client.list('slow');
    while (release === undefined) await new Promise((r) => setTimeout(r, 5));
    const swapped = client.updateCredentials({ certPem: client2.certPem, keyPem: client2.keyPem });
    expect(client.cache!.size).toBe(0); // flushed at the swap
    const after = await client.capabilities();
    expect(after.status).toBe(200);
    release();
    await expect(inFlight).resolves.toMatchObject({ status: 200 });
    await swapped;
    expect(stats.serials).toEqual([client1, client1, client2].map((c) => BigInt(`0x${c.serialHex}`).toString(16)));
  });

  it('puts one deadline on the whole exchange: a peer dripping its answer is cut off and counted as a failure', async () => {
    const { port } = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(timer));
    });
    const client = makeClient(port, { timeoutMs: 400 });
    const started = Date.now();
    await expect(client.capabilities()).rejects.toMatchObject({ code: 'PEER_UNREACHABLE', message: expect.stringContaining('timed out') as unknown });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(client.breaker!.consecutiveFailures).toBe(1);
  });

  it("shows a peer's error text only as printable text, and ignores a malformed request id", async () => {
    const { port } = await startServer((_req, res) =>
      send(res, 403, { error: { code: 'GRANT_REVOKED', message: '\u001b]8;;https://evil.example/\u0007click\u001b[2J\nfake line\u202e', requestId: 'x' } }, { 'x-request-id': 'abc def!<>' }),
    );
    const err = (await makeClient(port).capabilities().catch((e: unknown) => e)) as FederationRequestError;
    expect([...err.message].some((c) => c.charCodeAt(0) < 0x20 || c === '\u202e')).toBe(false);
    expect(err.message).toContain('click');
    expect(err.requestId).toBeNull();
  });

  it('refuses a server certificate from the pinned CA that is not a TLS server certificate', async () => {
    // a peer's client certificate (EKU clientAuth, a SAN-less CN) presented as the server
    const { port } = await startServer(standardHandler, { cert: { certPem: client1.certPem, keyPem: client1.keyPem } });
    await expect(makeClient(port).capabilities()).rejects.toMatchObject({ code: 'PEER_TLS_INVALID' });
  });

  it("never serves one peer's cached answer to another peer claiming the same grant id", async () => {
    const { stats, port } = await startServer(standardHandler);
    const shared = new ResponseCache();
    const a = makeClient(port, { peerName: 'work', cache: shared });
    const b = makeClient(port, { peerName: 'impostor', cache: shared });
    await a.list('tasks');
    expect((await b.list('tasks')).cached).toBe(false);
    expect(stats.requests.filter((r) => r.includes('/list/'))).toHaveLength(2);
  });

  it('refuses . and .. as ids rather than letting URL parsing turn them into another path', async () => {
    const { stats, port } = await startServer(standardHandler);
    await expect(makeClient(port).get('tasks', '..')).rejects.toThrow(/cannot be used/);
    await expect(makeClient(port).get('tasks', '.')).rejects.toThrow(/cannot be used/);
    expect((await makeClient(port).get('tasks', 't/1')).body.item.id).toBe('t/1');
    expect(stats.requests).toEqual(['POST /api/federation/v1/get/tasks/t%2F1']);
  });

  it('refuses a non-https endpoint and fails closed after close()', async () => {
    expect(() => makeClient(1, { endpoint: 'http://localhost:1' })).toThrow(/must be https/);
    expect(() => makeClient(1, { endpoint: 'nope' })).toThrow(/not a URL/);
    const { port } = await startServer(standardHandler);
    const client = makeClient(port, { breaker: false, cache: false });
    await client.close();
    await expect(client.capabilities()).rejects.toMatchObject({ code: 'PEER_UNREACHABLE' });
  });
});

describe('a peer mounted under a path prefix (as its enrollment URL gave it)', () => {
  it('parseHttpDate reads an HTTP date; absent or unreadable is null', () => {
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
    expect(parseHttpDate(null)).toBeNull();
    expect(parseHttpDate('not a date')).toBeNull();
  });

  it('federationUrl keeps the prefix, with or without a trailing slash, and a prefix never names another host', () => {
    expect(federationUrl(new URL('https://h/prefix'), '/list/x').href).toBe('https://h/prefix/api/federation/v1/list/x');
    expect(federationUrl(new URL('https://h:8443/a/b/'), '/crl').href).toBe('https://h:8443/a/b/api/federation/v1/crl');
    expect(federationUrl(new URL('https://h:8443'), '/capabilities').href).toBe('https://h:8443/api/federation/v1/capabilities');
    expect(federationUrl(new URL('https://h//evil.example/x'), '/crl').host).toBe('h');
  });

  it('sends every verb under the prefix (a proxy-style server that answers only there)', async () => {
    const PREFIX = '/mosaic/gw';
    const { stats, port } = await startServer((req, res, body, socket) => {
      const url = req.url ?? '';
      if (!url.startsWith(`${PREFIX}/`)) return send(res, 404, { error: { code: 'NOT_FOUND', message: 'not under the prefix', requestId: 'srv-1' } });
      req.url = url.slice(PREFIX.length);
      standardHandler(req, res, body, socket);
    });
    for (const endpoint of [`https://localhost:${port}${PREFIX}`, `https://localhost:${port}${PREFIX}/`]) {
      const client = makeClient(port, { endpoint, cache: false });
      expect(client.endpoint.href).toBe(`https://localhost:${port}${PREFIX}`);
      expect((await client.capabilities()).body.server).toBe('work');
      expect((await client.list('tasks', { limit: 2 })).body.items).toHaveLength(2);
      expect((await client.get('tasks', 't/1')).body.item.id).toBe('t/1');
      expect((await client.search('tasks', 'x')).body.hits).toHaveLength(1);
    }
    expect(stats.requests.every((r) => r.includes(` ${PREFIX}/api/federation/v1/`))).toBe(true);
    expect(stats.requests).toHaveLength(8);
  });
});
