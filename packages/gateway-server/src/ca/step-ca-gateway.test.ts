/**
 * `--ca step-ca` end to end: a real gateway (work) whose certificates come from the fake
 * Step-CA, a real requesting gateway (home, embedded CA) enrolling through `peer add` (pinned),
 * reads over real mTLS, a certificate of another provisioner of the same root refused at the
 * listener, renewal, revocation reaching `/1.0/revoke` and the published CRL, a certificate of
 * another root refused, and Step-CA's intermediate rotated under the same root without any
 * peer enrolling again (peers pin the root; the intermediate travels in the chains).
 */
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect, type DetailedPeerCertificate } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import {
  createCsr,
  decodeMosaicIdentity,
  encodeGrantIdValue,
  encodeSubjectUserIdValue,
  exportPrivateKeyPem,
  FederationClient,
  fetchPeerCrl,
  generateKeyPair,
  leafOfChain,
  normaliseSerialHex,
  spkiPin,
  verifyCertificateChain,
} from '@mosaic/federation-core';
import { childHome, killChildGateway, startChildGateway, type ChildGateway } from '../test-support/child-gateway.js';
import { describeEachEngine } from '../test-support/engines.js';
import { cleanupTestGateways, startTestGateway, type TestGateway } from '../test-support/gateway.js';
import { FAKE_DEFAULT_TEMPLATE, MOSAIC_TEMPLATE_FILE, startFakeStepCa, type FakeStepCa } from '../test-support/fake-step-ca.js';
import { StepCa } from './step-ca.js';

const SEED = {
  users: [{ id: 'alice', name: 'Alice' }],
  resources: { tasks: [{ id: 'task-1', ownerUserId: 'alice', title: 'Ship it' }] },
};
const SCOPE = { resources: ['tasks'], max_rows_per_query: 100 };

let fake: FakeStepCa;
let work: TestGateway;
let home: TestGateway;

const serial = (pem: string) => normaliseSerialHex(new X509Certificate(pem).serialNumber)!;

/** Resolve once `check` is true (polling every 20 ms), or fail after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

/** A certificate of the CA's OTHER provisioner for `grantId` (Mosaic extensions when its template writes them). */
async function foreignCert(grantId: string, sub = 'impostor'): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeyPair({ extractable: true });
  const ott = await fake.token({
    provisioner: fake.other,
    sub,
    extra: { mosaic: { grantIdDer: Buffer.from(encodeGrantIdValue(grantId)).toString('base64'), subjectUserIdDer: Buffer.from(encodeSubjectUserIdValue('alice')).toString('base64') } },
  });
  const signed = await fake.post('/1.0/sign', { csr: await createCsr({ keys }), ott });
  expect(signed.status).toBe(201);
  return { certPem: signed.body.crt as string, keyPem: await exportPrivateKeyPem(keys.privateKey) };
}
const workUrl = () => work.gateway.federationUrl.replace('127.0.0.1', 'localhost');

beforeAll(async () => {
  // the other provisioner writes the same Mosaic extensions: only the serial tells them apart
  fake = await startFakeStepCa({ otherUsesMosaicTemplate: true });
}, 60_000);

afterAll(async () => {
  await cleanupTestGateways();
  await fake?.close();
});

/** One GET over mTLS with the given certificate: the status, or the socket error code. */
async function getWith(certPem: string, keyPem: string, path: string): Promise<number | string> {
  const agent = new Agent({ connect: { ca: work.gateway.ca.caCertPem, cert: certPem, key: keyPem, servername: 'localhost', maxCachedSessions: 0 } });
  try {
    const res = await request(`${workUrl()}/api/federation/v1${path}`, { dispatcher: agent });
    await res.body.dump();
    return res.statusCode;
  } catch (err) {
    return (err as { code?: string }).code ?? 'error';
  } finally {
    await agent.close();
  }
}

