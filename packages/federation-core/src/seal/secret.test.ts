import { createHmac, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { MosaicError } from '../errors.js';
import { KdfParamsInvalid, MasterSecretInvalid, SealArgumentInvalid } from './errors.js';
import { deriveKey, generateMasterSecret, KEY_PURPOSES, keyLabel, MasterSecret, parseMasterSecret } from './secret.js';

/** RFC 5869 written out with HMAC, to pin the exact derivation independently of hkdfSync. */
function referenceHkdf(ikm: Uint8Array, salt: Uint8Array, info: string, length: number): Buffer {
  const prk = createHmac('sha256', salt.byteLength === 0 ? Buffer.alloc(32) : salt).update(ikm).digest();
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; blocks.length * 32 < length; i++) {
    previous = createHmac('sha256', prk).update(previous).update(info).update(Buffer.from([i])).digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

const bytes0to31 = Buffer.from(Array.from({ length: 32 }, (_, i) => i));

function refusal(text: string, source?: string): MosaicError {
  try {
    parseMasterSecret(text, source);
  } catch (err) {
    expect(MasterSecretInvalid.is(err)).toBe(true);
    return err as MosaicError;
  }
  throw new Error('expected a refusal');
}

describe('parseMasterSecret', () => {
  const raw = randomBytes(32);
  const std = raw.toString('base64');

  it.each([
    ['standard base64 with padding', std],
    ['URL-safe base64 without padding', raw.toString('base64url')],
    ['URL-safe base64 with padding', raw.toString('base64url') + '='],
    ['standard base64 without padding', std.replace(/=+$/, '')],
    ['surrounding whitespace and a trailing newline (a file or a shell)', `  ${std}\n`],
  ])('accepts %s', (_label, text) => {
    const master = parseMasterSecret(text);
    expect(master.byteLength).toBe(32);
    // Same bytes whatever the spelling: the derived keys agree.
    expect(deriveKey(master, 'seal').equals(deriveKey(parseMasterSecret(std), 'seal'))).toBe(true);
  });

  it('accepts longer secrets, wrapped at 64 columns as `openssl rand -base64 64` prints them', () => {
    const long = randomBytes(64).toString('base64');
    const wrapped = `${long.slice(0, 64)}\n${long.slice(64)}\n`;
    expect(parseMasterSecret(wrapped).byteLength).toBe(64);
  });

  it.each([
    ['empty', '', 'empty'],
    ['blank', ' \n ', 'empty'],
    ['31 bytes', randomBytes(31).toString('base64'), '31 bytes'],
    ['16 bytes', randomBytes(16).toString('base64'), '16 bytes'],
    ['not base64 at all', 'correct horse battery staple!', 'not base64'],
    ['hex is not base64 of 32 bytes', randomBytes(32).toString('hex') + '!', 'not base64'],
    ['mixed standard and URL-safe alphabets', 'ab+c-d' + std.slice(6), 'not base64'],
    ['bad padding', std.replace(/=*$/, '==='), 'not base64'],
    ['padding in the middle', std.slice(0, 20) + '=' + std.slice(21), 'not base64'],
    ['one dangling character', std.replace(/=+$/, '') + 'AA', 'not base64'],
    ['non-canonical trailing bits', std.slice(0, 42) + 'B=', 'not base64'],
    ['32 zero bytes (a placeholder)', Buffer.alloc(32).toString('base64'), 'equal'],
    ['48 bytes of one value', Buffer.alloc(48, 7).toString('base64'), 'equal'],
  ])('refuses %s, saying why and how to make one', (_label, text, why) => {
    const err = refusal(text);
    expect(err.code).toBe('MASTER_SECRET_INVALID');
    expect(err.message).toContain('MOSAIC_SECRET');
    expect(err.message).toContain(why);
    expect(err.remediation).toContain('openssl rand -base64 32');
    if (text.trim() !== '') expect(JSON.stringify({ m: err.message, r: err.remediation, d: err.details })).not.toContain(text.trim());
  });

  it('names the source it was given, so a bad secret file is told apart from the env var', () => {
    expect(refusal('short', '/home/a/.config/mosaic/work/secret').message).toContain('/home/a/.config/mosaic/work/secret');
  });

  it('refuses a non-string from untyped callers (an unset env var)', () => {
    expect(() => parseMasterSecret(undefined as unknown as string)).toThrow(MasterSecretInvalid);
  });
});

describe('generateMasterSecret', () => {
  it('makes 32 random bytes of standard base64 that parse back', () => {
    const a = generateMasterSecret();
    const b = generateMasterSecret();
    expect(a).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toBe(b);
    expect(parseMasterSecret(a).byteLength).toBe(32);
  });
});

describe('MasterSecret', () => {
  it('never shows its bytes: String, JSON, util.inspect', () => {
    const text = generateMasterSecret();
    const master = parseMasterSecret(text);
    const hex = Buffer.from(text, 'base64').toString('hex');
    for (const shown of [String(master), JSON.stringify({ master }), inspect(master), inspect({ master }, { depth: 5 })]) {
      expect(shown).toContain('redacted');
      expect(shown).not.toContain(text.slice(0, 12));
      expect(shown).not.toContain(hex.slice(0, 12));
    }
  });

  it('is built only by parseMasterSecret (no public constructor from bytes)', () => {
    expect(Object.getOwnPropertyNames(MasterSecret).filter((n) => !['length', 'name', 'prototype'].includes(n))).toEqual([]);
    const Unchecked = MasterSecret as unknown as new (...args: unknown[]) => MasterSecret;
    expect(() => new Unchecked(Buffer.alloc(1))).toThrow(SealArgumentInvalid);
    expect(() => new Unchecked(Symbol('verified master secret'), Buffer.alloc(1))).toThrow(SealArgumentInvalid);
  });
});

describe('deriveKey', () => {
  const master = parseMasterSecret(bytes0to31.toString('base64'));

  it('is HKDF-SHA-256 with an empty salt and the purpose label as info (pinned)', () => {
    for (const [purpose, label] of Object.entries(KEY_PURPOSES)) {
      expect(deriveKey(master, purpose as keyof typeof KEY_PURPOSES).equals(referenceHkdf(bytes0to31, new Uint8Array(0), label, 32))).toBe(true);
    }
    expect(deriveKey(master, 'seal', 64).equals(referenceHkdf(bytes0to31, new Uint8Array(0), 'mosaic/seal/v1', 64))).toBe(true);
  });

  it('never changes for a given secret: sealed data depends on it (known answer)', () => {
    // = `openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:000102…1f -kdfopt info:mosaic/seal/v1 HKDF`
    expect(deriveKey(master, 'seal').toString('hex')).toBe('70640378b0fb97602b1bae3d9643d2c73e6ebb311f52769b924f57b4b52ce31c');
  });

  it('gives distinct keys per purpose and per secret, the same key for the same inputs', () => {
    const keys = Object.keys(KEY_PURPOSES).map((p) => deriveKey(master, p as keyof typeof KEY_PURPOSES).toString('hex'));
    expect(new Set(keys).size).toBe(keys.length);
    expect(deriveKey(master, 'cursor').equals(deriveKey(master, 'cursor'))).toBe(true);
    expect(deriveKey(parseMasterSecret(generateMasterSecret()), 'cursor').equals(deriveKey(master, 'cursor'))).toBe(false);
  });

  it('accepts a custom label of the form mosaic/<name>/v<n>', () => {
    expect(keyLabel('mosaic/admin-token/v2')).toBe('mosaic/admin-token/v2');
    expect(deriveKey(master, 'mosaic/admin-token/v2').equals(referenceHkdf(bytes0to31, new Uint8Array(0), 'mosaic/admin-token/v2', 32))).toBe(true);
  });

  it.each(['', 'Seal', 'mosaic/seal', 'mosaic//v1', 'mosaic/x/v0', 'other/seal/v1', 'toString', '__proto__'])(
    'refuses the purpose %j',
    (purpose) => {
      expect(() => deriveKey(master, purpose as 'seal')).toThrow(SealArgumentInvalid);
    },
  );

  it.each([0, 8, 15, 65, 8160, 16.5, Number.NaN])('refuses a key length of %s bytes', (length) => {
    expect(() => deriveKey(master, 'seal', length)).toThrow(KdfParamsInvalid);
  });

  it('accepts 16..64 bytes', () => {
    expect(deriveKey(master, 'cursor', 16)).toHaveLength(16);
    expect(deriveKey(master, 'cursor', 64)).toHaveLength(64);
  });

  it('refuses anything but a parsed MasterSecret', () => {
    expect(() => deriveKey(bytes0to31 as unknown as MasterSecret, 'seal')).toThrow(SealArgumentInvalid);
  });
});
