/**
 * Saved gateway profiles: a name → the admin API URL, and where its admin token is kept (the OS
 * keyring, or a 0600 file where no keyring service runs). The file is written through `conf`
 * (atomic writes, a schema) by the `profile` verbs; every other command only reads it, with a
 * plain JSON read — `conf` costs ~90 ms to import, which `grant list` must not pay.
 *
 * Where: `$XDG_CONFIG_HOME/mosaic/cli/profiles.json` (default `~/.config/mosaic/cli/`). The
 * gateway keeps its own files under `$XDG_CONFIG_HOME/mosaic/<gateway name>/`; the CLI's are
 * one level down so that no profile name can land on a gateway's secret.
 */
import { join } from 'node:path';
import { UsageError } from '../output.js';

// process.getBuiltinModule, not an ES import: the CLI's start-up skips building node:fs's ESM facade (see cli/src/bin.ts)
const { readFileSync } = process.getBuiltinModule('node:fs');
const { homedir } = process.getBuiltinModule('node:os');

/** Where a profile's admin token is: the OS keyring, a 0600 file, or nowhere (env / --token-file at use). */
export type TokenStore = 'keyring' | 'file' | 'none';

export interface Profile {
  gateway: string;
  token: TokenStore;
  addedAt: string;
}

export interface ProfilesFile {
  default?: string;
  profiles: Record<string, Profile>;
}

export const PROFILES_CONFIG_NAME = 'profiles';

/** Profile names: what a file name and a keyring account can both hold. */
export const PROFILE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

/** `$XDG_CONFIG_HOME/mosaic/cli` (default `~/.config/mosaic/cli`). */
export function cliConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'mosaic', 'cli');
}

export function profilesPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(cliConfigDir(env), `${PROFILES_CONFIG_NAME}.json`);
}

/** A profile name from the command line, or a usage error. */
export function profileNameArg(name: string): string {
  if (!PROFILE_NAME.test(name)) throw new UsageError(`"${name.slice(0, 40)}" is not a profile name`, 'use 1–63 characters of a-z, 0-9, ".", "_", "-", e.g. work');
  return name;
}

function isProfile(v: unknown): v is Profile {
  const p = v as Partial<Profile> | null;
  return typeof p === 'object' && p !== null && typeof p.gateway === 'string' && (p.token === 'keyring' || p.token === 'file' || p.token === 'none');
}

/** The profiles file as it is on disk (empty when there is none); entries that are not profiles are skipped. */
export function readProfiles(env: NodeJS.ProcessEnv = process.env): ProfilesFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(profilesPath(env), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { profiles: {} };
    throw Object.assign(new Error(`cannot read the profiles at ${profilesPath(env)}: ${(err as Error).message}`), {
      code: 'PROFILES_UNREADABLE',
      remediation: 'fix or remove that file (`mosaic profile add` writes a new one)',
    });
  }
  const file = raw as { default?: unknown; profiles?: unknown };
  const profiles: Record<string, Profile> = {};
  if (typeof file.profiles === 'object' && file.profiles !== null) {
    for (const [name, p] of Object.entries(file.profiles)) if (PROFILE_NAME.test(name) && isProfile(p)) profiles[name] = p;
  }
  return typeof file.default === 'string' && profiles[file.default] !== undefined ? { default: file.default, profiles } : { profiles };
}

/** The `conf` store behind the file, for the verbs that change it (imported when they run). */
export async function openProfileStore(env: NodeJS.ProcessEnv = process.env) {
  const { default: Conf } = await import('conf');
  return new Conf<ProfilesFile>({
    projectName: 'mosaic',
    cwd: cliConfigDir(env),
    configName: PROFILES_CONFIG_NAME,
    configFileMode: 0o600,
    defaults: { profiles: {} },
  });
}
