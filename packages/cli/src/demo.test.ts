// `mosaic demo`: the built binary as a child process (run `pnpm build` first), as a newcomer runs
// it — in a pipe (--no-tui, --json), interrupted with SIGINT, and on a real terminal (tmux, 100×30)
// where it opens the TUI. Each run gets its own TMPDIR, HOME and XDG dirs, so "nothing left
// behind" is checked by listing them afterwards.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { runDemo } from './commands/demo/index.js';
import { DEMO_TEMP_PREFIX, type DemoSession } from './commands/demo/session.js';
import type { Steps } from './commands/demo/steps.js';
import { BIN, mosaic, testHome } from './test-support/gateways.js';
import { openTerminal, tmuxAvailable, type Terminal } from './test-support/terminal.js';

const home = testHome('mosaic-cli-demo-');
afterAll(() => home.cleanup());

let runs = 0;
/** A fresh TMPDIR (where the demo makes its dir), HOME and XDG dirs for one run. */
function sandbox(): { env: NodeJS.ProcessEnv; tmp: string; dirs: string[] } {
  const base = join(home.dir, `run-${++runs}`);
  const tmp = join(base, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const dirs = [join(base, 'home'), join(base, 'config'), join(base, 'share')];
  return { env: { ...home.env, TMPDIR: tmp, HOME: dirs[0], XDG_CONFIG_HOME: dirs[1], XDG_DATA_HOME: dirs[2] }, tmp, dirs };
}

/** The demo dirs left in a TMPDIR. */
const leftovers = (tmp: string) => readdirSync(tmp).filter((n) => n.startsWith(DEMO_TEMP_PREFIX));

/** The temp dir and admin URLs a run announced on stderr. */
function announced(stderr: string): { dir: string | undefined; adminUrls: string[] } {
  return { dir: /temp dir (\S+)/.exec(stderr)?.[1], adminUrls: [...stderr.matchAll(/admin (http:\/\/127\.0\.0\.1:\d+)/g)].map((m) => m[1]!) };
}

/** True when nothing answers at `url` any more (the gateway is gone with the process). */
async function refused(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    return false;
  } catch {
    return true;
  }
}

