import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createServer as createTlsServer, connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCsr, decodeMosaicIdentity, exportPrivateKeyPem, FederationClient, generateKeyPair, spkiPin, verifyClientCertificate } from '@mosaic/federation-core';
import type { AdminApiError } from '@mosaic/federation-core/admin-client';
import { describeEachEngine } from './test-support/engines.js';
import { cleanupTestGateways, startTestGateway, type TestGateway } from './test-support/gateway.js';

const SEED = {
  users: [
    { id: 'alice', name: 'Alice' },
    { id: 'bob', name: 'Bob' },
  ],
  teams: [{ id: 't-eng', name: 'Engineering' }],
  memberships: [{ teamId: 't-eng', userId: 'alice' }],
  resources: { tasks: [{ id: 'task-1', ownerUserId: 'alice', title: 'Ship it', body: 'details' }] },
};
const SCOPE = { resources: ['tasks', 'notes'], excluded_resources: ['credentials'], max_rows_per_query: 100 };

afterAll(cleanupTestGateways);

/** An enrollment answer or an error envelope. */
interface EnrollAnswer {
  certPem?: string;
  error: { code: string; message: string };
}

/** POST an enrollment the way any client would, trusting the gateway's CA. */
async function redeem(gw: TestGateway, token: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const agent = new Agent({ connect: { ca: gw.gateway.ca.caCertPem, servername: 'localhost' } });
  try {
    const res = await request(`${gw.gateway.federationUrl.replace('127.0.0.1', 'localhost')}/api/federation/v1/enroll/${token}`, {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : JSON.stringify(body),
      dispatcher: agent,
    });
    return { status: res.statusCode, body: (await res.body.json()) as EnrollAnswer };
  } finally {
    await agent.close();
  }
}

async function newCsr(): Promise<string> {
  return createCsr({ keys: await generateKeyPair() });
}

function tokenOf(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

/** Enroll a fresh key for a new grant of alice and return an mTLS client holding it. */
async function enrollClient(gw: TestGateway, options: { expiresAt?: string; cache?: false } = {}) {
  const keys = await generateKeyPair({ extractable: true });
  const grant = await gw.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE, ...(options.expiresAt ? { expiresAt: options.expiresAt } : {}) } as never);
  const enrolled = await redeem(gw, tokenOf((await gw.admin.createToken(grant.id)).enrollmentUrl), { csrPem: await createCsr({ keys }) });
  const client = new FederationClient({
    peerName: 'work',
    endpoint: gw.gateway.federationUrl.replace('127.0.0.1', 'localhost'),
    caPem: gw.gateway.ca.caCertPem,
    certPem: enrolled.body.certPem!,
    keyPem: await exportPrivateKeyPem(keys.privateKey),
    grantId: grant.id,
    ...(options.cache === false ? { cache: false as const } : {}),
  });
  return { grant, client };
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

