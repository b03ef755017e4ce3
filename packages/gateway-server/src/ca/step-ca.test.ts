import { chmodSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyPair as joseKeyPair } from 'jose';
import {
  createCsr,
  decodeMosaicIdentity,
  generateKeyPair,
  MOSAIC_GRANT_ID_OID,
  loadCertificate,
  parseCrl,
  parseCrlUnderRoot,
  spkiPin,
  verifyCertificateChain,
  verifyClientCertificate,
} from '@mosaic/federation-core';
import { randomGrantId } from '@mosaic/federation-core/test-support/pki';
import { MOSAIC_TEMPLATE_FILE, startFakeStepCa, renderTemplate, type FakeStepCa } from '../test-support/fake-step-ca.js';
import { readFileSync } from 'node:fs';
import { StepCa, stepCaSettingsFromEnv, type OpenStepCaOptions } from './step-ca.js';
import type { RevokedSerial } from './store.js';

const issuedChains: string[] = [];
const revokedRows: RevokedSerial[] = [];
let fake: FakeStepCa;

async function openCa(env: NodeJS.ProcessEnv = fake.env(), extra: Partial<OpenStepCaOptions> = {}): Promise<StepCa> {
  return StepCa.open({
    ...stepCaSettingsFromEnv(env),
    store: { revokedSerials: () => Promise.resolve(revokedRows) },
    knownChains: () => Promise.resolve(issuedChains),
    ...extra,
  });
}

/** Resolve once `check` is true (polling every 20 ms), or fail after `ms`. */
async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((ok) => setTimeout(ok, 20));
  }
}

async function csr(commonName?: string): Promise<string> {
  const keys = await generateKeyPair();
  return createCsr({ keys, ...(commonName ? { commonName } : {}) });
}

beforeAll(async () => {
  fake = await startFakeStepCa();
});
afterAll(async () => {
  await fake.close();
});

