/**
 * The OS keyring, behind a two-method interface so the keyring-works path can be tested with
 * a fake (a working keyring is not something a headless test machine can provide).
 *
 * The default implementation is `@napi-rs/keyring`'s synchronous `Entry`. On Linux it is
 * pinned to the Secret Service: the library's automatic fallback, the kernel keyutils keyring,
 * lives in kernel memory and is gone after a reboot — a master secret kept there would make
 * every sealed key unreadable at the next boot.
 */
import { createRequire } from 'node:module';
import type * as NapiKeyring from '@napi-rs/keyring';
import { KeyringFailed, KeyringUnavailable } from './errors.js';

/**
 * A place to keep one string per (service, account). `get` and `set` throw
 * `KEYRING_UNAVAILABLE` when there is no usable keyring at all (the caller then falls back to
 * the secret file) and any other error when the keyring exists but failed.
 */
export interface SecretKeyring {
  /** The stored value, or null when there is none. */
  get(service: string, account: string): string | null;
  /** Store (or replace) the value. */
  set(service: string, account: string, value: string): void;
}

/** The service name Mosaic's entries live under; the account is the gateway name. */
export const KEYRING_SERVICE = 'mosaic';

type KeyringModule = typeof NapiKeyring;
/** The constructor shape of `@napi-rs/keyring`'s `Entry`, injectable for tests. */
export type EntryConstructor = KeyringModule['Entry'];

/** Options for {@link createOsKeyring}. */
export interface OsKeyringOptions {
  /** Default: `Entry` from `@napi-rs/keyring`, loaded on first use. */
  Entry?: EntryConstructor;
  /** Default: `process.platform`. */
  platform?: NodeJS.Platform;
}

// keyring-rs error texts (Display of its Error enum) that mean "there is no storage here",
// as opposed to "the storage answered with an error". Observed on a headless Linux box:
// "Couldn't access platform storage: AccessDenied" from setPassword, "Platform failure: DBus
// error: …" from the constructor pinned to the Secret Service.
const UNAVAILABLE = [/^Couldn't access platform storage/i, /^Platform failure/i, /DBus error/i, /no such (interface|service)/i];

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Turn an error from the native keyring into the fallback signal or a hard failure. */
export function classifyKeyringError(err: unknown, entry: string): Error {
  if (KeyringUnavailable.is(err) || KeyringFailed.is(err)) return err;
  const text = message(err);
  // The first line only: DBus messages can run long, and never carry a secret.
  const summary = text.split('\n')[0]!.slice(0, 200);
  if (UNAVAILABLE.some((re) => re.test(text))) return new KeyringUnavailable(summary, { cause: err });
  return new KeyringFailed(entry, summary, { cause: err });
}

let loaded: EntryConstructor | undefined;
function loadEntry(): EntryConstructor {
  if (loaded) return loaded;
  try {
    // A native module: a missing prebuilt binary for this platform must mean "no keyring",
    // not a crash at import time of the whole gateway.
    const require = createRequire(import.meta.url);
    loaded = (require('@napi-rs/keyring') as KeyringModule).Entry;
    return loaded;
  } catch (err) {
    throw new KeyringUnavailable(`@napi-rs/keyring could not be loaded (${message(err).split('\n')[0]!})`, { cause: err });
  }
}

/**
 * The OS keyring through `@napi-rs/keyring`: macOS Keychain, Windows Credential Manager, the
 * Secret Service on Linux (never the non-persistent kernel keyring).
 *
 * @example
 * const keyring = createOsKeyring();
 * try { keyring.set('mosaic', 'home', value) } catch (err) { if (KeyringUnavailable.is(err)) useFile() }
 */
export function createOsKeyring(options: OsKeyringOptions = {}): SecretKeyring {
  const platform = options.platform ?? process.platform;
  const entryOptions = platform === 'linux' ? { linux: { store: 'secret-service' as const } } : undefined;

  function open(service: string, account: string) {
    const Entry = options.Entry ?? loadEntry();
    try {
      return new Entry(service, account, entryOptions);
    } catch (err) {
      throw classifyKeyringError(err, `${service}/${account}`);
    }
  }

  return {
    get(service, account) {
      const entry = open(service, account);
      try {
        return entry.getPassword() ?? null;
      } catch (err) {
        throw classifyKeyringError(err, `${service}/${account}`);
      }
    },
    set(service, account, value) {
      const entry = open(service, account);
      try {
        entry.setPassword(value);
      } catch (err) {
        throw classifyKeyringError(err, `${service}/${account}`);
      }
    },
  };
}