describeEachEngine('gateway: grants and enrollment', (engine) => {
  // gateways stop before this block's PostgreSQL does (after-hooks run in reverse order)
  afterAll(cleanupTestGateways);
  let work: TestGateway;

  beforeAll(async () => {
    const loc = await engine.location();
    work = await startTestGateway({ name: 'work', ...loc });
    await work.admin.seed(SEED);
  });

  it('grant create writes a pending grant; an unknown resource is refused and nothing is stored', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE } as never);
    expect(grant).toMatchObject({ status: 'pending', subjectUserId: 'alice', peerName: 'home', certSerial: null });
    const before = (await work.admin.listGrants()).items.length;
    const err = (await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: { resources: ['tasks', 'pets'] } } as never).catch((e: unknown) => e)) as AdminApiError;
    expect(err.status).toBe(400);
    expect(JSON.stringify(err.details)).toContain('resources');
    expect((await work.admin.listGrants()).items.length).toBe(before);
    const unknownUser = (await work.admin.createGrant({ subjectUserId: 'mallory', peerName: 'home', scope: SCOPE } as never).catch((e: unknown) => e)) as AdminApiError;
    expect(unknownUser.code).toBe('USER_NOT_FOUND');
  });

  it('enrollment issues a client cert with both extensions, a CA-chosen subject and notAfter capped at the grant expiry', async () => {
    const expiresAt = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE, expiresAt } as never);
    const { enrollmentUrl, caPin } = await work.admin.createToken(grant.id);
    expect(caPin).toBe(work.gateway.ca.caPin);
    const res = await redeem(work, tokenOf(enrollmentUrl), { csrPem: await newCsr() });
    expect(res.status).toBe(200);
    const cert = new X509Certificate(res.body.certPem as string);
    expect(cert.subject).toBe('CN=home');
    expect(decodeMosaicIdentity(res.body.certPem as string)).toEqual({ grantId: grant.id, subjectUserId: 'alice' });
    expect(Date.parse(cert.validTo)).toBeLessThanOrEqual(Date.parse(expiresAt));
    verifyClientCertificate(res.body.certPem as string, work.gateway.ca.caCertPem, { purpose: 'client' });
    const active = await work.admin.getGrant(grant.id.slice(0, 8));
    expect(active).toMatchObject({ status: 'active' });
    expect(active.certSerial).not.toBeNull();
  });

  it('a second redeem is 410 TOKEN_USED; an unknown token 404; an expired one 410 TOKEN_EXPIRED', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home2', scope: SCOPE } as never);
    const { enrollmentUrl } = await work.admin.createToken(grant.id);
    expect((await redeem(work, tokenOf(enrollmentUrl), { csrPem: await newCsr() })).status).toBe(200);
    const again = await redeem(work, tokenOf(enrollmentUrl), { csrPem: await newCsr() });
    expect(again).toMatchObject({ status: 410, body: { error: { code: 'TOKEN_USED' } } });
    const unknown = await redeem(work, 'A'.repeat(43), { csrPem: await newCsr() });
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: 'TOKEN_UNKNOWN' } } });

    const g2 = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home3', scope: SCOPE } as never);
    const short = await work.admin.createToken(g2.id, { ttlSeconds: 1 });
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await redeem(work, tokenOf(short.enrollmentUrl), { csrPem: await newCsr() })).toMatchObject({ status: 410, body: { error: { code: 'TOKEN_EXPIRED' } } });
  });

  it('20 concurrent redeems of one token: exactly one 200, the rest 410 TOKEN_USED', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'race', scope: SCOPE } as never);
    const { enrollmentUrl } = await work.admin.createToken(grant.id);
    const csrs = await Promise.all(Array.from({ length: 20 }, () => newCsr()));
    const results = await Promise.all(csrs.map((csrPem) => redeem(work, tokenOf(enrollmentUrl), { csrPem })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 410 && r.body.error.code === 'TOKEN_USED')).toHaveLength(19);
  });

  it('a bad CSR is refused before the token is claimed, so the token still works', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'badcsr', scope: SCOPE } as never);
    const { enrollmentUrl } = await work.admin.createToken(grant.id);
    const bad = await redeem(work, tokenOf(enrollmentUrl), { csrPem: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' });
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'CSR_INVALID' } } });
    expect((await redeem(work, tokenOf(enrollmentUrl), { csrPem: await newCsr() })).status).toBe(200);
  });

  it('a newer token cancels the older one', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'twice', scope: SCOPE } as never);
    const first = await work.admin.createToken(grant.id);
    const second = await work.admin.createToken(grant.id);
    expect((await redeem(work, tokenOf(first.enrollmentUrl), { csrPem: await newCsr() })).status).toBe(410);
    expect((await redeem(work, tokenOf(second.enrollmentUrl), { csrPem: await newCsr() })).status).toBe(200);
  });

  it('re-enrolling an active grant needs a --reenroll token, and revokes every earlier serial', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'again', scope: SCOPE } as never);
    const first = await redeem(work, tokenOf((await work.admin.createToken(grant.id)).enrollmentUrl), { csrPem: await newCsr() });
    const firstSerial = (await work.admin.getGrant(grant.id)).certSerial!;
    const refused = (await work.admin.createToken(grant.id).catch((e: unknown) => e)) as AdminApiError;
    expect(refused).toMatchObject({ status: 409, code: 'GRANT_NOT_ENROLLABLE' });
    const { enrollmentUrl } = await work.admin.createToken(grant.id, { reenroll: true });
    const second = await redeem(work, tokenOf(enrollmentUrl), { csrPem: await newCsr() });
    expect(second.status).toBe(200);
    const now = await work.admin.getGrant(grant.id);
    expect(now.certSerial).not.toBe(firstSerial);
    expect(first.status).toBe(200);
    const revoked = await work.gateway.storage.certs.revokedSerials();
    expect(revoked.has(firstSerial)).toBe(true);
    expect(revoked.has(now.certSerial!)).toBe(false);
  });

  it('a revoked grant cannot be enrolled: 409', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'gone', scope: SCOPE } as never);
    const { enrollmentUrl } = await work.admin.createToken(grant.id);
    await work.admin.revokeGrant(grant.id, 'test');
    // revoking cancels the unused token too
    expect((await redeem(work, tokenOf(enrollmentUrl), { csrPem: await newCsr() })).status).toBe(410);
    await expect(work.admin.createToken(grant.id)).rejects.toMatchObject({ status: 409, code: 'GRANT_NOT_ENROLLABLE' });
  });

  it.each([
    ['a body over 64 KiB', () => ({ csrPem: 'x'.repeat(70_000) }), { 'content-type': 'application/json' }, 413, 'BODY_TOO_LARGE'],
    ['a body that is not JSON', () => '{not json', { 'content-type': 'application/json' }, 400, 'BODY_INVALID'],
    ['a wrong content type', () => 'csrPem=x', { 'content-type': 'application/x-www-form-urlencoded' }, 400, 'BODY_INVALID'],
    ['extra keys', () => ({ csrPem: 'x', grantId: 'y' }), { 'content-type': 'application/json' }, 400, 'CSR_INVALID'],
  ])('enrollment refuses %s and spends nothing', async (_what, body, headers, status, code) => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'bodies', scope: SCOPE } as never);
    const { enrollmentUrl } = await work.admin.createToken(grant.id);
    const res = await redeem(work, tokenOf(enrollmentUrl), body(), headers);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect((await work.admin.getGrant(grant.id)).status).toBe('pending');
    expect((await redeem(work, tokenOf(enrollmentUrl), { csrPem: await newCsr() })).status).toBe(200);
  });

  it('the admin API refuses a missing or wrong token with 401, and /health needs none', async () => {
    const { AdminClient } = await import('@mosaic/federation-core/admin-client');
    await expect(new AdminClient({ baseUrl: work.gateway.adminUrl }).listGrants()).rejects.toMatchObject({ status: 401, code: 'ADMIN_AUTH_REQUIRED' });
    await expect(new AdminClient({ baseUrl: work.gateway.adminUrl, token: 'x'.repeat(43) }).listGrants()).rejects.toMatchObject({ status: 401 });
    expect(await new AdminClient({ baseUrl: work.gateway.adminUrl }).health()).toMatchObject({ status: 'ok', name: 'work' });
  });

  it('an invalid seed is refused with the bad entry named, and changes nothing', async () => {
    const before = await work.gateway.storage.directory.listUsers();
    const err = (await work.admin
      .seed({ users: [{ id: 'carol', name: 'Carol' }], resources: { tasks: [{ id: 't9', title: 'x', ownerUserId: 'carol', teamId: 't-eng' }] } })
      .catch((e: unknown) => e)) as AdminApiError;
    expect(err.status).toBe(400);
    expect(JSON.stringify(err.details ?? err.message)).toContain('resources.tasks[0]');
    expect(await work.gateway.storage.directory.listUsers()).toEqual(before);
  });

  it('writes no private key in clear anywhere in the data dir', async () => {
    if (engine.name !== 'sqlite') return; // the PostgreSQL store is checked by the storage suite
    await work.gateway.storage.close();
    const files = filesUnder(work.dataDir);
    expect(files.some((f) => f.endsWith('gateway.db'))).toBe(true);
    for (const f of files) expect(readFileSync(f).includes('PRIVATE KEY'), f).toBe(false);
    work = await work.restart();
  });

  it('a certificate from another CA, or a revoked serial, is closed after the handshake even on public routes', async () => {
    const keys = await generateKeyPair({ extractable: true });
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE } as never);
    const res = await redeem(work, tokenOf((await work.admin.createToken(grant.id)).enrollmentUrl), { csrPem: await createCsr({ keys }) });
    const keyPem = await exportPrivateKeyPem(keys.privateKey);
    const getCa = async (certPem: string, key: string) => {
      const agent = new Agent({ connect: { ca: work.gateway.ca.caCertPem, cert: certPem, key, servername: 'localhost', maxCachedSessions: 0 } });
      try {
        const r = await request(`${work.gateway.federationUrl.replace('127.0.0.1', 'localhost')}/api/federation/v1/ca`, { dispatcher: agent });
        await r.body.dump();
        return r.statusCode;
      } catch (err) {
        return (err as { code?: string }).code ?? 'error';
      } finally {
        await agent.close();
      }
    };
    expect(await getCa(res.body.certPem!, keyPem)).toBe(200);
    const { makeTestCa, makeClientCert } = await import('@mosaic/federation-core/test-support/pki');
    const foreign = await makeClientCert(await makeTestCa({ commonName: 'impostor' }), { grantId: grant.id, subjectUserId: 'alice' });
    expect(await getCa(foreign.certPem, foreign.keyPem)).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
    await work.admin.revokeGrant(grant.id, 'test');
    expect(await getCa(res.body.certPem!, keyPem)).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
    expect(work.gateway.federation.refused.untrusted).toBeGreaterThanOrEqual(1);
    expect(work.gateway.federation.refused.revoked).toBeGreaterThanOrEqual(1);
    // /metrics exposes those tallies (the counter was declared but never fed)
    const metrics = await work.admin.metrics();
    expect(metrics).toContain(`mosaic_federation_handshakes_refused_total{reason="untrusted"} ${work.gateway.federation.refused.untrusted}`);
    expect(metrics).toContain(`mosaic_federation_handshakes_refused_total{reason="revoked"} ${work.gateway.federation.refused.revoked}`);
  });

  it('an enrolled peer reads through the federation verbs of the running gateway (wired end to end)', async () => {
    const { grant, client } = await enrollClient(work);
    try {
      expect((await client.capabilities()).body).toMatchObject({ server: 'work', resources: ['tasks', 'notes'] });
      const list = await client.list('tasks');
      expect(list.body._source).toBe('work');
      expect(list.body.items.map((i) => i.id)).toEqual(['task-1']);
      await expect(client.list('credentials')).rejects.toMatchObject({ status: 403, code: 'RESOURCE_DENIED' });
      // an edit applies on the next request, no restart
      await work.admin.updateGrant(grant.id, { scope: { resources: ['notes'] } } as never);
      await expect(client.get('tasks', 'task-1')).rejects.toMatchObject({ status: 403 });
    } finally {
      await client.close();
    }
  });

  it('renewal: refused while not due (409); when due, a new certificate and the old one works for 10 more minutes', async () => {
    // a 30-day certificate, just issued: not due
    const fresh = await enrollClient(work, { cache: false });
    try {
      await expect(fresh.client.renew(await newCsr())).rejects.toMatchObject({ status: 409, code: 'RENEWAL_NOT_DUE' });
    } finally {
      await fresh.client.close();
    }
    // a grant expiring in 5 days caps the certificate there: under 7 days left, so due
    const due = await enrollClient(work, { expiresAt: new Date(Date.now() + 5 * 86_400_000).toISOString(), cache: false });
    const oldSerial = (await work.admin.getGrant(due.grant.id)).certSerial!;
    try {
      const keys = await generateKeyPair({ extractable: true });
      const renewed = await due.client.renew(await createCsr({ keys }));
      expect(decodeMosaicIdentity(renewed.body.certPem)).toEqual({ grantId: due.grant.id, subjectUserId: 'alice' });
      const newSerial = (await work.admin.getGrant(due.grant.id)).certSerial!;
      expect(newSerial).not.toBe(oldSerial);
      // the old certificate still reads during the overlap…
      expect((await due.client.list('tasks')).status).toBe(200);
      // …and is revoked 10 minutes on, not now
      const old = await work.gateway.storage.certs.get(oldSerial);
      const at = Date.parse(old!.revokedAt!);
      expect(at - Date.now()).toBeGreaterThan(9 * 60_000);
      expect(at - Date.now()).toBeLessThanOrEqual(10 * 60_000);
      // the new one reads too
      await due.client.updateCredentials({ certPem: renewed.body.certPem, keyPem: await exportPrivateKeyPem(keys.privateKey) });
      expect((await due.client.list('tasks')).status).toBe(200);
    } finally {
      await due.client.close();
    }
  });

  it('keeps every grant and certificate across a restart, with the same CA', async () => {
    const pin = work.gateway.ca.caPin;
    const before = (await work.admin.listGrants()).items;
    work = await work.restart();
    expect(work.gateway.ca.caPin).toBe(pin);
    expect((await work.admin.listGrants()).items).toEqual(before);
  });

  it('refuses a second gateway on the same data dir with a clear error', async () => {
    if (engine.name !== 'sqlite') return;
    await expect(startTestGateway({ name: 'work', dataDir: work.dataDir, env: work.env })).rejects.toMatchObject({ code: 'DATA_DIR_IN_USE' });
  });
});