describeEachEngine('a gateway started with --ca step-ca', (engine) => {
  beforeAll(async () => {
    work = await startTestGateway({ name: 'work', ca: 'step-ca', extraEnv: fake.env(), ...(await engine.location()) });
    await work.admin.seed(SEED);
    home = await startTestGateway({ name: 'home' });
  }, 60_000);
  afterAll(async () => {
    await home?.stop();
    await work?.stop();
  });

  it('pins the Step-CA root, serves a server certificate Step-CA signed with its intermediate, and says so', async () => {
    const ca = work.gateway.ca;
    expect(ca).toBeInstanceOf(StepCa);
    expect(ca.mode).toBe('step-ca');
    expect(ca.caPin).toBe(spkiPin(fake.rootPem));
    expect(ca.caCertPem.trim()).toBe(fake.rootPem.trim());
    // the listener presents leaf + intermediate: a client trusting the root alone verifies it
    expect(await presentedChain()).toEqual([fake.intermediatePem.trim()]);
    expect((ca as StepCa).rootPin).toBe(spkiPin(fake.rootPem));
    const status = await work.admin.status();
    expect(status).toMatchObject({ ca: { mode: 'step-ca', caPin: ca.caPin } });
    const summary = await work.gateway.summary();
    expect(summary.lines.rows.find(([k]) => k === 'CA')?.[1]).toMatch(/^step-ca {2}sha256:/);
    expect(fake.issued.filter((i) => i.provisioner === 'mosaic').length).toBeGreaterThanOrEqual(2); // probe + server cert
  });

  it('home enrolls with `peer add` (pinned), its certificate comes from Step-CA, and it reads rows over mTLS', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE } as never);
    const { enrollmentUrl, caPin } = await work.admin.createToken(grant.id);
    expect(caPin).toBe(work.gateway.ca.caPin);
    const peer = await home.admin.addPeer({ enrollmentUrl, caPin, name: 'work' });
    const creds = await home.gateway.peerClients.credentials(peer.name);
    const certSerial = serial(creds.certPem);
    // home stored the root as its trust anchor, and presents its certificate with the intermediate
    expect(creds.caPem.trim()).toBe(fake.rootPem.trim());
    expect(creds.certPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(fake.issued.find((i) => i.serialHex === certSerial.replace(/^0+/, ''))?.provisioner).toBe('mosaic');
    expect(decodeMosaicIdentity(leafOfChain(creds.certPem))).toEqual({ grantId: grant.id, subjectUserId: 'alice' });
    expect(work.gateway.ca.acceptsSerial(certSerial)).toBe(true);
    const client = await home.gateway.peerClients.client(peer.name, { breaker: false, cache: false });
    try {
      const list = await client.list('tasks');
      expect(list.body._source).toBe('work');
      expect(list.body.items.map((i) => i.id)).toEqual(['task-1']);
    } finally {
      await client.close();
    }
  });

  it('a certificate for the same root from another provisioner is refused at the listener, even with valid Mosaic extensions', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'impostor', scope: SCOPE } as never);
    const keys = await generateKeyPair({ extractable: true });
    const keyPem = await exportPrivateKeyPem(keys.privateKey);
    const ott = await fake.token({
      provisioner: fake.other,
      sub: 'impostor',
      extra: {
        mosaic: {
          grantId: grant.id,
          subjectUserId: 'alice',
          grantIdDer: Buffer.from(encodeGrantIdValue(grant.id)).toString('base64'),
          subjectUserIdDer: Buffer.from(encodeSubjectUserIdValue('alice')).toString('base64'),
        },
      },
    });
    const signed = await fake.post('/1.0/sign', { csr: await createCsr({ keys }), ott });
    expect(signed.status).toBe(201);
    const foreignPem = signed.body.crt as string;
    expect(decodeMosaicIdentity(foreignPem)).toEqual({ grantId: grant.id, subjectUserId: 'alice' });
    const before = work.gateway.federation.refused.foreign;
    expect(await getWith(foreignPem, keyPem, '/ca')).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
    expect(work.gateway.federation.refused.foreign).toBe(before + 1);
  });

  it('M1: a certificate of another provisioner carrying the SERIAL of an enrolled peer’s certificate is refused (the fingerprint is compared)', async () => {
    const creds = await home.gateway.peerClients.credentials('work');
    const grant = (await work.admin.listGrants()).items.find((g) => g.peerName === 'home')!;
    expect(await getWith(creds.certPem, creds.keyPem, '/ca')).toBe(200);
    fake.behaviour.nextSerialHex = serial(creds.certPem);
    const twin = await foreignCert(grant.id, 'home');
    expect(serial(twin.certPem)).toBe(serial(creds.certPem));
    expect(work.gateway.ca.acceptsSerial(serial(twin.certPem))).toBe(true);
    const before = work.gateway.federation.refused.foreign;
    expect(await getWith(twin.certPem, twin.keyPem, '/capabilities')).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
    expect(work.gateway.federation.refused.foreign).toBe(before + 1);
  });

  it('M2: a certificate under the shared root WITHOUT Mosaic extensions never reaches a route, public ones included', async () => {
    fake.behaviour.otherTemplate = FAKE_DEFAULT_TEMPLATE;
    try {
      const grant = (await work.admin.listGrants()).items.find((g) => g.peerName === 'home')!;
      const bare = await foreignCert(grant.id);
      expect(() => decodeMosaicIdentity(bare.certPem)).toThrow();
      const before = work.gateway.federation.refused.foreign;
      expect(await getWith(bare.certPem, bare.keyPem, '/ca')).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
      expect(work.gateway.federation.refused.foreign).toBe(before + 1);
    } finally {
      delete fake.behaviour.otherTemplate;
    }
  });

  it('H1: gateway doctor shows ca.step_ca_exclusive yellow, naming the other provisioner', async () => {
    const doctor = await work.admin.doctor();
    expect(doctor.checks.find((c) => c.id === 'ca.step_ca_exclusive')).toMatchObject({ status: 'yellow', message: expect.stringMatching(/other-team.*impersonate/), remediation: expect.stringMatching(/dedicated to Mosaic/) });
    // and ca.key_sealed does not claim a CA key this gateway does not have
    expect(doctor.checks.find((c) => c.id === 'ca.key_sealed')?.message).toMatch(/^the CA keys stay in Step-CA; the provisioner key is held in memory only/);
  });

  it('L2: a renewal Step-CA refuses is a generic error for the peer: neither Step-CA’s URL nor its words leave the gateway', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'due-l2', scope: SCOPE, expiresAt: new Date(Date.now() + 5 * 86_400_000).toISOString() } as never);
    const { enrollmentUrl, caPin } = await work.admin.createToken(grant.id);
    const peer = await home.admin.addPeer({ enrollmentUrl, caPin, name: 'work-due-l2' });
    const creds = await home.gateway.peerClients.credentials(peer.name);
    const client = new FederationClient({ peerName: 'work', endpoint: workUrl(), caPem: creds.caPem, certPem: creds.certPem, keyPem: creds.keyPem, grantId: grant.id, cache: false, breaker: false });
    fake.behaviour.signFailure = 'postgres at 10.9.8.7:5432 is down';
    try {
      const err = (await client.renew(await createCsr({ keys: await generateKeyPair() })).catch((e: unknown) => e)) as Error & { status?: number; code?: string };
      expect(err).toBeInstanceOf(Error);
      expect(JSON.stringify({ ...err, message: err.message })).not.toMatch(/10\.9\.8\.7|localhost:\d+|STEP_CA_/);
      expect(err.message).toMatch(/could not be issued/);
    } finally {
      delete fake.behaviour.signFailure;
      await client.close();
    }
  });

  it('L3: a certificate issued for an enrollment that then fails (the grant revoked meanwhile) is revoked at Step-CA', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'l3', scope: SCOPE } as never);
    const { enrollmentUrl, caPin } = await work.admin.createToken(grant.id);
    const signs = () => fake.requests.filter((r) => r === 'POST /1.0/sign').length;
    const before = signs();
    const issuedBefore = fake.issued.length;
    fake.behaviour.signDelayMs = 1_000;
    try {
      const adding = home.admin.addPeer({ enrollmentUrl, caPin, name: 'work-l3' }).then(
        () => 'enrolled',
        (e: unknown) => e,
      );
      await until(() => signs() > before);
      await work.admin.revokeGrant(grant.id, 'revoked during the enrollment');
      expect(await adding).not.toBe('enrolled');
    } finally {
      fake.behaviour.signDelayMs = 0;
    }
    expect(fake.issued.length).toBe(issuedBefore + 1);
    const orphan = fake.issued.at(-1)!;
    await until(() => fake.revoked.get(orphan.serialHex) === 5);
    expect(work.gateway.ca.acceptsSerial(orphan.serialHex)).toBe(false);
  });

  it('L3: a certificate issued for a renewal that then answers 409 (the grant revoked meanwhile) is revoked at Step-CA', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'l3-renew', scope: SCOPE, expiresAt: new Date(Date.now() + 5 * 86_400_000).toISOString() } as never);
    const { enrollmentUrl, caPin } = await work.admin.createToken(grant.id);
    const peer = await home.admin.addPeer({ enrollmentUrl, caPin, name: 'work-l3-renew' });
    const creds = await home.gateway.peerClients.credentials(peer.name);
    const client = new FederationClient({ peerName: 'work', endpoint: workUrl(), caPem: creds.caPem, certPem: creds.certPem, keyPem: creds.keyPem, grantId: grant.id, cache: false, breaker: false });
    const signs = () => fake.requests.filter((r) => r === 'POST /1.0/sign').length;
    const before = signs();
    const issuedBefore = fake.issued.length;
    fake.behaviour.signDelayMs = 1_000;
    try {
      const renewing = client.renew(await createCsr({ keys: await generateKeyPair() })).then(
        () => 'renewed',
        (e: unknown) => e,
      );
      await until(() => signs() > before);
      await work.admin.revokeGrant(grant.id, 'revoked during the renewal');
      expect(await renewing).not.toBe('renewed');
    } finally {
      fake.behaviour.signDelayMs = 0;
      await client.close();
    }
    expect(fake.issued.length).toBe(issuedBefore + 1);
    const orphan = fake.issued.at(-1)!;
    await until(() => fake.revoked.get(orphan.serialHex) === 5);
    expect(work.gateway.ca.acceptsSerial(orphan.serialHex)).toBe(false);
  });

  it('Step-CA’s intermediate rotated while the gateway runs: a peer enrolled under the new one is accepted at once, even presenting its leaf alone', async () => {
    await fake.rotateIntermediate();
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'live-rotation', scope: SCOPE } as never);
    const { enrollmentUrl, caPin } = await work.admin.createToken(grant.id);
    await home.admin.addPeer({ enrollmentUrl, caPin, name: 'work-live-rotation' });
    const creds = await home.gateway.peerClients.credentials('work-live-rotation');
    expect(verifyCertificateChain(creds.certPem, creds.caPem).intermediates[0]!.trim()).toBe(fake.intermediatePem.trim());
    expect(await getWith(creds.certPem, creds.keyPem, '/capabilities')).toBe(200);
    // the listener learnt the new intermediate: the leaf alone verifies through it up to the root
    expect(await getWith(leafOfChain(creds.certPem), creds.keyPem, '/capabilities')).toBe(200);
    // and re-signs its own certificate under it, so peers verify Step-CA's CRL (now signed by
    // the new intermediate) through the chain the listener presents
    await until(async () => (await presentedChain())[0] === fake.intermediatePem.trim());
    const crl = await fetchPeerCrl({ peerName: 'work', endpoint: workUrl(), caPem: creds.caPem });
    expect(crl.revokedSerials.has(serial(creds.certPem))).toBe(false);
  });

  it('renewal goes through Step-CA as well', async () => {
    // a grant expiring in 5 days caps the certificate there: under 7 days left, so due
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'due', scope: SCOPE, expiresAt: new Date(Date.now() + 5 * 86_400_000).toISOString() } as never);
    const { enrollmentUrl, caPin } = await work.admin.createToken(grant.id);
    const peer = await home.admin.addPeer({ enrollmentUrl, caPin, name: 'work-due' });
    const creds = await home.gateway.peerClients.credentials(peer.name);
    const client = new FederationClient({ peerName: 'work', endpoint: workUrl(), caPem: creds.caPem, certPem: creds.certPem, keyPem: creds.keyPem, grantId: grant.id, cache: false });
    try {
      const before = fake.issued.length;
      const renewed = await client.renew(await createCsr({ keys: await generateKeyPair() }));
      expect(fake.issued.length).toBe(before + 1);
      expect(serial(renewed.body.certPem)).toBe(normaliseSerialHex(fake.issued.at(-1)!.serialHex));
      expect(decodeMosaicIdentity(renewed.body.certPem)).toEqual({ grantId: grant.id, subjectUserId: 'alice' });
      expect(work.gateway.ca.acceptsSerial(serial(renewed.body.certPem))).toBe(true);
      // the renewal answer carries the chain to the pinned root, and names the root as the CA
      expect(renewed.body.caCertPem.trim()).toBe(fake.rootPem.trim());
      expect(verifyCertificateChain(renewed.body.certChainPem, creds.caPem, { purpose: 'client' }).intermediates[0]!.trim()).toBe(fake.intermediatePem.trim());
      // the renewed certificate's notAfter is still capped at the grant's expiry
      expect(new Date(new X509Certificate(renewed.body.certPem).validTo).getTime()).toBeLessThanOrEqual(Date.parse((await work.admin.getGrant(grant.id)).expiresAt!) + 1000);
    } finally {
      await client.close();
    }
  });

  it('revoking a grant denies its serial at once, reaches /1.0/revoke, and the published CRL lists it', async () => {
    const grant = (await work.admin.listGrants()).items.find((g) => g.peerName === 'home')!;
    const creds = await home.gateway.peerClients.credentials('work');
    const certSerial = serial(creds.certPem);
    expect(await getWith(creds.certPem, creds.keyPem, '/ca')).toBe(200);
    await work.admin.revokeGrant(grant.id, 'test');
    expect(await getWith(creds.certPem, creds.keyPem, '/ca')).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
    await (work.gateway.ca as StepCa).whenRevocationsPushed();
    expect(fake.revoked.has(certSerial.replace(/^0+/, ''))).toBe(true);
    // the requesting side reads work's CRL (Step-CA's, signed by the intermediate under the pinned root) and finds itself
    const crl = await fetchPeerCrl({ peerName: 'work', endpoint: workUrl(), caPem: creds.caPem });
    expect(crl.revokedSerials.has(certSerial)).toBe(true);
    const doctor = await work.admin.doctor();
    expect(doctor.checks.find((c) => c.id === 'crl.fresh')).toMatchObject({ status: 'green' });
  });

  it('a certificate (with its chain) from another root is refused at the handshake, even with valid Mosaic extensions', async () => {
    const otherRoot = await startFakeStepCa();
    try {
      const grant = (await work.admin.listGrants()).items.find((g) => g.peerName === 'due')!;
      const keys = await generateKeyPair({ extractable: true });
      const ott = await otherRoot.token({
        sub: 'impostor',
        extra: {
          mosaic: {
            grantId: grant.id,
            subjectUserId: 'alice',
            grantIdDer: Buffer.from(encodeGrantIdValue(grant.id)).toString('base64'),
            subjectUserIdDer: Buffer.from(encodeSubjectUserIdValue('alice')).toString('base64'),
          },
        },
      });
      const signed = await otherRoot.post('/1.0/sign', { csr: await createCsr({ keys }), ott });
      expect(signed.status).toBe(201);
      const before = work.gateway.federation.refused.untrusted;
      expect(await getWith(`${signed.body.crt as string}${otherRoot.intermediatePem}`, await exportPrivateKeyPem(keys.privateKey), '/ca')).toMatch(/UND_ERR_SOCKET|ECONNRESET/);
      expect(work.gateway.federation.refused.untrusted).toBe(before + 1);
    } finally {
      await otherRoot.close();
    }
  });

  it('Step-CA’s intermediate rotated under the same root: after a restart the gateway signs with the new one, and an enrolled peer keeps reading without enrolling again', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'rotated', scope: SCOPE } as never);
    const { enrollmentUrl, caPin } = await work.admin.createToken(grant.id);
    await home.admin.addPeer({ enrollmentUrl, caPin, name: 'work-rotated' });
    const creds = await home.gateway.peerClients.credentials('work-rotated');
    const oldIntermediate = fake.intermediatePem;
    await fake.rotateIntermediate();
    expect(fake.intermediatePem).not.toBe(oldIntermediate);
    work = await work.restart();
    // the pin is the root's: unchanged; the listener now presents the new intermediate
    expect(work.gateway.ca.caPin).toBe(caPin);
    expect((work.gateway.ca as StepCa).intermediatePem.trim()).toBe(fake.intermediatePem.trim());
    expect(await presentedChain()).toEqual([fake.intermediatePem.trim()]);
    // the peer's stored credentials (root pin, leaf + the OLD intermediate) still work — the
    // restarted gateway listens on a new port, so the stored credentials are used on it directly
    const client = new FederationClient({ peerName: 'work', endpoint: workUrl(), caPem: creds.caPem, certPem: creds.certPem, keyPem: creds.keyPem, grantId: grant.id, cache: false, breaker: false });
    try {
      const list = await client.list('tasks');
      expect(list.body.items.map((i) => i.id)).toEqual(['task-1']);
    } finally {
      await client.close();
    }
    // Step-CA's CRL is now signed by the new intermediate: the peer verifies it through the
    // TLS chain of the same connection, up to the root it pinned
    const crl = await fetchPeerCrl({ peerName: 'work', endpoint: workUrl(), caPem: creds.caPem });
    expect(crl.revokedSerials.has(serial(creds.certPem))).toBe(false);
    // and a new enrollment with the same pin gets a certificate of the new intermediate
    const next = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'rotated-new', scope: SCOPE } as never);
    const token = await work.admin.createToken(next.id);
    expect(token.caPin).toBe(caPin);
    await home.admin.addPeer({ enrollmentUrl: token.enrollmentUrl, caPin: token.caPin, name: 'work-rotated-new' });
    const fresh = await home.gateway.peerClients.credentials('work-rotated-new');
    expect(verifyCertificateChain(fresh.certPem, fresh.caPem).intermediates[0]!.trim()).toBe(fake.intermediatePem.trim());
  });
});

