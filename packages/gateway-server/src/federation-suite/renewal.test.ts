/**
 * Peer certificate renewal between two real gateways (issue 5, "Renewal"): `peer renew`
 * swaps home to a new serial that work's grant shows; 1 000 queries in flight across the
 * swap all succeed and later ones use the new certificate; not due is 409 RENEWAL_NOT_DUE;
 * a failing renewal degrades the peer (a read does not heal it), doctor turns yellow after an
 * hour of it and red under 3 days left; the job renews by itself with jittered backoff; two
 * replicas on one PostgreSQL never both renew.
 *
 * A grant that ends in 5 days caps its certificate there, so its renewal is due at once
 * (under 7 days left), and stays due after a renewal (the cap holds).
 */
import { createPublicKey, X509Certificate } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { generateRequestId, normaliseSerialHex, type AuditRow, type QueryRequest, type QueryResponse } from '@mosaic/federation-core';
import { AdminClient, readAdminTokenFile } from '@mosaic/federation-core/admin-client';
import { waitForAuditRows } from '../test-support/audit-poll.js';
import { describeEachEngine, describeWithPostgres } from '../test-support/engines.js';
import { startFederation, type FederationHarness } from '../test-support/federation.js';
import { startTestGateway, type TestGateway } from '../test-support/gateway.js';

const WIDE = { resources: ['tasks', 'notes'], excluded_resources: [], max_rows_per_query: 500, rate_limit_per_minute: 6000 };
const DAY = 86_400_000;
const inDays = (days: number) => new Date(Date.now() + days * DAY).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const refusal = async (p: Promise<unknown>) =>
  (await p.then(
    () => null,
    (e: unknown) => e,
  )) as { status: number; code: string; message: string; remediation?: string; details?: Record<string, unknown> } | null;

type LogLine = { level: number; msg: string; peer?: string };

