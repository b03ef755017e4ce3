/**
 * `peer add` with a serving side mounted under a path prefix (`https://h/prefix/api/federation/v1/…`,
 * as a proxy-style front would publish it): enrollment honours the prefix, so the stored endpoint
 * must keep it — else the token is spent and the link check (and every later call) misses.
 * The serving side is a scripted TLS 1.3 listener that answers only under the prefix.
 */
import type { ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueClientCertificate } from '@mosaic/federation-core';
import { makeServerCert, makeTestCa, randomGrantId } from '@mosaic/federation-core/test-support/pki';
import { cleanupTestGateways, startTestGateway, type TestGateway } from '../test-support/gateway.js';

const PREFIX = '/mosaic/gw';
const TOKEN = 'kq3Zs0123456789abcdefghijkl';

describe('peer add with a serving side under a path prefix', () => {
  let gw: TestGateway;
  let server: Server;
  let origin: string;
  let ca: Awaited<ReturnType<typeof makeTestCa>>;
  const grantId = randomGrantId();
  const requests: string[] = [];

  beforeAll(async () => {
    gw = await startTestGateway({ name: 'home' });
    ca = await makeTestCa({ commonName: 'prefixed serving CA' });
    const serverCert = await makeServerCert(ca, ['localhost']);
    const json = (res: ServerResponse, status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    server = createServer({ key: serverCert.keyPem, cert: serverCert.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const url = req.url ?? '';
        requests.push(`${req.method} ${url}`);
        const route = url.startsWith(`${PREFIX}/api/federation/v1/`) ? url.slice(`${PREFIX}/api/federation/v1`.length) : null;
        if (route === '/ca') return res.writeHead(200, { 'content-type': 'application/x-pem-file' }).end(ca.certPem);
        if (route === `/enroll/${TOKEN}`) {
          const { csrPem } = JSON.parse(body) as { csrPem: string };
          void issueClientCertificate({ ca, csr: csrPem, peerName: 'home', grantId, subjectUserId: 'alice' }).then((cert) =>
            json(res, 200, { certPem: cert.certPem, certChainPem: cert.certPem, caCertPem: ca.certPem, grantId, subjectUserId: 'alice', serverName: 'work', notAfter: cert.notAfter.toISOString() }),
          );
          return;
        }
        if (route === '/capabilities' && (req.socket as TLSSocket).authorized) {
          return json(res, 200, { server: 'work', resources: ['tasks'], excluded_resources: [], max_rows_per_query: 100, supported_verbs: ['capabilities', 'list', 'get', 'search'], rate_limit_per_minute: 60 });
        }
        if (route === '/list/tasks' && (req.socket as TLSSocket).authorized) return json(res, 200, { items: [{ id: 't1', title: 'under the prefix' }], nextCursor: null, _source: 'work' });
        json(res, 404, { error: { code: 'NOT_FOUND', message: 'no such route', requestId: 'srv-1' } });
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `https://localhost:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    await cleanupTestGateways();
  });

  it('stores the endpoint with its prefix: the link check and later queries go under it', async () => {
    const peer = await gw.admin.addPeer({ enrollmentUrl: `${origin}${PREFIX}/api/federation/v1/enroll/${TOKEN}`, caPin: ca.spkiPin });
    expect(peer).toMatchObject({ name: 'work', endpoint: `${origin}${PREFIX}`, state: 'active' });
    const r = await gw.admin.query({ verb: 'list', resource: 'tasks', source: 'federated:work' });
    expect(r).toMatchObject({ partial: false, items: [{ id: 't1', _source: 'federated:work' }] });
    expect(requests.every((line) => line.includes(` ${PREFIX}/api/federation/v1/`))).toBe(true);
  });
});
