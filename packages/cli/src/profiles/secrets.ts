/**
 * Where a profile's admin token is kept: the OS keyring through `@napi-rs/keyring` (macOS
 * Keychain, Windows Credential Manager, the Secret Service on Linux), else — on a headless
 * machine with no keyring service — a 0600 file under the CLI's config dir, in a 0700 folder.
 * Never a crash: a keyring that is not there is the file; a keyring that is there but fails
 * is an error naming the entry.
 *
 * The native module is loaded on first use only (never at start-up).
 */
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as NapiKeyring from '@napi-rs/keyring';
import { cliConfigDir, type TokenStore } from './store.js';

/** The keyring service of profile tokens; the account is the profile name. */
export const KEYRING_SERVICE = 'mosaic-admin-token';

/** A keyring of strings by (service, account); injectable for tests (a working keyring is not something a headless CI can offer). */
export interface Keyring {
  get(account: string): string | null;
  set(account: string, value: string): void;
  delete(account: string): void;
}

/** There is no usable OS keyring here: the caller falls back to the file. */
export class KeyringUnavailable extends Error {
  readonly code = 'KEYRING_UNAVAILABLE';
}

// keyring-rs error texts that mean "there is no storage here" (as the gateway's own keeper
// classifies them): "Couldn't access platform storage: …", "Platform failure: DBus error: …".
const UNAVAILABLE = [/^Couldn't access platform storage/i, /^Platform failure/i, /DBus error/i, /no such (interface|service)/i, /could not be loaded/i];

function classify(err: unknown, account: string): Error {
  const text = (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 200);
  if (UNAVAILABLE.some((re) => re.test(text))) return new KeyringUnavailable(text);
  return Object.assign(new Error(`the OS keyring entry ${KEYRING_SERVICE}/${account} could not be used: ${text}`), {
    code: 'KEYRING_FAILED',
    remediation: 'unlock the keyring, or pass the token with --token-file / MOSAIC_ADMIN_TOKEN',
  });
}

/** The OS keyring (on Linux pinned to the Secret Service: the kernel keyring is gone after a reboot). */
export function osKeyring(platform: NodeJS.Platform = process.platform): Keyring {
  let Entry: typeof NapiKeyring.Entry | undefined;
  const open = (account: string) => {
    try {
      Entry ??= (createRequire(import.meta.url)('@napi-rs/keyring') as typeof NapiKeyring).Entry;
    } catch (err) {
      throw new KeyringUnavailable(`@napi-rs/keyring could not be loaded (${(err as Error).message.split('\n')[0]!})`);
    }
    try {
      return new Entry(KEYRING_SERVICE, account, platform === 'linux' ? { linux: { store: 'secret-service' } } : undefined);
    } catch (err) {
      throw classify(err, account);
    }
  };
  const call = <T>(account: string, fn: (e: NapiKeyring.Entry) => T): T => {
    const entry = open(account);
    try {
      return fn(entry);
    } catch (err) {
      throw classify(err, account);
    }
  };
  return {
    get: (account) => call(account, (e) => e.getPassword() ?? null),
    set: (account, value) => call(account, (e) => e.setPassword(value)),
    delete: (account) => call(account, (e) => void e.deletePassword()),
  };
}

/** `<config dir>/tokens/<profile>`: the fallback token file. */
export function tokenFilePath(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(cliConfigDir(env), 'tokens', name);
}

/** Where a token was put, and why, for the one line said on stderr. */
export interface Stored {
  store: Exclude<TokenStore, 'none'>;
  path?: string;
  reason?: string;
}

/** Keep a profile's token: in the keyring when there is one, else in a 0600 file. */
export function storeToken(name: string, token: string, options: { keyring?: Keyring; env?: NodeJS.ProcessEnv } = {}): Stored {
  const keyring = options.keyring ?? osKeyring();
  try {
    keyring.set(name, token);
    removeTokenFile(name, options.env);
    return { store: 'keyring' };
  } catch (err) {
    if (!(err instanceof KeyringUnavailable)) throw err;
    const path = tokenFilePath(name, options.env);
    const dir = join(path, '..');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    writeFileSync(path, `${token}\n`, { mode: 0o600 });
    chmodSync(path, 0o600); // an existing file keeps its mode through writeFileSync
    return { store: 'file', path, reason: err.message };
  }
}

/** A profile's token from where it was kept, or null (with the reason) when it cannot be read. */
export function loadToken(name: string, store: TokenStore, options: { keyring?: Keyring; env?: NodeJS.ProcessEnv } = {}): { token: string | null; problem?: string } {
  if (store === 'none') return { token: null };
  if (store === 'file') {
    try {
      const token = readFileSync(tokenFilePath(name, options.env), 'utf8').trim();
      return token === '' ? { token: null, problem: `the token file ${tokenFilePath(name, options.env)} is empty` } : { token };
    } catch (err) {
      return { token: null, problem: `cannot read ${tokenFilePath(name, options.env)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
    }
  }
  try {
    const token = (options.keyring ?? osKeyring()).get(name);
    return token === null ? { token: null, problem: `the OS keyring holds no token for profile "${name}"` } : { token };
  } catch (err) {
    return { token: null, problem: (err as Error).message };
  }
}

function removeTokenFile(name: string, env?: NodeJS.ProcessEnv): void {
  rmSync(tokenFilePath(name, env), { force: true });
}

/** Forget a profile's token wherever it was kept (a missing entry is fine). */
export function deleteToken(name: string, store: TokenStore, options: { keyring?: Keyring; env?: NodeJS.ProcessEnv } = {}): void {
  removeTokenFile(name, options.env);
  if (store !== 'keyring') return;
  try {
    (options.keyring ?? osKeyring()).delete(name);
  } catch (err) {
    if (err instanceof KeyringUnavailable) return;
    // "No matching entry": already gone.
    if (/no (matching )?entry|not found/i.test((err as Error).message)) return;
    throw err;
  }
}
