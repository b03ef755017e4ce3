// `mosaic gateway doctor`'s peer checks, `federation status`'s latency column and ambiguous
// grant-id prefixes — the real binary as a child process (run `pnpm build` first) against the
// two-gateway harness (work serves, home reads), built for real: a grant that ends in 2 days
// caps the peer's certificate there (peers.renewal red); one that ends in 5 days makes renewal
// due at once, and work's CA refusing to issue makes it fail (peers.renewal yellow once the
// streak is over an hour old — the streak's start is moved back in home's store, the gateway's
// own state, not the CLI's); a TCP proxy in front of work that resets every connection makes a
// peer unreachable (peers.reachable). The CLI runs with `spawn`, never `spawnSync`: the
// gateways live in this process and must keep answering while it runs.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { doctorReportSchema, statusReportSchema, type DoctorReport } from '@mosaic/federation-core';
import { readAdminTokenFile } from '@mosaic/federation-core/admin-client';
import { startFederation, type FederationHarness } from '@mosaic/gateway-server/test-support/federation';
import type { TestGateway } from '@mosaic/gateway-server/test-support/gateway';
import { startTcpProxy, type TcpProxy } from '@mosaic/gateway-server/test-support/tcp-proxy';
import { BIN, testHome, type Run } from './test-support/gateways.js';

const home = testHome('mosaic-cli-doctor-peers-');
const DAY = 86_400_000;
const inDays = (days: number) => new Date(Date.now() + days * DAY).toISOString();
const WIDE = { resources: ['tasks', 'notes'], max_rows_per_query: 500, rate_limit_per_minute: 6000 };
let h: FederationHarness;
let homeGw: TestGateway;
let proxy: TcpProxy | undefined;

beforeAll(async () => {
  h = await startFederation();
  homeGw = h.homes[0]!;
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await h?.close();
  home.cleanup();
});

