// `mosaic profile add|use|list|remove` and where commands find a gateway — the real binary as a
// child process, with XDG_CONFIG_HOME in a temp dir, against a real gateway. This machine (and
// CI) is headless: no keyring service runs, so tokens take the 0600-file fallback for real.
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grantListSchema } from '@mosaic/federation-core';
import { mosaic, startChildGateway, testHome, type ChildGateway } from './test-support/gateways.js';
import { KeyringUnavailable, deleteToken, loadToken, storeToken, type Keyring } from './profiles/secrets.js';

const home = testHome('mosaic-cli-profile-');
let work: ChildGateway;
const run = (args: string[], input?: string, env: NodeJS.ProcessEnv = home.env) => mosaic(env, args, input);
const configDir = () => join(home.dir, 'config', 'mosaic', 'cli');
const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

beforeAll(async () => {
  work = await startChildGateway('work', home);
  await work.admin.createGrant({ subjectUserId: 'nobody', peerName: 'x', scope: { resources: ['tasks'] } }).catch(() => undefined);
});

afterAll(async () => {
  await work?.stop();
  home.cleanup();
});

describe('mosaic profile (headless: the keyring fallback)', () => {
  it('add keeps the token in a 0600 file (said once on stderr), becomes the default, and commands use it', () => {
    const tokenFile = join(work.dataDir, 'admin-token');
    const r = run(['profile', 'add', 'work', '--gateway', work.adminUrl, '--token-file', tokenFile]);
    expect(r.code).toBe(0);
    const path = join(configDir(), 'tokens', 'work');
    expect(r.stdout).toBe(`added profile "work": ${work.adminUrl} (token in ${path}) — the default\n`);
    expect(r.stderr).toBe(`mosaic: no OS keyring service here; the admin token of "work" is kept in ${path} (mode 0600) instead\n`);
    expect(readFileSync(path, 'utf8').trim()).toBe(readFileSync(tokenFile, 'utf8').trim());
    expect(mode(path)).toBe('600');
    expect(mode(join(configDir(), 'tokens'))).toBe('700');
    expect(mode(join(configDir(), 'profiles.json'))).toBe('600');
    expect(readFileSync(join(configDir(), 'profiles.json'), 'utf8')).not.toContain(readFileSync(tokenFile, 'utf8').trim());

    // no --gateway, --data-dir or env: the default profile answers
    const list = run(['federation', 'grant', 'list', '--json']);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    grantListSchema.parse(JSON.parse(list.stdout));
  });

  it('add reads the token from stdin (--token-file -); list marks the default; use switches it; --profile picks one', () => {
    const token = readFileSync(join(work.dataDir, 'admin-token'), 'utf8');
    const added = run(['profile', 'add', 'lab', '--gateway', 'http://127.0.0.1:1', '--token-file', '-', '--json'], token);
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toEqual({ name: 'lab', gateway: 'http://127.0.0.1:1', token: 'file', tokenFile: join(configDir(), 'tokens', 'lab'), default: false, replaced: false });

    const list = run(['profile', 'list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ {2}NAME\s+GATEWAY\s+TOKEN$/m);
    expect(list.stdout).toMatch(/^ {2}lab\s+http:\/\/127\.0\.0\.1:1\s+file 0600$/m);
    expect(list.stdout).toMatch(new RegExp(`^\\* work\\s+${work.adminUrl.replace(/\./g, '\\.')}\\s+file 0600$`, 'm'));
    const json = JSON.parse(run(['profile', 'list', '--json']).stdout) as { items: Array<{ name: string; default: boolean }> };
    expect(json.items.map((p) => [p.name, p.default])).toEqual([
      ['lab', false],
      ['work', true],
    ]);

    expect(run(['profile', 'use', 'lab']).stdout).toBe('the default profile is now "lab" (http://127.0.0.1:1)\n');
    const down = run(['federation', 'grant', 'list']);
    expect(down.code).toBe(1); // lab's gateway is not there
    expect(down.stderr).toContain('cannot reach the gateway at http://127.0.0.1:1');
    expect(run(['--profile', 'work', 'federation', 'grant', 'list', '--json']).code).toBe(0);
    expect(run(['federation', 'grant', 'list', '--json', '--profile', 'work']).code).toBe(0);
  });

  it('discovery order: flags, env and an explicit data dir come before the profile', () => {
    // the default profile (lab) points nowhere; each of these finds work anyway
    expect(run(['federation', 'grant', 'list', '--json', '--data-dir', work.dataDir]).code).toBe(0);
    expect(run(['federation', 'grant', 'list', '--json', '--gateway', work.adminUrl, '--token-file', join(work.dataDir, 'admin-token')]).code).toBe(0);
    const env = { ...home.env, MOSAIC_GATEWAY_URL: work.adminUrl, MOSAIC_ADMIN_TOKEN: readFileSync(join(work.dataDir, 'admin-token'), 'utf8').trim() };
    expect(run(['federation', 'grant', 'list', '--json'], undefined, env).code).toBe(0);
    expect(run(['federation', 'grant', 'list', '--json'], undefined, { ...home.env, MOSAIC_DATA_DIR: work.dataDir }).code).toBe(0);
  });

  it('refusals: an unknown --profile is exit 2, profile use/remove of an unknown name exit 1, a bad URL or name exit 2, no --gateway exit 2', () => {
    const unknown = run(['--profile', 'nope', 'federation', 'grant', 'list']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('error: no profile "nope"\nhint: the profiles are: lab, work (mosaic profile list)\n');
    expect(run(['profile', 'use', 'nope']).code).toBe(1);
    expect(JSON.parse(run(['profile', 'remove', 'nope', '--json']).stderr)).toMatchObject({ error: { code: 'PROFILE_NOT_FOUND' } });
    expect(run(['profile', 'add', 'far', '--gateway', 'http://gw.example.net:8400']).code).toBe(2); // a token in clear text over a network
    expect(run(['profile', 'add', 'Bad Name', '--gateway', work.adminUrl]).code).toBe(2);
    expect(run(['profile', 'add', 'nourl']).code).toBe(2);
    const tokenless = run(['profile', 'add', 'bare', '--gateway', work.adminUrl]);
    expect(tokenless.code).toBe(0);
    expect(tokenless.stderr).toContain('has no admin token; commands will need --token-file or MOSAIC_ADMIN_TOKEN');
    expect(run(['--profile', 'bare', 'federation', 'grant', 'list']).code).toBe(4);
  });

  it('remove forgets the profile and its token file; removing the default leaves none', () => {
    const r = run(['profile', 'remove', 'lab']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('removed profile "lab"; there is no default profile now (mosaic profile use <name>)\n');
    expect(existsSync(join(configDir(), 'tokens', 'lab'))).toBe(false);
    expect(run(['profile', 'remove', 'bare']).code).toBe(0);
    const list = JSON.parse(run(['profile', 'list', '--json']).stdout) as { items: Array<{ name: string; default: boolean }> };
    expect(list.items).toEqual([expect.objectContaining({ name: 'work', default: false })]);
    expect(run(['profile', 'remove', 'work']).code).toBe(0);
    const empty = run(['profile', 'list']);
    expect(empty).toMatchObject({ code: 0, stdout: '' });
    expect(empty.stderr).toContain('no profiles');
  });
});

describe('profile tokens: the keyring when there is one', () => {
  function fakeKeyring(fail?: Error): Keyring & { entries: Map<string, string> } {
    const entries = new Map<string, string>();
    const check = () => {
      if (fail) throw fail;
    };
    return {
      entries,
      get: (a) => (check(), entries.get(a) ?? null),
      set: (a, v) => (check(), void entries.set(a, v)),
      delete: (a) => (check(), void entries.delete(a)),
    };
  }
  const env = { ...home.env, XDG_CONFIG_HOME: join(home.dir, 'config-unit') };

  it('stores in the keyring (no file), reads it back and deletes it', () => {
    const keyring = fakeKeyring();
    expect(storeToken('work', 'secret-token', { keyring, env })).toEqual({ store: 'keyring' });
    expect(keyring.entries.get('work')).toBe('secret-token');
    expect(existsSync(join(home.dir, 'config-unit', 'mosaic', 'cli', 'tokens', 'work'))).toBe(false);
    expect(loadToken('work', 'keyring', { keyring, env })).toEqual({ token: 'secret-token' });
    deleteToken('work', 'keyring', { keyring, env });
    expect(keyring.entries.size).toBe(0);
  });

  it('falls back to the file when no keyring service runs, and a broken keyring is an error, not a fallback', () => {
    const stored = storeToken('lab', 't', { keyring: fakeKeyring(new KeyringUnavailable('no service')), env });
    expect(stored).toMatchObject({ store: 'file', reason: 'no service' });
    expect(loadToken('lab', 'file', { env })).toEqual({ token: 't' });
    expect(() => storeToken('lab', 't', { keyring: fakeKeyring(Object.assign(new Error('locked'), { code: 'KEYRING_FAILED' })), env })).toThrow('locked');
    expect(loadToken('gone', 'keyring', { keyring: fakeKeyring(), env }).problem).toContain('holds no token');
  });

  describe('the token file, handled like ssh keys', () => {
    const fileEnv = { ...home.env, XDG_CONFIG_HOME: join(home.dir, 'config-file') };
    const tokens = join(home.dir, 'config-file', 'mosaic', 'cli', 'tokens');
    const noKeyring = () => fakeKeyring(new KeyringUnavailable('no service'));

    it('a symlink planted at the target is refused on write and on read; the file it points to is untouched', () => {
      mkdirSync(tokens, { recursive: true, mode: 0o700 });
      const victim = join(home.dir, 'victim-file');
      writeFileSync(victim, 'original\n', { mode: 0o644 });
      symlinkSync(victim, join(tokens, 'planted'));
      expect(() => storeToken('planted', 'stolen-token', { keyring: noKeyring(), env: fileEnv })).toThrow(expect.objectContaining({ code: 'TOKEN_FILE_UNSAFE', message: expect.stringContaining('symlink') }));
      expect(readFileSync(victim, 'utf8')).toBe('original\n');
      expect(mode(victim)).toBe('644');
      expect(lstatSync(join(tokens, 'planted')).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(tokens, 'planted'))).toBe(victim);
      // a link to a 0600 file of ours is refused too (it is not where we put the token)
      chmodSync(victim, 0o600);
      expect(loadToken('planted', 'file', { env: fileEnv })).toMatchObject({ token: null, problem: expect.stringContaining('is a symlink') });
    });

    it('writes through a temp file renamed into place, 0600 in a 0700 folder, and replaces an older one', () => {
      expect(storeToken('fresh', 'one', { keyring: noKeyring(), env: fileEnv })).toMatchObject({ store: 'file', path: join(tokens, 'fresh') });
      expect(storeToken('fresh', 'two', { keyring: noKeyring(), env: fileEnv })).toMatchObject({ store: 'file' });
      expect(mode(join(tokens, 'fresh'))).toBe('600');
      expect(mode(tokens)).toBe('700');
      expect(loadToken('fresh', 'file', { env: fileEnv })).toEqual({ token: 'two' });
    });

    it('a token file readable by group or others (0644) is refused with a chmod 600 hint; a folder open to others with chmod 700', () => {
      storeToken('wide', 'secret', { keyring: noKeyring(), env: fileEnv });
      const file = join(tokens, 'wide');
      chmodSync(file, 0o644);
      expect(loadToken('wide', 'file', { env: fileEnv })).toEqual({
        token: null,
        problem: `the token file ${file} is readable by group or others (mode 0644): refused`,
        hint: `chmod 600 ${file}`,
      });
      chmodSync(file, 0o600);
      expect(loadToken('wide', 'file', { env: fileEnv })).toEqual({ token: 'secret' });
      chmodSync(tokens, 0o755);
      expect(loadToken('wide', 'file', { env: fileEnv })).toMatchObject({ token: null, problem: expect.stringContaining('open to group or others'), hint: `chmod 700 ${tokens}` });
      // writing again makes the folder ours-only again
      storeToken('wide', 'secret', { keyring: noKeyring(), env: fileEnv });
      expect(mode(tokens)).toBe('700');
      expect(loadToken('wide', 'file', { env: fileEnv })).toEqual({ token: 'secret' });
    });
  });
});
