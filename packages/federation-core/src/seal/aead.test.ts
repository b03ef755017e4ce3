import { createSecretKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { aesGcmDecrypt, aesGcmEncrypt } from './aead.js';
import { KdfParamsInvalid, SealParamsUnsupported, SealTampered } from './errors.js';
import { hkdf, HKDF_MAX_INFO_BYTES, HKDF_MAX_OUTPUT_BYTES } from './hkdf.js';

const key = randomBytes(32);
const iv = randomBytes(12);
const aad = Buffer.from('aad');

describe('aesGcmEncrypt / aesGcmDecrypt', () => {
  it('round-trips with a raw key and with a KeyObject', () => {
    const { ciphertext, tag } = aesGcmEncrypt(key, iv, aad, Buffer.from('plain'));
    expect(tag).toHaveLength(16);
    expect(aesGcmDecrypt(key, iv, aad, ciphertext, tag).toString()).toBe('plain');
    expect(aesGcmDecrypt(createSecretKey(key), iv, aad, ciphertext, tag).toString()).toBe('plain');
  });

  it('refuses 128/192-bit keys, non-secret key objects, other nonce sizes and short tags', () => {
    const { ciphertext, tag } = aesGcmEncrypt(key, iv, aad, Buffer.from('plain'));
    const refusals: [string, () => unknown][] = [
      ['128-bit key', () => aesGcmEncrypt(randomBytes(16), iv, aad, Buffer.alloc(1))],
      ['192-bit key', () => aesGcmDecrypt(randomBytes(24), iv, aad, ciphertext, tag)],
      ['128-bit key object', () => aesGcmEncrypt(createSecretKey(randomBytes(16)), iv, aad, Buffer.alloc(1))],
      ['asymmetric key object', () => aesGcmEncrypt(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, iv, aad, Buffer.alloc(1))],
      ['empty nonce', () => aesGcmEncrypt(key, Buffer.alloc(0), aad, Buffer.alloc(1))],
      ['64-bit nonce', () => aesGcmDecrypt(key, randomBytes(8), aad, ciphertext, tag)],
      ['128-bit nonce', () => aesGcmEncrypt(key, randomBytes(16), aad, Buffer.alloc(1))],
      ['96-bit tag', () => aesGcmDecrypt(key, iv, aad, ciphertext, tag.subarray(0, 12))],
      ['32-bit tag', () => aesGcmDecrypt(key, iv, aad, ciphertext, tag.subarray(0, 4))],
      ['empty tag', () => aesGcmDecrypt(key, iv, aad, ciphertext, Buffer.alloc(0))],
    ];
    for (const [label, fn] of refusals) expect(fn, label).toThrow(SealParamsUnsupported);
  });

  it('refuses a modified ciphertext, aad or tag without returning any plaintext', () => {
    const { ciphertext, tag } = aesGcmEncrypt(key, iv, aad, Buffer.from('plain text'));
    const flip = (b: Buffer, i: number): Buffer => {
      const c = Buffer.from(b);
      c[i]! ^= 0x80;
      return c;
    };
    expect(() => aesGcmDecrypt(key, iv, aad, flip(ciphertext, 0), tag)).toThrow(SealTampered);
    expect(() => aesGcmDecrypt(key, iv, flip(aad, 1), ciphertext, tag)).toThrow(SealTampered);
    expect(() => aesGcmDecrypt(key, iv, aad, ciphertext, flip(tag, 15))).toThrow(SealTampered);
    expect(() => aesGcmDecrypt(key, flip(iv, 11), aad, ciphertext, tag)).toThrow(SealTampered);
  });
});

describe('hkdf', () => {
  it('refuses sizes outside 1..8160 and info over 1024 bytes with a typed error', () => {
    for (const size of [0, -1, HKDF_MAX_OUTPUT_BYTES + 1, 1.5, Number.POSITIVE_INFINITY]) {
      expect(() => hkdf(key, Buffer.alloc(0), 'x', size), String(size)).toThrow(KdfParamsInvalid);
    }
    expect(() => hkdf(key, Buffer.alloc(0), Buffer.alloc(HKDF_MAX_INFO_BYTES + 1), 32)).toThrow(KdfParamsInvalid);
    expect(hkdf(key, Buffer.alloc(0), Buffer.alloc(HKDF_MAX_INFO_BYTES), 32)).toHaveLength(32);
    expect(hkdf(key, Buffer.alloc(0), 'x', HKDF_MAX_OUTPUT_BYTES)).toHaveLength(8160);
  });

  it('treats a string info as its UTF-8 bytes', () => {
    expect(hkdf(key, Buffer.alloc(0), 'mosaic/é', 32).equals(hkdf(key, Buffer.alloc(0), Buffer.from('mosaic/é', 'utf8'), 32))).toBe(true);
  });
});