/** `POST /api/admin/query` by hand (many at once, without the admin client's niceties). */
async function rawQuery(gw: TestGateway, body: QueryRequest): Promise<{ status: number; body: QueryResponse }> {
  const res = await fetch(`${gw.gateway.adminUrl}/api/admin/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${readAdminTokenFile(gw.dataDir)}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as QueryResponse };
}

/** Work's audit rows of `renew` calls for a grant (shipped so far). */
async function renewCalls(work: TestGateway, grantId: string): Promise<AuditRow[]> {
  return (await work.admin.audit({ grant: grantId, verb: 'renew', limit: 10_000 })).items;
}

async function until<T>(what: string, fn: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(25);
  }
}

/**
 * Work's CA stops issuing renewals: its renew route answers 500 while its read routes (and
 * first enrollments, of pending grants) go on. Undo with `mockRestore()`.
 */
function failRenewalsOn(work: TestGateway) {
  const ca = work.gateway.ca;
  const issue = ca.issueClientCertificate.bind(ca);
  return vi.spyOn(ca, 'issueClientCertificate').mockImplementation(async (options) => {
    if ((await work.gateway.storage.grants.get(options.grantId))?.status === 'active') throw new Error('the CA is offline');
    return issue(options);
  });
}

const serialOf = (pem: string) => normaliseSerialHex(new X509Certificate(pem).serialNumber)!;

describeEachEngine('peer certificate renewal between two gateways', (engine) => {
  describe('peer renew: due, under load, not due, failing; doctor and status', () => {
    let h: FederationHarness;
    let home: TestGateway;
    const logs: LogLine[] = [];
    const logged = (msg: string) => logs.filter((l) => l.msg === msg).length;

    beforeAll(async () => {
      const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
      h = await startFederation({
        location: () => engine.location(),
        // 1 000 queries share one process with both gateways: give each call time
        home: { logger, peerConnections: { requestTimeoutMs: 60_000, deadlineMs: 60_000 }, renewal: { enabled: false, timeoutMs: 60_000 } },
      });
      home = h.homes[0]!;
    });
    afterAll(async () => h?.close());

    it("peer renew when due swaps home to a new serial: work's grant shows it, the sealed key opens and matches, reads keep working, both sides audit it", async (ctx) => {
      const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work', expiresAt: inDays(5) });
      const before = link.peer;
      expect(Date.parse(before.renewalDueAt)).toBeLessThanOrEqual(Date.now());
      const q: QueryRequest = { verb: 'search', resource: 'tasks', query: 'ship', source: 'federated:work' };
      expect((await home.admin.query(q)).partial).toBe(false);

      const t0 = performance.now();
      const renewed = await home.admin.renewPeer('work');
      const ms = performance.now() - t0;
      await ctx.annotate(`[${engine.name}] peer renew took ${ms.toFixed(0)} ms (key + CSR, renew over mTLS, verify, seal, store, swap)`);
      expect(renewed).toMatchObject({ name: 'work', state: 'active', grantId: link.grant.id, renewalFailingSince: null });
      expect(renewed.certSerial).not.toBe(before.certSerial);
      // the grant caps the renewed certificate too (X.509 keeps whole seconds)
      expect(Math.abs(Date.parse(renewed.certNotAfter) - Date.parse(before.certNotAfter))).toBeLessThan(1_000);
      expect((await h.work.admin.getGrant(link.grant.id)).certSerial).toBe(renewed.certSerial);
      // what home stores: the new certificate, and a sealed key that opens (bound to this peer) and is its key
      const cert = await home.admin.peerCertificate('work');
      expect(serialOf(cert.certPem)).toBe(renewed.certSerial);
      const creds = await link.credentials();
      expect(creds.certPem).toBe(cert.certPem);
      expect(createPublicKey(creds.keyPem).export({ type: 'spki', format: 'der' }).equals(new X509Certificate(cert.certPem).publicKey.export({ type: 'spki', format: 'der' }))).toBe(true);
      // reads go on, now with the new certificate
      const after = await home.admin.query(q);
      expect(after).toMatchObject({ partial: false, sources: [{ source: 'federated:work', ok: true }] });
      expect(after.items.map((i) => i.id).sort()).toEqual(['a-p1', 't1-1', 't2-1']);
      // home: an admin mutation row with the token's name; work: one renew call, allowed
      expect(await waitForAuditRows(home.admin, (r) => r.verb === 'admin.peer.renew' && r.peer === 'work')).toEqual([
        expect.objectContaining({ outcome: 'allowed', statusCode: 200, adminTokenName: 'root', grantId: link.grant.id, subjectUserId: 'alice' }),
      ]);
      expect(await waitForAuditRows(h.work.admin, (r) => r.verb === 'renew', { filter: { grant: link.grant.id } })).toEqual([
        expect.objectContaining({ outcome: 'allowed', statusCode: 200 }),
      ]);
    });

    it('not due: the serving side\'s 409 RENEWAL_NOT_DUE is passed through with a clear message; nothing changes', async () => {
      const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work-fresh' });
      const err = await refusal(home.admin.renewPeer('work-fresh'));
      expect(err).toMatchObject({ status: 409, code: 'RENEWAL_NOT_DUE' });
      expect(err!.message).toMatch(/^work-fresh: the serving side says renewal is not due yet \(renewal is due from \d{4}-/);
      expect(err!.remediation).toContain('needs-renewal work-fresh');
      const peer = await home.admin.getPeer('work-fresh');
      expect(peer).toMatchObject({ state: 'active', certSerial: link.peer.certSerial, renewalFailingSince: null, lastError: null });
      expect((await h.work.admin.getGrant(link.grant.id)).certSerial).toBe(link.peer.certSerial);
      // an unknown peer is 404
      expect(await refusal(home.admin.renewPeer('nope'))).toMatchObject({ status: 404, code: 'PEER_NOT_FOUND' });
      await home.admin.removePeer('work-fresh');
    });

    it('under load: 1 000 queries in flight through POST /api/admin/query while renewing — none fails; later requests use the new serial', async (ctx) => {
      const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work-load', expiresAt: inDays(5) });
      const oldSerial = link.peer.certSerial;
      // search is never cached: every query below goes to work
      const q: QueryRequest = { verb: 'search', resource: 'tasks', query: 'ship', source: 'federated:work-load' };
      expect((await rawQuery(home, q)).body.partial).toBe(false); // the live link exists

      const conns = home.gateway.connections;
      const swap = conns.updateCredentials.bind(conns);
      let started = 0;
      let finished = 0;
      let inFlightAtSwap = -1;
      // and on the old certificate's agent itself (undici's own counters; a peek inside PeerConnections)
      let onOldAgent: { running: number; pending: number; connected: number } | undefined;
      const spy = vi.spyOn(conns, 'updateCredentials').mockImplementation(async (name, credentials) => {
        inFlightAtSwap = started - finished;
        const live = (conns as unknown as { connections?: Map<string, { client?: { agent?: { stats?: Record<string, { running: number; pending: number; connected: number }> } } }> }).connections?.get(name);
        onOldAgent = Object.values(live?.client?.agent?.stats ?? {})[0];
        return swap(name, credentials);
      });
      const N = 1_000;
      const t0 = performance.now();
      const all = Array.from({ length: N }, () => {
        started++;
        return rawQuery(home, q).finally(() => finished++);
      });
      // renew once a fifth have come back: the rest are in flight on the old certificate
      await until('200 answers', () => finished >= 200, 60_000);
      const r0 = performance.now();
      const renewed = await home.admin.renewPeer('work-load');
      const renewMs = performance.now() - r0;
      const results = await Promise.all(all);
      const totalMs = performance.now() - t0;
      spy.mockRestore();

      expect(renewed.certSerial).not.toBe(oldSerial);
      expect(inFlightAtSwap).toBeGreaterThan(0);
      const failed = results.filter((r) => r.status !== 200 || r.body.partial || r.body.sources[0]?.ok !== true);
      expect(failed.map((r) => r.body.sources?.[0]?.error ?? r.body)).toEqual([]);
      for (const r of results) expect(r.body.items.map((i) => i.id).sort()).toEqual(['a-p1', 't1-1', 't2-1']);
      await ctx.annotate(
        `[${engine.name}] ${N} queries: none failed; ${inFlightAtSwap} in flight when the certificate was swapped (${onOldAgent ? `${onOldAgent.running} running and ${onOldAgent.pending} queued on the old certificate's ${onOldAgent.connected} connections` : 'agent counters not readable'}); renewal took ${renewMs.toFixed(0)} ms under that load; all answered in ${totalMs.toFixed(0)} ms`,
      );

      // Ten minutes pass on work: the old serial's scheduled revocation is moved to now. A
      // request made with the old certificate would now be refused at the handshake (and home
      // would find its serial on the CRL and mark the peer revoked): they all succeed instead.
      const moved = await h.work.gateway.storage.certs.revokeAllExcept(link.grant.id, renewed.certSerial, { at: new Date(Date.now() + 200), reason: 'superseded' });
      expect(moved).toEqual([oldSerial]);
      await h.work.gateway.revocation.scheduleNext();
      await until('the old serial revoked on work', () => h.work.gateway.revocation.isRevoked(oldSerial), 5_000);
      const later = await Promise.all(Array.from({ length: 50 }, () => rawQuery(home, q)));
      expect(later.filter((r) => r.status !== 200 || r.body.sources[0]?.ok !== true)).toEqual([]);
      expect(await home.admin.getPeer('work-load')).toMatchObject({ state: 'active', certSerial: renewed.certSerial });
      // work refused nothing of this grant
      await until('work shipped its audit rows', async () => (await h.work.admin.status()).audit.spoolBacklog === 0, 20_000);
      const rows = (await h.work.admin.audit({ grant: link.grant.id, limit: 10_000 })).items;
      expect(rows.filter((r) => r.outcome !== 'allowed')).toEqual([]);
      expect(rows.filter((r) => r.verb === 'search').length).toBe(1 + N + 50);
    }, 180_000);

    it('under load at the link itself: 1 000 federation calls started at once on the old certificate, renewed mid-way — none fails', async (ctx) => {
      const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work-burst', expiresAt: inDays(5) });
      const conns = home.gateway.connections;
      const record = (await home.gateway.storage.peers.get('work-burst'))!;
      await conns.search(record, 'tasks', 'ship'); // the live link exists
      const swap = conns.updateCredentials.bind(conns);
      let onOldAgent: { running: number; pending: number; connected: number } | undefined;
      let doneAtSwap = -1;
      let done = 0;
      const spy = vi.spyOn(conns, 'updateCredentials').mockImplementation(async (name, credentials) => {
        doneAtSwap = done;
        const live = (conns as unknown as { connections?: Map<string, { client?: { agent?: { stats?: Record<string, { running: number; pending: number; connected: number }> } } }> }).connections?.get(name);
        onOldAgent = Object.values(live?.client?.agent?.stats ?? {})[0];
        return swap(name, credentials);
      });
      const N = 1_000;
      const t0 = performance.now();
      const calls = Array.from({ length: N }, () =>
        conns.search(record, 'tasks', 'ship').then(
          (r) => ({ ok: true as const, ids: r.body.hits.map((x) => x.item.id).sort() }),
          (e: unknown) => ({ ok: false as const, error: (e as Error).message }),
        ).finally(() => done++),
      );
      await until('100 answers', () => done >= 100, 60_000);
      const r0 = performance.now();
      const renewed = await home.admin.renewPeer('work-burst');
      const renewMs = performance.now() - r0;
      const results = await Promise.all(calls);
      const totalMs = performance.now() - t0;
      spy.mockRestore();
      expect(results.filter((r) => !r.ok)).toEqual([]);
      for (const r of results) expect(r).toEqual({ ok: true, ids: ['a-p1', 't1-1', 't2-1'] });
      expect(N - doneAtSwap).toBeGreaterThan(0);
      await ctx.annotate(
        `[${engine.name}] ${N} calls through PeerConnections: none failed; ${N - doneAtSwap} unanswered at the swap${onOldAgent ? ` (${onOldAgent.running} running, ${onOldAgent.pending} queued on the old certificate's ${onOldAgent.connected} connections)` : ''}; renewal took ${renewMs.toFixed(0)} ms under that load; all answered in ${totalMs.toFixed(0)} ms`,
      );
      // the old serial revoked now: calls made from here on go out with the new certificate
      await h.work.gateway.storage.certs.revokeAllExcept(link.grant.id, renewed.certSerial, { at: new Date(Date.now() + 200), reason: 'superseded' });
      await h.work.gateway.revocation.scheduleNext();
      await until('the old serial revoked on work', () => h.work.gateway.revocation.isRevoked(link.peer.certSerial), 5_000);
      const fresh = (await home.gateway.storage.peers.get('work-burst'))!;
      const later = await Promise.all(Array.from({ length: 50 }, () => conns.search(fresh, 'tasks', 'ship')));
      expect(later.every((r) => r.status === 200)).toBe(true);
      expect((await home.admin.getPeer('work-burst')).state).toBe('active');
    }, 180_000);

    it('renewal failing: the peer is degraded with lastError, a successful read does not heal it, one log line per streak; doctor yellow once it has failed for over an hour; a renewal ends it', async () => {
      const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work-fail', expiresAt: inDays(5) });
      const issue = failRenewalsOn(h.work);
      try {
        const err = await refusal(home.admin.renewPeer('work-fail'));
        expect(err).toMatchObject({ status: 502, code: 'PEER_ERROR' });
        expect(err!.message).toMatch(/^work-fail: renewal refused: 500 INTERNAL/);
        let peer = await home.admin.getPeer('work-fail');
        expect(peer).toMatchObject({ state: 'degraded', certSerial: link.peer.certSerial, renewalFailingSince: expect.any(String), lastFailureAt: expect.any(String) });
        expect(peer.lastError).toMatch(/^renewal failed: work-fail: renewal refused: 500 INTERNAL/);
        const since = peer.renewalFailingSince!;

        // a read that works does not make it active again
        const read = await home.admin.query({ verb: 'search', resource: 'notes', query: 'note', source: 'federated:work-fail' });
        expect(read).toMatchObject({ partial: false, sources: [{ ok: true }] });
        peer = await home.admin.getPeer('work-fail');
        expect(peer).toMatchObject({ state: 'degraded', renewalFailingSince: since, lastSuccessAt: expect.any(String) });

        // a second failure: the streak goes on, still one warning
        expect(await refusal(home.admin.renewPeer('work-fail'))).toMatchObject({ status: 502 });
        expect((await home.admin.getPeer('work-fail')).renewalFailingSince).toBe(since);
        expect(logged('peer certificate renewal failing: work-fail')).toBe(1);
        expect((await home.gateway.storage.peers.get('work-fail'))?.renewalFailures).toBe(2);

        // status shows it; doctor waits an hour before it says anything (peers.reachable leaves it to peers.renewal)
        expect((await home.admin.status()).peers).toContainEqual(
          expect.objectContaining({ name: 'work-fail', state: 'degraded', renewalFailingSince: since, renewalDueAt: expect.any(String), certNotAfter: link.peer.certNotAfter }),
        );
        let doctor = await home.admin.doctor();
        expect(doctor.checks.find((c) => c.id === 'peers.renewal')).toMatchObject({ status: 'green' });
        expect(doctor.checks.find((c) => c.id === 'peers.reachable')?.message ?? '').not.toContain('work-fail');

        // the streak began two hours ago
        const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000).toISOString();
        await home.gateway.storage.db.updateTable('peers').set({ renewal_failed_since: twoHoursAgo }).where('name', '=', 'work-fail').execute();
        doctor = await home.admin.doctor();
        const check = doctor.checks.find((c) => c.id === 'peers.renewal');
        expect(check).toMatchObject({ status: 'yellow' });
        expect(check!.message).toMatch(new RegExp(`work-fail: renewal due since \\S+; renewal failing since ${twoHoursAgo.replace(/\./g, '\\.')} \\(renewal failed: `));
        expect(check!.remediation).toContain('mosaic federation peer renew work-fail');
        expect(check!.remediation).toContain(`grant token ${link.grant.id} --reenroll`);
        expect(doctor.status).not.toBe('green');
      } finally {
        issue.mockRestore();
      }
      // work issues again: one renewal ends the streak
      const renewed = await home.admin.renewPeer('work-fail');
      expect(renewed).toMatchObject({ state: 'active', renewalFailingSince: null });
      expect(renewed.certSerial).not.toBe(link.peer.certSerial);
      expect(logged('peer certificate renewal recovered: work-fail')).toBe(1);
      expect((await home.admin.doctor()).checks.find((c) => c.id === 'peers.renewal')).toMatchObject({ status: 'green' });
      // home audited each try: two failures and the success
      const rows = await waitForAuditRows(home.admin, (r) => r.verb === 'admin.peer.renew' && r.peer === 'work-fail', { count: 3 });
      expect(rows.map((r) => r.outcome).sort()).toEqual(['allowed', 'error', 'error']);
    });

    it('doctor is red when a certificate has under 3 days left, naming the peer, `peer renew` and re-enrollment', async () => {
      const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work-short', expiresAt: inDays(2) });
      const doctor = await home.admin.doctor();
      const check = doctor.checks.find((c) => c.id === 'peers.renewal');
      expect(check).toMatchObject({ status: 'red' });
      expect(check!.message).toMatch(/work-short: its certificate expires \S+ \(in (47|48)h\)/);
      expect(check!.remediation).toContain('mosaic federation peer renew work-short');
      expect(check!.remediation).toContain(`mosaic federation grant token ${link.grant.id} --reenroll`);
      expect(doctor.status).toBe('red');
      // a renewal cannot help (the grant caps it): still red
      await home.admin.renewPeer('work-short');
      expect((await home.admin.doctor()).checks.find((c) => c.id === 'peers.renewal')).toMatchObject({ status: 'red' });
      await home.admin.removePeer('work-short');
      expect((await home.admin.doctor()).checks.find((c) => c.id === 'peers.renewal')).toMatchObject({ status: 'green' });
    });
  });

  describe('the renewal job', () => {
    let h: FederationHarness;
    let home: TestGateway;
    const logs: LogLine[] = [];
    const logged = (msg: string) => logs.filter((l) => l.msg === msg).length;

    beforeAll(async () => {
      const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
      h = await startFederation({
        location: () => engine.location(),
        home: { logger, renewal: { intervalMs: 100, firstRunMs: 50, retryBaseMs: 300, retryMaxMs: 1_000 } },
      });
      home = h.homes[0]!;
    });
    afterAll(async () => h?.close());

    it('renews a due peer by itself, once: a certificate its grant caps is not renewed again', async () => {
      const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work', expiresAt: inDays(5) });
      const renewed = await until('the job renewed', async () => {
        const p = await home.admin.getPeer('work');
        return p.certSerial !== link.peer.certSerial ? p : null;
      });
      expect(renewed).toMatchObject({ state: 'active', renewalFailingSince: null });
      expect((await h.work.admin.getGrant(link.grant.id)).certSerial).toBe(renewed.certSerial);
      // ten more looks of the job: no second renewal (it would give the same notAfter)
      await sleep(1_000);
      await waitForAuditRows(h.work.admin, () => true, { filter: { grant: link.grant.id, verb: 'renew' } });
      expect(await renewCalls(h.work, link.grant.id)).toHaveLength(1);
      expect((await home.admin.getPeer('work')).certSerial).toBe(renewed.certSerial);
      // home's audit row: the job, no admin token
      expect(await waitForAuditRows(home.admin, (r) => r.verb === 'admin.peer.renew' && r.peer === 'work')).toEqual([
        expect.objectContaining({ outcome: 'allowed', adminTokenName: null, grantId: link.grant.id }),
      ]);
      expect(logged('peer certificate renewed: work')).toBe(1);
      // reads use it
      expect(await home.admin.query({ verb: 'search', resource: 'tasks', query: 'ship', source: 'federated:work' })).toMatchObject({ partial: false });
    });

    it('retries a failing renewal with jittered backoff (not on every look), one warning per streak, and recovers by itself', async (ctx) => {
      const issue = failRenewalsOn(h.work);
      let attempts: number;
      const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work-flaky', expiresAt: inDays(5) });
      try {
        await until('degraded', async () => (await home.admin.getPeer('work-flaky')).state === 'degraded');
        await sleep(1_500);
        await until('work shipped', async () => (await h.work.admin.status()).audit.spoolBacklog === 0);
        attempts = (await renewCalls(h.work, link.grant.id)).length;
      } finally {
        issue.mockRestore();
      }
      // 15 looks in that time; backoff of 300 ms doubling to 1 s, scaled by [0.5, 1): 3–6 tries
      expect(attempts).toBeGreaterThanOrEqual(2);
      expect(attempts).toBeLessThanOrEqual(8);
      await ctx.annotate(`[${engine.name}] the job tried ${attempts} times in ~1.5 s of failure at a 100 ms interval`);
      expect(logged('peer certificate renewal failing: work-flaky')).toBe(1);
      const renewed = await until('recovered', async () => {
        const p = await home.admin.getPeer('work-flaky');
        return p.state === 'active' && p.certSerial !== link.peer.certSerial ? p : null;
      });
      expect(renewed.renewalFailingSince).toBeNull();
      expect(logged('peer certificate renewal recovered: work-flaky')).toBe(1);
      expect(logged('peer certificate renewal failing: work-flaky')).toBe(1);
    });
  });
});

describeWithPostgres('peer renewal: two replicas of home on one PostgreSQL', (server) => {
  let h: FederationHarness;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    h = await startFederation({ location: async () => ({ databaseUrl: await server().createSchema('store') }) });
    a = h.homes[0]!;
    // a second replica: the same store and master secret, its own data dir and ports
    b = await startTestGateway({ name: 'home', databaseUrl: a.gateway.config.databaseUrl!, secret: a.env.MOSAIC_SECRET! });
  });
  afterAll(async () => {
    await b?.stop();
    await h?.close();
  });

  const actor = () => ({ requestId: generateRequestId(), adminTokenName: 'root' });

  it('never both renew one peer: concurrent `peer renew` on both, and both jobs at once — one renew call on work each time', async (ctx) => {
    const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work', expiresAt: inDays(5) });
    const calls = async (n: number) => {
      await until(`${n} renew calls on work`, async () => (await renewCalls(h.work, link.grant.id)).length >= n);
      await sleep(300); // a second call of the round would have shipped by now
      return (await renewCalls(h.work, link.grant.id)).length;
    };
    let expected = 0;
    let inProgress = 0;
    for (let round = 0; round < 5; round++) {
      const results = await Promise.allSettled([a.gateway.peers.renew('work', actor()), b.gateway.peers.renew('work', actor())]);
      const stored = (await a.gateway.storage.peers.get('work'))!.certSerial;
      for (const r of results) {
        if (r.status === 'fulfilled') expect(r.value.certSerial).toBe(stored);
        else {
          expect(r.reason).toMatchObject({ code: 'RENEWAL_IN_PROGRESS', statusCode: 409 });
          inProgress++;
        }
      }
      expect(results.some((r) => r.status === 'fulfilled')).toBe(true);
      expect(await calls(++expected)).toBe(expected);
    }
    // the jobs of both replicas look at the same moment (the capped certificate's retry time cleared each round)
    let renewedByJobs = 0;
    for (let round = 0; round < 5; round++) {
      await a.gateway.storage.db.updateTable('peers').set({ renewal_retry_at: null }).where('name', '=', 'work').execute();
      const [ra, rb] = await Promise.all([a.gateway.renewal.runNow(), b.gateway.renewal.runNow()]);
      expect(ra.failed).toEqual([]);
      expect(rb.failed).toEqual([]);
      expect(ra.renewed.length + rb.renewed.length).toBe(1);
      renewedByJobs++;
      expect(await calls(++expected)).toBe(expected);
    }
    await ctx.annotate(`10 rounds of two replicas renewing at once: ${expected} renew calls on work (${inProgress} answered RENEWAL_IN_PROGRESS, ${renewedByJobs} job rounds)`);
    expect((await h.work.admin.getGrant(link.grant.id)).certSerial).toBe((await a.gateway.storage.peers.get('work'))!.certSerial);
    // both replicas read with the current certificate
    const token = readAdminTokenFile(a.dataDir)!;
    for (const gw of [a, b]) {
      const admin = new AdminClient({ baseUrl: gw.gateway.adminUrl, token });
      expect(await admin.query({ verb: 'search', resource: 'tasks', query: 'ship', source: 'federated:work' })).toMatchObject({ partial: false, sources: [{ ok: true }] });
    }
  });
});
