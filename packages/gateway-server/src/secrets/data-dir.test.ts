import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkDataDirPermissions } from './data-dir.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mosaic-datadir-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('checkDataDirPermissions', () => {
  it('creates an absent data dir (and its parents) 0700 whatever the umask', async () => {
    const dir = join(root, 'share', 'mosaic', 'home');
    const previous = process.umask(0o000);
    try {
      const got = await checkDataDirPermissions(dir);
      expect(got).toEqual({ path: dir, created: true, mode: 0o700 });
    } finally {
      process.umask(previous);
    }
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, 'share'))).mode & 0o777).toBe(0o700);
  });

  it('accepts an existing private or group-readable dir and leaves its mode alone', async () => {
    const dir = join(root, 'data');
    await mkdir(dir);
    await chmod(dir, 0o750);
    expect(await checkDataDirPermissions(dir)).toEqual({ path: dir, created: false, mode: 0o750 });
    expect((await stat(dir)).mode & 0o777).toBe(0o750);
  });

  it.each([0o777, 0o757, 0o1777, 0o703])('refuses a world-writable data dir (mode %o)', async (mode) => {
    const dir = join(root, 'data');
    await mkdir(dir);
    await chmod(dir, mode);
    await expect(checkDataDirPermissions(dir)).rejects.toMatchObject({
      code: 'DATA_DIR_WORLD_WRITABLE',
      message: expect.stringContaining(dir),
      remediation: expect.stringContaining('chmod 700'),
    });
  });

  it('refuses a path that is a file', async () => {
    const file = join(root, 'file');
    await writeFile(file, 'x');
    await expect(checkDataDirPermissions(file)).rejects.toMatchObject({ code: 'DATA_DIR_INVALID' });
    await expect(checkDataDirPermissions(join(file, 'below'))).rejects.toMatchObject({ code: 'DATA_DIR_INVALID' });
  });
});
