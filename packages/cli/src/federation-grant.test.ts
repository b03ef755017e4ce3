// `mosaic federation grant …` and `federation status` — the real binary as a child process
// against real gateways it starts itself (run `pnpm build` first). The interactive cases (the
// $EDITOR flow, the revoke question) run in a real terminal (tmux).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainResponseSchema, grantListSchema, grantSchema, peerListSchema, statusReportSchema, tokenResponseSchema, type Grant } from '@mosaic/federation-core';
import { BIN, mosaic, startChildGateway, testHome, type ChildGateway } from './test-support/gateways.js';
import { openTerminal, tmuxAvailable } from './test-support/terminal.js';

const home = testHome('mosaic-cli-grant-');
let work: ChildGateway;
/** `mosaic … --data-dir <work's>`, stdin a pipe (never a terminal). */
const atWork = (args: string[], input?: string) => mosaic(home.env, [...args, '--data-dir', work.dataDir], input);
const json = <T>(r: { stdout: string }) => JSON.parse(r.stdout) as T;
const TASKS = { resources: ['tasks'] };

async function newGrant(peerName: string, scope: unknown = TASKS, extra: Record<string, unknown> = {}): Promise<Grant> {
  return work.admin.createGrant({ subjectUserId: 'alice', peerName, scope: scope as never, ...extra });
}

beforeAll(async () => {
  work = await startChildGateway('work', home);
  await work.admin.seed({
    users: [
      { id: 'alice', name: 'Alice' },
      { id: 'bob', name: 'Bob' },
    ],
    teams: [
      { id: 't-eng', name: 'Eng' },
      { id: 't-ops', name: 'Ops' },
    ],
    memberships: [
      { teamId: 't-eng', userId: 'alice' },
      { teamId: 't-ops', userId: 'alice' },
    ],
    resources: {
      tasks: [
        { id: 'task-1', ownerUserId: 'alice', title: 'Alice personal' },
        { id: 'task-2', teamId: 't-eng', title: 'Eng roadmap' },
        { id: 'task-3', teamId: 't-ops', title: 'Ops rota' },
        { id: 'task-4', ownerUserId: 'bob', title: "Bob's" },
      ],
      notes: [{ id: 'note-1', ownerUserId: 'alice', title: 'A note' }],
    },
  });
});

afterAll(async () => {
  await work?.stop();
  home.cleanup();
});

describe('grant create', () => {
  it('reads the scope from stdin, prints the grant and the next step; --json is the Grant body', () => {
    const r = atWork(['federation', 'grant', 'create', '--user', 'alice', '--peer', 'home', '--scope', '-', '--expires-in', '90d'], JSON.stringify({ resources: ['tasks', 'notes'], max_rows_per_query: 500 }));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^✔ created grant [0-9a-f-]{36} \(alice → home\), pending$/m);
    expect(r.stdout).toMatch(/^ {2}may read +tasks, notes · max 500 rows · 60 req\/min$/m);
    expect(r.stdout).toMatch(/^ {2}expires +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \(in 90d\)$/m);
    expect(r.stdout).toMatch(/^next: mosaic federation grant token [0-9a-f]{8} /m);

    const file = join(home.dir, 'scope.json');
    writeFileSync(file, JSON.stringify(TASKS));
    const j = atWork(['federation', 'grant', 'create', '--user', 'alice', '--peer', 'lab', '--scope', file, '--json']);
    expect(j.code).toBe(0);
    const g = grantSchema.parse(JSON.parse(j.stdout));
    expect(g).toMatchObject({ subjectUserId: 'alice', peerName: 'lab', status: 'pending', expiresAt: null });
  });

  it('an invalid scope is exit 2 with every problem and its path, and creates nothing', async () => {
    const before = (await work.admin.listGrants()).items.length;
    const r = atWork(['federation', 'grant', 'create', '--user', 'alice', '--peer', 'home', '--scope', '-'], JSON.stringify({ resources: ['tasks', 'Tasks'], max_rows_per_query: 0, extra: 1 }));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error: invalid scope/m);
    expect(r.stderr).toMatch(/^ {2}resources\[1\]: "Tasks" is not a known resource — did you mean "tasks"\?/m);
    expect(r.stderr).toMatch(/^ {2}max_rows_per_query: must be at least 1/m);
    expect(r.stderr).toMatch(/^ {2}extra: unknown key/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const j = atWork(['federation', 'grant', 'create', '--user', 'alice', '--peer', 'home', '--scope', '-', '--json'], '{"resources":[]}');
    expect(j.code).toBe(2);
    expect(JSON.parse(j.stderr)).toMatchObject({ error: { code: 'SCOPE_INVALID' } });
    expect((await work.admin.listGrants()).items.length).toBe(before);
  });

  it('credentials need --allow-sensitive; a missing flag, a bad duration or an unknown user are refused', () => {
    const sensitive = JSON.stringify({ resources: ['tasks', 'credentials'] });
    const refused = atWork(['federation', 'grant', 'create', '--user', 'alice', '--peer', 'vault', '--scope', '-'], sensitive);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--allow-sensitive');
    expect(atWork(['federation', 'grant', 'create', '--user', 'alice', '--peer', 'vault', '--scope', '-', '--allow-sensitive'], sensitive).code).toBe(0);
    const missing = atWork(['federation', 'grant', 'create', '--peer', 'home', '--scope', '-'], '{}');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--user');
    expect(atWork(['federation', 'grant', 'create', '--user', 'alice', '--peer', 'home', '--scope', '-', '--expires-in', '90'], JSON.stringify(TASKS)).code).toBe(2);
    const nobody = atWork(['federation', 'grant', 'create', '--user', 'nobody', '--peer', 'home', '--scope', '-'], JSON.stringify(TASKS));
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/^error: no user "nobody"/m);
  });
});

