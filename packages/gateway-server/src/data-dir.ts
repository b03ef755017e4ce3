import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createError } from '@mosaic/federation-core';

/** `$XDG_DATA_HOME/mosaic/<name>` (default `~/.local/share/mosaic/<name>`). */
export function defaultDataDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME && env.XDG_DATA_HOME.startsWith('/') ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return join(base, 'mosaic', name);
}

/** What a running gateway publishes at `<data dir>/gateway.json` (CONTRACT.md). */
export interface DiscoveryFile {
  name: string;
  pid: number;
  adminUrl: string;
  federationUrl: string;
  version: string;
}

export const DISCOVERY_FILE = 'gateway.json';
export const ADMIN_TOKEN_FILE = 'admin-token';
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
export function lockDataDir(dataDir: string): () => void {
  const path = join(dataDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(process.pid)) rmSync(path, { force: true });
        } catch {
          // already gone
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number.parseInt(readFileSafe(path), 10);
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) throw new DataDirLockedError(String(holder), dataDir);
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function writeDiscoveryFile(dataDir: string, file: DiscoveryFile): void {
  writeFileAtomic(join(dataDir, DISCOVERY_FILE), `${JSON.stringify(file, null, 2)}\n`, 0o644);
}

export function removeDiscoveryFile(dataDir: string): void {
  rmSync(join(dataDir, DISCOVERY_FILE), { force: true });
}

/** Read `<data dir>/gateway.json`; null when absent or its process is gone. */
export function readDiscoveryFile(dataDir: string): DiscoveryFile | null {
  const path = join(dataDir, DISCOVERY_FILE);
  if (!existsSync(path)) return null;
  try {
    const file = JSON.parse(readFileSync(path, 'utf8')) as DiscoveryFile;
    return isAlive(file.pid) ? file : null;
  } catch {
    return null;
  }
}

export function ensureDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
}
