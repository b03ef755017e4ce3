/**
 * Where a gateway's files live and how a client finds a running one: `<data dir>/gateway.json`
 * (written once the gateway is ready, removed when it exits) and `<data dir>/admin-token`.
 * Shared by the gateway (which writes them) and the CLI/TUI (which read them); no heavy imports.
 */
import { join } from 'node:path';

// process.getBuiltinModule, not an ES import: the CLI's start-up skips building node:fs's ESM facade (see cli/src/bin.ts)
const { existsSync, readdirSync, readFileSync } = process.getBuiltinModule('node:fs');
const { homedir } = process.getBuiltinModule('node:os');

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

/** `$XDG_DATA_HOME/mosaic` (default `~/.local/share/mosaic`): the parent of every gateway's data dir. */
export function dataRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_DATA_HOME && env.XDG_DATA_HOME.startsWith('/') ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return join(base, 'mosaic');
}

/** `$XDG_DATA_HOME/mosaic/<name>` (default `~/.local/share/mosaic/<name>`). */
export function defaultDataDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(dataRoot(env), name);
}

/** True while a process with this pid runs (EPERM: it runs, under another user). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `<data dir>/gateway.json`, or null when absent, unreadable, or left by a process that is gone. */
export function readDiscoveryFile(dataDir: string): DiscoveryFile | null {
  const path = join(dataDir, DISCOVERY_FILE);
  if (!existsSync(path)) return null;
  try {
    const file = JSON.parse(readFileSync(path, 'utf8')) as Partial<DiscoveryFile>;
    if (typeof file.pid !== 'number' || typeof file.adminUrl !== 'string' || typeof file.name !== 'string') return null;
    return processAlive(file.pid) ? (file as DiscoveryFile) : null;
  } catch {
    return null;
  }
}

/** `<data dir>/admin-token`, trimmed, or null. */
export function readAdminTokenFile(dataDir: string): string | null {
  try {
    const token = readFileSync(join(dataDir, ADMIN_TOKEN_FILE), 'utf8').trim();
    return token === '' ? null : token;
  } catch {
    return null;
  }
}

/** Data dirs under the data root whose gateway is running now, by name. */
export function runningGateways(env: NodeJS.ProcessEnv = process.env): Array<{ dataDir: string; file: DiscoveryFile }> {
  const root = dataRoot(env);
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const out: Array<{ dataDir: string; file: DiscoveryFile }> = [];
  for (const name of names.sort()) {
    const dataDir = join(root, name);
    const file = readDiscoveryFile(dataDir);
    if (file !== null) out.push({ dataDir, file });
  }
  return out;
}