describe('StepCa against the fake Step-CA', () => {
  it('issues a client certificate with both Mosaic extensions, non-critical, whose chain leads to the pinned root', async () => {
    const ca = await openCa();
    const grantId = randomGrantId();
    const cert = await ca.issueClientCertificate({ csr: await csr(), peerName: 'home', grantId, subjectUserId: 'alice@example.org' });
    expect(decodeMosaicIdentity(cert.certPem)).toEqual({ grantId, subjectUserId: 'alice@example.org' });
    const ext = loadCertificate(cert.certPem).extensions.find((e) => e.oid === MOSAIC_GRANT_ID_OID);
    expect(ext?.critical).toBe(false);
    expect(new X509Certificate(cert.certPem).subject).toBe('CN=home');
    // the anchor peers pin is STEP_CA_ROOT; the intermediate signed the leaf and travels with it
    expect(ca.caCertPem.trim()).toBe(fake.rootPem.trim());
    expect(ca.caPin).toBe(spkiPin(fake.rootPem));
    expect(ca.rootPin).toBe(spkiPin(fake.rootPem));
    expect(ca.intermediatePem.trim()).toBe(fake.intermediatePem.trim());
    expect(() => verifyClientCertificate(cert.certPem, ca.caCertPem, { purpose: 'client' })).toThrow(expect.objectContaining({ code: 'CERT_UNTRUSTED' }));
    const chainPem = ca.certChainPem(cert.certPem);
    expect(chainPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    expect(verifyCertificateChain(chainPem, ca.caCertPem, { purpose: 'client' })).toMatchObject({ serialHex: cert.serialHex, intermediates: [expect.any(String)] });
    // 720h = 30 days from now: the provisioner's defaultTLSCertDuration
    expect(Math.round((cert.notAfter.getTime() - Date.now()) / 3_600_000)).toBe(720);
    expect(ca.acceptsSerial(cert.serialHex)).toBe(true);
    ca.close();
  });

  it('caps notAfter at the grant expiry', async () => {
    const ca = await openCa();
    const cap = new Date(Date.now() + 2 * 86_400_000);
    const cert = await ca.issueClientCertificate({ csr: await csr(), peerName: 'home', grantId: randomGrantId(), subjectUserId: 'u1', notAfterCap: cap });
    expect(Math.abs(cert.notAfter.getTime() - cap.getTime())).toBeLessThan(1000);
    ca.close();
  });

  it('accepts only serials it obtained itself (or recorded in the store), not those of another provisioner', async () => {
    const ca = await openCa();
    const keys = await generateKeyPair();
    const csrPem = await createCsr({ keys });
    const ott = await fake.token({ provisioner: fake.other, sub: 'home' });
    const res = await fake.post('/1.0/sign', { csr: csrPem, ott });
    expect(res.status).toBe(201);
    const foreign = new X509Certificate(res.body.crt as string);
    expect(foreign.checkIssued(new X509Certificate(fake.intermediatePem))).toBe(true);
    expect(ca.acceptsSerial(foreign.serialNumber.toLowerCase())).toBe(false);
    expect(ca.acceptsCertificate(foreign.raw, new X509Certificate(fake.intermediatePem).raw)).toBe(false);
    // a certificate recorded by another replica (its chain in issued_certs) is picked up on refresh
    issuedChains.push(`${res.body.crt as string}${fake.intermediatePem}`);
    await ca.refreshSerials();
    expect(ca.acceptsSerial(foreign.serialNumber.toLowerCase())).toBe(true);
    expect(ca.acceptsCertificate(foreign.raw, new X509Certificate(fake.intermediatePem).raw)).toBe(true);
    issuedChains.pop();
    ca.close();
  });

  it('refuses and revokes a certificate whose template did not write the Mosaic extensions', async () => {
    const bare = await startFakeStepCa({ templateText: '{ "subject": {{ toJson .Subject }}, "keyUsage": ["digitalSignature"], "extKeyUsage": ["clientAuth", "serverAuth"], "sans": {{ toJson .SANs }} }' });
    try {
      const ca = await openCa(bare.env());
      const err = await ca.issueClientCertificate({ csr: await csr(), peerName: 'home', grantId: randomGrantId(), subjectUserId: 'u1' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'STEP_CA_CERT_MISMATCH' });
      expect((err as Error).message).toMatch(/grant id extension .* is missing/);
      const last = bare.issued.at(-1)!;
      expect(bare.revoked.has(last.serialHex)).toBe(true);
      expect(ca.acceptsSerial(last.serialHex)).toBe(false);
      ca.close();
    } finally {
      await bare.close();
    }
  });

  it('refuses and revokes a certificate whose extension values differ from what was asked', async () => {
    const wrong = await startFakeStepCa({
      templateText:
        '{ "subject": {{ toJson .Subject }}, "keyUsage": ["digitalSignature"], "extKeyUsage": ["clientAuth", "serverAuth"], "sans": {{ toJson .SANs }}{{ if .Token.mosaic }}, "extensions": [{"id": "1.3.6.1.4.1.99999.1", "critical": false, "value": {{ toJson .Token.mosaic.grantIdDer }}}, {"id": "1.3.6.1.4.1.99999.2", "critical": false, "value": {{ toJson .Token.mosaic.grantIdDer }}}]{{ end }} }',
    });
    try {
      const ca = await openCa(wrong.env());
      const err = await ca.issueClientCertificate({ csr: await csr(), peerName: 'home', grantId: randomGrantId(), subjectUserId: 'u1' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'STEP_CA_CERT_MISMATCH' });
      expect((err as Error).message).toMatch(/subject user id extension holds another value/);
      expect(wrong.revoked.has(wrong.issued.at(-1)!.serialHex)).toBe(true);
      ca.close();
    } finally {
      await wrong.close();
    }
  });

  it('revocations in the store are pushed to /1.0/revoke with their reason, and the CRL lists them', async () => {
    const ca = await openCa();
    const cert = await ca.issueClientCertificate({ csr: await csr(), peerName: 'home', grantId: randomGrantId(), subjectUserId: 'u1' });
    revokedRows.push({ serialHex: cert.serialHex, revokedAt: new Date(), reason: 'superseded' });
    ca.invalidateCrl();
    await ca.whenRevocationsPushed();
    expect(fake.revoked.get(cert.serialHex.replace(/^0+/, ''))).toBe(4);
    // Step-CA's CRL is signed by the intermediate: it verifies under the root only through it
    const crlDer = await ca.currentCrl();
    expect(() => parseCrl(crlDer, ca.caCertPem)).toThrow();
    const crl = parseCrlUnderRoot(crlDer, ca.caCertPem, [fake.intermediatePem]);
    expect(crl.revoked.find((e) => e.serialHex === cert.serialHex)?.reason).toBe('superseded');
    const status = await ca.crlStatus();
    expect(status.fresh).toBe(true);
    // pushed once: a second invalidate does not revoke it again
    const before = fake.requests.filter((r) => r === 'POST /1.0/revoke').length;
    ca.invalidateCrl();
    await ca.whenRevocationsPushed();
    expect(fake.requests.filter((r) => r === 'POST /1.0/revoke').length).toBe(before);
    ca.close();
  });

  it('follows an intermediate rotated under the same root: new leaves, their chain and the CRL use it; the pin does not change', async () => {
    const rotating = await startFakeStepCa();
    try {
      const ca = await openCa(rotating.env());
      const pin = ca.caPin;
      const before = await ca.issueClientCertificate({ csr: await csr(), peerName: 'home', grantId: randomGrantId(), subjectUserId: 'u1' });
      const oldIntermediate = rotating.intermediatePem;
      await rotating.rotateIntermediate();
      const after = await ca.issueClientCertificate({ csr: await csr(), peerName: 'home', grantId: randomGrantId(), subjectUserId: 'u1' });
      expect(ca.caPin).toBe(pin);
      expect(ca.intermediatePem.trim()).toBe(rotating.intermediatePem.trim());
      expect(verifyCertificateChain(ca.certChainPem(after.certPem), rotating.rootPem).intermediates[0]!.trim()).toBe(rotating.intermediatePem.trim());
      // a certificate of the earlier intermediate still gets its own intermediate in its chain
      expect(verifyCertificateChain(ca.certChainPem(before.certPem), rotating.rootPem).intermediates[0]!.trim()).toBe(oldIntermediate.trim());
      // the CRL, now signed by the new intermediate, is accepted
      const info = await ca.currentCrlInfo();
      expect(parseCrlUnderRoot(info.der, rotating.rootPem, [rotating.intermediatePem]).crlNumber).toBe(info.crlNumber);
      ca.close();
    } finally {
      await rotating.close();
    }
  });

  it('signs a TLS server certificate with the listener names and the chain', async () => {
    const ca = await openCa();
    const cert = await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org:8443', extraHosts: ['127.0.0.1'] });
    expect(cert.issued).toBe('none-stored');
    const leaf = new X509Certificate(cert.certPem);
    expect(leaf.subjectAltName).toContain('DNS:gw.example.org');
    expect(leaf.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.certPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
    const again = await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org:8443', extraHosts: ['127.0.0.1'] });
    expect(again.serialHex).toBe(cert.serialHex);
    expect(again.issued).toBeUndefined();
    ca.close();
  });
});

describe('StepCa: the security review’s findings', () => {
  it('H1: warns at open, and reports, when the CA has provisioners other than ours; not when it is dedicated', async () => {
    const warnings: string[] = [];
    const ca = await openCa(fake.env(), { onWarning: (m) => warnings.push(m) });
    expect(ca.exclusivity).toEqual({ otherProvisioners: ['other-team'] });
    expect(warnings.join('\n')).toMatch(/other provisioners besides mosaic \(other-team\).*impersonate this gateway/);
    ca.close();
    const dedicated = await startFakeStepCa({ soleProvisioner: true });
    try {
      const quiet: string[] = [];
      const own = await openCa(dedicated.env(), { onWarning: (m) => quiet.push(m) });
      expect(own.exclusivity).toEqual({ otherProvisioners: [] });
      expect(quiet).toEqual([]);
      own.close();
    } finally {
      await dedicated.close();
    }
  });

  it('M1: accepts a certificate by its fingerprint and issuer, not by its serial (a look-alike with our serial is refused)', async () => {
    const ca = await openCa();
    const cert = await ca.issueClientCertificate({ csr: await csr(), peerName: 'home', grantId: randomGrantId(), subjectUserId: 'u1' });
    const intermediateDer = new X509Certificate(fake.intermediatePem).raw;
    expect(ca.acceptsCertificate(cert.certDer, intermediateDer)).toBe(true);
    // the same leaf, but the TLS layer verified it with the root (or nothing): not ours
    expect(ca.acceptsCertificate(cert.certDer, new X509Certificate(fake.rootPem).raw)).toBe(false);
    expect(ca.acceptsCertificate(cert.certDer, undefined)).toBe(false);
    // another provisioner's certificate carrying OUR serial (a template may set serials)
    fake.behaviour.nextSerialHex = cert.serialHex;
    const ott = await fake.token({ provisioner: fake.other, sub: 'home' });
    const res = await fake.post('/1.0/sign', { csr: await csr(), ott });
    expect(res.status).toBe(201);
    const twin = new X509Certificate(res.body.crt as string);
    expect(normalise(twin.serialNumber)).toBe(normalise(cert.serialHex));
    expect(ca.acceptsSerial(twin.serialNumber)).toBe(true);
    expect(ca.acceptsCertificate(twin.raw, intermediateDer)).toBe(false);
    ca.close();
  });

  it('L1: refuses and revokes a client certificate with an extra extendedKeyUsage or a subjectAltName', async () => {
    const tpl = readFileSync(MOSAIC_TEMPLATE_FILE, 'utf8');
    for (const [templateText, why] of [
      [tpl.replace('"extKeyUsage": ["clientAuth"],', '"extKeyUsage": ["clientAuth", "serverAuth"],'), /extendedKeyUsage is .*1\.3\.6\.1\.5\.5\.7\.3\.1.*not clientAuth alone/],
      [tpl.replace('"extKeyUsage": ["clientAuth"],', '"extKeyUsage": ["clientAuth"], "sans": {{ toJson .SANs }},'), /subjectAltName/],
    ] as const) {
      expect(templateText).not.toBe(tpl);
      const loose = await startFakeStepCa({ templateText });
      try {
        const ca = await openCa(loose.env());
        const err = await ca.issueClientCertificate({ csr: await csr(), peerName: 'home', grantId: randomGrantId(), subjectUserId: 'u1' }).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'STEP_CA_CERT_MISMATCH', message: expect.stringMatching(why) });
        expect(loose.revoked.has(loose.issued.at(-1)!.serialHex)).toBe(true);
        ca.close();
      } finally {
        await loose.close();
      }
    }
  });

  it('L3: a certificate issued but never recorded is no longer accepted and is revoked at Step-CA', async () => {
    const ca = await openCa();
    const cert = await ca.issueClientCertificate({ csr: await csr(), peerName: 'home', grantId: randomGrantId(), subjectUserId: 'u1' });
    await ca.discardUnrecorded(cert.certPem);
    expect(ca.acceptsCertificate(cert.certDer, new X509Certificate(fake.intermediatePem).raw)).toBe(false);
    expect(fake.revoked.get(normalise(cert.serialHex))).toBe(5);
    ca.close();
  });

  it('the token carries the Mosaic extension values as DER only, no identifier in plain text', async () => {
    const ca = await openCa();
    const before = fake.issued.length;
    await ca.issueClientCertificate({ csr: await csr(), peerName: 'home', grantId: randomGrantId(), subjectUserId: 'alice@example.org' });
    expect(fake.issued.length).toBe(before + 1);
    expect(Object.keys(fake.lastToken!.mosaic as object).sort()).toEqual(['grantIdDer', 'subjectUserIdDer']);
    ca.close();
  });
});

