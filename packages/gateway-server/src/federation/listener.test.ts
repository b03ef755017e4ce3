// The federation listener's TLS layer against real clients (SECURITY.md cases 5, 7, 7c).
import { connect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCsr, exportPrivateKeyPem, generateKeyPair } from '@mosaic/federation-core';
import { cleanupTestGateways, startTestGateway, type TestGateway } from '../test-support/gateway.js';
import { federationTlsOptions } from './listener.js';
import { Agent, request } from 'undici';

let work: TestGateway;
let port: number;
let client: { certPem: string; keyPem: string; grantId: string };

beforeAll(async () => {
  work = await startTestGateway({ name: 'work' });
  port = Number(new URL(work.gateway.federationUrl).port);
  await work.admin.seed({ users: [{ id: 'alice', name: 'Alice' }] });
  const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: { resources: ['tasks'] } } as never);
  const keys = await generateKeyPair({ extractable: true });
  const agent = new Agent({ connect: { ca: work.gateway.ca.caCertPem, servername: 'localhost' } });
  const { enrollmentUrl } = await work.admin.createToken(grant.id);
  const res = await request(enrollmentUrl.replace('127.0.0.1', 'localhost'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ csrPem: await createCsr({ keys }) }),
    dispatcher: agent,
  });
  const body = (await res.body.json()) as { certPem: string };
  await agent.close();
  client = { certPem: body.certPem, keyPem: await exportPrivateKeyPem(keys.privateKey), grantId: grant.id };
});

afterAll(cleanupTestGateways);

/** Open a TLS connection; resolves with the socket once secure, or the error. */
function tls(options: ConnectionOptions): Promise<{ socket?: TLSSocket; error?: Error }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: work.gateway.ca.caCertPem, ...options });
    socket.once('secureConnect', () => resolve({ socket }));
    socket.once('error', (error) => resolve({ error }));
  });
}

/** One HTTP/1.1 request on an open TLS socket; the status, or null when the server closed it. */
function get(socket: TLSSocket, path: string): Promise<number | null> {
  return new Promise((resolve) => {
    let data = '';
    socket.on('data', (d: Buffer) => {
      data += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m) resolve(Number(m[1]));
    });
    socket.once('close', () => resolve(null));
    socket.write(`GET ${path} HTTP/1.1\r\nhost: localhost\r\n\r\n`);
  });
}

describe('federation listener TLS', () => {
  it("never hands revocation to OpenSSL's CRL check: no CRL in the TLS options, serials are checked from the store (case 7b)", () => {
    // With any CRL loaded OpenSSL checks every CA in the chain and refuses everyone once it is
    // past nextUpdate; revoked serials are refused in secureConnection instead (identity suite).
    const options = federationTlsOptions({ certPem: 'cert', keyPem: 'key', caPem: 'ca' }) as Record<string, unknown>;
    expect(Object.keys(options)).not.toContain('crl');
    expect(options.rejectUnauthorized).toBe(false);
    expect(options.requestCert).toBe(true);
  });

  it('refuses TLS 1.2 (case 7)', async () => {
    const r = await tls({ maxVersion: 'TLSv1.2' });
    expect(r.error?.message ?? '').toMatch(/protocol version|unsupported protocol/i);
  });

  it('never negotiates HTTP/2: an h2-only client is refused, h2+http/1.1 gets http/1.1 (case 7c)', async () => {
    const h2only = await tls({ ALPNProtocols: ['h2'] });
    expect(h2only.socket).toBeUndefined();
    const both = await tls({ ALPNProtocols: ['h2', 'http/1.1'] });
    expect(both.socket?.alpnProtocol).toBe('http/1.1');
    both.socket?.destroy();
  });

  it('a revoked certificate cannot come back by resuming a TLS session (case 5)', async () => {
    const first = await tls({ cert: client.certPem, key: client.keyPem });
    expect(first.socket).toBeDefined();
    expect(await get(first.socket!, '/api/federation/v1/capabilities')).toBe(200);
    const session = first.socket!.getSession();
    first.socket!.destroy();
    await work.admin.revokeGrant(client.grantId, 'stolen');
    // resume with the saved session (if the server issued one) and the same certificate
    const again = await tls({ cert: client.certPem, key: client.keyPem, ...(session ? { session } : {}) });
    if (again.socket) {
      expect(again.socket.isSessionReused()).toBe(false);
      expect(await get(again.socket, '/api/federation/v1/capabilities')).toBeNull();
    } else {
      expect(again.error).toBeDefined();
    }
  });
});
