// The `peer add` wizard through a real terminal: tmux runs the built binary at 100×30, the test
// types into it and reads the screen (run `pnpm build` first; `.ci/run` installs tmux). Work
// serves, home enrolls; both are real gateways started by the test.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enrollmentToken, startChildGateway, testHome, type ChildGateway } from './test-support/gateways.js';
import { openTerminal, tmuxAvailable, type Terminal } from './test-support/terminal.js';

const available = tmuxAvailable();
if (!available && process.env.CI === 'true') throw new Error('tmux is required for the wizard tests (apt-get install tmux; .ci/run installs it)');

const home = testHome('mosaic-cli-wizard-');
let work: ChildGateway;
let homeGw: ChildGateway;
let term: Terminal | undefined;

const wizard = (...extra: string[]) => (term = openTerminal(home.dir, home.env, ['federation', 'peer', 'add', '--data-dir', homeGw.dataDir, ...extra]));
const peerNames = async () => (await homeGw.admin.listPeers()).items.map((p) => p.name).sort();
/** A token is unspent when it still enrolls (checked through the admin API, then undone). */
async function stillUnused(t: { enrollmentUrl: string; caPin: string }): Promise<boolean> {
  try {
    await homeGw.admin.addPeer({ enrollmentUrl: t.enrollmentUrl, caPin: t.caPin, name: 'probe' });
  } catch {
    return false;
  }
  await homeGw.admin.removePeer('probe');
  return true;
}

beforeAll(async () => {
  if (!available) return;
  [work, homeGw] = await Promise.all([startChildGateway('work', home), startChildGateway('home', home)]);
  await work.admin.seed({ users: [{ id: 'alice', name: 'Alice' }], resources: { tasks: [{ id: 'w-1', ownerUserId: 'alice', title: 'Ship the release' }] } });
}, 90_000);

afterEach(async () => {
  term?.close();
  term = undefined;
  // one test's leftovers never fail the next
  if (homeGw !== undefined) for (const p of (await homeGw.admin.listPeers()).items) await homeGw.admin.removePeer(p.name);
});

afterAll(async () => {
  await Promise.all([work?.stop(), homeGw?.stop()]);
  home.cleanup();
});

