import { Writable } from 'node:stream';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCsr, generateKeyPair, parseCrl } from '@mosaic/federation-core';
import { AdminClient, type AdminApiError } from '@mosaic/federation-core/admin-client';
import { resolveConfig } from './config.js';
import { startGateway } from './gateway.js';
import { describeEachEngine } from './test-support/engines.js';
import { cleanupTestGateways, startTestGateway, type TestGateway } from './test-support/gateway.js';

const SEED = {
  users: [
    { id: 'alice', name: 'Alice' },
    { id: 'bob', name: 'Bob' },
  ],
  teams: [{ id: 't-eng', name: 'Engineering' }],
  memberships: [
    { teamId: 't-eng', userId: 'alice' },
    { teamId: 't-eng', userId: 'bob' },
  ],
};
const SCOPE = { resources: ['tasks'] };

afterAll(cleanupTestGateways);

async function enroll(gw: TestGateway, enrollmentUrl: string): Promise<number> {
  const agent = new Agent({ connect: { ca: gw.gateway.ca.caCertPem } });
  try {
    const res = await request(enrollmentUrl.replace('127.0.0.1', 'localhost'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ csrPem: await createCsr({ keys: await generateKeyPair() }) }),
      dispatcher: agent,
    });
    await res.body.dump();
    return res.statusCode;
  } finally {
    await agent.close();
  }
}

