import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveKey, generateMasterSecret, isMosaicError, parseMasterSecret, type MasterSecret, type MosaicError } from '@mosaic/federation-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyringFailed, KeyringUnavailable } from './errors.js';
import { createOsKeyring, type SecretKeyring } from './keyring.js';
import { resolveMasterSecret } from './resolve.js';

async function failure(fn: () => unknown): Promise<MosaicError> {
  try {
    await fn();
  } catch (err) {
    if (isMosaicError(err)) return err;
    throw err;
  }
  throw new Error('expected a MosaicError');
}

/** A keyring that works, in memory (a working OS keyring is not available on a test machine). */
class FakeKeyring implements SecretKeyring {
  readonly entries = new Map<string, string>();
  sets = 0;
  constructor(private readonly failure?: 'unavailable' | 'set-unavailable' | 'broken' | 'forgetful') {}
  get(service: string, account: string): string | null {
    if (this.failure === 'unavailable') throw new KeyringUnavailable('no Secret Service on the session bus');
    if (this.failure === 'broken') throw new Error('Ambiguous: more than one credential matches');
    if (this.failure === 'forgetful') return null;
    return this.entries.get(`${service}\0${account}`) ?? null;
  }
  set(service: string, account: string, value: string): void {
    if (this.failure === 'set-unavailable') throw new KeyringUnavailable("Couldn't access platform storage: AccessDenied");
    this.sets += 1;
    this.entries.set(`${service}\0${account}`, value);
  }
}

const same = (a: MasterSecret, b: MasterSecret) => deriveKey(a, 'seal').equals(deriveKey(b, 'seal'));

let root: string;
let dataDir: string;
let config: string;
let env: NodeJS.ProcessEnv;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mosaic-secrets-'));
  dataDir = join(root, 'data');
  config = join(root, 'config');
  env = { XDG_CONFIG_HOME: config, HOME: join(root, 'home') };
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('MOSAIC_SECRET', () => {
  it('is used when set, in both modes, and nothing is written anywhere', async () => {
    const text = generateMasterSecret();
    const keyring = new FakeKeyring();
    for (const mode of ['embedded', 'postgres'] as const) {
      const got = await resolveMasterSecret({ name: 'home', dataDir, env: { ...env, MOSAIC_SECRET: text }, mode, keyring });
      expect(got.source).toBe('env');
      expect(got.location).toBeUndefined();
      expect(same(got.secret, parseMasterSecret(text))).toBe(true);
    }
    expect(keyring.sets).toBe(0);
    await expect(stat(config)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.each([
    ['empty', ''],
    ['not base64', 'not a secret!'],
    ['too short', Buffer.alloc(16, 7).toString('base64')],
    ['all equal bytes', Buffer.alloc(32).toString('base64')],
  ])('refuses an invalid value (%s) with the error that says how to make one', async (_label, value) => {
    const err = await failure(() => resolveMasterSecret({ name: 'home', dataDir, env: { ...env, MOSAIC_SECRET: value }, mode: 'embedded', keyring: new FakeKeyring() }));
    expect(err.code).toBe('MASTER_SECRET_INVALID');
    expect(err.message).toContain('MOSAIC_SECRET');
    expect(err.remediation).toContain('openssl rand -base64 32');
    if (value !== '') expect(err.message).not.toContain(value);
  });

  it('is required in postgres mode, and nothing is generated', async () => {
    const keyring = new FakeKeyring();
    const err = await failure(() => resolveMasterSecret({ name: 'home', dataDir, env, mode: 'postgres', keyring }));
    expect(err.code).toBe('MASTER_SECRET_REQUIRED');
    expect(err.message).toMatch(/replica/);
    expect(err.remediation).toContain('openssl rand -base64 32');
    expect(keyring.sets).toBe(0);
    await expect(stat(config)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('embedded mode, keyring works (fake keyring)', () => {
  it('generates once into service "mosaic", account <name>, and reads it back later', async () => {
    const keyring = new FakeKeyring();
    const first = await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring });
    expect(first).toMatchObject({ source: 'keyring', location: 'keyring:mosaic/home', created: true });
    expect([...keyring.entries.keys()]).toEqual(['mosaic\0home']);
    const second = await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring });
    expect(second).toMatchObject({ source: 'keyring', created: false });
    expect(same(first.secret, second.secret)).toBe(true);
    expect(keyring.sets).toBe(1);
    // Nothing in the data dir, no file either.
    await expect(stat(dataDir)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(config)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('keeps one secret per gateway name', async () => {
    const keyring = new FakeKeyring();
    const home = await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring });
    const work = await resolveMasterSecret({ name: 'work', dataDir, env, mode: 'embedded', keyring });
    expect(same(home.secret, work.secret)).toBe(false);
  });

  it('reads a secret file made on an earlier start without a keyring, and does not copy it into the keyring', async () => {
    const headless = await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: new FakeKeyring('unavailable') });
    expect(headless.source).toBe('file');
    const keyring = new FakeKeyring();
    const later = await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring });
    expect(later).toMatchObject({ source: 'file', location: headless.location, created: false });
    expect(same(headless.secret, later.secret)).toBe(true);
    expect(keyring.sets).toBe(0);
  });

  it('refuses two different secrets in the keyring and the file', async () => {
    await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: new FakeKeyring('unavailable') });
    const keyring = new FakeKeyring();
    keyring.set('mosaic', 'home', generateMasterSecret());
    const err = await failure(() => resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring }));
    expect(err.code).toBe('SECRET_SOURCES_CONFLICT');
    expect(err.message).toContain('keyring:mosaic/home');
    expect(err.message).toContain(join(config, 'mosaic', 'home', 'secret'));
  });

  it('accepts the same secret in both places', async () => {
    const file = await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: new FakeKeyring('unavailable') });
    const keyring = new FakeKeyring();
    keyring.set('mosaic', 'home', (await readFile(file.location!, 'utf8')).trim());
    const got = await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring });
    expect(got.source).toBe('keyring');
    expect(same(got.secret, file.secret)).toBe(true);
  });

  it('refuses an invalid secret in the keyring, naming the entry', async () => {
    const keyring = new FakeKeyring();
    keyring.set('mosaic', 'home', 'short');
    const err = await failure(() => resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring }));
    expect(err.code).toBe('MASTER_SECRET_INVALID');
    expect(err.message).toContain('keyring:mosaic/home');
  });

  it('falls back to the file when the keyring refuses to store', async () => {
    const got = await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: new FakeKeyring('set-unavailable') });
    expect(got.source).toBe('file');
  });

  it('does not fall back when the keyring exists but fails (it may hold the real secret)', async () => {
    const err = await failure(() => resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: new FakeKeyring('broken') }));
    expect(err.code).toBe('KEYRING_FAILED');
    expect(err.message).toContain('mosaic/home');
    await expect(stat(config)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a keyring that forgets what it was given', async () => {
    const err = await failure(() => resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: new FakeKeyring('forgetful') }));
    expect(err.code).toBe('KEYRING_FAILED');
  });
});