describe('StepCa: revocations pushed to /1.0/revoke (M3)', () => {
  it('a failed push is retried with backoff, the CRL is not fresh meanwhile, and /crl never waits for a push', async () => {
    const flaky = await startFakeStepCa();
    const rows: RevokedSerial[] = [];
    const ca = await StepCa.open({
      ...stepCaSettingsFromEnv(flaky.env()),
      store: { revokedSerials: () => Promise.resolve(rows) },
      knownChains: () => Promise.resolve([]),
      pushRetryBaseMs: 50,
    });
    try {
      const cert = await ca.issueClientCertificate({ csr: await csr(), peerName: 'home', grantId: randomGrantId(), subjectUserId: 'u1' });
      await ca.currentCrlInfo();
      // Step-CA never answers the revoke (10 s client timeout): the CRL is served at once anyway
      flaky.behaviour.revoke = 'hang';
      rows.push({ serialHex: cert.serialHex, revokedAt: new Date(), reason: 'keyCompromise' });
      ca.invalidateCrl();
      await until(() => flaky.requests.includes('POST /1.0/revoke'));
      const t0 = performance.now();
      await ca.currentCrlInfo();
      expect(performance.now() - t0).toBeLessThan(2_000);
      // then it refuses: the serial stays pending, doctor's crl.fresh is not green although /crl reads fine
      flaky.behaviour.revoke = 'fail';
      flaky.releaseHanging();
      await ca.whenRevocationsPushed();
      const failing = await ca.crlStatus();
      expect(failing).toMatchObject({ fresh: false, pendingRevocations: 1, lastError: expect.stringMatching(/1 revoked serial\(s\) not yet accepted/) });
      expect(ca.unpushedRevocations).toBe(1);
      // Step-CA is back: the retry (no new revoke in the store) gets it through
      flaky.behaviour.revoke = 'ok';
      await until(() => flaky.revoked.has(normalise(cert.serialHex)));
      await until(() => ca.unpushedRevocations === 0);
      await ca.whenRevocationsPushed();
      const healed = await ca.crlStatus();
      expect(healed.fresh).toBe(true);
      expect(healed.pendingRevocations).toBeUndefined();
    } finally {
      ca.close();
      await flaky.close();
    }
  }, 30_000);

  it('at start, serials already on Step-CA’s CRL are not pushed again; the others go out in parallel', async () => {
    const fresh = await startFakeStepCa();
    const rows: RevokedSerial[] = [];
    const open = () => StepCa.open({ ...stepCaSettingsFromEnv(fresh.env()), store: { revokedSerials: () => Promise.resolve(rows) }, knownChains: () => Promise.resolve([]) });
    try {
      const first = await open();
      for (let i = 0; i < 6; i += 1) {
        const c = await first.issueClientCertificate({ csr: await csr(), peerName: 'home', grantId: randomGrantId(), subjectUserId: 'u1' });
        rows.push({ serialHex: c.serialHex, revokedAt: new Date(), reason: 'superseded' });
      }
      first.invalidateCrl();
      await first.whenRevocationsPushed();
      first.close();
      const pushes = () => fresh.requests.filter((r) => r === 'POST /1.0/revoke').length;
      // a restart: all six are on the CRL already — none is pushed again
      const before = pushes();
      const second = await open();
      await second.whenRevocationsPushed();
      expect(pushes() - before).toBe(1); // the start-up probe certificate's own revoke
      second.close();
      // six more revoked while the gateway was down, Step-CA slow to answer: pushed four at a time
      const third = await open();
      await third.whenRevocationsPushed();
      for (let i = 0; i < 6; i += 1) {
        const c = await third.issueClientCertificate({ csr: await csr(), peerName: 'home', grantId: randomGrantId(), subjectUserId: 'u1' });
        rows.push({ serialHex: c.serialHex, revokedAt: new Date(), reason: 'superseded' });
      }
      fresh.behaviour.revoke = 'hang';
      const start = pushes();
      third.invalidateCrl();
      await until(() => pushes() - start >= 4);
      expect(pushes() - start).toBe(4);
      third.close();
    } finally {
      await fresh.close();
    }
  }, 30_000);
});

