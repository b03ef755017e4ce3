/**
 * Issue 7's "done when", end to end without leaving the TUI: the built `mosaic-tui` under tmux
 * (100×30) against two real gateways. On home, `a` enrolls a second peer of work through the
 * Ink form (URL typed, pin compared, name chosen); `g` switches to work, whose grant editor
 * tightens that peer's grant (max rows 500 → 1, saved); a real federation request from home
 * then shows in work's audit tail, capped to 1 row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTwoGateways, type TwoGateways } from './test-support/federation.js';
import { openTerminal, tmuxAvailable, type Terminal } from './test-support/terminal.js';

const available = tmuxAvailable();
if (!available && process.env.CI) throw new Error('tmux is required in CI (.ci/run installs it)');

/** Escape, then a pause: a key typed right after it would arrive as Meta+key. */
const escape = async (term: Terminal) => {
  term.press('Escape');
  await new Promise((r) => setTimeout(r, 150));
};

describe.skipIf(!available)('mosaic-tui: enroll a peer, tighten its grant, watch the effect (tmux, real gateways)', () => {
  let fed: TwoGateways;
  let term: Terminal;

  beforeAll(async () => {
    fed = await startTwoGateways();
  });
  afterAll(async () => {
    term?.close();
    await fed?.close();
  });

  it('a adds a peer through the form; the grant editor on the serving side caps it; the next request shows in the audit tail with 1 row', async () => {
    // work's admin made a grant and a token for home, and sent the URL and the pin over
    const grant = await fed.work.admin.createGrant({ subjectUserId: 'alice', peerName: 'home', scope: { resources: ['tasks', 'notes'], max_rows_per_query: 500 } });
    const { enrollmentUrl, caPin } = await fed.work.admin.createToken(grant.id);

    term = openTerminal(fed.home, { ...process.env, ...fed.env, MOSAIC_GATEWAY_URL: '', MOSAIC_ADMIN_TOKEN: '', MOSAIC_DATA_DIR: '' }, ['--data-dir', fed.homeGw.dataDir]);
    await term.waitFor(/mosaic · home.*● live/);
    await term.waitFor(/▶work\s+active/);

    // Peers → a: the URL (its token drawn as dots), the pin compared, a name
    term.type('a');
    await term.waitFor('Add a federation peer');
    term.type(enrollmentUrl);
    let screen = await term.waitFor('/enroll/••••');
    expect(screen).not.toContain(enrollmentUrl.split('/enroll/')[1]!);
    term.press('Enter');
    await term.waitFor('presents this CA key pin');
    term.type(caPin);
    term.press('Enter');
    await term.waitFor(/› Name/);
    term.type('work-2');
    term.press('Enter');
    await term.waitFor('✔ peer work-2 is active');
    await term.waitFor(/work-2\s+active/);
    expect(await fed.homeGw.admin.getPeer('work-2')).toMatchObject({ state: 'active', grantId: grant.id });
    expect((await fed.work.admin.getGrant(grant.id)).status).toBe('active');

    // g → work; Grants; select the new grant; the editor: max rows 500 → 1; save
    term.type('g');
    screen = await term.waitFor('Switch gateway');
    const lines = screen.split('\n');
    const workLine = lines.findIndex((l) => /^[ ▶]work\s/.test(l.replace(/^│/, '')));
    const homeLine = lines.findIndex((l) => /^[ ▶]home\s/.test(l.replace(/^│/, '')));
    term.press(workLine < homeLine ? 'Up' : 'Down', 'Enter');
    await term.waitFor(/mosaic · work.*● live/);
    term.type('2');
    const short = grant.id.slice(0, 8);
    await term.waitFor(new RegExp(`${short}…\\s+alice\\s+home\\s+active`));
    for (let i = 0; i < 3 && !new RegExp(`▶${short}`).test(term.screen()); i++) {
      term.press('Down');
      await new Promise((r) => setTimeout(r, 150));
    }
    await term.waitFor(new RegExp(`▶${short}…`));
    term.press('Enter');
    await term.waitFor(`Grant ${short}`);
    for (let i = 0; i < 9; i++) term.press('Down');
    await term.waitFor(/▶max rows\/query\s+500/);
    term.press('Enter', 'BSpace', 'BSpace', 'BSpace');
    term.type('1');
    term.press('Enter');
    await term.waitFor(/▶max rows\/query\s+1 [\s\S]*unsaved changes/);
    term.type('s');
    await term.waitFor('saved grant');
    expect((await fed.work.admin.getGrant(grant.id)).scope.max_rows_per_query).toBe(1);
    await escape(term);

    // Audit: home lists work's tasks through work-2 (alice sees two there); work answers one row
    term.type('3');
    await term.waitFor('Audit ·');
    await fed.homeGw.admin.query({ verb: 'list', resource: 'tasks', source: 'federated:work-2', asUser: 'alice' } as never);
    await term.waitFor(/\d\d:\d\d:\d\d\s+home\s+alice\s+list\s+tasks\s+allowed\s+200\s+1\s/, 5000);
    const rows = (await fed.work.admin.audit({ grant: grant.id, verb: 'list' })).items;
    expect(rows.map((r) => r.rowsOut)).toEqual([1]);

    term.type('q');
    expect(await term.exited()).toBe(0);
  });
});
