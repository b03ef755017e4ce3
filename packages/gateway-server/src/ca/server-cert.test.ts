import { createPrivateKey, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { generateMasterSecret, parseMasterSecret, verifyClientCertificate } from '@mosaic/federation-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EmbeddedCa, type ServerCertificate } from './embedded-ca.js';
import { MemoryCaStateStore } from './memory-store.js';
import { serverNames } from './server-names.js';
import type { CaStateStore } from './store.js';

const DAY = 24 * 60 * 60 * 1000;
const T0 = new Date('2026-03-01T12:00:00Z');

async function setup() {
  let now = T0;
  const store = new MemoryCaStateStore();
  const secret = parseMasterSecret(generateMasterSecret());
  const ca = await EmbeddedCa.open({ store, secret, name: 'home', now: () => now });
  return { store, secret, ca, setNow: (d: Date) => (now = d) };
}

describe('serverNames', () => {
  it.each([
    ['https://gw.example.org:8443', [], ['dns:gw.example.org', 'dns:localhost', 'ip:127.0.0.1', 'ip:::1'], 'gw.example.org'],
    ['https://GW.Example.ORG./', [], ['dns:gw.example.org', 'dns:localhost', 'ip:127.0.0.1', 'ip:::1'], 'gw.example.org'],
    ['https://10.0.0.5:8443', [], ['dns:localhost', 'ip:10.0.0.5', 'ip:127.0.0.1', 'ip:::1'], '10.0.0.5'],
    ['https://[2001:DB8:0:0::1]:8443', [], ['dns:localhost', 'ip:127.0.0.1', 'ip:2001:db8::1', 'ip:::1'], '2001:db8::1'],
    ['https://localhost:8443', ['gw.internal', '192.168.1.2', '[fe80::1]', 'LOCALHOST'], ['dns:gw.internal', 'dns:localhost', 'ip:127.0.0.1', 'ip:192.168.1.2', 'ip:::1', 'ip:fe80::1'], 'localhost'],
    ['https://bücher.example/', [], ['dns:localhost', 'dns:xn--bcher-kva.example', 'ip:127.0.0.1', 'ip:::1'], 'xn--bcher-kva.example'],
  ])('%s + %j', (url, extra, sans, cn) => {
    const names = serverNames(url, extra);
    expect(names.sans).toEqual(sans);
    expect(names.commonName).toBe(cn);
  });

  it.each([
    ['not a url', []],
    ['http://gw.example.org', []],
    ['https://user:pw@gw.example.org', []],
    ['https://gw.example.org', ['*.example.org']],
    ['https://gw.example.org', ['bad_name!']],
    ['https://gw.example.org', ['fe80::1%eth0']],
    ['https://gw.example.org', ['']],
  ])('refuses %s + %j', (url, extra) => {
    expect(() => serverNames(url, extra)).toThrow(expect.objectContaining({ code: 'CA_SERVER_NAME_INVALID' }));
  });

  it('uses a fixed CN when the host is too long for one', () => {
    const host = `${'a'.repeat(60)}.example.org`;
    expect(serverNames(`https://${host}`).commonName).toBe('Mosaic Federation listener');
  });
});

describe('EmbeddedCa.ensureServerCertificate', () => {
  it('issues a 90-day server certificate for the public host, localhost, 127.0.0.1 and ::1', async () => {
    const { ca, store } = await setup();
    const cert = await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org:8443', extraHosts: ['10.0.0.5'] });
    expect(cert.issued).toBe('none-stored');
    expect(cert.sans).toEqual(['dns:gw.example.org', 'dns:localhost', 'ip:10.0.0.5', 'ip:127.0.0.1', 'ip:::1']);
    expect(cert.notAfter.getTime() - T0.getTime()).toBe(90 * DAY);
    const x = new X509Certificate(cert.certPem);
    expect(x.subjectAltName).toBe('DNS:gw.example.org, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:10.0.0.5');
    expect(x.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(x.checkPrivateKey(createPrivateKey(cert.keyPem))).toBe(true);
    expect(() => verifyClientCertificate(cert.certPem, ca.caCertPem, { now: T0, purpose: 'server' })).not.toThrow();
    expect(store.snapshot().server).toMatchObject({ serialHex: cert.serialHex, sans: cert.sans });
    expect(cert.renewAt.getTime()).toBe(cert.notBefore.getTime() + ((cert.notAfter.getTime() - cert.notBefore.getTime()) * 2) / 3);
  });

  it('reuses the stored certificate before 2/3 of its life, also from a reopened CA', async () => {
    const { ca, store, secret, setNow } = await setup();
    const first = await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    setNow(new Date(T0.getTime() + 59 * DAY));
    const again = await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    expect(again.issued).toBeUndefined();
    expect(again.serialHex).toBe(first.serialHex);
    expect(again.keyPem).toBe(first.keyPem);
    const reopened = await EmbeddedCa.open({ store, secret, name: 'home', now: () => new Date(T0.getTime() + 59 * DAY) });
    const fromStore = await reopened.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    expect(fromStore.serialHex).toBe(first.serialHex);
    expect(fromStore.keyPem).toBe(first.keyPem);
  });

  it('renews at 2/3 of its life', async () => {
    const { ca, setNow } = await setup();
    const first = await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    setNow(new Date(first.renewAt.getTime() - 1000));
    expect((await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' })).serialHex).toBe(first.serialHex);
    setNow(first.renewAt);
    const renewed = await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    expect(renewed.issued).toBe('renewal-due');
    expect(renewed.serialHex).not.toBe(first.serialHex);
    expect(renewed.keyPem).not.toBe(first.keyPem);
    expect(renewed.notAfter.getTime()).toBe(first.renewAt.getTime() + 90 * DAY - (first.renewAt.getTime() % 1000));
  });

  it('issues a new certificate when the names change (a new --public-url or extra host)', async () => {
    const { ca } = await setup();
    const first = await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    const samePort = await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org:9443/' });
    expect(samePort.serialHex).toBe(first.serialHex);
    const moved = await ca.ensureServerCertificate({ publicUrl: 'https://federation.example.org' });
    expect(moved.issued).toBe('names-changed');
    expect(moved.sans).toContain('dns:federation.example.org');
    expect(moved.sans).not.toContain('dns:gw.example.org');
    const extra = await ca.ensureServerCertificate({ publicUrl: 'https://federation.example.org', extraHosts: ['10.1.1.1'] });
    expect(extra.issued).toBe('names-changed');
  });

  it('replaces a stored certificate that is not from this CA', async () => {
    const { ca, store } = await setup();
    const first = await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    const other = await setup();
    const foreign = await other.ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    store.replaceServerCert({ ...store.snapshot().server!, certPem: foreign.certPem, serialHex: foreign.serialHex });
    const replaced = await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    expect(replaced.issued).toBe('stored-invalid');
    expect(replaced.serialHex).not.toBe(first.serialHex);
    expect(replaced.serialHex).not.toBe(foreign.serialHex);
    expect(() => verifyClientCertificate(replaced.certPem, ca.caCertPem, { now: T0, purpose: 'server' })).not.toThrow();
  });

  it('replaces a stored server key that fails to open (it is not the CA key: replaceable)', async () => {
    const { store, secret } = await setup();
    const ca = await EmbeddedCa.open({ store, secret, name: 'home', now: () => T0 });
    await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    const stored = store.snapshot().server!;
    const bytes = Buffer.from(stored.sealedKey, 'base64');
    bytes[25] = bytes[25]! ^ 1;
    store.replaceServerCert({ ...stored, sealedKey: bytes.toString('base64') });
    const fresh = await EmbeddedCa.open({ store, secret, name: 'home', now: () => T0 });
    const cert = await fresh.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    expect(cert.issued).toBe('stored-key-unreadable');
    expect(cert.serialHex).not.toBe(stored.serialHex);
  });

  it('converges concurrent callers (replicas) on one stored certificate', async () => {
    const { store, secret } = await setup();
    const replicas = await Promise.all([1, 2, 3, 4].map(() => EmbeddedCa.open({ store, secret, name: 'home', now: () => T0 })));
    const certs = await Promise.all(replicas.map((r) => r.ensureServerCertificate({ publicUrl: 'https://gw.example.org' })));
    expect(new Set(certs.map((c) => c.serialHex)).size).toBe(1);
    expect(store.snapshot().server?.serialHex).toBe(certs[0]!.serialHex);
  });

  it('serves TLS that a client trusting only the CA accepts for localhost and 127.0.0.1', async () => {
    const { ca } = await setup();
    const real = await EmbeddedCa.open({ store: new MemoryCaStateStore(), secret: parseMasterSecret(generateMasterSecret()), name: 'home' });
    const cert = await real.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    const server = createServer({ cert: cert.certPem, key: cert.keyPem, minVersion: 'TLSv1.3' }, (_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      for (const servername of ['localhost', 'gw.example.org', undefined]) {
        await expect(handshake(server, real.caCertPem, servername)).resolves.toBe(true);
      }
      await expect(handshake(server, ca.caCertPem, 'localhost')).rejects.toThrow();
      await expect(handshake(server, real.caCertPem, 'other.example.org')).rejects.toThrow(/altnames|Hostname/i);
    } finally {
      server.close();
    }
  });
});

describe('EmbeddedCa.scheduleServerCertRenewal', () => {
  let opened: EmbeddedCa[] = [];
  afterEach(() => {
    for (const ca of opened) ca.close();
    opened = [];
    vi.useRealTimers();
  });

  /**
   * Let real async work (the store's setImmediate, key generation on the thread pool) finish:
   * up to 20 s of real time (performance.now is not faked), however loaded the machine is.
   */
  async function until(condition: () => boolean): Promise<void> {
    const deadline = performance.now() + 20_000;
    while (!condition() && performance.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    expect(condition()).toBe(true);
  }

  /** Fire the next timer and wait until the check it started has armed the next one. */
  async function nextCheck(): Promise<void> {
    await vi.advanceTimersToNextTimerAsync();
    await until(() => vi.getTimerCount() === 1);
  }

  it('refuses to run before a certificate was ensured, and creates no timer until asked', async () => {
    vi.useFakeTimers({ now: T0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const ca = await EmbeddedCa.open({ store: new MemoryCaStateStore(), secret: parseMasterSecret(generateMasterSecret()), name: 'home' });
    opened.push(ca);
    expect(() => ca.scheduleServerCertRenewal(() => undefined)).toThrow(expect.objectContaining({ code: 'CA_ARGUMENT_INVALID' }));
    await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    await ca.currentCrl();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('renews at the due time, hands the new certificate over, and stops when told', async () => {
    vi.useFakeTimers({ now: T0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const store = new MemoryCaStateStore();
    const ca = await EmbeddedCa.open({ store, secret: parseMasterSecret(generateMasterSecret()), name: 'home' });
    opened.push(ca);
    const first = await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    const renewed: { at: number; cert: ServerCertificate }[] = [];
    const handle = ca.scheduleServerCertRenewal((cert) => void renewed.push({ at: Date.now(), cert }), { checkIntervalMs: 7 * DAY });
    expect(vi.getTimerCount()).toBe(1);
    let checks = 0;
    while (renewed.length === 0 && checks < 20) {
      await nextCheck();
      checks += 1;
    }
    // Weekly checks until day 56, then one at the renewal time (day 60, 2/3 of 90 days).
    expect(checks).toBe(9);
    expect(renewed).toHaveLength(1);
    expect(renewed[0]!.at).toBeGreaterThanOrEqual(first.renewAt.getTime());
    expect(renewed[0]!.at).toBeLessThan(first.renewAt.getTime() + 2000);
    expect(renewed[0]!.cert.serialHex).not.toBe(first.serialHex);
    expect(renewed[0]!.cert.issued).toBe('renewal-due');
    expect(store.snapshot().server?.serialHex).toBe(renewed[0]!.cert.serialHex);
    // The next check is a week later (the new certificate is due in 60 days).
    await nextCheck();
    expect(renewed).toHaveLength(1);
    handle.stop();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('hands over a certificate another replica put in the store, and reports errors without stopping', async () => {
    vi.useFakeTimers({ now: T0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const store = new MemoryCaStateStore();
    const secret = parseMasterSecret(generateMasterSecret());
    const a = await EmbeddedCa.open({ store, secret, name: 'home' });
    opened.push(a);
    const first = await a.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    const seen: string[] = [];
    const errors: unknown[] = [];
    a.scheduleServerCertRenewal(
      (cert) => {
        seen.push(cert.serialHex);
        throw new Error('setSecureContext failed');
      },
      { checkIntervalMs: 60 * 60 * 1000, onError: (err) => errors.push(err) },
    );
    // Another replica finds the stored key damaged and replaces the certificate.
    const stored = store.snapshot().server!;
    const bytes = Buffer.from(stored.sealedKey, 'base64');
    bytes[25] = bytes[25]! ^ 1;
    store.replaceServerCert({ ...stored, sealedKey: bytes.toString('base64') });
    const b = await EmbeddedCa.open({ store, secret, name: 'home' });
    const fromB = await b.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    expect(fromB.serialHex).not.toBe(first.serialHex);
    expect(seen).toEqual([]);
    await nextCheck();
    expect(Date.now()).toBe(T0.getTime() + 60 * 60 * 1000);
    expect(seen).toEqual([fromB.serialHex]);
    expect(errors).toEqual([expect.objectContaining({ message: 'setSecureContext failed' })]);
    // The schedule goes on after the failure, and close() ends it.
    expect(vi.getTimerCount()).toBe(1);
    a.close();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('retries after a failed check', async () => {
    vi.useFakeTimers({ now: T0, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const inner = new MemoryCaStateStore();
    let failing = false;
    const store: CaStateStore = {
      load: () => inner.load(),
      createOnce: (s) => inner.createOnce(s),
      loadServerCert: () => (failing ? Promise.reject(new Error('connection refused')) : inner.loadServerCert()),
      saveServerCert: (c, p) => inner.saveServerCert(c, p),
      nextCrlNumber: () => inner.nextCrlNumber(),
      revokedSerials: () => inner.revokedSerials(),
    };
    const ca = await EmbeddedCa.open({ store, secret: parseMasterSecret(generateMasterSecret()), name: 'home' });
    opened.push(ca);
    await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    const errors: unknown[] = [];
    ca.scheduleServerCertRenewal(() => undefined, { checkIntervalMs: 60 * 60 * 1000, retryMs: 5 * 60 * 1000, onError: (err) => errors.push(err) });
    failing = true;
    await nextCheck();
    expect(errors).toEqual([expect.objectContaining({ message: 'connection refused' })]);
    await nextCheck();
    expect(Date.now()).toBe(T0.getTime() + 65 * 60 * 1000);
    expect(errors).toHaveLength(2);
  });
});

function handshake(server: Server, caPem: string, servername: string | undefined): Promise<boolean> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: caPem, ...(servername === undefined ? {} : { servername }), minVersion: 'TLSv1.3' });
    socket.once('secureConnect', () => {
      const ok = socket.authorized;
      socket.end();
      if (ok) resolve(true);
      else reject(new Error(String(socket.authorizationError)));
    });
    socket.once('error', reject);
  });
}