describe('StepCa configuration errors', () => {
  it('says which STEP_CA_* variable is missing', () => {
    const env = fake.env();
    delete env.STEP_CA_PROVISIONER;
    expect(() => stepCaSettingsFromEnv(env)).toThrow(/STEP_CA_PROVISIONER is not set/);
    expect(() => stepCaSettingsFromEnv({ ...fake.env(), STEP_CA_URL: 'http://ca.example' })).toThrow(/must be https/);
    expect(() => stepCaSettingsFromEnv({ ...fake.env(), STEP_CA_PROVISIONER_PASSWORD_FILE: '/nonexistent/pw' })).toThrow(/cannot be read \(ENOENT\)/);
    expect(() => stepCaSettingsFromEnv({ ...fake.env(), STEP_CA_ROOT: fake.passwordFile })).toThrow(/is not a PEM certificate/);
    expect(() => stepCaSettingsFromEnv({ ...fake.env(), STEP_CA_ROOT: '/nonexistent/root.crt' })).toThrow(/cannot be read \(ENOENT\)/);
  });

  it('a wrong password is STEP_CA_PASSWORD_INVALID, naming no secret', async () => {
    const file = `${fake.passwordFile}.wrong`;
    writeFileSync(file, 'not-the-password\n');
    const err = await openCa({ ...fake.env(), STEP_CA_PROVISIONER_PASSWORD_FILE: file }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'STEP_CA_PASSWORD_INVALID' });
    expect((err as Error).message).not.toContain(fake.mosaic.password);
  });

  it('a provisioner key over the PBES2 iteration cap says so (not a wrong password)', async () => {
    const heavy = await startFakeStepCa({ p2c: 200_000, soleProvisioner: true });
    try {
      await expect(openCa(heavy.env())).rejects.toMatchObject({ code: 'STEP_CA_CONFIG_INVALID', message: expect.stringMatching(/200000 PBES2 iterations, over the 100000/) });
    } finally {
      await heavy.close();
    }
  });

  it('warns when the password file is readable by others; never echoes a STEP_CA_URL that does not parse', () => {
    const file = `${fake.passwordFile}.open`;
    writeFileSync(file, `${fake.mosaic.password}\n`);
    chmodSync(file, 0o644);
    expect(stepCaSettingsFromEnv({ ...fake.env(), STEP_CA_PROVISIONER_PASSWORD_FILE: file }).warnings).toEqual([expect.stringMatching(/readable by others \(mode 0644\).*chmod 600/)]);
    expect(stepCaSettingsFromEnv(fake.env()).warnings).toBeUndefined();
    const err = (() => {
      try {
        stepCaSettingsFromEnv({ ...fake.env(), STEP_CA_URL: 'https://admin:s3cret-pw@[ca.example' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err).toMatchObject({ code: 'STEP_CA_CONFIG_INVALID' });
    expect(err!.message).not.toContain('s3cret-pw');
  });

  it('an unknown provisioner name is named', async () => {
    await expect(openCa({ ...fake.env(), STEP_CA_PROVISIONER: 'nope' })).rejects.toMatchObject({ code: 'STEP_CA_CONFIG_INVALID', message: expect.stringMatching(/no provisioner named "nope"/) });
  });

  it('an unreachable CA is STEP_CA_UNREACHABLE', async () => {
    await expect(openCa({ ...fake.env(), STEP_CA_URL: 'https://127.0.0.1:1' })).rejects.toMatchObject({ code: 'STEP_CA_UNREACHABLE' });
  });

  it('a STEP_CA_ROOT that is not the CA’s root is refused (TLS does not verify)', async () => {
    const other = await startFakeStepCa();
    try {
      const err = await openCa({ ...fake.env(), STEP_CA_ROOT: other.rootFile }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'STEP_CA_UNREACHABLE' });
      expect((err as Error).message).toMatch(/does not chain to STEP_CA_ROOT/);
    } finally {
      await other.close();
    }
  });
});

describe('the fake Step-CA verifies tokens (Step-CA’s checks, and the stricter sha, lifetime and revoke-subject ones)', () => {
  const sign = async (token: string, csrPem?: string) => fake.post('/1.0/sign', { csr: csrPem ?? (await csr()), ott: token });

  it('accepts a well-formed token once', async () => {
    const ott = await fake.token({ sub: 'home' });
    expect((await sign(ott)).status).toBe(201);
    // replayed jti
    const again = await sign(ott);
    expect(again.status).toBe(401);
    expect(again.body.message).toMatch(/already used/);
  });

  it('refuses a token signed with another key under the provisioner kid', async () => {
    const { privateKey } = await joseKeyPair('ES256');
    const res = await sign(await fake.token({ sub: 'home', signWith: privateKey }));
    expect(res.status).toBe(401);
    expect(res.body.message).toMatch(/signature/);
  });

  it('refuses a wrong audience, issuer, sha, an expired token, and one valid too long', async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const [token, why] of [
      [await fake.token({ sub: 'home', aud: `${fake.url}/1.0/revoke` }), /aud/],
      [await fake.token({ sub: 'home', iss: 'someone-else' }), /iss/],
      [await fake.token({ sub: 'home', sha: '00'.repeat(32) }), /sha claim/],
      [await fake.token({ sub: 'home', iat: now - 900, nbf: now - 900, exp: now - 600 }), /exp/],
      [await fake.token({ sub: 'home', exp: now + 3600 }), /too long/],
    ] as const) {
      const res = await sign(token);
      expect(res.status).toBe(401);
      expect(res.body.message).toMatch(why);
    }
  });

  it('refuses a CSR whose CN or SANs do not match sub and sans', async () => {
    const res = await sign(await fake.token({ sub: 'home' }), await csr('intruder'));
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/common name/);
    const { execFileSync } = await import('node:child_process');
    const keys = await generateKeyPair({ extractable: true });
    const { exportPrivateKeyPem } = await import('@mosaic/federation-core');
    const keyFile = `${fake.rootFile}.key`;
    writeFileSync(keyFile, await exportPrivateKeyPem(keys.privateKey), { mode: 0o600 });
    const csrPem = execFileSync('openssl', ['req', '-new', '-key', keyFile, '-subj', '/CN=home', '-addext', 'subjectAltName=DNS:evil.example'], { encoding: 'utf8' });
    const sans = await sign(await fake.token({ sub: 'home', sans: ['home'] }), csrPem);
    expect(sans.status).toBe(403);
    expect(sans.body.message).toMatch(/DNS names/);
  });

  it('revoke needs a revoke token whose subject is the serial', async () => {
    const ott = await fake.token({ sub: 'home' });
    const res = await sign(ott);
    const serial = BigInt(`0x${new X509Certificate(res.body.crt as string).serialNumber}`).toString(10);
    const wrongAud = await fake.post('/1.0/revoke', { serial, ott: await fake.token({ sub: serial }), passive: true });
    expect(wrongAud.status).toBe(401);
    const wrongSub = await fake.post('/1.0/revoke', { serial, ott: await fake.token({ sub: '1', aud: `${fake.url}/1.0/revoke` }), passive: true });
    expect(wrongSub.status).toBe(401);
    const ok = await fake.post('/1.0/revoke', { serial, ott: await fake.token({ sub: serial, aud: `${fake.url}/1.0/revoke` }), passive: true, reasonCode: 1 });
    expect(ok.status).toBe(200);
  });

  it('the template interpreter handles if/else/end, toJson and trim markers', () => {
    const tpl = '{{- /* c */ -}}\n{{- if .Token.m }} {"a": {{ toJson .Token.m.x }}} {{- else }} {"b": {{ toJson .SANs }}} {{- end }}';
    expect(JSON.parse(renderTemplate(tpl, { Token: { m: { x: 'v' } } }))).toEqual({ a: 'v' });
    expect(JSON.parse(renderTemplate(tpl, { Token: {}, SANs: [{ type: 'dns', value: 'h' }] }))).toEqual({ b: [{ type: 'dns', value: 'h' }] });
    expect(() => renderTemplate('{{ printf "%s" .X }}', {})).toThrow(/unsupported/);
  });
});

function normalise(serial: string): string {
  return serial.toLowerCase().replace(/^0+(?=.)/, '');
}