describe('grant list and show', () => {
  it('lists grants in an 80-column table with id prefixes and relative expiry; filters; --json is the API body', async () => {
    const g = await newGrant('filtered', TASKS, { expiresAt: new Date(Date.now() + 6 * 86_400_000 + 3_600_000).toISOString() });
    const r = atWork(['federation', 'grant', 'list']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STATUS\s+SUBJECT\s+PEER\s+RESOURCES\s+RATE\s+EXPIRES$/);
    expect(lines.find((l) => l.startsWith(`${g.id.slice(0, 8)}…`))).toMatch(/^[0-9a-f]{8}… pending\s+alice\s+filtered\s+tasks\s+60\/min\s+in 6d$/);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);

    const filtered = atWork(['federation', 'grant', 'list', '--peer', 'filtered', '--status', 'pending', '--json']);
    expect(filtered.code).toBe(0);
    expect(grantListSchema.parse(json(filtered)).items.map((x) => x.id)).toEqual([g.id]);
    const none = atWork(['federation', 'grant', 'list', '--peer', 'nobody-here']);
    expect(none).toMatchObject({ code: 0, stdout: '' });
    expect(none.stderr).toContain('no grants match');
    expect(atWork(['federation', 'grant', 'list', '--status', 'bogus']).code).toBe(2);
  });

  it('show takes a unique prefix; an unknown id is exit 1; a 3-character prefix is a usage error', async () => {
    const g = await newGrant('shown');
    const r = atWork(['federation', 'grant', 'show', g.id.slice(0, 6)]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Grant ${g.id} {2}pending$`, 'm'));
    expect(r.stdout).toMatch(/^ {2}resources +tasks$/m);
    expect(grantSchema.parse(json(atWork(['federation', 'grant', 'show', g.id, '--json']))).id).toBe(g.id);
    const unknown = atWork(['federation', 'grant', 'show', '00000000-0000-4000-8000-000000000000', '--json']);
    expect(unknown.code).toBe(1);
    expect(JSON.parse(unknown.stderr)).toMatchObject({ error: { code: 'GRANT_NOT_FOUND' } });
    expect(atWork(['federation', 'grant', 'show', g.id.slice(0, 3)]).code).toBe(2);
    expect(atWork(['federation', 'grant', 'show', 'not-hex!']).code).toBe(2);
  });

  it('a wrong admin token is exit 4, an unreachable gateway exit 1', () => {
    const bad = join(home.dir, 'bad.token');
    writeFileSync(bad, 'x'.repeat(43));
    const r = mosaic(home.env, ['federation', 'grant', 'list', '--gateway', work.adminUrl, '--token-file', bad]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^hint: /m);
    const down = mosaic(home.env, ['federation', 'grant', 'list', '--gateway', 'http://127.0.0.1:1', '--token-file', bad]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error: cannot reach the gateway at http:\/\/127\.0\.0\.1:1: connection refused/m);
  });
});

describe('grant token', () => {
  it('prints the enrollment URL, the grouped CA pin, the exact peer add line and the expiry', async () => {
    const g = await newGrant('tokened');
    const r = atWork(['federation', 'grant', 'token', g.id.slice(0, 8), '--ttl', '10m']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Enrollment token for grant ${g.id.slice(0, 8)}… \\(alice → tokened\\), valid until \\d\\d:\\d\\d \\(10 min\\), single use\\.$`, 'm'));
    const url = /^ {4}(https:\/\/\S+\/api\/federation\/v1\/enroll\/\S+) \\$/m.exec(r.stdout)?.[1];
    expect(url).toBeDefined();
    expect(r.stdout).toContain(`  mosaic federation peer add \\\n    ${url} \\\n    --ca-pin ${work.caPin}\n`);
    const hex = work.caPin.slice('sha256:'.length);
    expect(r.stdout).toContain(`  ${hex.match(/.{4}/g)!.slice(0, 8).join(' ')}\n  ${hex.match(/.{4}/g)!.slice(8).join(' ')}\n`);
    expect(r.stdout).toMatch(/^Expires \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\.$/m);

    const j = atWork(['federation', 'grant', 'token', g.id, '--json']);
    expect(j.code).toBe(0);
    const t = tokenResponseSchema.parse(json(j));
    expect(t.caPin).toBe(work.caPin);
    expect(Date.parse(t.expiresAt) - Date.now()).toBeGreaterThan(14 * 60_000);
  });

  it('--ttl over 15m is exit 2; a revoked grant gets no token (exit 1); --reenroll says what it does', async () => {
    const g = await newGrant('ttl');
    expect(atWork(['federation', 'grant', 'token', g.id, '--ttl', '16m']).code).toBe(2);
    expect(atWork(['federation', 'grant', 'token', g.id, '--ttl', 'soon']).code).toBe(2);
    const re = atWork(['federation', 'grant', 'token', g.id, '--reenroll']);
    expect(re.code).toBe(0);
    expect(re.stdout).toMatch(/^Re-enrollment token for grant/m);
    await work.admin.revokeGrant(g.id);
    const r = atWork(['federation', 'grant', 'token', g.id]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: grant [0-9a-f-]{36} is revoked$/m);
  });
});