/** `mosaic <args>` against `gw`'s admin API (URL and root token from the environment). */
function cli(gw: TestGateway, args: string[], input = ''): Promise<Run> {
  const env = { ...home.env, MOSAIC_GATEWAY_URL: gw.gateway.adminUrl, MOSAIC_ADMIN_TOKEN: readAdminTokenFile(gw.dataDir) ?? '' };
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mosaic ${args.join(' ')}: no exit within 30 s\n${stderr}`));
    }, 30_000);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const doctor = (...args: string[]) => cli(homeGw, ['gateway', 'doctor', ...args]);
const check = (report: DoctorReport, id: string) => report.checks.find((c) => c.id === id);

/**
 * Work's CA stops issuing renewals (its renew route answers 500); first enrollments of
 * pending grants go on. Undo with `mockRestore()`.
 */
function failRenewalsOnWork() {
  const ca = h.work.gateway.ca;
  const issue = ca.issueClientCertificate.bind(ca);
  return vi.spyOn(ca, 'issueClientCertificate').mockImplementation(async (options) => {
    if ((await h.work.gateway.storage.grants.get(options.grantId))?.status === 'active') throw new Error('the CA is offline');
    return issue(options);
  });
}

describe('gateway doctor: peer checks built for real (child process, two gateways)', () => {
  it('green with a healthy peer: exit 0, also with --strict', async () => {
    await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work-ok' });
    const r = await doctor();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^✔ peers\.reachable +1 peer reachable as of the last call$/m);
    expect(r.stdout).toMatch(/^✔ peers\.renewal +no renewal due \(next: work-ok from \S+\)$/m);
    expect(r.stdout).toMatch(/^all \d+ checks green$/m);
    expect((await doctor('--strict')).code).toBe(0);
    await homeGw.admin.removePeer('work-ok');
  });

  it('peers.renewal red: a peer certificate with under 3 days left — ✖ with peer renew and re-enrollment, exit 1; --json is the report', async () => {
    const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work-short', expiresAt: inDays(2) });
    try {
      const r = await doctor();
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^✖ peers\.renewal +work-short: its certificate expires \S+ \(in (47|48)h\)$/m);
      expect(r.stdout).toMatch(/^ +→ work-short: `mosaic federation peer renew work-short` now; .*`mosaic federation grant token \S+ --reenroll`/m);
      expect(r.stdout).toContain(`grant token ${link.grant.id} --reenroll`);
      expect(r.stdout).toMatch(/^1 red, 0 yellow — exit 1$/m);
      const j = await doctor('--json');
      expect(j.code).toBe(1);
      const report = doctorReportSchema.parse(JSON.parse(j.stdout));
      expect(report.status).toBe('red');
      expect(check(report, 'peers.renewal')).toMatchObject({ status: 'red', message: expect.stringContaining('work-short') });
      expect((await doctor('--strict', '--json')).code).toBe(1);
    } finally {
      await homeGw.admin.removePeer('work-short');
    }
    expect((await doctor()).code).toBe(0);
  });

  it('peers.renewal yellow: due and failing — green within the first hour, ⚠ after it (exit 0; --strict exit 1); a renewal that works ends it', async () => {
    const link = await h.link({ subjectUserId: 'alice', scope: WIDE, localName: 'work-due', expiresAt: inDays(5) });
    const refuse = failRenewalsOnWork();
    try {
      // due at once (under 7 days left), and work refuses: the CLI says so, exit 1
      const renew = await cli(homeGw, ['federation', 'peer', 'renew', 'work-due']);
      expect(renew.code).toBe(1);
      expect(renew.stderr).toMatch(/^error: work-due: renewal refused: 500 INTERNAL/m);
      const peer = await homeGw.admin.getPeer('work-due');
      expect(peer).toMatchObject({ state: 'degraded', renewalFailingSince: expect.any(String) });

      // failing for minutes only: the renewal job's to retry, doctor stays green
      let r = await doctor('--strict');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^✔ peers\.renewal +renewal due for work-due: the renewal job renews it$/m);
      expect(r.stdout).not.toMatch(/^. peers\.reachable .*work-due/m);

      // the streak began two hours ago
      const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000).toISOString();
      await homeGw.gateway.storage.db.updateTable('peers').set({ renewal_failed_since: twoHoursAgo }).where('name', '=', 'work-due').execute();
      r = await doctor();
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^⚠ peers\\.renewal +work-due: renewal due since \\S+; renewal failing since ${twoHoursAgo.replace(/\./g, '\\.')} \\(renewal failed: work-due: renewal refused: 500 INTERNAL`, 'm'));
      expect(r.stdout).toMatch(/^ +→ work-due: `mosaic federation peer renew work-due` tries now and shows the error/m);
      expect(r.stdout).toContain(`grant token ${link.grant.id} --reenroll`);
      expect(r.stdout).toMatch(/^0 red, 1 yellow — exit 0 \(--strict fails on yellow\)$/m);
      const strict = await doctor('--strict');
      expect(strict.code).toBe(1);
      expect(strict.stdout).toMatch(/^0 red, 1 yellow — exit 1 \(--strict\)$/m);
      const j = await doctor('--json', '--strict');
      expect(j.code).toBe(1);
      const report = doctorReportSchema.parse(JSON.parse(j.stdout));
      expect(report.status).toBe('yellow');
      expect(check(report, 'peers.renewal')).toMatchObject({ status: 'yellow', remediation: expect.stringContaining('mosaic federation peer renew work-due') });
      expect(j.stderr).toBe('');
    } finally {
      refuse.mockRestore();
    }
    // work issues again: one renewal through the CLI ends the streak, doctor is green
    const renewed = await cli(homeGw, ['federation', 'peer', 'renew', 'work-due']);
    expect(renewed.code).toBe(0);
    expect((await homeGw.admin.getPeer('work-due')).renewalFailingSince).toBeNull();
    const after = await doctor('--json', '--strict');
    expect(check(doctorReportSchema.parse(JSON.parse(after.stdout)), 'peers.renewal')).toMatchObject({ status: 'green' });
    await homeGw.admin.removePeer('work-due');
  });

  it('peers.reachable: a peer that stops answering is ⚠ offline since the first failed call (exit 0; --strict exit 1), green again once it answers; status shows its latency', async () => {
    proxy = await startTcpProxy(h.work.gateway.federationUrl);
    const grant = await h.work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: WIDE } as never);
    const token = await h.work.admin.createToken(grant.id);
    // enrolled through the proxy (its URL carries a name work's certificate has), URL on stdin
    const added = await cli(homeGw, ['federation', 'peer', 'add', '-', '--ca-pin', token.caPin, '--name', 'work-gone'], `${proxy.via(token.enrollmentUrl)}\n`);
    expect(added.code).toBe(0);
    const query = () => cli(homeGw, ['federation', 'query', 'search', 'tasks', 'ship', '--source', 'federated:work-gone']);
    expect((await query()).code).toBe(0);

    // the latency of that call is in status: the API's latencyP50Ms, the table's P50 column
    const st = await cli(homeGw, ['federation', 'status', '--json']);
    const health = statusReportSchema.parse((JSON.parse(st.stdout) as { status: unknown }).status).peers?.find((p) => p.name === 'work-gone');
    expect(health?.latencyP50Ms).toEqual(expect.any(Number));
    const table = await cli(homeGw, ['federation', 'status']);
    expect(table.stdout).toMatch(/^NAME\s+STATE\s+CERT EXPIRES\s+LAST OK\s+LAST ERROR\s+CIRCUIT\s+P50$/m);
    expect(table.stdout).toMatch(new RegExp(`^work-gone\\s+active\\s+in \\d+d\\s+\\S+( ago)?\\s+—\\s+closed\\s+${health!.latencyP50Ms} ms$`, 'm'));
    for (const line of table.stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(80);

    // work goes dark: every connection is reset
    proxy.mode = 'reset';
    proxy.cut();
    const failed = await query();
    // (a reset right after connecting reads like a refused certificate until the CRL check fails too)
    expect(failed.stderr).toMatch(/^warning: federated:work-gone failed \((PEER_UNREACHABLE|PEER_REFUSED_CERT)\)/m);
    let r = await doctor();
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^⚠ peers\.reachable +work-gone: offline since \S+ \(.+\), circuit closed$/m);
    expect(r.stdout).toMatch(/^ +→ is the peer gateway running and reachable from here\?/m);
    expect(r.stdout).toMatch(/^0 red, 1 yellow — exit 0 \(--strict fails on yellow\)$/m);
    expect((await doctor('--strict')).code).toBe(1);
    const j = await doctor('--json');
    expect(j.code).toBe(0);
    const report = doctorReportSchema.parse(JSON.parse(j.stdout));
    expect(report.status).toBe('yellow');
    expect(check(report, 'peers.reachable')).toMatchObject({ status: 'yellow', message: expect.stringContaining('work-gone: offline since') });

    // it answers again: the next call ends the outage
    proxy.mode = 'forward';
    expect((await query()).code).toBe(0);
    r = await doctor('--strict');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^✔ peers\.reachable /m);
    await homeGw.admin.removePeer('work-gone');
  });
});

