import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
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

/** Write a file atomically (temp + rename) with the given mode. */
export function writeFileAtomic(path: string, contents: string, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, contents, { mode });
  renameSync(tmp, path);
}

/**
 * Take the data dir's lock: an exclusive `gateway.lock` holding our pid. A lock left by a
 * process that no longer runs is taken over; one held by a live process is refused.
 * Returns a release function.
 */
const heldHere = new Set<string>();

export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  // Two gateways in one process (tests, embedders) share a pid: the pid check cannot tell them apart.
  if (heldHere.has(path)) throw new DataDirLockedError(String(process.pid), dataDir);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldHere.add(path);
      return () => {
        heldHere.delete(path);
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(readFileSafe(path), 10);
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) throw new DataDirLockedError(String(holder), dataDir);
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  throw new DataDirLockedError('?', dataDir);
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
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