describe('embedded mode, no keyring: the secret file', () => {
  const headless = () => new FakeKeyring('unavailable');

  it('is created 0600 in a 0700 dir under $XDG_CONFIG_HOME/mosaic/<name>, and read back', async () => {
    const first = await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: headless() });
    const path = join(config, 'mosaic', 'home', 'secret');
    expect(first).toMatchObject({ source: 'file', location: path, created: true });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(config, 'mosaic', 'home'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(config, 'mosaic'))).mode & 0o777).toBe(0o700);
    expect(await readdir(join(config, 'mosaic', 'home'))).toEqual(['secret']); // no temp file left
    const text = await readFile(path, 'utf8');
    expect(same(parseMasterSecret(text), first.secret)).toBe(true);
    const second = await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: headless() });
    expect(second).toMatchObject({ source: 'file', created: false });
    expect(same(first.secret, second.secret)).toBe(true);
  });

  it('defaults to ~/.config when XDG_CONFIG_HOME is unset or relative', async () => {
    for (const xdg of [undefined, 'relative/config']) {
      const got = await resolveMasterSecret({ name: 'home', dataDir, env: { HOME: env.HOME, XDG_CONFIG_HOME: xdg }, mode: 'embedded', keyring: headless() });
      expect(got.location).toBe(join(env.HOME!, '.config', 'mosaic', 'home', 'secret'));
    }
  });

  it('gives every concurrent start the same secret, written once', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, () => resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: headless() })),
    );
    for (const r of results) expect(same(r.secret, results[0]!.secret)).toBe(true);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await readdir(join(config, 'mosaic', 'home'))).toEqual(['secret']);
    expect(same(parseMasterSecret(await readFile(join(config, 'mosaic', 'home', 'secret'), 'utf8')), results[0]!.secret)).toBe(true);
  });

  it.each([0o640, 0o604, 0o644, 0o660, 0o601])('refuses a secret file with mode %o, like ssh', async (mode) => {
    const first = await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: headless() });
    await chmod(first.location!, mode);
    const err = await failure(() => resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: headless() }));
    expect(err.code).toBe('SECRET_FILE_INSECURE');
    expect(err.message).toContain(first.location);
    expect(err.message).toContain(`0${mode.toString(8)}`);
    expect(err.remediation).toContain('chmod 600');
  });

  it('accepts a stricter 0400 file', async () => {
    const first = await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: headless() });
    await chmod(first.location!, 0o400);
    const again = await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: headless() });
    expect(same(first.secret, again.secret)).toBe(true);
  });

  it('refuses a secret directory others can write to', async () => {
    await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: headless() });
    for (const mode of [0o777, 0o770, 0o722]) {
      await chmod(join(config, 'mosaic', 'home'), mode);
      const err = await failure(() => resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: headless() }));
      expect(err.code).toBe('SECRET_FILE_INSECURE');
      expect(err.message).toContain('directory');
    }
    // Group/other may look (not write) at the directory: the file's own 0600 is what protects it.
    await chmod(join(config, 'mosaic', 'home'), 0o755);
    expect((await resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: headless() })).source).toBe('file');
  });

  it('refuses a symlink in place of the secret file', async () => {
    const elsewhere = join(root, 'elsewhere');
    await writeFile(elsewhere, `${generateMasterSecret()}\n`, { mode: 0o600 });
    await mkdir(join(config, 'mosaic', 'home'), { recursive: true, mode: 0o700 });
    await symlink(elsewhere, join(config, 'mosaic', 'home', 'secret'));
    const err = await failure(() => resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: headless() }));
    expect(err.code).toBe('SECRET_FILE_UNREADABLE');
  });

  it('refuses a file that does not hold a secret, naming the file', async () => {
    await mkdir(join(config, 'mosaic', 'home'), { recursive: true, mode: 0o700 });
    await writeFile(join(config, 'mosaic', 'home', 'secret'), 'changeme\n', { mode: 0o600 });
    const err = await failure(() => resolveMasterSecret({ name: 'home', dataDir, env, mode: 'embedded', keyring: headless() }));
    expect(err.code).toBe('MASTER_SECRET_INVALID');
    expect(err.message).toContain(join(config, 'mosaic', 'home', 'secret'));
  });

  it('never keeps the secret inside the data dir, even through a symlink', async () => {
    for (const configHome of [join(dataDir, 'config'), dataDir]) {
      const err = await failure(() =>
        resolveMasterSecret({ name: 'home', dataDir, env: { ...env, XDG_CONFIG_HOME: configHome }, mode: 'embedded', keyring: headless() }),
      );
      expect(err.code).toBe('SECRET_INSIDE_DATA_DIR');
    }
    await mkdir(join(dataDir, 'cfg'), { recursive: true });
    await symlink(join(dataDir, 'cfg'), join(root, 'link-to-data'));
    const err = await failure(() =>
      resolveMasterSecret({ name: 'home', dataDir, env: { ...env, XDG_CONFIG_HOME: join(root, 'link-to-data') }, mode: 'embedded', keyring: headless() }),
    );
    expect(err.code).toBe('SECRET_INSIDE_DATA_DIR');
    expect(await readdir(join(dataDir, 'cfg'))).toEqual([]);
    // A data dir whose name merely starts like the config dir is not a parent of it.
    const ok = await resolveMasterSecret({ name: 'home', dataDir: `${config}-data`, env, mode: 'embedded', keyring: headless() });
    expect(ok.source).toBe('file');
  });

  it.each(['', '../escape', 'a/b', '.hidden', 'x'.repeat(65), 'new\nline'])('refuses the gateway name %j', async (name) => {
    const err = await failure(() => resolveMasterSecret({ name, dataDir, env, mode: 'embedded', keyring: headless() }));
    expect(err.code).toBe('GATEWAY_NAME_INVALID');
  });
});

describe('embedded mode with the real OS keyring (@napi-rs/keyring)', () => {
  // The keyring-works path needs a desktop session; on this headless machine the real library
  // must turn "no platform storage" into the file fallback, never a crash.
  const probe = (() => {
    try {
      createOsKeyring().get('mosaic', 'mosaic-test-probe');
      return 'available';
    } catch (err) {
      return KeyringUnavailable.is(err) ? 'unavailable' : 'failed';
    }
  })();

  it.skipIf(probe !== 'unavailable')('falls back to the secret file on a headless machine', async () => {
    const name = `test-${process.pid}`;
    const got = await resolveMasterSecret({ name, dataDir, env, mode: 'embedded' });
    expect(got).toMatchObject({ source: 'file', location: join(config, 'mosaic', name, 'secret'), created: true });
    const again = await resolveMasterSecret({ name, dataDir, env, mode: 'embedded' });
    expect(same(got.secret, again.secret)).toBe(true);
  });

  it('reports the probe as a fallback signal, not a hard failure, here', () => {
    expect(probe).not.toBe('failed');
    expect(KeyringFailed.code).toBe('KEYRING_FAILED');
  });
});
