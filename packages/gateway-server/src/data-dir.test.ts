import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { lockDataDir, readFileNoFollow, writeFileAtomic } from './data-dir.js';

const dirs: string[] = [];
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mosaic-dd-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A pid that ran and is gone. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('lockDataDir', () => {
  it('holds the lock with our pid, refuses a second taker, and releases it', () => {
    const d = dir();
    const release = lockDataDir(d);
    expect(readFileSync(join(d, 'gateway.lock'), 'utf8')).toBe(String(process.pid));
    expect(() => lockDataDir(d)).toThrow(/another gateway/);
    release();
    expect(existsSync(join(d, 'gateway.lock'))).toBe(false);
    lockDataDir(d)();
  });

  it("takes over a lock left by a dead process", () => {
    const d = dir();
    writeFileSync(join(d, 'gateway.lock'), String(deadPid()));
    const release = lockDataDir(d);
    expect(readFileSync(join(d, 'gateway.lock'), 'utf8')).toBe(String(process.pid));
    release();
  });

  it('refuses a lock it cannot read as a pid instead of deleting it', () => {
    const d = dir();
    writeFileSync(join(d, 'gateway.lock'), '');
    expect(() => lockDataDir(d)).toThrow(/another gateway/);
    expect(existsSync(join(d, 'gateway.lock'))).toBe(true);
  });

  it('refuses a lock held by a live process (pid 1)', () => {
    const d = dir();
    writeFileSync(join(d, 'gateway.lock'), '1');
    expect(() => lockDataDir(d)).toThrow(/pid 1/);
  });
});

describe('writeFileAtomic / readFileNoFollow', () => {
  it('never writes through a symlink planted at the target', () => {
    const d = dir();
    const victim = join(d, 'victim');
    writeFileSync(victim, 'untouched');
    symlinkSync(victim, join(d, 'admin-token'));
    expect(() => readFileNoFollow(join(d, 'admin-token'))).toThrow();
    writeFileAtomic(join(d, 'admin-token'), 'secret\n');
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
    expect(readFileNoFollow(join(d, 'admin-token'))).toBe('secret\n');
    expect(readFileNoFollow(join(d, 'absent'))).toBeNull();
  });
});