describe('mosaic demo, off a terminal', () => {
  it('--no-tui: every step on one line, the merged rows tagged local and federated:work, the refused credential with its audit row; exit 0 in under 10 s, nothing left behind', async () => {
    const { env, tmp, dirs } = sandbox();
    const started = performance.now();
    const r = mosaic(env, ['demo', '--no-tui']);
    const ms = performance.now() - started;
    expect(r.code, r.stderr).toBe(0);
    expect(ms).toBeLessThan(10_000);

    // progress on stderr: a line per step, no spinner and no colour in a pipe
    for (const step of [
      /^✔ Started work {2}admin http:\/\/127\.0\.0\.1:\d+ · federation https:\/\/127\.0\.0\.1:\d+$/m,
      /^✔ Started home {2}admin /m,
      /^✔ Seeded work: 3 users, 2 teams, 6 tasks, 3 notes, 2 memory rows, 1 credential$/m,
      /^✔ Seeded home: alice's own 2 tasks, 1 note {2}\d+ ms$/m,
      /^✔ Grant [0-9a-f]{8}… on work: alice → home may read tasks, notes; not credentials, api_keys/m,
      /^✔ Issued an enrollment token \(single use, 15 min\); work's CA pin sha256:[0-9a-f]{12}…/m,
      /^✔ Added peer work on home \(pinned to work's CA\): active, cert /m,
      /^✔ Queried tasks on home as alice: 6 rows — 2 local, 4 federated:work/m,
      /^✔ Asked work for alice's credential cred-vpn: refused, 403 RESOURCE_DENIED/m,
      /^✔ Work's audit log has it: get credentials → denied 403, trace [0-9a-f]{12}…/m,
      /^✔ Stopped both gateways and removed \S+mosaic-demo-\w+$/m,
      /^Done in \d+(\.\d)? m?s\.$/m,
    ]) {
      expect(r.stderr).toMatch(step);
    }
    expect(r.stderr).not.toContain('no TUI'); // --no-tui asked for none: nothing to explain
    // eslint-disable-next-line no-control-regex -- asserting their absence
    expect(r.stderr + r.stdout).not.toMatch(/\u001b/);

    // results on stdout: the merged table, as `query list` prints it
    const rows = r.stdout.split('\n').filter((l) => /^(local|federated:work) /.test(l));
    expect(rows.map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual([
      'local home-1',
      'local home-2',
      'federated:work task-101',
      'federated:work task-102',
      'federated:work task-201',
      'federated:work task-202',
    ]);
    // Bob's personal task and the Operations team's are not Alice's to read
    expect(r.stdout).not.toMatch(/task-301|task-401/);
    // the refusal, as a failed source; the credential's content never shows
    expect(r.stdout).toMatch(/^warning: federated:work failed \(RESOURCE_DENIED\): /m);
    expect(r.stdout + r.stderr).not.toContain('not a real password');
    // work's audit row: verb, outcome, status, then its trace id
    expect(r.stdout).toMatch(/^now +home +get +credent… +denied +403 +0 /m);
    expect(r.stdout).toMatch(/^ {2}trace id +[0-9a-f]{32}$/m);

    // nothing left: the announced dir, the TMPDIR, the person's HOME and XDG dirs, the gateways
    const { dir, adminUrls } = announced(r.stderr);
    expect(dir).toContain(tmp);
    expect(existsSync(dir!)).toBe(false);
    expect(leftovers(tmp)).toEqual([]);
    for (const d of dirs) expect(existsSync(d)).toBe(false);
    expect(adminUrls).toHaveLength(2);
    for (const url of adminUrls) expect(await refused(url)).toBe(true);
  });

  it('--json: stdout is one JSON document (the admin API bodies); no token in it; progress stays on stderr', () => {
    const { env, tmp } = sandbox();
    const r = mosaic(env, ['demo', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      tempDir: string;
      durationMs: number;
      gateways: Record<'work' | 'home', { adminUrl: string; federationUrl: string; caPin: string }>;
      peer: { name: string; state: string; caPin: string };
      query: { items: Array<{ _source: string; id: string }>; partial: boolean };
      denied: { query: { items: unknown[]; sources: Array<{ source: string; ok: boolean; error?: { code: string } }> }; audit: { verb: string; resource: string; outcome: string; statusCode: number; traceId: string; peer: string } };
    };
    expect(new Set(doc.query.items.map((i) => i._source))).toEqual(new Set(['local', 'federated:work']));
    expect(doc.query.partial).toBe(false);
    expect(doc.peer).toMatchObject({ name: 'work', state: 'active', caPin: doc.gateways.work.caPin });
    expect(doc.denied.query.items).toEqual([]);
    expect(doc.denied.query.sources).toEqual([expect.objectContaining({ source: 'federated:work', ok: false, error: expect.objectContaining({ code: 'RESOURCE_DENIED' }) })]);
    expect(doc.denied.audit).toMatchObject({ verb: 'get', resource: 'credentials', outcome: 'denied', statusCode: 403, peer: 'home' });
    expect(doc.denied.audit.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(doc.durationMs).toBeLessThan(10_000);
    expect(r.stdout).not.toMatch(/\/enroll\/|admin-token|MOSAIC_SECRET/);
    expect(r.stderr).toMatch(/^✔ Stopped both gateways/m);
    expect(r.stderr).not.toContain('Not a terminal');
    expect(existsSync(doc.tempDir)).toBe(false);
    expect(leftovers(tmp)).toEqual([]);
  });

  it('a reader that stops early (mosaic demo | head -2, 2>&1 | head -2): nothing left behind either way', () => {
    const { env, tmp } = sandbox();
    const cmd = `'${process.execPath}' '${BIN}' demo --no-tui`;
    const out = spawnSync('sh', ['-c', `${cmd} 2>/dev/null | head -2; ${cmd} 2>&1 >/dev/null | head -2`], { env, encoding: 'utf8', timeout: 30_000 });
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(/^on home: {2}mosaic federation query list tasks/m);
    expect(out.stdout).toMatch(/^◆ mosaic demo/m);
    expect(leftovers(tmp)).toEqual([]);
  });

  it('a temp dir that cannot be made: one error line and a hint, exit 1', () => {
    const { env } = sandbox();
    const file = join(home.dir, 'not-a-dir');
    writeFileSync(file, '');
    const r = mosaic({ ...env, TMPDIR: join(file, 'tmp') }, ['demo', '--no-tui']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: cannot make the demo's temp dir in ${join(file, 'tmp')}: ENOTDIR\nhint: point TMPDIR at a writable directory, e.g. TMPDIR=$HOME/tmp pnpm demo\n`);
  });

  /** Start `mosaic demo --no-tui`; SIGINT once stderr matches `when`; the exit code and output. */
  function interrupted(when: RegExp): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; tmp: string }> {
    const { env, tmp } = sandbox();
    const child = spawn(process.execPath, [BIN, 'demo', '--no-tui'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let sent = false;
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!sent && when.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.stdout.resume();
    return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr, tmp })));
  }

  it('SIGINT while the gateways start: exit 130, the step says cancelled, both gateways stopped, the temp dir removed', async () => {
    const r = await interrupted(/temp dir /);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/^Interrupted: stopping both gateways and removing /m);
    expect(r.stderr).toMatch(/^■ Starting gateways work and home .* — cancelled$/m);
    expect(r.stderr).toMatch(/^✔ Stopped both gateways and removed /m);
    expect(r.stderr).not.toMatch(/^Done in/m);
    const { dir } = announced(r.stderr);
    expect(existsSync(dir!)).toBe(false);
    expect(leftovers(r.tmp)).toEqual([]);
  });

  it('SIGINT mid-run, with both gateways up: exit 130 within a second or two, neither answers any more, nothing left', async () => {
    const started = performance.now();
    const r = await interrupted(/✔ Started home/);
    expect(r.code, r.stderr).toBe(130);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(r.stderr).toMatch(/ — cancelled$/m);
    const { dir, adminUrls } = announced(r.stderr);
    expect(adminUrls).toHaveLength(2);
    for (const url of adminUrls) expect(await refused(url)).toBe(true);
    expect(existsSync(dir!)).toBe(false);
    expect(leftovers(r.tmp)).toEqual([]);
  });
});

describe('mosaic demo, a step that fails (in process)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('prints ✖ and the step, stops the gateways it started, removes the temp dir, and fails with one error line and a hint (exit 1)', async () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (written.push(String(chunk)), true));
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let root = '';
    let adminUrl = '';
    const failing = async (session: DemoSession, steps: Steps): Promise<never> => {
      root = session.root;
      const work = await steps.run('Starting gateway work', () => session.start('work'), (g) => `Started ${g.name}`);
      adminUrl = work.adminUrl;
      await steps.run(
        'Seeding work',
        () => Promise.reject(Object.assign(new Error('the seed file is broken'), { code: 'VALIDATION_FAILED', remediation: 'fix the seed' })),
        () => 'never',
      );
      throw new Error('unreachable');
    };
    const err = (await runDemo({ color: false }, { tui: false }, '0.0.0-test', failing).then(
      () => null,
      (e: unknown) => e,
    )) as { code: string; message: string; remediation: string; exitCode: number } | null;
    expect(err).toMatchObject({ code: 'VALIDATION_FAILED', message: 'mosaic demo stopped while seeding work: the seed file is broken', remediation: 'fix the seed', exitCode: 1 });
    // what a terminal would show, should this run on one (a spinner frame ends in \r, then is erased)
    // eslint-disable-next-line no-control-regex -- the escapes are what is removed
    const stderr = written.join('').split('\n').map((l) => l.slice(l.lastIndexOf('\r') + 1).replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')).join('\n');
    expect(stderr).toMatch(/^✔ Started work/m);
    expect(stderr).toMatch(/^✖ Seeding work$/m);
    expect(stderr).toMatch(/^✔ Stopped both gateways and removed /m);
    expect(existsSync(root)).toBe(false);
    expect(await refused(adminUrl)).toBe(true);
  });
});