describe('grant id prefixes through the binary', () => {
  /** Two pending grants whose ids share the prefix `abcd` (ids set in work's store: random UUIDs never would). */
  async function twoLookalikes(): Promise<[string, string]> {
    const ids: [string, string] = ['abcd1111-0000-4000-8000-000000000001', 'abcd2222-0000-4000-8000-000000000002'];
    for (const id of ids) {
      const g = await h.work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: { resources: ['tasks'] } } as never);
      await h.work.gateway.storage.db.updateTable('grants').set({ id }).where('id', '=', g.id).execute();
    }
    return ids;
  }

  it('an ambiguous prefix is exit 2 (GRANT_ID_AMBIGUOUS) naming the candidates; nothing changes; an unknown prefix is exit 1 (GRANT_NOT_FOUND); a longer prefix works', async () => {
    const [a, b] = await twoLookalikes();
    const atWork = (...args: string[]) => cli(h.work, ['federation', 'grant', ...args]);

    const show = await atWork('show', 'abcd');
    expect(show.code).toBe(2);
    expect(show.stdout).toBe('');
    expect(show.stderr).toMatch(/^error: the grant id prefix "abcd" matches 2 grants:$/m);
    expect(show.stderr).toMatch(new RegExp(`^ {2}${a} {2}alice → home, pending$`, 'm'));
    expect(show.stderr).toMatch(new RegExp(`^ {2}${b} {2}alice → home, pending$`, 'm'));
    expect(show.stderr).toMatch(/^hint: give more characters of the grant id, e\.g\. abcd1111$/m);
    expect(show.stderr).not.toMatch(/\n\s+at /); // no stack trace

    const json = await atWork('show', 'ABCD', '--json');
    expect(json.code).toBe(2);
    const envelope = JSON.parse(json.stderr) as { error: { code: string; message: string; remediation: string } };
    expect(envelope.error.code).toBe('GRANT_ID_AMBIGUOUS');
    expect(envelope.error.message).toContain(a);
    expect(envelope.error.message).toContain(b);

    // the verbs that change something change nothing
    for (const args of [['revoke', 'abcd', '--yes'], ['token', 'abcd'], ['edit', 'abcd', '--set', 'max_rows_per_query=5'], ['explain', 'abcd', '--resource', 'tasks']]) {
      const r = await atWork(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^error: the grant id prefix "abcd" matches 2 grants:$/m);
    }
    for (const id of [a, b]) expect(await h.work.admin.getGrant(id)).toMatchObject({ status: 'pending', scope: { resources: ['tasks'] } });

    const unknown = await atWork('show', 'abce');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: no grant id starts with "abce"$/m);
    const unknownJson = await atWork('show', 'abce', '--json');
    expect(unknownJson.code).toBe(1);
    expect(JSON.parse(unknownJson.stderr)).toMatchObject({ error: { code: 'GRANT_NOT_FOUND' } });

    const one = await atWork('show', 'abcd2', '--json');
    expect(one.code).toBe(0);
    expect(JSON.parse(one.stdout)).toMatchObject({ id: b });
  });
});
