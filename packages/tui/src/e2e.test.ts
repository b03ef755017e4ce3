/**
 * The TUI end to end: the built `mosaic-tui` in a real terminal (tmux, 100×30) against two real
 * gateways started here — home enrolled as a peer of work. Keys are sent as a person types
 * them; assertions are on the captured screen. Set TUI_CAPTURE_DIR to keep each screen's text
 * (docs/tui.md is made from them).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

const capture = (name: string, screen: string) => {
  const dir = process.env.TUI_CAPTURE_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.txt`), screen.replace(/\s+$/gm, '').trimEnd() + '\n');
};

describe.skipIf(!available)('mosaic-tui in a real terminal against real gateways', () => {
  let fed: TwoGateways;
  let term: Terminal;

  beforeAll(async () => {
    fed = await startTwoGateways();
  });
  afterAll(async () => {
    term?.close();
    await fed?.close();
  });

  it('switches tabs and gateways, edits and saves a scope, tails a real federation request within 2 s, pauses, and quits cleanly', async () => {
    // one call home → work first (a search: the audit step below waits for a list), so the
    // Peers table has a latency to show
    await fed.query('search');
    term = openTerminal(fed.home, { ...process.env, ...fed.env, MOSAIC_GATEWAY_URL: '', MOSAIC_ADMIN_TOKEN: '', MOSAIC_DATA_DIR: '' }, ['--data-dir', fed.homeGw.dataDir]);

    // Peers on home: work, enrolled and active, with the latency of that call.
    await term.waitFor(/mosaic · home.*● live/);
    let screen = await term.waitFor(/▶work\s+active\s+\S+\s+\S+\s+closed\s+\d+ ms/);
    expect(screen).toContain('1 Peers]');
    capture('peers', screen);
    term.press('Enter');
    screen = await term.waitFor('CA pin');
    capture('peer-details', screen);
    await escape(term);

    // Help lists the keys.
    term.type('?');
    screen = await term.waitFor('Keys — ? or Esc closes');
    expect(screen).toContain('switch gateway');
    capture('help', screen);
    await escape(term);

    // The gateway switcher finds both local data dirs; switch to work.
    term.type('g');
    screen = await term.waitFor('Switch gateway');
    expect(screen).toMatch(/work\s+127\.0\.0\.1:\d+/);
    capture('gateways', screen);
    const lines = screen.split('\n');
    const workLine = lines.findIndex((l) => /^[ ▶]work\s/.test(l.replace(/^│/, '')));
    const homeLine = lines.findIndex((l) => /^[ ▶]home\s/.test(l.replace(/^│/, '')));
    term.press(workLine < homeLine ? 'Up' : 'Down', 'Enter');
    await term.waitFor(/mosaic · work.*● live/);

    // Grants: the grant to home; open the editor, type an invalid max rows, see the error inline.
    term.type('2');
    screen = await term.waitFor(/▶\S+…\s+alice\s+home\s+active/);
    capture('grants', screen);
    term.press('Enter');
    await term.waitFor('Grant ');
    for (let i = 0; i < 9; i++) term.press('Down');
    await term.waitFor(/▶max rows\/query\s+500/);
    term.press('Enter', 'BSpace', 'BSpace', 'BSpace');
    term.type('20000');
    screen = await term.waitFor('max_rows_per_query: must be at most 10000');
    capture('grant-editor-error', screen);
    term.press('BSpace', 'BSpace', 'BSpace', 'BSpace', 'BSpace');
    term.type('50');
    term.press('Enter');
    screen = await term.waitFor(/▶max rows\/query\s+50 [\s\S]*unsaved changes/);
    capture('grant-editor', screen);
    term.type('s');
    await term.waitFor('saved grant');
    expect((await fed.work.admin.getGrant(fed.grant.id)).scope.max_rows_per_query).toBe(50);
    await escape(term);

    // Audit: a real federation request (home lists work's tasks) shows up within 2 s.
    term.type('3');
    await term.waitFor('Audit ·');
    const t0 = Date.now();
    await fed.query();
    screen = await term.waitFor(/\d\d:\d\d:\d\d\s+home\s+alice\s+list\s+tasks\s+allowed\s+200/, 2000);
    const lag = Date.now() - t0;
    expect(lag).toBeLessThan(2000);
    capture('audit', screen);

    // Pause: new rows are counted, not shown; resume shows them.
    term.type(' ');
    await term.waitFor('⏸ paused — 0 new');
    await fed.query('search');
    screen = await term.waitFor('⏸ paused — 1 new', 3000);
    capture('audit-paused', screen);
    term.type(' ');
    await term.waitFor(/Audit · \d+ row\(s\) kept · ● following/);

    // Enter on a row (paused selection) shows its trace id.
    term.press('Up', 'Enter');
    screen = await term.waitFor('trace id');
    capture('audit-row', screen);
    await escape(term);

    term.type('q');
    expect(await term.exited()).toBe(0);
    // The alternate screen is gone: the shell's screen is back, no TUI frame left over.
    expect(term.screen()).not.toContain('mosaic · work');
  });
});