const available = tmuxAvailable();
if (!available && process.env.CI === 'true') throw new Error('tmux is required for the demo terminal tests (apt-get install tmux; .ci/run installs it)');

describe.skipIf(!available)('mosaic demo on a terminal (tmux, 100×30)', () => {
  let term: Terminal | undefined;
  afterEach(() => {
    term?.close();
    term = undefined;
  });

  /** Run the demo until the TUI shows home's peer `work`, active. */
  async function openDemo(): Promise<{ term: Terminal; tmp: string; dirs: string[] }> {
    const { env, tmp, dirs } = sandbox();
    term = openTerminal(tmp, env, ['demo']);
    await term.waitFor(/mosaic · home[\s\S]*▶work +active/, 20_000);
    return { term, tmp, dirs };
  }

  it('opens the TUI on home, work is in the gateway switcher (g), and q quits: exit 0, the terminal back with the results, nothing left', async () => {
    const { term, tmp, dirs } = await openDemo();
    term.press('g');
    const switcher = await term.waitFor('Switch gateway');
    expect(switcher).toMatch(/▶home +127\.0\.0\.1:\d+ +mosaic demo \(temp dir\) \(open\)/);
    expect(switcher).toMatch(/ work +127\.0\.0\.1:\d+ +mosaic demo \(temp dir\)/);
    term.press('Escape');
    await term.waitFor('Peers (reads from)');
    term.type('q');
    expect(await term.exited()).toBe(0);
    // the alternate screen is gone: the shell's screen shows what the demo printed, and the cleanup
    const screen = await term.waitFor('Stopped both gateways');
    expect(screen).not.toContain('Peers (reads from)');
    expect(screen).toMatch(/^federated:work +task-202 /m);
    expect(screen).toMatch(/^Ready in .* opening the TUI on home/m);
    expect(leftovers(tmp)).toEqual([]);
    for (const d of dirs) expect(existsSync(d)).toBe(false);
  });

  it('Ctrl-C in the TUI: exit 130, both gateways stopped, the temp dir removed', async () => {
    const { term, tmp } = await openDemo();
    term.press('C-c');
    expect(await term.exited()).toBe(130);
    await term.waitFor('Stopped both gateways');
    expect(leftovers(tmp)).toEqual([]);
  });
});
