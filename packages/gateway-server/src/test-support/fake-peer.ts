/**
 * A fake serving gateway for unit tests of the requesting side: a real TLS 1.3 listener with
 * its own CA, whose answers a test scripts (junk, extra keys, hangs, 5xx, a refused
 * certificate, a CRL listing or not listing a serial), and a peer record for it inserted
 * straight into a gateway's store — with a client certificate from that CA and the key sealed
 * the way `peer add` seals it.
 */
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { buildCrl, normaliseSerialHex, sealText, type RootCa, type SealKey } from '@mosaic/federation-core';
import { makeClientCert, makeServerCert, makeTestCa, randomGrantId, type TestClientCert } from '@mosaic/federation-core/test-support/pki';
import { peerKeyRecordId } from '../services/peers.js';
import type { PeerRecord, Storage } from '../storage/index.js';

/** What the fake answers to a verb request (the CRL route is answered by `crl`). */
export type FakeBehaviour =
  | { kind: 'json'; status?: number; body: unknown }
  /** Answer from the request (e.g. issue a certificate for the CSR a renewal sent). */
  | { kind: 'handler'; handle(request: { method: string; url: string; body: string }): Promise<{ status?: number; body: unknown }> }
  | { kind: 'hang' }
  /** Close the connection of a client that presented a certificate, right after the handshake (a refused cert). */
  | { kind: 'refuse-cert' };

export interface FakePeer {
  readonly endpoint: string;
  readonly caPem: string;
  /** The fake's CA, key included (a `handler` issues with it). */
  readonly ca: RootCa;
  readonly client: TestClientCert;
  readonly grantId: string;
  /** Requests that reached a handler, as `METHOD path` (the CRL route included). */
  readonly requests: string[];
  /** Headers of the verb requests, in order. */
  readonly headers: Array<Record<string, string | string[] | undefined>>;
  /** The client certificate serial (lowercase hex) each verb request came with, in order. */
  readonly serials: string[];
  /** Another client certificate for the same grant (a renewal), issued as of `now`. */
  issueClientCert(now?: Date): Promise<TestClientCert>;
  behaviour: FakeBehaviour;
  /** Added to the clock of the `Date` header of verb answers (ms; 0: the real time). */
  clockOffsetMs: number;
  /** Serials the CRL lists (`null`: the CRL route answers 503). */
  crlSerials: string[] | null;
  /** Insert a peer record for this fake into `storage` (key sealed under `sealKey`). */
  insertPeer(storage: Storage, sealKey: SealKey, options: { name: string; localUserId: string; client?: TestClientCert }): Promise<PeerRecord>;
  close(): Promise<void>;
}

export async function startFakePeer(options: { subjectUserId?: string } = {}): Promise<FakePeer> {
  // made two hours ago, so a test can issue a certificate as of the past (an older one to renew)
  const ca = await makeTestCa({ commonName: 'fake serving CA', now: new Date(Date.now() - 2 * 3_600_000) });
  const serverCert = await makeServerCert(ca, ['localhost', '127.0.0.1']);
  const grantId = randomGrantId();
  const client = await makeClientCert(ca, { grantId, subjectUserId: options.subjectUserId ?? 'alice', peerName: 'home' });
  const requests: string[] = [];
  const headers: FakePeer['headers'] = [];
  const serials: string[] = [];
  let crlNumber = 1;
  const hung: ServerResponse[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse, body: string) => {
    // a keep-alive socket made before the refusal: closed without an answer, as the serving side does
    if (fake.behaviour.kind === 'refuse-cert' && req.url !== '/api/federation/v1/crl') {
      req.socket.destroy();
      return;
    }
    requests.push(`${req.method} ${req.url}`);
    if (req.url === '/api/federation/v1/crl') {
      if (fake.crlSerials === null) {
        res.writeHead(503).end();
        return;
      }
      void buildCrl({ ca, revoked: fake.crlSerials.map((serialHex) => ({ serialHex, revokedAt: new Date() })), crlNumber: crlNumber++ }).then((crl) => {
        res.writeHead(200, { 'content-type': 'application/pkix-crl' });
        res.end(Buffer.from(crl.der));
      });
      return;
    }
    headers.push(req.headers);
    serials.push(normaliseSerialHex(String((req.socket as TLSSocket).getPeerCertificate().serialNumber ?? '')) ?? '');
    if (fake.clockOffsetMs !== 0) res.setHeader('date', new Date(Date.now() + fake.clockOffsetMs).toUTCString());
    const b = fake.behaviour;
    if (b.kind === 'hang') {
      hung.push(res);
      return;
    }
    if (b.kind === 'json') {
      res.writeHead(b.status ?? 200, { 'content-type': 'application/json', 'x-request-id': 'fake-1' });
      res.end(JSON.stringify(b.body));
      return;
    }
    if (b.kind === 'handler') {
      void b.handle({ method: req.method ?? 'GET', url: req.url ?? '/', body }).then((answer) => {
        res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', 'x-request-id': 'fake-1' });
        res.end(JSON.stringify(answer.body));
      });
      return;
    }
  };

  const server: Server = createHttpsServer(
    { key: serverCert.keyPem, cert: serverCert.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
    },
  );
  server.on('secureConnection', (socket: TLSSocket) => {
    const presented = Object.keys(socket.getPeerCertificate() ?? {}).length > 0;
    if (presented && fake.behaviour.kind === 'refuse-cert') socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  const fake: FakePeer = {
    endpoint: `https://localhost:${port}`,
    caPem: ca.certPem,
    ca,
    client,
    grantId,
    requests,
    headers,
    serials,
    issueClientCert: (now) => makeClientCert(ca, { grantId, subjectUserId: options.subjectUserId ?? 'alice', peerName: 'home', ...(now ? { now } : {}) }),
    behaviour: { kind: 'json', body: { items: [], nextCursor: null, _source: 'fake' } },
    clockOffsetMs: 0,
    crlSerials: [],
    async insertPeer(storage, sealKey, o) {
      const cert = o.client ?? client;
      return storage.peers.insert({
        name: o.name,
        endpoint: `https://localhost:${port}`,
        serverName: 'fake',
        localUserId: o.localUserId,
        grantId,
        subjectUserId: options.subjectUserId ?? 'alice',
        caCertPem: ca.certPem,
        caPin: ca.spkiPin,
        certPem: cert.certPem,
        sealedKey: sealText(sealKey, cert.keyPem, { recordId: peerKeyRecordId(o.name) }),
        certSerial: cert.serialHex,
        certNotBefore: cert.notBefore,
        certNotAfter: cert.notAfter,
      });
    },
    async close() {
      for (const res of hung.splice(0)) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return fake;
}
