import { describe, expect, it } from 'vitest';
import { classifyKeyringError, createOsKeyring, type EntryConstructor } from './keyring.js';

type Behaviour = { ctor?: Error; get?: Error; set?: Error; value?: string | null };

/** A stand-in for @napi-rs/keyring's Entry that records how it was built. */
function fakeEntry(behaviour: Behaviour, calls: unknown[][]): EntryConstructor {
  class FakeEntry {
    constructor(...args: unknown[]) {
      calls.push(args);
      if (behaviour.ctor) throw behaviour.ctor;
    }
    getPassword(): string | null {
      if (behaviour.get) throw behaviour.get;
      return behaviour.value ?? null;
    }
    setPassword(value: string): void {
      if (behaviour.set) throw behaviour.set;
      behaviour.value = value;
    }
  }
  return FakeEntry as unknown as EntryConstructor;
}

const nativeError = (message: string) => Object.assign(new Error(message), { code: 'GenericFailure' });

describe('createOsKeyring', () => {
  it('pins Linux to the Secret Service (the kernel keyring does not survive a reboot)', () => {
    const calls: unknown[][] = [];
    const keyring = createOsKeyring({ Entry: fakeEntry({}, calls), platform: 'linux' });
    keyring.set('mosaic', 'home', 'value');
    expect(calls[0]).toEqual(['mosaic', 'home', { linux: { store: 'secret-service' } }]);
    const mac: unknown[][] = [];
    createOsKeyring({ Entry: fakeEntry({}, mac), platform: 'darwin' }).get('mosaic', 'home');
    expect(mac[0]).toEqual(['mosaic', 'home', undefined]);
  });

  it('stores and returns values', () => {
    const keyring = createOsKeyring({ Entry: fakeEntry({}, []), platform: 'darwin' });
    expect(keyring.get('mosaic', 'home')).toBeNull();
    keyring.set('mosaic', 'home', 'v');
    expect(keyring.get('mosaic', 'home')).toBe('v');
  });

  it.each([
    ['a constructor without a session bus', { ctor: nativeError('Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled at compile time') }, 'get'],
    ['setPassword on a headless machine', { set: nativeError("Couldn't access platform storage: AccessDenied") }, 'set'],
    ['getPassword without storage', { get: nativeError("Couldn't access platform storage: AccessDenied") }, 'get'],
  ] as const)('turns %s into the fallback signal', (_label, behaviour, op) => {
    const keyring = createOsKeyring({ Entry: fakeEntry({ ...behaviour }, []), platform: 'linux' });
    const call = () => (op === 'get' ? keyring.get('mosaic', 'home') : keyring.set('mosaic', 'home', 'v'));
    expect(call).toThrow(expect.objectContaining({ code: 'KEYRING_UNAVAILABLE' }));
  });

  it('keeps other keyring errors as hard failures', () => {
    const keyring = createOsKeyring({ Entry: fakeEntry({ get: nativeError('Entry is matched by 2 credentials: Ambiguous') }, []), platform: 'linux' });
    expect(() => keyring.get('mosaic', 'home')).toThrow(expect.objectContaining({ code: 'KEYRING_FAILED', message: expect.stringContaining('mosaic/home') }));
  });

  it('classifies only the first line of a long native message', () => {
    const err = classifyKeyringError(nativeError("Couldn't access platform storage: x\nsecond line"), 'mosaic/home');
    expect(err.message).not.toContain('second line');
  });

  it('the real library, here, answers get() without crashing', () => {
    const keyring = createOsKeyring();
    try {
      expect(keyring.get('mosaic', `probe-${process.pid}`)).toBeNull();
    } catch (err) {
      expect(err).toMatchObject({ code: 'KEYRING_UNAVAILABLE' });
    }
  });
});
