/**
 * Peer renewal against a scripted serving side: what home accepts as a renewed certificate
 * (only one that chains to the pinned CA, is for the key it sent, and names the same grant and
 * subject), what it stores and swaps in, which peers the job picks; the backoff and doctor's
 * `peers.renewal` rule as pure functions.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateMasterSecret, generateRequestId, issueClientCertificate, parseMasterSecret, SealKey, type PeerState } from '@mosaic/federation-core';
import { makeTestCa, randomGrantId } from '@mosaic/federation-core/test-support/pki';
import { startFakePeer, type FakePeer } from '../test-support/fake-peer.js';
import { cleanupTestGateways, startTestGateway, type TestGateway } from '../test-support/gateway.js';
import { renewalCheck, renewalRetryDelayMs } from './renewal.js';

const DAY = 86_400_000;
const HOUR = 3_600_000;

describe('renewalRetryDelayMs: exponential, capped, jittered', () => {
  const o = { baseMs: 1_000, maxMs: 10_000 };
  it.each([
    [1, 0, 500],
    [1, 0.999_999, 1_000],
    [2, 0, 1_000],
    [3, 0.5, 3_000],
    [4, 0, 4_000],
    [5, 0, 5_000],
    [50, 0.999_999, 10_000],
  ])('failure %i, random %d → %i ms', (failures, r, ms) => {
    expect(renewalRetryDelayMs(failures, o, () => r)).toBe(ms);
  });
});

describe("doctor's peers.renewal", () => {
  const now = Date.parse('2030-06-01T00:00:00.000Z');
  const iso = (ms: number) => new Date(ms).toISOString();
  const peer = (over: Partial<Parameters<typeof renewalCheck>[0][number]> & { name: string }) => ({
    state: 'active',
    grantId: '00000000-0000-4000-8000-000000000001',
    // 30 days, 5 in: not due
    certNotBefore: iso(now - 5 * DAY),
    certNotAfter: iso(now + 25 * DAY),
    renewalFailedSince: null,
    renewalRetryAt: null,
    lastError: null,
    ...over,
  });
  const due = { certNotBefore: iso(now - 22 * DAY), certNotAfter: iso(now + 8 * DAY) };

  it.each<[string, ReturnType<typeof peer>[], 'green' | 'yellow' | 'red', RegExp, RegExp | null]>([
    ['no peers', [], 'green', /^no peers$/, null],
    ['nothing due: names the next', [peer({ name: 'work' })], 'green', /^no renewal due \(next: work from 2030-06-16T00:00:00\.000Z\)$/, null],
    ['due, not failing: the job renews it', [peer({ name: 'work', ...due })], 'green', /^renewal due for work: the renewal job renews it$/, null],
    ['due, failing for 59 minutes: still green', [peer({ name: 'work', ...due, renewalFailedSince: iso(now - 59 * 60_000) })], 'green', /renewal due for work/, null],
    [
      'due, failing for over an hour: yellow, naming the peer and when',
      [peer({ name: 'work', ...due, renewalFailedSince: iso(now - 2 * HOUR), lastError: 'renewal failed: work: unreachable' })],
      'yellow',
      /^work: renewal due since 2030-\S+; renewal failing since 2030-05-31T22:00:00\.000Z \(renewal failed: work: unreachable\)$/,
      /mosaic federation peer renew work.*--reenroll/,
    ],
    ['under 3 days left: red', [peer({ name: 'work', certNotBefore: iso(now - 27 * DAY), certNotAfter: iso(now + 2 * DAY + HOUR) })], 'red', /^work: its certificate expires 2030-06-03T01:00:00\.000Z \(in 49h\)$/, /mosaic federation peer renew work.*grant token 00000000-0000-4000-8000-000000000001 --reenroll/],
    ['expired: red, and only re-enrollment helps', [peer({ name: 'work', certNotBefore: iso(now - 31 * DAY), certNotAfter: iso(now - HOUR) })], 'red', /^work: its certificate expired 2030-05-31T23:00:00\.000Z$/, /^work: an expired certificate cannot be renewed — ask work's admin/],
    ['a revoked peer is peers.reachable\'s', [peer({ name: 'work', state: 'revoked', certNotAfter: iso(now - HOUR) })], 'green', /^no peers$/, null],
    [
      'a certificate its grant caps: said, green until 3 days before the end',
      [peer({ name: 'work', certNotBefore: iso(now - HOUR), certNotAfter: iso(now + 5 * DAY), renewalRetryAt: iso(now + 5 * DAY) })],
      'green',
      /^work: cannot be renewed past 2030-06-06T00:00:00\.000Z \(its grant ends then\)$/,
      null,
    ],
    [
      'the worst of several wins, each named',
      [peer({ name: 'a', ...due, renewalFailedSince: iso(now - 2 * HOUR) }), peer({ name: 'b', certNotAfter: iso(now + DAY) }), peer({ name: 'c' })],
      'red',
      /^b: its certificate expires .*; a: renewal due since/,
      /^b: .*; a: /,
    ],
  ])('%s', (_what, peers, status, message, remediation) => {
    const [id, s, m, r] = renewalCheck(peers, now);
    expect(id).toBe('peers.renewal');
    expect(s).toBe(status);
    expect(m).toMatch(message);
    if (remediation === null) expect(r).toBeNull();
    else expect(r).toMatch(remediation);
  });
});

describe('PeerRenewal against a scripted serving side', () => {
  let gw: TestGateway;
  let sealKey: SealKey;
  let fake: FakePeer;
  let n = 0;
  let name: string;
  const actor = () => ({ requestId: generateRequestId(), adminTokenName: 'root' });
  const LIST = { items: [{ id: 'r1', title: 'row r1' }], nextCursor: null, _source: 'fake' };

  /** Answer `/renew` with `issue(csrPem)`, everything else with a one-row list. */
  const renewWith = (issue: (csrPem: string) => Promise<Record<string, unknown>>, status = 200) => {
    fake.behaviour = {
      kind: 'handler',
      handle: async ({ url, body }) => (url.endsWith('/renew') ? { status, body: await issue((JSON.parse(body) as { csrPem: string }).csrPem) } : { body: LIST }),
    };
  };
  const answer = (cert: { certPem: string; notAfter: Date }, over: Record<string, unknown> = {}) => ({
    certPem: cert.certPem,
    certChainPem: cert.certPem,
    caCertPem: fake.caPem,
    grantId: fake.grantId,
    subjectUserId: 'alice',
    serverName: 'fake',
    notAfter: cert.notAfter.toISOString(),
    ...over,
  });
  const issueFor = (csr: string, over: { grantId?: string; subjectUserId?: string } = {}, ca = fake.ca) =>
    issueClientCertificate({ ca, csr, peerName: 'home', grantId: over.grantId ?? fake.grantId, subjectUserId: over.subjectUserId ?? 'alice' });

  beforeAll(async () => {
    const secret = generateMasterSecret();
    gw = await startTestGateway({ name: 'home', secret });
    sealKey = SealKey.fromMaster(parseMasterSecret(secret));
    fake = await startFakePeer();
  });
  afterAll(async () => {
    await fake?.close();
    await cleanupTestGateways();
  });
  beforeEach(async () => {
    name = `fake-${++n}`;
    await fake.insertPeer(gw.gateway.storage, sealKey, { name, localUserId: 'alice' });
    fake.behaviour = { kind: 'json', body: LIST };
  });

  const record = async () => (await gw.gateway.storage.peers.get(name))!;

  it('renews over mTLS with the current certificate, stores the new one with its key sealed, and the live link swaps to it', async () => {
    const before = await record();
    // a live link exists, on the old certificate
    await gw.gateway.connections.list(before, 'tasks', { limit: 1 });
    expect(fake.serials.at(-1)).toBe(before.certSerial);
    renewWith(async (csr) => answer(await issueFor(csr)));
    const renewed = await gw.gateway.renewal.renew(name, { actor: actor(), manual: true });
    // the renew request came with the certificate being replaced
    expect(fake.requests.at(-1)).toBe('POST /api/federation/v1/renew');
    expect(fake.serials.at(-1)).toBe(before.certSerial);
    expect(renewed.certSerial).not.toBe(before.certSerial);
    expect(renewed).toMatchObject({ state: 'active', renewalFailedSince: null, renewalFailures: 0 });
    expect(renewed.sealedKey).not.toBe(before.sealedKey);
    expect(renewed.sealedKey).not.toContain('PRIVATE KEY');
    // the key opens only as this peer's
    const creds = await gw.gateway.peerClients.credentials(name);
    expect(creds.certPem).toBe(renewed.certPem);
    // the next call goes out on the new certificate, through the same live link
    await gw.gateway.connections.list(await record(), 'tasks', { limit: 2 });
    expect(fake.serials.at(-1)).toBe(renewed.certSerial);
  });

  it.each<[string, (csr: string) => Promise<Record<string, unknown>>, RegExp]>([
    ['from another CA', async (csr) => answer(await issueFor(csr, {}, await makeTestCa({ commonName: 'not the pinned CA' }))), /does not verify against the pinned CA/],
    ['for a key we did not send', async () => answer(await fake.issueClientCert()), /not for the key we sent/],
    ['for another grant', async (csr) => answer(await issueFor(csr, { grantId: randomGrantId() })), /another grant or subject/],
    ['for another subject', async (csr) => answer(await issueFor(csr, { subjectUserId: 'mallory' })), /another grant or subject/],
    ['whose answer names another grant than its certificate', async (csr) => answer(await issueFor(csr), { grantId: randomGrantId() }), /another grant or subject/],
    ['that is not a certificate at all', () => Promise.resolve({ certPem: 'junk' }), /does not fit the protocol/],
    ['whose answer names another CA than the pinned one', async (csr) => answer(await issueFor(csr), { caCertPem: (await makeTestCa({ commonName: 'not the pinned CA' })).certPem }), /different CA than the pinned one/],
    ['whose chain does not start with the renewed certificate', async (csr) => answer(await issueFor(csr), { certChainPem: (await fake.issueClientCert()).certPem }), /does not start with the renewed certificate/],
  ])('refuses a renewed certificate %s: nothing kept, the peer degraded with lastError', async (_what, issue, why) => {
    const before = await record();
    renewWith(issue);
    const err = await gw.gateway.renewal.renew(name, { actor: actor(), manual: true }).then(
      () => null,
      (e: unknown) => e as { code: string; statusCode: number; message: string },
    );
    expect(err).toMatchObject({ code: 'PEER_RESPONSE_INVALID', statusCode: 502 });
    expect(err!.message).toMatch(why);
    const after = await record();
    expect(after).toMatchObject({ certSerial: before.certSerial, certPem: before.certPem, sealedKey: before.sealedKey, state: 'degraded' satisfies PeerState, renewalFailures: 1 });
    expect(after.lastError).toMatch(why);
    expect(after.renewalFailedSince).not.toBeNull();
  });

  it("passes the serving side's 409 RENEWAL_NOT_DUE through, without a failure streak", async () => {
    renewWith(() => Promise.resolve({ error: { code: 'RENEWAL_NOT_DUE', message: 'renewal is due from 2031-01-01T00:00:00.000Z', requestId: 'x' } }), 409);
    await expect(gw.gateway.renewal.renew(name, { actor: actor(), manual: true })).rejects.toMatchObject({
      code: 'RENEWAL_NOT_DUE',
      statusCode: 409,
      message: `${name}: the serving side says renewal is not due yet (renewal is due from 2031-01-01T00:00:00.000Z)`,
    });
    expect(await record()).toMatchObject({ state: 'active', renewalFailedSince: null, renewalFailures: 0 });
  });

  it('the job renews only due peers: not revoked, not expired, not before their retry time', async () => {
    const peers = gw.gateway.storage.peers;
    const setDates = (n: string, from: number, to: number) =>
      gw.gateway.storage.db.updateTable('peers').set({ cert_not_before: new Date(from).toISOString(), cert_not_after: new Date(to).toISOString() }).where('name', '=', n).execute();
    // as the store sees them: due (day 25 of 30), not due (day 5), expired, revoked, waiting for a retry
    const now = Date.now();
    for (const p of (await peers.list()).filter((x) => x.name !== name)) await peers.delete(p.name);
    await setDates(name, now - 25 * DAY, now + 5 * DAY);
    for (const [suffix, from, to] of [['fresh', now - 5 * DAY, now + 25 * DAY], ['expired', now - 31 * DAY, now - DAY], ['revoked', now - 25 * DAY, now + 5 * DAY], ['later', now - 25 * DAY, now + 5 * DAY]] as const) {
      await fake.insertPeer(gw.gateway.storage, sealKey, { name: `${name}-${suffix}`, localUserId: 'alice' });
      await setDates(`${name}-${suffix}`, from, to);
    }
    await peers.setState(`${name}-revoked`, 'revoked');
    await gw.gateway.storage.db.updateTable('peers').set({ renewal_retry_at: new Date(now + HOUR).toISOString() }).where('name', '=', `${name}-later`).execute();
    expect((await gw.gateway.renewal.duePeers()).map((p) => p.name)).toEqual([name]);
    renewWith(async (csr) => answer(await issueFor(csr)));
    const run = await gw.gateway.renewal.runNow();
    expect(run).toEqual({ renewed: [name], failed: [], skipped: [] });
    // the fake's certificate is a 30-day one: renewed, it is not due any more
    expect(await gw.gateway.renewal.duePeers()).toEqual([]);
  });
});
