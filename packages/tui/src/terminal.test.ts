/**
 * The TUI and the terminal it runs in (issue 7, "Quality"): the built `mosaic-tui` under tmux
 * against two real gateways. Ctrl-C and a crash inside the app both leave the alternate screen,
 * show the cursor again and leave nothing of the TUI behind; NO_COLOR=1 draws no colour
 * escape; a resize redraws to the new size, at 80×24 and larger. Terminal modes are tmux's own
 * view of the pane (`alternate_on`, `cursor_flag`), read after the program has exited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTwoGateways, type TwoGateways } from './test-support/federation.js';
import { CRASH_FIXTURE, openTerminal, tmuxAvailable, type Terminal } from './test-support/terminal.js';

const available = tmuxAvailable();
if (!available && process.env.CI) throw new Error('tmux is required in CI (.ci/run installs it)');

// eslint-disable-next-line no-control-regex -- SGR colour escapes: 30–37/90–97 (and 38;…) foreground, 40–47/100–107 background
const COLOUR = /\u001b\[(?:[0-9;]*;)?(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m/;
const widest = (screen: string) => Math.max(...screen.split('\n').map((l) => [...l].length));

describe.skipIf(!available)('mosaic-tui and its terminal (tmux, real gateways)', () => {
  let fed: TwoGateways;
  const terms: Terminal[] = [];
  const open = (size = { columns: 80, rows: 24 }, options: { noColor?: boolean; script?: string; args?: string[] } = {}) => {
    const env = { ...process.env, ...fed.env, MOSAIC_GATEWAY_URL: '', MOSAIC_ADMIN_TOKEN: '', MOSAIC_DATA_DIR: '' };
    const term = openTerminal(fed.home, env, options.args ?? ['--data-dir', fed.homeGw.dataDir], size, options);
    terms.push(term);
    return term;
  };

  beforeAll(async () => {
    fed = await startTwoGateways();
  });
  afterAll(async () => {
    for (const t of terms) t.close();
    await fed?.close();
  });

  it('Ctrl-C: exit 130; the alternate screen is left, the cursor shown again, nothing of the TUI left on the screen', async () => {
    const term = open();
    await term.waitFor(/▶work\s+active/);
    // while it runs: the alternate screen, no cursor
    expect(term.modes()).toEqual({ alternateScreen: true, cursorVisible: false });
    term.press('C-c');
    expect(await term.exited()).toBe(130);
    expect(term.modes()).toEqual({ alternateScreen: false, cursorVisible: true });
    expect(term.screen().trim()).toBe('');
  });

  it('a crash inside the app (a component throws while rendering): exit 1, the terminal restored, one error line and nothing else', async () => {
    const term = open(undefined, { script: CRASH_FIXTURE, args: [fed.homeGw.dataDir] });
    await term.waitFor(/▶work\s+active/);
    expect(term.modes().alternateScreen).toBe(true);
    // the next peer poll (2 s) brings the answer that breaks the table
    expect(await term.exited(20_000)).toBe(1);
    expect(term.modes()).toEqual({ alternateScreen: false, cursorVisible: true });
    const left = term.screen().trim().split('\n');
    expect(left).toHaveLength(1);
    expect(left[0]).toMatch(/^error: .*(circuit|replace)/);
    expect(term.screen()).not.toContain('mosaic · home');
  });

  it('NO_COLOR=1: no colour escape anywhere on the screen (without it, the same screen has colour)', async () => {
    const plain = open(undefined, { noColor: true });
    await plain.waitFor(/▶work\s+active/);
    await plain.waitFor('● live');
    const screen = plain.screen({ escapes: true });
    expect(screen).toContain('▶work');
    expect(screen).not.toMatch(COLOUR);
    plain.type('q');
    expect(await plain.exited()).toBe(0);

    const coloured = open();
    await coloured.waitFor(/▶work\s+active/);
    await coloured.waitFor('● live');
    expect(coloured.screen({ escapes: true })).toMatch(COLOUR);
    coloured.type('q');
    expect(await coloured.exited()).toBe(0);
  });

  it('resize: redraws to the new size — 80×24, then 120×40, then back to 80×24 — with nothing left over', async () => {
    const term = open({ columns: 80, rows: 24 });
    const screen = await term.waitFor(/▶work\s+active/);
    expect(widest(screen)).toBe(80);
    expect(keyLineRow(screen)).toBe(24); // the key line on the last row

    term.resize(120, 40);
    // the panels' borders span the new width; the key line moves to the new last row
    const wide = await waitUntil(term, (s) => s.split('\n').some((l) => /^┌ Peers .*┐$/.test(l) && [...l].length === 120) && keyLineRow(s) === 40);
    expect(widest(wide)).toBe(120);

    term.resize(80, 24);
    const narrow = await waitUntil(term, (s) => s.split('\n').some((l) => /^┌ Peers .*┐$/.test(l) && [...l].length === 80) && keyLineRow(s) === 24);
    expect(widest(narrow)).toBe(80);
    expect(narrow.split('\n').filter((l) => l.includes('┌ Peers'))).toHaveLength(1);
    term.type('q');
    expect(await term.exited()).toBe(0);
  });
});

/** The 1-based row of the key line (` ↑↓ select …`), or 0. */
function keyLineRow(screen: string): number {
  return screen.split('\n').findIndex((l) => l.startsWith(' ↑↓ select')) + 1;
}

/** Wait until the screen satisfies `ok`; throws with the screen after 15 s. */
async function waitUntil(term: Terminal, ok: (screen: string) => boolean, ms = 15_000): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const screen = term.screen();
    if (ok(screen)) return screen;
    if (Date.now() > end) throw new Error(`the terminal never got there; it shows:\n${screen}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
