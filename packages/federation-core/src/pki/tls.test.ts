/**
 * Real TLS 1.3 handshakes with certificates issued here, using the one-port pattern of
 * SECURITY.md: `requestCert: true, rejectUnauthorized: false`, and a socket that presented a
 * certificate OpenSSL did not accept is destroyed in `secureConnection`, before any handler.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMosaicError } from '../errors.js';
import { makeClientCert, makeServerCert, makeTestCa, randomGrantId, type RootCa, type TestServerCert } from '../test-support/pki.js';
import { decodeMosaicIdentity, type MosaicIdentity } from './mosaic-identity.js';
import { verifyClientCertificate } from './verify.js';

type ServerEvent =
  | { kind: 'refused'; reason: string | undefined }
  | { kind: 'public' }
  | { kind: 'handler'; identity: MosaicIdentity; serialHex: string };

let ca: RootCa;
let sameNameCa: RootCa;
let serverCert: TestServerCert;
let server: tls.Server;
let port: number;
const events: ServerEvent[] = [];

beforeAll(async () => {
  // Backdated so a client certificate can be issued with a window entirely in the past.
  ca = await makeTestCa({ commonName: 'TLS CA', now: new Date(Date.now() - 90 * 86_400_000) });
  sameNameCa = await makeTestCa({ commonName: 'TLS CA' });
  serverCert = await makeServerCert(ca, ['localhost', '127.0.0.1']);
  server = tls.createServer({
    key: serverCert.keyPem,
    cert: serverCert.certPem,
    ca: ca.certPem,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3',
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const peer = socket.getPeerCertificate(true);
    // getPeerCertificate() is {} (truthy) without a client certificate: test `raw`, and trust
    // only `socket.authorized` for the verdict.
    const presented = Buffer.isBuffer((peer as Partial<tls.DetailedPeerCertificate>).raw);
    if (presented && !socket.authorized) {
      events.push({ kind: 'refused', reason: socket.authorizationError?.toString() });
      socket.destroy();
      return;
    }
    if (!presented) {
      events.push({ kind: 'public' });
      socket.end('public');
      return;
    }
    const verified = verifyClientCertificate(peer.raw, ca.certPem);
    const identity = decodeMosaicIdentity(peer.raw);
    events.push({ kind: 'handler', identity, serialHex: verified.serialHex });
    socket.end(JSON.stringify(identity));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.close();
  await once(server, 'close');
});

interface ClientOutcome {
  data: string;
  error: NodeJS.ErrnoException | undefined;
  protocol: string | null;
}

/** Connect, read until the server closes, and report what came back. */
function connect(options: Partial<tls.ConnectionOptions>): Promise<ClientOutcome> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: NodeJS.ErrnoException | undefined;
    let protocol: string | null = null;
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca.certPem, minVersion: 'TLSv1.3', ...options });
    socket.on('secureConnect', () => {
      protocol = socket.getProtocol();
    });
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e;
    });
    socket.on('close', () => resolve({ data: Buffer.concat(chunks).toString('utf8'), error, protocol }));
  });
}

describe('TLS 1.3 with certificates issued here', () => {
  it('accepts a client certificate from our CA; the identity decodes from getPeerCertificate(true).raw', async () => {
    const grantId = randomGrantId();
    const client = await makeClientCert(ca, { grantId, subjectUserId: 'alice' });
    events.length = 0;
    const outcome = await connect({ key: client.keyPem, cert: client.certPem });
    expect(outcome.protocol).toBe('TLSv1.3');
    expect(outcome.error).toBeUndefined();
    expect(JSON.parse(outcome.data)).toEqual({ grantId, subjectUserId: 'alice' });
    expect(events).toEqual([{ kind: 'handler', identity: { grantId, subjectUserId: 'alice' }, serialHex: client.serialHex }]);
  });

  // SECURITY.md adversarial case 2.
  it('refuses a certificate from another CA (same CA name, perfect Mosaic extensions) right after the handshake', async () => {
    const impostor = await makeClientCert(sameNameCa, { grantId: randomGrantId(), subjectUserId: 'alice' });
    // The impostor's certificate is perfectly well-formed: only the chain gives it away.
    expect(() => decodeMosaicIdentity(impostor.certPem)).not.toThrow();
    events.length = 0;
    const outcome = await connect({ key: impostor.keyPem, cert: impostor.certPem });
    expect(outcome.data).toBe('');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'refused' });
    expect(events.some((e) => e.kind === 'handler')).toBe(false);
  });

  // SECURITY.md adversarial case 3.
  it('refuses an expired client certificate, in TLS and in verifyClientCertificate', async () => {
    const expired = await makeClientCert(ca, { now: new Date(Date.now() - 40 * 86_400_000), lifetimeDays: 30 });
    expect(expired.notAfter.getTime()).toBeLessThan(Date.now());
    let err: unknown;
    try {
      verifyClientCertificate(expired.certPem, ca.certPem);
    } catch (e) {
      err = e;
    }
    expect(isMosaicError(err) && err.code).toBe('CERT_EXPIRED');

    events.length = 0;
    const outcome = await connect({ key: expired.keyPem, cert: expired.certPem });
    expect(outcome.data).toBe('');
    expect(events).toEqual([{ kind: 'refused', reason: expect.stringMatching(/CERT_HAS_EXPIRED/) as string }]);
  });

  it('lets a client without a certificate reach only the public part', async () => {
    events.length = 0;
    const outcome = await connect({});
    expect(outcome.data).toBe('public');
    expect(events).toEqual([{ kind: 'public' }]);
  });

  it('fails the handshake for a TLS 1.2 client', async () => {
    const client = await makeClientCert(ca);
    events.length = 0;
    const outcome = await connect({ key: client.keyPem, cert: client.certPem, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
    expect(outcome.protocol).toBeNull();
    expect(outcome.error?.code).toMatch(/ERR_SSL|ECONNRESET/);
    expect(events).toEqual([]);
  });

  it('the client refuses our server certificate under another CA', async () => {
    const outcome = await connect({ ca: sameNameCa.certPem });
    expect(outcome.protocol).toBeNull();
    expect(outcome.error?.code).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_SIGNATURE_FAILURE|SELF_SIGNED/);
  });
});