describeEachEngine('gateway: peer add between two gateways', (engine) => {
  // gateways stop before this block's PostgreSQL does (after-hooks run in reverse order)
  afterAll(cleanupTestGateways);
  let work: TestGateway;
  let home: TestGateway;

  beforeAll(async () => {
    work = await startTestGateway({ name: 'work', ...(await engine.location()) });
    home = await startTestGateway({ name: 'home', ...(await engine.location()) });
    await work.admin.seed(SEED);
  });

  it('peer add enrolls home with work end to end, pinned, and stores a sealed key', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE } as never);
    const { enrollmentUrl, caPin } = await work.admin.createToken(grant.id);
    const preview = await home.admin.previewPeer(enrollmentUrl);
    expect(preview.caPin).toBe(caPin);
    const peer = await home.admin.addPeer({ enrollmentUrl, caPin, name: 'work' });
    expect(peer).toMatchObject({ name: 'work', state: 'active', grantId: grant.id, subjectUserId: 'alice', localUserId: 'alice', caPin });
    expect((await work.admin.getGrant(grant.id)).status).toBe('active');
    const stored = await home.gateway.storage.peers.get('work');
    expect(stored!.sealedKey).not.toContain('PRIVATE KEY');
    expect((await home.admin.listPeers()).items.map((p) => p.name)).toEqual(['work']);
    // a restart of home keeps the peer
    home = await home.restart();
    expect(await home.admin.getPeer('work')).toEqual(peer);
  });

  it('a wrong pin stores nothing and leaves the token unspent', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE } as never);
    const { enrollmentUrl } = await work.admin.createToken(grant.id);
    const wrong = `sha256:${'0'.repeat(64)}`;
    await expect(home.admin.addPeer({ enrollmentUrl, caPin: wrong, name: 'work-b' })).rejects.toMatchObject({ code: 'PIN_MISMATCH' });
    await expect(home.admin.getPeer('work-b')).rejects.toMatchObject({ status: 404 });
    expect((await work.admin.getGrant(grant.id)).status).toBe('pending');
  });

  it('a man in the middle relaying the real /ca while terminating TLS itself never sees the token', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE } as never);
    const { enrollmentUrl, caPin } = await work.admin.createToken(grant.id);
    const token = tokenOf(enrollmentUrl);
    // The proxy holds its own certificate for localhost (another CA) and relays to work.
    const { makeTestCa, makeServerCert } = await import('@mosaic/federation-core/test-support/pki');
    const mitmCert = await makeServerCert(await makeTestCa({ commonName: 'mitm' }), ['localhost', '127.0.0.1']);
    const seen: string[] = [];
    const workPort = new URL(work.gateway.federationUrl).port;
    const proxy = createTlsServer({ key: mitmCert.keyPem, cert: mitmCert.certPem }, (client: TLSSocket) => {
      client.on('data', (d: Buffer) => seen.push(d.toString('latin1')));
      const upstream = tlsConnect({ host: '127.0.0.1', port: Number(workPort), rejectUnauthorized: false });
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const viaProxy = enrollmentUrl.replace(/:\/\/[^/]+/, `://localhost:${(proxy.address() as AddressInfo).port}`);
      await expect(home.admin.addPeer({ enrollmentUrl: viaProxy, caPin, name: 'work-mitm' })).rejects.toMatchObject({ code: 'PEER_TLS_INVALID' });
      expect(seen.join('')).toContain('/api/federation/v1/ca');
      expect(seen.join('')).not.toContain(token);
      await expect(home.admin.getPeer('work-mitm')).rejects.toMatchObject({ status: 404 });
      expect((await work.admin.getGrant(grant.id)).status).toBe('pending');
      expect(spkiPin(work.gateway.ca.caCertPem)).toBe(caPin);
    } finally {
      proxy.close();
    }
  });
});