describe.skipIf(!available)('mosaic federation peer add — the wizard in a real terminal (tmux, 100×30)', () => {
  it('happy path: URL (token never on screen) → pins side by side → name and local user → enrolled, with what the peer may read', async () => {
    const t = await enrollmentToken(work, { user: 'alice' });
    const tty = wizard();
    await tty.waitFor('◆  Enrollment URL');
    expect(tty.screen()).toMatch(/^┌ {2}Add a federation peer$/m);
    tty.type(t.enrollmentUrl);
    const typing = await tty.waitFor(/\/enroll\/•{24}/);
    expect(typing).not.toContain(t.token);
    expect(typing).toMatch(/│ {2}https:\/\/127\.0\.0\.1:\d+\/api\/federation\/v1\/enroll\/•{24}/);
    tty.press('Enter');
    await tty.waitFor('◆  CA pin you were given');
    expect(tty.screen()).toMatch(/^│ {2}https:\/\/127\.0\.0\.1:\d+\/api\/federation\/v1\/enroll\/<redacted>$/m);
    expect(tty.screen()).toMatch(/^◇ {2}127\.0\.0\.1:\d+ presents a CA for gateway "work" \(not trusted until the pins match\)$/m);
    // the pin as the serving admin dictated it: grouped, upper case
    tty.type(t.caPin.slice('sha256:'.length).toUpperCase().replace(/(.{4})(?!$)/g, '$1 '));
    tty.press('Enter');
    const pins = await tty.waitFor('◆  Name for this peer');
    const groups = t.caPin.slice('sha256:'.length).toUpperCase().match(/.{4}/g)!;
    expect(pins).toContain('✔  CA key pins match');
    expect(pins).toMatch(new RegExp(`│ {2}presented by 127\\.0\\.0\\.1:\\d+ {2}${groups.slice(0, 8).join(' ')}\\n│ +${groups.slice(8).join(' ')}\\n│ {2}you were given +${groups.slice(0, 8).join(' ')}`));
    expect(pins).toMatch(/│ {2}work/); // the suggested name: the serving gateway's own
    tty.press('Enter'); // accept "work"
    await tty.waitFor('◆  Local user this peer belongs to');
    tty.type('alice');
    tty.press('Enter');
    const done = await tty.waitFor(/└ {2}Peer "work" is active/);
    expect(done.split('\n').every((l) => l.length <= 100)).toBe(true);
    expect(await tty.exited()).toBe(0);
    expect(done).toMatch(/^◇ {2}Generated a P-256 key · sent the CSR · certificate issued \(serial [0-9a-f:]+…, expires in (29|30)d\)$/m);
    expect(done).toMatch(/^◇ {2}Checked the link: work lets alice read tasks, notes \(max 100 rows, 60 req\/min\)$/m);
    expect(done).toMatch(/^◇ {2}Owned by local user alice: only alice's queries reach it$/m);
    expect(done).toMatch(/^└ {2}Peer "work" is active\. {2}Next: {2}mosaic federation query list tasks --source federated:work$/m);
    expect(tty.screen()).not.toContain(t.token);
    expect(await peerNames()).toEqual(['work']);
    const peer = await homeGw.admin.getPeer('work');
    expect(peer).toMatchObject({ localUserId: 'alice', grantId: t.grant.id, caPin: t.caPin, state: 'active' });
  });

  it('a pin mismatch stops before the token is sent: both pins shown with the differing groups marked, exit 1, nothing stored, token unused', async () => {
    const t = await enrollmentToken(work, { user: 'alice' });
    const tty = wizard();
    await tty.waitFor('◆  Enrollment URL');
    tty.type(t.enrollmentUrl);
    tty.press('Enter');
    await tty.waitFor('◆  CA pin you were given');
    // one group off, as a misread digit would be
    const hex = t.caPin.slice('sha256:'.length);
    const wrong = `sha256:${hex.slice(0, 40)}${hex[40] === '0' ? '1' : '0'}${hex.slice(41)}`;
    tty.type(wrong);
    tty.press('Enter');
    const screen = await tty.waitFor('hint:');
    expect(await tty.exited()).toBe(1);
    expect(screen).toContain('■  The CA key pins differ');
    // the one group that differs (the 11th: the 3rd of the second line) is marked under it
    const given = wrong.slice('sha256:'.length).toUpperCase().match(/.{4}/g)!;
    expect(screen).toMatch(new RegExp(`│ {2}you were given +${given.slice(0, 8).join(' ')}\\n│ +${given.slice(8).join(' ')}\\n│ +\\^{4}\\n`));
    expect(screen.match(/\^{4}/g)).toHaveLength(1);
    const lines = screen.split('\n');
    const marks = lines.findIndex((l) => l.includes('^^^^'));
    expect(lines[marks - 1]!.indexOf(given[10]!)).toBe(lines[marks]!.indexOf('^^^^'));
    expect(screen).toMatch(/^error: the CA at 127\.0\.0\.1:\d+ presents another key pin than the one you were given: nothing was s/m);
    expect(screen).toMatch(/^hint: confirm the pin with the serving admin over a second channel/m);
    expect(await peerNames()).toEqual([]);
    expect(await stillUnused(t)).toBe(true);
  });

  it('Ctrl-C mid-way (at the name) leaves nothing stored and the token unused: exit 130', async () => {
    const t = await enrollmentToken(work, { user: 'alice' });
    const tty = wizard();
    await tty.waitFor('◆  Enrollment URL');
    tty.type(t.enrollmentUrl);
    tty.press('Enter');
    await tty.waitFor('◆  CA pin you were given');
    tty.type(t.caPin);
    tty.press('Enter');
    await tty.waitFor('◆  Name for this peer');
    tty.press('C-c');
    const screen = await tty.waitFor('Cancelled: nothing was stored, and the token is still unused.');
    expect(await tty.exited()).toBe(130);
    expect(screen).toContain('■  Name for this peer');
    expect(await peerNames()).toEqual([]);
    expect(await stillUnused(t)).toBe(true);
  });

  it('Ctrl-C while pasting the URL: exit 130, nothing stored; an invalid URL is refused in place without echoing it', async () => {
    const tty = wizard();
    await tty.waitFor('◆  Enrollment URL');
    tty.type('https://work.example.net:8443/api/federation/v1/enrol/abc');
    tty.press('Enter');
    await tty.waitFor('└  not an enrollment URL: the path must end in /api/federation/v1/enroll/<token>');
    tty.press('C-c');
    await tty.waitFor('Cancelled: nothing was stored');
    expect(await tty.exited()).toBe(130);
    expect(await peerNames()).toEqual([]);
  });

  it('peer remove asks on a terminal: n keeps the peer (exit 1), Ctrl-C too (exit 130), y removes it', async () => {
    const t = await enrollmentToken(work, { user: 'alice' });
    await homeGw.admin.addPeer({ enrollmentUrl: t.enrollmentUrl, caPin: t.caPin, name: 'work' });
    const remove = () => (term = openTerminal(home.dir, home.env, ['federation', 'peer', 'remove', 'work', '--data-dir', homeGw.dataDir]));
    const no = remove();
    await no.waitFor(/Remove peer "work" \(https:\/\/127\.0\.0\.1:\d+, owned by alice\)\? .*\[y\/N\]/s);
    no.type('n');
    no.press('Enter');
    await no.waitFor('kept peer "work": nothing removed');
    expect(await no.exited()).toBe(1);
    no.close();
    const interrupted = remove();
    await interrupted.waitFor('Remove peer "work"');
    interrupted.press('C-c');
    await interrupted.waitFor('cancelled: nothing removed');
    expect(await interrupted.exited()).toBe(130);
    interrupted.close();
    expect(await peerNames()).toEqual(['work']);
    const yes = remove();
    await yes.waitFor('Remove peer "work"');
    yes.type('y');
    yes.press('Enter');
    const screen = await yes.waitFor('removed peer "work"');
    expect(await yes.exited()).toBe(0);
    expect(screen).toContain('its key and certificate are deleted here');
    expect(await peerNames()).toEqual([]);
  });

  it('with the URL and --ca-pin given on a terminal there is no wizard; with the URL alone it starts at the pin', async () => {
    const t = await enrollmentToken(work, { user: 'alice' });
    const tty = wizard(t.enrollmentUrl);
    const screen = await tty.waitFor('◆  CA pin you were given');
    expect(screen).toMatch(/^│ {2}https:\/\/127\.0\.0\.1:\d+\/api\/federation\/v1\/enroll\/<redacted>$/m);
    expect(screen).not.toContain(t.token);
    tty.press('Escape');
    expect(await tty.exited()).toBe(130);
    expect(await stillUnused(t)).toBe(true);
  });
});
