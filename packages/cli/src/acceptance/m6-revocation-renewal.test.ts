// Acceptance, milestone M6: revocation (admin revoke, a user's deletion), renewal of a peer's
// certificate and its failure, revoked vs unreachable on the requesting side (docs/acceptance.md).
// The CRL and a revoked certificate refused at the handshake (M6.3, M6.4) are driven with curl
// and openssl in external-client.test.ts. Home reaches work directly, and for bob's short-lived
// peer through a TCP proxy that can refuse connections as a dead network would.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport, Grant, Peer } from '@mosaic/federation-core';
import { startTcpProxy, type TcpProxy } from '@mosaic/gateway-server/test-support/tcp-proxy';
import { acceptanceHome, createGrant, ids, link, linkAsync, query, queryAsync, seed, startGateway, until, type Gateway } from '../test-support/acceptance.js';
import { HOME_SEED, WORK_SEED, WORK_TASKS_OF } from '../test-support/acceptance-seed.js';

const home = acceptanceHome('mosaic-acc-m6-');
let work: Gateway;
let homeGw: Gateway;
let proxy: TcpProxy;
const WIDE = { resources: ['tasks', 'notes'], max_rows_per_query: 500, rate_limit_per_minute: 6000 };

beforeAll(async () => {
  [work, homeGw] = await Promise.all([startGateway(home, 'work'), startGateway(home, 'home')]);
  seed(work, WORK_SEED);
  seed(homeGw, { ...HOME_SEED, users: [...HOME_SEED.users, { id: 'carol', name: 'Carol' }] });
  proxy = await startTcpProxy(work.federationUrl);
  link(work, homeGw, { user: 'carol', scope: WIDE, name: 'work-carol', localUser: 'carol' });
  // five days left: renewal is due at once (never later than 7 days before expiry), and not yet red (3 days)
  link(work, homeGw, { user: 'alice', scope: WIDE, name: 'work-short', expiresIn: '5d' });
  // through the proxy, served by this process: commands using it must not block it (the *Async helpers)
  await linkAsync(work, homeGw, { user: 'bob', scope: WIDE, name: 'work-bob', localUser: 'bob', expiresIn: '5d', via: (url) => proxy.via(url) });
}, 60_000);

afterAll(async () => {
  await Promise.all([work?.stop(), homeGw?.stop()]);
  await proxy?.close();
  home.cleanup();
});

const peer = (name: string) => homeGw.json<Peer>(['federation', 'peer', 'show', name]);
const logLines = (msg: string) => homeGw.logs().split('\n').filter((l) => l.includes(`"msg":"${msg}"`));