describe('grant explain', () => {
  it('shows row by row what the peer would see and the rule that decided each row', async () => {
    const g = await newGrant('explained', { resources: ['tasks'], filters: { tasks: { include_teams: ['t-eng'], include_personal: false } } });
    const r = atWork(['federation', 'grant', 'explain', g.id.slice(0, 8), '--resource', 'tasks']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^What "explained" would see of tasks through grant [0-9a-f]{8}… \(reading as alice\): 1 of 4 rows$/m);
    expect(r.stdout).toMatch(/^task-1\s+Alice personal\s+no\s+filter\.personal$/m);
    expect(r.stdout).toMatch(/^task-2\s+Eng roadmap\s+yes\s+ok$/m);
    expect(r.stdout).toMatch(/^task-3\s+Ops rota\s+no\s+filter\.team$/m);
    expect(r.stdout).toMatch(/^task-4\s+Bob's\s+no\s+rbac$/m);
    expect(r.stdout).toMatch(/^ {2}filter\.team\s+a team row outside filters\.tasks\.include_teams$/m);

    const notes = explainResponseSchema.parse(json(atWork(['federation', 'grant', 'explain', g.id, '--resource', 'notes', '--json'])));
    expect(notes.rows.every((row) => !row.included && row.rule === 'scope.not_listed')).toBe(true);
    expect(atWork(['federation', 'grant', 'explain', g.id, '--resource', 'bogus']).code).toBe(2);
    expect(atWork(['federation', 'grant', 'explain', g.id]).code).toBe(2);
  });
});

describe('grant edit', () => {
  it('--set changes single fields; the gateway enforces the new scope', async () => {
    const g = await newGrant('edited');
    const r = atWork(['federation', 'grant', 'edit', g.id.slice(0, 8), '--set', 'max_rows_per_query=100', '--set', 'resources=tasks,notes', '--set', 'filters.tasks.include_teams=t-eng,t-ops', '--set', 'rate_limit_per_minute=600']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^✔ grant [0-9a-f]{8}… \(alice → edited\) now lets the peer read tasks \(teams t-eng, t-ops; personal rows\), notes · max 100 rows · 600 req\/min$/m);
    const now = await work.admin.getGrant(g.id);
    expect(now.scope).toMatchObject({ resources: ['tasks', 'notes'], max_rows_per_query: 100, rate_limit_per_minute: 600, filters: { tasks: { include_teams: ['t-eng', 't-ops'] } } });
  });

  it('a bad --set is exit 2 naming the key, and changes nothing; --scope replaces; flags that cannot go together are exit 2', async () => {
    const g = await newGrant('edited2');
    const bad = atWork(['federation', 'grant', 'edit', g.id, '--set', 'max_rows_per_query=100000', '--set', 'bogus=1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^ {2}bogus: unknown key/m);
    const range = atWork(['federation', 'grant', 'edit', g.id, '--set', 'max_rows_per_query=100000', '--json']);
    expect(range.code).toBe(2);
    expect(JSON.parse(range.stderr)).toMatchObject({ error: { code: 'SCOPE_INVALID' } });
    expect((await work.admin.getGrant(g.id)).scope.max_rows_per_query).toBe(100);

    const replaced = atWork(['federation', 'grant', 'edit', g.id, '--scope', '-', '--json'], JSON.stringify({ resources: ['notes'], max_rows_per_query: 7 }));
    expect(replaced.code).toBe(0);
    expect(grantSchema.parse(json(replaced)).scope).toMatchObject({ resources: ['notes'], max_rows_per_query: 7 });
    expect(atWork(['federation', 'grant', 'edit', g.id, '--scope', '-', '--set', 'max_rows_per_query=1'], '{}').code).toBe(2);
    const noTty = atWork(['federation', 'grant', 'edit', g.id]);
    expect(noTty.code).toBe(2);
    expect(noTty.stderr).toMatch(/^hint: the \$EDITOR flow runs only on a terminal/m);
    await work.admin.revokeGrant(g.id);
    expect(atWork(['federation', 'grant', 'edit', g.id, '--set', 'max_rows_per_query=5']).code).toBe(1);
  });
});

// A missing tmux skips these on a workstation; in CI (.ci/run installs it) it fails them.
describe.runIf(tmuxAvailable() || process.env.CI === 'true')('on a terminal', () => {
  /** A fake $EDITOR: each call runs the next step of `steps` on the file (and notes its mode and content). */
  function fakeEditor(name: string, steps: string[]): { editor: string; seen: (n: number) => string; mode: (n: number) => string; calls: () => number } {
    const dir = join(home.dir, name);
    spawnSync('mkdir', ['-p', dir]);
    const cases = steps.map((s, i) => `  ${i + 1}) ${s} ;;`).join('\n');
    const editor = join(dir, 'editor.sh');
    writeFileSync(
      editor,
      `#!/bin/sh\nn=$(cat "${dir}/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "${dir}/count"\ncp "$1" "${dir}/seen.$n"; stat -c %a "$1" > "${dir}/mode.$n"\ncase $n in\n${cases}\nesac\n`,
      { mode: 0o700 },
    );
    return {
      editor,
      seen: (n) => readFileSync(join(dir, `seen.${n}`), 'utf8'),
      mode: (n) => readFileSync(join(dir, `mode.${n}`), 'utf8').trim(),
      calls: () => (existsSync(join(dir, 'count')) ? Number(readFileSync(join(dir, 'count'), 'utf8')) : 0),
    };
  }
  const editTemps = () => readdirSync(tmpdir()).filter((f) => f.startsWith('mosaic-grant-edit-'));

  it('grant edit opens $EDITOR on the scope (0600); an invalid save reopens it with the problem on top; the fixed save is applied', async () => {
    const g = await newGrant('editor');
    const before = editTemps();
    const ed = fakeEditor('editor-ok', [`printf '{"resources":["tasks"],"max_rows_per_query":99999}' > "$1"`, `printf '{"resources":["tasks","notes"],"max_rows_per_query":250}' > "$1"`]);
    const term = openTerminal(home.dir, { ...home.env, EDITOR: ed.editor, VISUAL: '' }, ['federation', 'grant', 'edit', g.id.slice(0, 8), '--data-dir', work.dataDir]);
    try {
      expect(await term.exited()).toBe(0);
      expect(term.screen()).toContain('now lets the peer read tasks, notes · max 250 rows');
    } finally {
      term.close();
    }
    expect(ed.calls()).toBe(2);
    expect(ed.mode(1)).toBe('600');
    expect(ed.seen(1)).toMatch(/^# The scope of grant [0-9a-f]{8}… \(alice → editor, pending\)\./);
    expect(JSON.parse(ed.seen(1).replace(/^#.*$/gm, ''))).toMatchObject({ resources: ['tasks'], max_rows_per_query: 100 });
    expect(ed.seen(2)).toMatch(/^# Not saved — fix this and save again/m);
    expect(ed.seen(2)).toMatch(/^# {3}max_rows_per_query: must be at most 10000$/m);
    expect((await work.admin.getGrant(g.id)).scope).toMatchObject({ resources: ['tasks', 'notes'], max_rows_per_query: 250 });
    expect(editTemps()).toEqual(before); // the temp file is gone
  });

  it('grant edit in the editor: giving up on a refused scope is exit 2, emptying the file exit 1, no change exit 0', async () => {
    const g = await newGrant('editor-giveup');
    const giveUp = fakeEditor('editor-giveup', [`printf '{"resources":[]}' > "$1"`, 'true']);
    let term = openTerminal(home.dir, { ...home.env, EDITOR: giveUp.editor }, ['federation', 'grant', 'edit', g.id, '--data-dir', work.dataDir]);
    try {
      expect(await term.exited()).toBe(2);
      expect(term.screen()).toContain('saved unchanged: nothing saved');
    } finally {
      term.close();
    }
    const empty = fakeEditor('editor-empty', [`: > "$1"`]);
    term = openTerminal(home.dir, { ...home.env, EDITOR: empty.editor }, ['federation', 'grant', 'edit', g.id, '--data-dir', work.dataDir]);
    try {
      expect(await term.exited()).toBe(1);
      expect(term.screen()).toContain('the scope was emptied: nothing saved');
    } finally {
      term.close();
    }
    const same = fakeEditor('editor-same', ['true']);
    term = openTerminal(home.dir, { ...home.env, EDITOR: same.editor }, ['federation', 'grant', 'edit', g.id, '--data-dir', work.dataDir]);
    try {
      expect(await term.exited()).toBe(0);
      expect(term.screen()).toContain('no changes: the scope is as it was');
    } finally {
      term.close();
    }
    expect((await work.admin.getGrant(g.id)).scope.resources).toEqual(['tasks']);
  });

  it('grant edit: Ctrl-C in the editor saves nothing, removes the temp file and exits 130', async () => {
    // util-linux `script` gives the command a terminal of its own, where Ctrl-C (byte 3) is
    // turned into SIGINT for its foreground process group — as in a person's shell.
    const g = await newGrant('editor-ctrl-c');
    const before = editTemps();
    const slow = fakeEditor('editor-slow', [`printf '{"resources":["notes"]}' > "$1"; touch "$(dirname "$0")/waiting"; sleep 30`]);
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const command = [process.execPath, BIN, 'federation', 'grant', 'edit', g.id, '--data-dir', work.dataDir].map(quote).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...home.env, EDITOR: slow.editor }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const deadline = Date.now() + 15_000;
    while (!existsSync(join(home.dir, 'editor-slow', 'waiting'))) {
      if (Date.now() > deadline) throw new Error(`the editor never started: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.stdin.write('\u0003');
    expect(await exited).toBe(130);
    expect(out).toContain('error: cancelled: nothing saved');
    expect((await work.admin.getGrant(g.id)).scope.resources).toEqual(['tasks']);
    expect(editTemps()).toEqual(before);
  });

  it('grant revoke asks on a terminal: n keeps the grant (exit 1), Ctrl-C too (exit 130), y revokes it', async () => {
    const g = await newGrant('asked');
    let term = openTerminal(home.dir, home.env, ['federation', 'grant', 'revoke', g.id.slice(0, 8), '--data-dir', work.dataDir]);
    try {
      await term.waitFor(/Revoke grant [0-9a-f]{8}… \(alice → asked, pending\)\? The peer loses access at once\. \[y\/N\]/);
      term.type('n');
      term.press('Enter');
      expect(await term.exited()).toBe(1);
    } finally {
      term.close();
    }
    expect((await work.admin.getGrant(g.id)).status).toBe('pending');
    term = openTerminal(home.dir, home.env, ['federation', 'grant', 'revoke', g.id, '--data-dir', work.dataDir]);
    try {
      await term.waitFor('[y/N]');
      term.press('C-c');
      expect(await term.exited()).toBe(130);
    } finally {
      term.close();
    }
    expect((await work.admin.getGrant(g.id)).status).toBe('pending');
    term = openTerminal(home.dir, home.env, ['federation', 'grant', 'revoke', g.id, '--reason', 'asked and answered', '--data-dir', work.dataDir]);
    try {
      await term.waitFor('[y/N]');
      term.type('y');
      term.press('Enter');
      expect(await term.exited()).toBe(0);
      expect(term.screen()).toMatch(/✔ revoked grant [0-9a-f]{8}… \(alice → asked\)/);
    } finally {
      term.close();
    }
    expect(await work.admin.getGrant(g.id)).toMatchObject({ status: 'revoked', revokeReason: 'asked and answered' });
  });
});

describe('grant revoke off a terminal', () => {
  it('without --yes is exit 2 and revokes nothing; with --yes it revokes; again is a no-op (exit 0)', async () => {
    const g = await newGrant('revoked');
    const r = atWork(['federation', 'grant', 'revoke', g.id]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^hint: pass --yes/m);
    expect((await work.admin.getGrant(g.id)).status).toBe('pending');
    const yes = atWork(['federation', 'grant', 'revoke', g.id.slice(0, 8), '--yes', '--reason', 'ci cleanup', '--json']);
    expect(yes.code).toBe(0);
    expect(grantSchema.parse(json(yes))).toMatchObject({ status: 'revoked', revokeReason: 'ci cleanup' });
    const again = atWork(['federation', 'grant', 'revoke', g.id, '--yes']);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/was already revoked/);
  });
});

describe('federation status', () => {
  let requesting: ChildGateway;
  beforeAll(async () => {
    // A second gateway reads from work through a grant with a small rate limit: allowed,
    // denied and rate-limited requests land in work's audit trail.
    requesting = await startChildGateway('home2', home);
    await requesting.admin.seed({ users: [{ id: 'alice', name: 'Alice' }] });
    const g = await newGrant('home2', { resources: ['tasks'], rate_limit_per_minute: 4 });
    const token = await work.admin.createToken(g.id);
    await requesting.admin.addPeer({ enrollmentUrl: token.enrollmentUrl, caPin: token.caPin, name: 'work' });
    await requesting.admin.query({ verb: 'list', resource: 'tasks', source: 'federated:work', asUser: 'alice' } as never).catch(() => undefined);
    await requesting.admin.query({ verb: 'get', resource: 'notes', id: 'note-1', source: 'federated:work', asUser: 'alice' } as never).catch(() => undefined);
    for (let i = 0; i < 4; i++) await requesting.admin.query({ verb: 'search', resource: 'tasks', query: `q${i}`, source: 'federated:work', asUser: 'alice' } as never).catch(() => undefined);
  });
  afterAll(async () => {
    await requesting?.stop();
  });

  it('shows the gateway, its peers and its grants with requests, denials and 429s of the last hour', async () => {
    const deadline = Date.now() + 10_000;
    let body: { status: unknown; peers: unknown; grants: { items: Grant[] }; usage: { since: string; complete: boolean; grants: Record<string, { requests: number; denied: number; rateLimited: number }> } };
    let usage: { requests: number; denied: number; rateLimited: number } | undefined;
    const id = (await work.admin.listGrants({ peer: 'home2' })).items[0]!.id;
    // audit rows reach the store through the spool: visible within a second or so
    for (;;) {
      const r = atWork(['federation', 'status', '--json']);
      expect(r.code).toBe(0);
      body = JSON.parse(r.stdout) as typeof body;
      usage = body.usage.grants[id];
      if ((usage !== undefined && usage.rateLimited > 0 && usage.denied > 0) || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    statusReportSchema.parse(body.status);
    peerListSchema.parse(body.peers);
    grantListSchema.parse(body.grants);
    expect(body.usage).toMatchObject({ since: '1h', complete: true });
    expect(usage).toBeDefined();
    expect(usage!.requests).toBeGreaterThanOrEqual(4);
    expect(usage!.denied).toBeGreaterThanOrEqual(1);
    expect(usage!.rateLimited).toBeGreaterThanOrEqual(1);

    const human = atWork(['federation', 'status']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^◆ gateway "work" \S+ — up \S+ · SQLite · CA sha256:[0-9a-f]{16}…$/m);
    expect(human.stdout).toMatch(/^GRANTS \(others read from this gateway\)\nID\s+SUBJECT\s+PEER\s+STATUS\s+RESOURCES\s+REQ\/1h\s+DENIED\s+429$/m);
    expect(human.stdout).toMatch(new RegExp(`^${id.slice(0, 8)}… alice\\s+home2\\s+active\\s+tasks\\s+\\d+\\s+\\d+\\s+\\d+$`, 'm'));
    for (const l of human.stdout.split('\n')) expect(l.length).toBeLessThanOrEqual(80);
    expect(human.stdout).toMatch(/^ {2}grants \d+ active · \d+ pending · \d+ revoked · \d+ expired$/m);

    const reading = mosaic(home.env, ['federation', 'status', '--data-dir', requesting.dataDir]);
    expect(reading.code).toBe(0);
    expect(reading.stdout).toMatch(/^PEERS \(this gateway reads from\)\nNAME\s+STATE\s+CERT EXPIRES\s+LAST OK\s+LAST ERROR\s+CIRCUIT\s+P50$/m);
    expect(reading.stdout).toMatch(/^work\s+(active|degraded)\s+in \d+d\s+/m);
  });

  it('an unreachable gateway is exit 1 with a hint', () => {
    const r = mosaic(home.env, ['federation', 'status', '--gateway', 'http://127.0.0.1:1', '--token-file', join(work.dataDir, 'admin-token')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^hint: start it/m);
  });
});

describe('start-up cost (what grant list really loads)', () => {
  it('grant list --json loads no Ink/React, @peculiar/x509, zod, undici, conf, keyring or gateway-server module, and no other command', () => {
    const hook = join(home.dir, 'record-loads.mjs');
    const log = join(home.dir, 'loads.txt');
    writeFileSync(
      hook,
      `import { registerHooks } from 'node:module';\nimport { appendFileSync } from 'node:fs';\nregisterHooks({ load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); } });\n`,
    );
    const r = spawnSync(process.execPath, ['--import', hook, BIN, 'federation', 'grant', 'list', '--json', '--data-dir', work.dataDir], { env: home.env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    grantListSchema.parse(JSON.parse(r.stdout));
    const loaded = readFileSync(log, 'utf8').trim().split('\n');
    expect(loaded.some((u) => u.endsWith('/commands/federation/grant/list.js'))).toBe(true);
    for (const heavy of ['/zod/', '/@peculiar/', '/ink/', '/react/', '/undici/', '/conf/', '/@napi-rs/', '/reflect-metadata/', '/@clack/', '/pino/', '/gateway-server/']) {
      expect(loaded.filter((u) => u.includes(heavy)), heavy).toEqual([]);
    }
    // lazy commands: nothing of the other verbs or nouns
    for (const other of ['/grant/edit.js', '/grant/create.js', '/peer/', '/query/', '/audit/', '/profile/', '/completion.js', '/status.js']) {
      expect(loaded.filter((u) => u.includes(other)), other).toEqual([]);
    }
  });
});