/** The CA certificates work's federation listener presents above its leaf (PEM, trimmed). */
async function presentedChain(): Promise<string[]> {
  const url = new URL(workUrl());
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: Number(url.port), servername: 'localhost', ca: fake.rootPem, minVersion: 'TLSv1.3' }, () => {
      const out: string[] = [];
      let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      while (cert?.issuerCertificate !== undefined && cert.issuerCertificate !== cert && cert.issuerCertificate.raw !== cert.raw) {
        cert = cert.issuerCertificate;
        const pem = new X509Certificate(cert.raw).toString().trim();
        if (pem !== fake.rootPem.trim()) out.push(pem);
      }
      socket.destroy();
      resolve(out);
    });
    socket.on('error', reject);
  });
}

describe('`mosaic gateway start --ca step-ca` as a child process', () => {
  it('starts with the STEP_CA_* environment and reports the Step-CA pin', async () => {
    const home = childHome();
    Object.assign(home.env, fake.env());
    let gw: ChildGateway | undefined;
    try {
      gw = await startChildGateway(home, { args: ['--ca', 'step-ca'] });
      const status = await gw.admin.status();
      expect(status).toMatchObject({ ca: { mode: 'step-ca', caPin: spkiPin(fake.rootPem) } });
    } finally {
      await killChildGateway(gw);
      home.remove();
    }
  }, 60_000);

  it.each<[string, Record<string, string>, RegExp]>([
    ['a wrong password file', { STEP_CA_PROVISIONER_PASSWORD_FILE: 'wrong' }, /STEP_CA_PASSWORD_INVALID.*cannot be decrypted/],
    ['no STEP_CA_URL', { STEP_CA_URL: '' }, /STEP_CA_CONFIG_INVALID.*STEP_CA_URL is not set/],
    ['an unreachable CA', { STEP_CA_URL: 'https://127.0.0.1:1' }, /STEP_CA_UNREACHABLE.*Step-CA cannot be reached/],
    ['a root file that is not a certificate', { STEP_CA_ROOT: MOSAIC_TEMPLATE_FILE }, /STEP_CA_CONFIG_INVALID.*is not a PEM certificate/],
  ])('refuses to start with %s: one clear line, no stack trace, no secret', async (_what, change, message) => {
    const home = childHome();
    Object.assign(home.env, fake.env());
    if (change.STEP_CA_PROVISIONER_PASSWORD_FILE === 'wrong') {
      const { writeFileSync, mkdirSync } = await import('node:fs');
      mkdirSync(home.dir, { recursive: true });
      const file = `${home.dir}/wrong-password`;
      writeFileSync(file, 'not-it\n', { mode: 0o600 });
      home.env.STEP_CA_PROVISIONER_PASSWORD_FILE = file;
    } else {
      Object.assign(home.env, change);
    }
    try {
      const err = (await startChildGateway(home, { args: ['--ca', 'step-ca'] }).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(Error);
      const stderr = err.message.slice(err.message.indexOf(':', err.message.indexOf('ready')) + 1);
      expect(stderr).toMatch(message);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(stderr).not.toContain(fake.mosaic.password);
    } finally {
      home.remove();
    }
  }, 60_000);
});