describeEachEngine('admin API', (engine) => {
  // gateways stop before this block's PostgreSQL does (after-hooks run in reverse order)
  afterAll(cleanupTestGateways);
  let work: TestGateway;

  beforeAll(async () => {
    work = await startTestGateway({ name: 'work', ...(await engine.location()) });
    await work.admin.seed(SEED);
  });

  it('grant edit takes effect at once and bumps nothing else; an invalid edit is 400 with the path and changes nothing', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE } as never);
    const edited = await work.admin.updateGrant(grant.id.slice(0, 6), { scope: { resources: ['tasks', 'notes'], max_rows_per_query: 50 } } as never);
    expect(edited.scope).toMatchObject({ resources: ['tasks', 'notes'], max_rows_per_query: 50 });
    const err = (await work.admin.updateGrant(grant.id, { scope: { resources: ['tasks'], max_rows_per_query: 0 } } as never).catch((e: unknown) => e)) as AdminApiError;
    expect(err.status).toBe(400);
    expect(JSON.stringify(err.details)).toContain('max_rows_per_query');
    expect((await work.admin.getGrant(grant.id)).scope).toEqual(edited.scope);
    const sensitive = (await work.admin.updateGrant(grant.id, { scope: { resources: ['tasks', 'credentials'] } } as never).catch((e: unknown) => e)) as AdminApiError;
    expect(sensitive).toMatchObject({ status: 400, code: 'SCOPE_SENSITIVE' });
  });

  it('revoke stores the reason and is audited with the admin token name', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE } as never);
    const revoked = await work.admin.revokeGrant(grant.id, 'laptop stolen');
    expect(revoked).toMatchObject({ status: 'revoked', revokeReason: 'laptop stolen' });
    // rows reach the store through the spool's shipper: visible within a second
    let rows: Array<{ verb: string; adminTokenName: string | null }> = [];
    for (let i = 0; i < 40 && rows.length < 2; i++) {
      rows = (await work.admin.audit({ grant: grant.id })).items;
      if (rows.length < 2) await new Promise((r) => setTimeout(r, 50));
    }
    expect(rows.map((r) => [r.verb, r.adminTokenName])).toEqual(
      expect.arrayContaining([
        ['admin.grant.create', 'root'],
        ['admin.grant.revoke', 'root'],
      ]),
    );
  });

  it('refuses at creation a peer name the CA could not put in a certificate', async () => {
    for (const peerName of ['x'.repeat(65), 'home\u001b[2J', 'Home Office']) {
      await expect(work.admin.createGrant({ subjectUserId: 'alice', peerName, scope: SCOPE } as never)).rejects.toMatchObject({ status: 400 });
    }
  });

  it('answers only to loopback Host headers (no DNS rebinding)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      // fetch may not set Host; a plain request can, as a rebinding browser page would send it
      const req = httpRequest(`${work.gateway.adminUrl}/health`, { headers: { host: 'evil.example:8400' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(421);
    expect((await fetch(`${work.gateway.adminUrl}/health`)).status).toBe(200);
  });

  it('explain shows, row by row, what the peer would see and which rule decided', async () => {
    await work.admin.seed({
      teams: [{ id: 't-ops', name: 'Ops' }],
      memberships: [{ teamId: 't-ops', userId: 'alice' }],
      resources: {
        tasks: [
          { id: 'x-own', ownerUserId: 'alice', title: 'mine' },
          { id: 'x-eng', teamId: 't-eng', title: 'eng' },
          { id: 'x-ops', teamId: 't-ops', title: 'ops' },
          { id: 'x-bob', ownerUserId: 'bob', title: 'bob' },
        ],
        credentials: [{ id: 'c-1', ownerUserId: 'alice', title: 'key' }],
      },
    });
    const grant = await work.admin.createGrant({
      subjectUserId: 'alice',
      peerName: 'home',
      scope: { resources: ['tasks'], excluded_resources: ['credentials'], filters: { tasks: { include_teams: ['t-eng'] } } },
    } as never);
    const tasks = await work.admin.explainGrant(grant.id, 'tasks');
    const rule = Object.fromEntries(tasks.rows.filter((r) => r.id.startsWith('x-')).map((r) => [r.id, r.rule]));
    expect(rule).toEqual({ 'x-own': 'ok', 'x-eng': 'ok', 'x-ops': 'filter.team', 'x-bob': 'rbac' });
    const creds = await work.admin.explainGrant(grant.id, 'credentials');
    expect(creds.rows.map((r) => [r.id, r.included, r.rule])).toEqual([['c-1', false, 'scope.excluded']]);
    await expect(work.admin.explainGrant(grant.id, '')).rejects.toMatchObject({ status: 400 });
  });

  it('grant ids accept a unique prefix of at least 4 characters', async () => {
    const grant = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE } as never);
    expect((await work.admin.getGrant(grant.id.slice(0, 4))).id).toBe(grant.id);
    await expect(work.admin.getGrant(grant.id.slice(0, 3))).rejects.toMatchObject({ status: 400 });
    await expect(work.admin.getGrant('ffffffff-0000')).rejects.toMatchObject({ status: 404, code: 'GRANT_NOT_FOUND' });
  });

  it("deleting a user revokes every grant whose subject they were, closes nothing else, and republishes the CRL", async () => {
    await work.admin.seed({ users: [{ id: 'carol', name: 'Carol' }] });
    const grant = await work.admin.createGrant({ subjectUserId: 'carol', peerName: 'home', scope: SCOPE } as never);
    expect(await enroll(work, (await work.admin.createToken(grant.id)).enrollmentUrl)).toBe(200);
    const serial = (await work.admin.getGrant(grant.id)).certSerial!;
    const other = await work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE } as never);
    const removed = await work.admin.removeUser('carol');
    expect(removed).toMatchObject({ userId: 'carol', revokedGrantIds: [grant.id] });
    expect((await work.admin.getGrant(grant.id)).status).toBe('revoked');
    expect((await work.admin.getGrant(other.id)).status).toBe('pending');
    const crl = parseCrl(await work.gateway.ca.currentCrl(), work.gateway.ca.caCertPem);
    expect(crl.revoked.map((r) => r.serialHex)).toContain(serial);
  });

  it('removing a team member works once, then 404', async () => {
    expect(await work.admin.removeTeamMember('t-eng', 'bob')).toEqual({ teamId: 't-eng', userId: 'bob' });
    await expect(work.admin.removeTeamMember('t-eng', 'bob')).rejects.toMatchObject({ status: 404 });
  });

  it('two revokes at once: the CRL number strictly increases and no serial is lost', async () => {
    const grants = await Promise.all([0, 1].map(() => work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE } as never)));
    for (const g of grants) expect(await enroll(work, (await work.admin.createToken(g.id)).enrollmentUrl)).toBe(200);
    const serials = await Promise.all(grants.map(async (g) => (await work.admin.getGrant(g.id)).certSerial!));
    const before = parseCrl(await work.gateway.ca.currentCrl(), work.gateway.ca.caCertPem).crlNumber;
    await Promise.all(grants.map((g) => work.admin.revokeGrant(g.id, 'together')));
    const after = parseCrl(await work.gateway.ca.currentCrl(), work.gateway.ca.caCertPem);
    expect(after.crlNumber > before).toBe(true);
    for (const s of serials) expect(after.revoked.map((r) => r.serialHex)).toContain(s);
  });

  it('the audit chain of everything done so far verifies (admin mutations and enrollments are chained)', async () => {
    await new Promise((r) => setTimeout(r, 300)); // let the shipper catch up
    const report = await work.admin.auditVerify();
    expect(report.ok).toBe(true);
    expect(report.spools.some((s) => s.chained && s.rows > 5)).toBe(true);
  });

  it('status, doctor and metrics answer with what they promise', async () => {
    const status = await work.admin.status();
    expect(status).toMatchObject({ name: 'work', adminUrl: work.gateway.adminUrl, federationUrl: work.gateway.publicUrl, storage: { engine: engine.name }, ca: { mode: 'embedded', caPin: work.gateway.ca.caPin } });
    const doctor = await work.admin.doctor();
    expect(doctor.status).toBe('green');
    expect(doctor.checks.map((c) => c.id)).toEqual(['storage.reachable', 'storage.migrations', 'ca.key_sealed', 'ca.root_expiry', 'tls.server_cert_expiry', 'crl.fresh', 'audit.spool', 'peers.reachable', 'peers.renewal']);
    expect(doctor.checks.every((c) => c.status === 'green' && c.remediation === null)).toBe(true);
    const metrics = await work.admin.metrics();
    expect(metrics).toMatch(/^mosaic_grants\{status="revoked"\} [1-9]/m);
    expect(metrics).toMatch(/^mosaic_federation_requests_total\{outcome="allowed",verb="enroll"\} [1-9]/m);
  });

  it('admin tokens: a new one works at once, a revoked one at once no longer, and a token cannot revoke itself', async () => {
    const created = await work.admin.createAdminToken('ci');
    const ci = new AdminClient({ baseUrl: work.gateway.adminUrl, token: created.token });
    expect((await ci.listAdminTokens()).items.map((t) => t.name)).toContain('ci');
    await expect(ci.revokeAdminToken('ci')).rejects.toMatchObject({ status: 400 });
    await work.admin.revokeAdminToken('ci');
    await expect(ci.status()).rejects.toMatchObject({ status: 401 });
    await expect(work.admin.createAdminToken('Bad Name')).rejects.toMatchObject({ status: 400 });
  });
});

