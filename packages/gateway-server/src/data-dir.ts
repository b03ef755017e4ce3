import { closeSync, constants, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createError } from '@mosaic/federation-core';
import { processAlive, DISCOVERY_FILE as DISCOVERY, type DiscoveryFile as Discovery } from '@mosaic/federation-core/admin-client';

export { ADMIN_TOKEN_FILE, DISCOVERY_FILE, defaultDataDir, readDiscoveryFile, type DiscoveryFile } from '@mosaic/federation-core/admin-client';

const LOCK_FILE = 'gateway.lock';

export const DataDirLockedError = createError<[string, string]>(
  'DATA_DIR_IN_USE',
  'another gateway (pid %s) is running on data dir %s',
  409,
  'stop it first (`kill -TERM <pid>`), or start this one with its own --data-dir',
);

/**
 * Write a file atomically: a temp file with an unguessable name created exclusively and
 * without following symlinks (a planted link cannot redirect the write), synced, then
 * renamed over the target (rename replaces a symlink at the target, never follows it).
 */
export function writeFileAtomic(path: string, contents: string, mode = 0o600): void {
  const tmp = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    writeSync(fd, contents);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** Read a small file without following a symlink at its path; null when absent. */
export function readFileNoFollow(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

const heldHere = new Set<string>();

/**
 * Take the data dir's lock: `gateway.lock` holding our pid, created complete and atomically
 * (the pid is written to a private temp file that is then hard-linked into place — `link`
 * fails if the lock exists, so there is never an empty or half-written lock to misread). A
 * lock left by a dead process is taken over by renaming it aside and checking that what was
 * moved is still that dead pid's lock. Returns a release function.
 */
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  // Two gateways in one process (tests, embedders) share a pid: the pid check cannot tell them apart.
  if (heldHere.has(path)) throw new DataDirLockedError(String(process.pid), dataDir);
  const mine = `${path}.${randomBytes(8).toString('hex')}.tmp`;
  writeFileAtomic(mine, String(process.pid));
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(mine, path);
        heldHere.add(path);
        return () => {
          heldHere.delete(path);
          try {
            if (readFileNoFollow(path)?.trim() === String(process.pid)) rmSync(path, { force: true });
          } catch {
            // already gone
          }
        };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holderText = readFileNoFollow(path);
      if (holderText === null) continue; // released meanwhile: try again
      const holder = Number.parseInt(holderText.trim(), 10);
      if (!Number.isInteger(holder) || holder <= 0) throw new DataDirLockedError('?', dataDir);
      if (processAlive(holder)) throw new DataDirLockedError(String(holder), dataDir);
      // Stale: move it aside, then make sure what we moved is the dead holder's lock (a live
      // starter may have replaced it in between — then put theirs back and give up).
      const aside = `${path}.${randomBytes(8).toString('hex')}.stale`;
      try {
        renameSync(path, aside);
      } catch {
        continue;
      }
      const moved = readFileNoFollow(aside)?.trim();
      if (moved !== String(holder)) {
        try {
          linkSync(aside, path);
        } catch {
          // someone else holds it now
        }
        rmSync(aside, { force: true });
        throw new DataDirLockedError(moved ?? '?', dataDir);
      }
      rmSync(aside, { force: true });
    }
    throw new DataDirLockedError('?', dataDir);
  } finally {
    rmSync(mine, { force: true });
  }
}

export function writeDiscoveryFile(dataDir: string, file: Discovery): void {
  writeFileAtomic(join(dataDir, DISCOVERY), `${JSON.stringify(file, null, 2)}\n`, 0o644);
}

export function removeDiscoveryFile(dataDir: string): void {
  rmSync(join(dataDir, DISCOVERY), { force: true });
}

export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
}