describe('M6 — revocation, renewal, revoked vs unreachable', () => {
  it("M6.1 grant revoke on work: home's next request fails at the TLS layer (its certificate refused), said as a revocation", () => {
    expect(ids(query(homeGw, 'search', 'tasks', 'plan', { as: 'carol', source: 'federated:work-carol' }).answer)).toEqual(['c-p1']);
    const revoke = work.cli(['federation', 'grant', 'revoke', peer('work-carol').grantId.slice(0, 8), '--yes', '--reason', 'left the company']);
    expect(revoke.code).toBe(0);
    expect(revoke.stdout).toMatch(/^✔ revoked grant [0-9a-f]{8}… \(carol → home\)/m);
    const r = query(homeGw, 'search', 'tasks', 'plan', { as: 'carol', source: 'federated:work-carol' });
    expect(r.code).toBe(0);
    expect(r.answer.items).toEqual([]);
    expect(r.answer.sources[0]).toMatchObject({ ok: false, error: { code: 'GRANT_REVOKED' } });
    const human = homeGw.cli(['federation', 'query', 'search', 'tasks', 'plan', '--as', 'carol', '--source', 'federated:work-carol']);
    expect(human.stderr).toMatch(/^warning: federated:work-carol failed \(GRANT_REVOKED\): /m);
  });

  it('M6.7 home marks the peer revoked after a handshake refused for revocation (its serial on the CRL), but not after network errors', async () => {
    expect(peer('work-carol')).toMatchObject({ state: 'revoked', lastError: expect.stringMatching(/CRL/) });
    const doctor = homeGw.cli(['gateway', 'doctor', '--json']);
    expect(doctor.code).toBe(1); // a red check
    expect((JSON.parse(doctor.stdout) as DoctorReport).checks.find((c) => c.id === 'peers.reachable')).toMatchObject({ status: 'red', message: expect.stringContaining('work-carol: revoked') });
    // a dead network is not a revocation
    expect((await queryAsync(homeGw, 'list', 'tasks', undefined, { as: 'bob', source: 'federated:work-bob' })).answer.partial).toBe(false);
    proxy.mode = 'reset';
    proxy.cut();
    for (let i = 0; i < 2; i++) {
      const r = await queryAsync(homeGw, 'search', 'tasks', 'review', { as: 'bob', source: 'federated:work-bob' });
      expect(r.answer.sources[0]).toMatchObject({ ok: false });
      expect(r.answer.sources[0]!.error?.code).not.toBe('GRANT_REVOKED');
    }
    expect(peer('work-bob').state).toBe('active');
    proxy.mode = 'forward';
  });

  it('M6.2 removing the subject user on work revokes every grant whose subject they were, and nothing else', () => {
    const a = createGrant(work, { user: 'dan', peer: 'home', scope: { resources: ['tasks'] } });
    const b = link(work, homeGw, { user: 'dan', scope: { resources: ['tasks'] }, name: 'work-dan', localUser: 'dan' }).grant;
    const other = peer('work-short').grantId;
    expect(ids(query(homeGw, 'list', 'tasks', undefined, { as: 'dan', source: 'federated:work-dan' }).answer)).toEqual(WORK_TASKS_OF.dan);
    const r = work.cli(['gateway', 'user', 'remove', 'dan']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^removed user dan; revoked 2 grants: /);
    const status = (id: string) => work.json<Grant>(['federation', 'grant', 'show', id]).status;
    expect(status(a.id)).toBe('revoked');
    expect(status(b.id)).toBe('revoked');
    expect(status(other)).toBe('active');
    // dan's peer on home is refused at its next call
    const after = query(homeGw, 'search', 'tasks', 'onboarding', { as: 'dan', source: 'federated:work-dan' });
    expect(after.answer.sources[0]).toMatchObject({ ok: false, error: { code: 'GRANT_REVOKED' } });
  });

  it('M6.5 a certificate inside its renewal window is renewed (peer renew, the path the renewal job takes): a new serial installed while queries run, none of them failing', async () => {
    const due = homeGw.cli(['federation', 'peer', 'needs-renewal', 'work-short']);
    expect(due.code).toBe(0);
    expect(due.stdout).toMatch(/^work-short: renewal is due/);
    const before = peer('work-short');
    // queries in flight the whole time (search is never cached: each one goes to work)
    let renewing = true;
    const answers: Array<{ code: number | null; ok: boolean }> = [];
    const worker = async () => {
      while (renewing) {
        const r = await queryAsync(homeGw, 'search', 'tasks', 'ship', { as: 'alice', source: 'federated:work-short' });
        answers.push({ code: r.code, ok: r.answer.sources[0]?.ok === true && ids(r.answer).join() === 'a-p1,t1-1,t2-1' });
      }
    };
    const workers = [worker(), worker(), worker()];
    await until(() => answers.length >= 3, 'queries running');
    const renewed = await homeGw.cliAsync(['federation', 'peer', 'renew', 'work-short']);
    await until(() => answers.length >= 9, 'queries after the renewal', 15_000);
    renewing = false;
    await Promise.all(workers);
    expect(renewed.stderr).toBe('');
    expect(renewed.code).toBe(0);
    expect(renewed.stdout).toMatch(/^renewed peer "work-short": serial [0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}:…/);
    expect(answers.filter((a) => !(a.code === 0 && a.ok))).toEqual([]);
    const after = peer('work-short');
    expect(after.certSerial).not.toBe(before.certSerial);
    expect(after.state).toBe('active');
    // work installed the same serial for the grant
    expect(work.json<Grant>(['federation', 'grant', 'show', after.grantId]).certSerial!.replace(/^0+/, '')).toBe(after.certSerial.replace(/^0+/, ''));
    // and the new certificate reads
    expect(ids(query(homeGw, 'list', 'tasks', undefined, { as: 'alice', source: 'federated:work-short', limit: 9 }).answer)).toEqual(WORK_TASKS_OF.alice);
  });

  it('M6.6 a failing renewal marks the peer degraded and says so (peer list, status, a warning in the log) until a renewal succeeds', async () => {
    proxy.mode = 'reset';
    proxy.cut();
    const failed = await homeGw.cliAsync(['federation', 'peer', 'renew', 'work-bob']);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^error: /m);
    expect(failed.stderr).toMatch(/^hint: /m);
    expect(peer('work-bob')).toMatchObject({ state: 'degraded', lastError: expect.any(String) });
    expect(homeGw.cli(['federation', 'peer', 'list']).stdout).toMatch(/^work-bob\s+degraded\s+bob\s/m);
    expect(homeGw.cli(['federation', 'status']).stdout).toMatch(/^work-bob\s+degraded\s/m);
    expect(logLines('peer certificate renewal failing: work-bob')).toHaveLength(1);
    // the network is back: a read succeeds, but only a renewal heals the peer
    proxy.mode = 'forward';
    const read = await queryAsync(homeGw, 'search', 'tasks', 'review', { as: 'bob', source: 'federated:work-bob' });
    expect(read.answer.sources[0]).toMatchObject({ ok: true });
    expect(peer('work-bob').state).toBe('degraded');
    const healed = await homeGw.cliAsync(['federation', 'peer', 'renew', 'work-bob']);
    expect(healed.code).toBe(0);
    expect(peer('work-bob').state).toBe('active');
  });
});