it('request logs never carry the enrollment token, an admin token, or a key', async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const home = mkdtempSync(join(tmpdir(), 'mosaic-log-'));
  const gateway = await startGateway({
    version: 'test',
    logger: pino({ level: 'debug' }, sink),
    name: 'work',
    dataDir: join(home, 'data'),
    federationPort: 0,
    adminPort: 0,
    env: { XDG_CONFIG_HOME: join(home, 'config') },
  });
  try {
    const { readAdminTokenFile } = await import('@mosaic/federation-core/admin-client');
    const adminToken = readAdminTokenFile(join(home, 'data'))!;
    const admin = new AdminClient({ baseUrl: gateway.adminUrl, token: adminToken });
    await admin.seed(SEED);
    const grant = await admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: SCOPE } as never);
    const { enrollmentUrl, token } = await admin.createToken(grant.id);
    const agent = new Agent({ connect: { ca: gateway.ca.caCertPem } });
    // the token in the canonical path and in an odd percent-encoding that still routes to enroll
    for (const url of [enrollmentUrl, enrollmentUrl.replace('/enroll/', '/enrol%6C/'), enrollmentUrl.replace('/enroll/', '//Enroll/')]) {
      const res = await request(url.replace('127.0.0.1', 'localhost'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"csrPem":"x"}', dispatcher: agent });
      await res.body.dump();
    }
    await agent.close();
    const log = lines.join('');
    expect(log).toContain('/api/federation/v1/enroll/');
    expect(log).not.toContain(token);
    expect(log).not.toContain(adminToken);
    expect(log).not.toContain('PRIVATE KEY');
  } finally {
    await gateway.close();
    rmSync(home, { recursive: true, force: true });
  }
});

it('refuses to bind the admin API beyond loopback without TLS, and other bad flags, before touching anything', () => {
  expect(() => resolveConfig({ adminHost: '0.0.0.0' })).toThrow(/only with TLS/);
  expect(() => resolveConfig({ name: 'Work!' })).toThrow(/--name/);
  expect(() => resolveConfig({ publicUrl: 'http://x' })).toThrow(/https/);
  expect(() => resolveConfig({ publicUrl: 'https://x/path' })).toThrow(/scheme, host and port/);
  expect(() => resolveConfig({ federationPort: 70000 })).toThrow(/port/);
  expect(() => resolveConfig({ databaseUrl: 'mysql://x' })).toThrow(/postgres/);
  expect(resolveConfig({ adminHost: '::1', env: {} }).adminHost).toBe('::1');
});

it('a data dir copied without the master secret opens nothing: the gateway refuses to start', async () => {
  const home = mkdtempSync(join(tmpdir(), 'mosaic-copy-'));
  try {
    const first = await startTestGateway({ name: 'work', dataDir: join(home, 'data'), env: { XDG_CONFIG_HOME: join(home, 'config-a') } });
    await first.stop();
    // same data dir, another machine's config dir: a different (new) secret
    await expect(startTestGateway({ name: 'work', dataDir: join(home, 'data'), env: { XDG_CONFIG_HOME: join(home, 'config-b') } })).rejects.toMatchObject({ code: 'CA_SECRET_MISMATCH' });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
