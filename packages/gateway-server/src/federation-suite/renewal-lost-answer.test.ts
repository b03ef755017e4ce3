/**
 * A renewal whose answer is lost (security review, medium): work commits the new serial and
 * schedules the old one's revocation before home has stored anything. Home asks again with
 * the same key and CSR, and work — from the superseded serial, in its overlap, for the key of
 * the current certificate — sends that certificate again: nothing issued, nothing revoked.
 * Any other renewal from a superseded serial is still refused. A serial listed on work's CRL
 * as `superseded` makes home's peer `degraded` (re-enrollment needed), not `revoked`; an admin
 * revoke still makes it `revoked`.
 */
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCsr, generateKeyPair, importPrivateKeyPem, normaliseSerialHex, type QueryRequest } from '@mosaic/federation-core';
import { waitForAuditRows } from '../test-support/audit-poll.js';
import { startFederation, type FederationHarness } from '../test-support/federation.js';
import type { TestGateway } from '../test-support/gateway.js';
import { startTcpProxy, type TcpProxy } from '../test-support/tcp-proxy.js';

const WIDE = { resources: ['tasks', 'notes'], excluded_resources: [], max_rows_per_query: 500, rate_limit_per_minute: 6000 };
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();
const serialOf = (pem: string) => normaliseSerialHex(new X509Certificate(pem).serialNumber)!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(25);
  }
}

