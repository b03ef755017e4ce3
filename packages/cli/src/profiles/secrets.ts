/**
 * Where a profile's admin token is kept: the OS keyring through `@napi-rs/keyring` (macOS
 * Keychain, Windows Credential Manager, the Secret Service on Linux), else — on a headless
 * machine with no keyring service — a 0600 file under the CLI's config dir, in a 0700 folder.
 * That file is handled like ssh handles its keys: written to a temp file (O_EXCL, 0600) in the
 * same folder and renamed over the target, never through a symlink; read only when it is a
 * regular file of ours that group and others cannot read, in a 0700 folder of ours.
 * Never a crash: a keyring that is not there is the file; a keyring that is there but fails
 * is an error naming the entry.
 *
 * The native module is loaded on first use only (never at start-up).
 */
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type * as NapiKeyring from '@napi-rs/keyring';
import { cliConfigDir, type TokenStore } from './store.js';

// process.getBuiltinModule, not an ES import: the CLI's start-up skips building node:fs's ESM facade (see cli/src/bin.ts)
const { chmodSync, closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } = process.getBuiltinModule('node:fs');
const { createRequire } = process.getBuiltinModule('node:module');

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
    writeTokenFile(path, `${token}\n`);
    return { store: 'file', path, reason: err.message };
  }
}

const POSIX = process.platform !== 'win32';

/** Why the token file (or its folder) is not used, and what to do. */
export class TokenFileUnsafe extends Error {
  readonly code = 'TOKEN_FILE_UNSAFE';
  readonly remediation: string;
  constructor(message: string, remediation: string) {
    super(message);
    this.remediation = remediation;
  }
}

const mode = (st: Stats) => `0${(st.mode & 0o777).toString(8)}`;
const notOurs = (st: Stats) => POSIX && typeof process.getuid === 'function' && st.uid !== process.getuid();

/** The tokens folder must be a real directory of ours, 0700 (checked with lstat: a symlink is refused). */
function checkTokenDir(dir: string): void {
  const st = lstatSync(dir);
  if (st.isSymbolicLink() || !st.isDirectory()) throw new TokenFileUnsafe(`${dir} is not a directory (a symlink?): the token file is not used`, `remove ${dir}; \`mosaic profile add\` makes it again`);
  if (notOurs(st)) throw new TokenFileUnsafe(`${dir} belongs to another user (uid ${st.uid}): the token file is not used`, `remove ${dir}; \`mosaic profile add\` makes it again`);
  if (POSIX && (st.mode & 0o077) !== 0) throw new TokenFileUnsafe(`${dir} is open to group or others (mode ${mode(st)}): the token file is not used`, `chmod 700 ${dir}`);
}

/** The token file itself: a regular file of ours that group and others cannot read. */
function checkTokenFile(path: string, st: Stats): void {
  if (st.isSymbolicLink()) throw new TokenFileUnsafe(`the token file ${path} is a symlink: refused`, `remove ${path} and run \`mosaic profile add\` again`);
  if (!st.isFile()) throw new TokenFileUnsafe(`the token file ${path} is not a regular file: refused`, `remove ${path} and run \`mosaic profile add\` again`);
  if (notOurs(st)) throw new TokenFileUnsafe(`the token file ${path} belongs to another user (uid ${st.uid}): refused`, `remove ${path} and run \`mosaic profile add\` again`);
  if (POSIX && (st.mode & 0o077) !== 0) throw new TokenFileUnsafe(`the token file ${path} is readable by group or others (mode ${mode(st)}): refused`, `chmod 600 ${path}`);
}

/**
 * Write `text` to `path` atomically: a fresh temp file (`wx`, 0600) in the same 0700 folder,
 * renamed over the target. A symlink (or anything but a regular file) at the target is refused
 * and left alone, as is whatever it points to.
 */
function writeTokenFile(path: string, text: string): void {
  const dir = join(path, '..');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const d = lstatSync(dir);
  // ours and a real folder: made 0700 again (a folder of another user, or a link, is refused below)
  if (POSIX && !d.isSymbolicLink() && d.isDirectory() && !notOurs(d) && (d.mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
  checkTokenDir(dir);
  const target = lstatSync(path, { throwIfNoEntry: false });
  if (target !== undefined && (target.isSymbolicLink() || !target.isFile())) {
    throw new TokenFileUnsafe(`${path} is ${target.isSymbolicLink() ? 'a symlink' : 'not a regular file'}: the token was not written`, `remove ${path} and run \`mosaic profile add\` again`);
  }
  const temp = join(dir, `.${process.getBuiltinModule('node:crypto').randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(temp, 'wx', 0o600);
  try {
    try {
      fchmodSync(fd, 0o600); // whatever the umask
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path); // replaces the entry itself: never follows a link
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

/** The token file's contents, after the checks (opened without following a symlink where the OS can). */
function readTokenFile(path: string): string {
  checkTokenDir(join(path, '..'));
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') checkTokenFile(path, lstatSync(path));
    throw err;
  }
  try {
    checkTokenFile(path, fstatSync(fd));
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}

/** A profile's token from where it was kept, or null (with the reason) when it cannot be read. */
export function loadToken(name: string, store: TokenStore, options: { keyring?: Keyring; env?: NodeJS.ProcessEnv } = {}): { token: string | null; problem?: string; hint?: string } {
  if (store === 'none') return { token: null };
  if (store === 'file') {
    const path = tokenFilePath(name, options.env);
    try {
      const token = readTokenFile(path).trim();
      return token === '' ? { token: null, problem: `the token file ${path} is empty` } : { token };
    } catch (err) {
      if (err instanceof TokenFileUnsafe) return { token: null, problem: err.message, hint: err.remediation };
      return { token: null, problem: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
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