describe('a renewal whose answer is lost', () => {
  let h: FederationHarness;
  let home: TestGateway;
  let proxy: TcpProxy | undefined;

  beforeAll(async () => {
    h = await startFederation({ home: { renewal: { enabled: false, timeoutMs: 10_000 } } });
    home = h.homes[0]!;
  });
  afterAll(async () => {
    await h?.close();
    await proxy?.close();
  });

  const search = (source: string): QueryRequest => ({ verb: 'search', resource: 'tasks', query: 'ship', source: `federated:${source}` });

  it('the connection is cut after work committed the renewal: home asks again with the same key, gets the same certificate, and stays active on it', async () => {
    proxy = await startTcpProxy(h.work.gateway.federationUrl);
    const grant = await h.work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: WIDE, expiresAt: inDays(5) } as never);
    const { enrollmentUrl, caPin } = await h.work.admin.createToken(grant.id);
    const peer = await home.admin.addPeer({ enrollmentUrl: proxy.via(enrollmentUrl), caPin, name: 'work-cut' });
    expect((await home.admin.query(search('work-cut'))).partial).toBe(false);

    // work's renewal calls this right after its transaction committed, before the answer is sent
    const revocation = h.work.gateway.revocation;
    const schedule = revocation.scheduleNext.bind(revocation);
    let cuts = 0;
    const spy = vi.spyOn(revocation, 'scheduleNext').mockImplementation(async () => {
      if (cuts === 0) {
        cuts++;
        proxy!.cut();
      }
      return schedule();
    });
    let renewed;
    try {
      renewed = await home.admin.renewPeer('work-cut');
    } finally {
      spy.mockRestore();
    }
    expect(cuts).toBe(1);
    const onWork = await h.work.admin.getGrant(grant.id);
    expect(renewed).toMatchObject({ state: 'active', renewalFailingSince: null });
    expect(renewed.certSerial).not.toBe(peer.certSerial);
    expect(onWork.certSerial).toBe(renewed.certSerial);
    // one certificate issued by the renewal: the first one and the renewed one, nothing more
    const certs = await h.work.gateway.storage.certs.listOfGrant(grant.id);
    expect(certs.map((c) => c.serial).sort()).toEqual([peer.certSerial, renewed.certSerial].sort());
    expect(certs.find((c) => c.serial === peer.certSerial)).toMatchObject({ revokeReason: 'superseded' });
    // home's key is the certificate's key, and reads go on with it
    const creds = await home.gateway.peerClients.credentials('work-cut');
    expect(serialOf(creds.certPem)).toBe(renewed.certSerial);
    expect((await home.gateway.storage.peers.get('work-cut'))?.renewalPending).toBeNull();
    expect(await home.admin.query(search('work-cut'))).toMatchObject({ partial: false, sources: [{ ok: true }] });
    expect((await home.admin.getPeer('work-cut')).state).toBe('active');
    // work audited both calls as allowed renewals
    const rows = await waitForAuditRows(h.work.admin, (r) => r.verb === 'renew', { filter: { grant: grant.id }, count: 2 });
    expect(rows.map((r) => [r.outcome, r.statusCode])).toEqual([
      ['allowed', 200],
      ['allowed', 200],
    ]);
  });

  it("home's store fails once after work answered: home asks again with the same key and CSR and ends on work's new serial", async () => {
    const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work-store', expiresAt: inDays(5) });
    const storage = home.gateway.storage;
    const transaction = storage.transaction.bind(storage);
    let failed = 0;
    const spy = vi.spyOn(storage, 'transaction').mockImplementation((async (fn: never) => {
      if (failed === 0) {
        failed++;
        throw new Error('the disk is full');
      }
      return transaction(fn);
    }) as never);
    let renewed;
    try {
      renewed = await home.admin.renewPeer('work-store');
    } finally {
      spy.mockRestore();
    }
    expect(failed).toBe(1);
    expect(renewed).toMatchObject({ state: 'active' });
    expect(renewed.certSerial).not.toBe(link.peer.certSerial);
    expect((await h.work.admin.getGrant(link.grant.id)).certSerial).toBe(renewed.certSerial);
    expect(await h.work.gateway.storage.certs.serialsOfGrant(link.grant.id)).toHaveLength(2);
    expect(await home.admin.query(search('work-store'))).toMatchObject({ partial: false, sources: [{ ok: true }] });
  });

  it('from a superseded serial, /renew with another key is refused; with the current key it answers the current certificate again', async () => {
    const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work-other', expiresAt: inDays(5) });
    const old = await link.credentials();
    const renewed = await home.admin.renewPeer('work-other');
    const current = await link.credentials();
    expect(serialOf(current.certPem)).toBe(renewed.certSerial);

    const keys = await generateKeyPair({ extractable: true });
    const other = await h.call(h.agent(old), 'POST', '/renew', { body: { csrPem: await createCsr({ keys }) } });
    expect(other).toMatchObject({ status: 403, body: { error: { code: 'GRANT_UNKNOWN' } } });

    const again = await h.call(h.agent(old), 'POST', '/renew', { body: { csrPem: await createCsr({ keys: await importPrivateKeyPem(current.keyPem) }) } });
    expect(again.status).toBe(200);
    expect(again.body.certPem).toBe(current.certPem);
    // nothing issued, nothing revoked by either call
    expect((await h.work.admin.getGrant(link.grant.id)).certSerial).toBe(renewed.certSerial);
    expect(await h.work.gateway.storage.certs.serialsOfGrant(link.grant.id)).toHaveLength(2);
    expect((await h.work.gateway.storage.certs.get(renewed.certSerial))?.revokedAt).toBeNull();
    // the current certificate itself still renews normally (a new serial)
    const keys2 = await generateKeyPair({ extractable: true });
    const fresh = await h.call(h.agent(current), 'POST', '/renew', { body: { csrPem: await createCsr({ keys: keys2 }) } });
    expect(fresh.status).toBe(200);
    expect(serialOf(fresh.body.certPem as string)).not.toBe(renewed.certSerial);
  });

  it("after the overlap, a serial listed as superseded makes home's peer degraded with the re-enroll hint, not revoked", async () => {
    const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work-lost', expiresAt: inDays(5) });
    expect((await home.admin.query(search('work-lost'))).partial).toBe(false);
    // a renewal home never heard about: work committed it, the answer never came back
    const keys = await generateKeyPair({ extractable: true });
    const renewed = await (await link.client()).renew(await createCsr({ keys }));
    const newSerial = serialOf(renewed.body.certPem);
    // ten minutes pass on work
    await h.work.gateway.storage.certs.revokeAllExcept(link.grant.id, newSerial, { at: new Date(Date.now() + 200), reason: 'superseded' });
    await h.work.gateway.revocation.scheduleNext();
    await until('the old serial revoked on work', () => h.work.gateway.revocation.isRevoked(link.peer.certSerial), 5_000);

    const r = await home.admin.query(search('work-lost'));
    expect(r).toMatchObject({ partial: true, sources: [{ ok: false }] });
    const peer = await home.admin.getPeer('work-lost');
    expect(peer.state).toBe('degraded');
    expect(peer.lastError).toMatch(/superseded/);
    expect(peer.lastError).toContain(`grant token ${link.grant.id} --reenroll`);
  });

  it('an admin revoke on work still makes the peer revoked', async () => {
    const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work-revoked' });
    expect((await home.admin.query(search('work-revoked'))).partial).toBe(false);
    await h.work.admin.revokeGrant(link.grant.id, 'test');
    const r = await home.admin.query(search('work-revoked'));
    expect(r).toMatchObject({ partial: true, sources: [{ ok: false, error: { code: 'GRANT_REVOKED' } }] });
    expect((await home.admin.getPeer('work-revoked')).state).toBe('revoked');
  });
});
