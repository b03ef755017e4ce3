import { createPrivateKey, createSecretKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isMosaicError } from '../errors.js';
import { encodePem } from './pem.js';
import {
  exportPrivateKeyPem,
  exportPublicKeyPem,
  generateKeyPair,
  importPrivateKeyPem,
  importPublicKeyPem,
  keyPairFromKeyObject,
  publicKeySpki,
} from './keys.js';

const codeOf = async (fn: () => Promise<unknown>): Promise<string> => {
  try {
    await fn();
  } catch (err) {
    if (isMosaicError(err)) return err.code;
    throw err;
  }
  return 'ok';
};

describe('key pairs', () => {
  it('generates ECDSA P-256 keys, extractable by default', async () => {
    const keys = await generateKeyPair();
    expect(keys.privateKey.algorithm).toMatchObject({ name: 'ECDSA', namedCurve: 'P-256' });
    expect(keys.privateKey.extractable).toBe(true);
    const locked = await generateKeyPair({ extractable: false, crypto: webcrypto });
    expect(locked.privateKey.extractable).toBe(false);
    expect(await codeOf(() => exportPrivateKeyPem(locked.privateKey))).toBe('KEY_INVALID');
    expect(await codeOf(() => exportPrivateKeyPem(keys.publicKey))).toBe('KEY_INVALID');
  });

  it('round-trips the private key through PKCS#8 PEM, deriving the public half', async () => {
    const keys = await generateKeyPair();
    const pem = await exportPrivateKeyPem(keys.privateKey);
    expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    const back = await importPrivateKeyPem(pem);
    expect(await exportPublicKeyPem(back.publicKey)).toBe(await exportPublicKeyPem(keys.publicKey));
    const data = Buffer.from('payload');
    const sig = await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, back.privateKey, data);
    expect(await webcrypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, keys.publicKey, sig, data)).toBe(true);
    expect((await importPrivateKeyPem(pem, { extractable: false })).privateKey.extractable).toBe(false);
  });

  it('reads SEC1 (`EC PRIVATE KEY`, as openssl ecparam writes) and P-384 keys', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const sec1 = privateKey.export({ type: 'sec1', format: 'pem' }) as string;
    const pair = await importPrivateKeyPem(sec1);
    expect(pair.privateKey.algorithm).toMatchObject({ namedCurve: 'P-384' });
  });

  it.each([
    ['not PEM', 'hello'],
    ['two blocks', `${encodePem(new Uint8Array(8), 'PRIVATE KEY')}${encodePem(new Uint8Array(8), 'PRIVATE KEY')}`],
    ['an encrypted key', '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n'],
    ['garbage DER', encodePem(new Uint8Array([1, 2, 3]), 'PRIVATE KEY')],
    ['an RSA key', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string],
    ['an Ed25519 key', generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string],
    ['a P-521 key', generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string],
  ])('refuses %s with KEY_INVALID, without echoing key material', async (_name, pem) => {
    let err: unknown;
    try {
      await importPrivateKeyPem(pem);
    } catch (e) {
      err = e;
    }
    expect(isMosaicError(err) && err.code).toBe('KEY_INVALID');
    expect(String((err as Error).message)).not.toMatch(/BEGIN|[A-Za-z0-9+/]{40}/);
  });

  it('refuses a public KeyObject where a private key is needed', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    expect(await codeOf(() => keyPairFromKeyObject(publicKey, true))).toBe('KEY_INVALID');
  });
});

describe('public keys', () => {
  it('gives the same SPKI from a CryptoKey, a KeyObject (public or private), DER and PEM', async () => {
    const keys = await generateKeyPair();
    const spki = await publicKeySpki(keys.publicKey);
    const pem = await exportPublicKeyPem(keys.publicKey);
    const privateObject = createPrivateKey(await exportPrivateKeyPem(keys.privateKey));
    expect(await publicKeySpki(pem)).toEqual(spki);
    expect(await publicKeySpki(spki)).toBe(spki);
    expect(await publicKeySpki(privateObject)).toEqual(spki);
    const imported = await importPublicKeyPem(pem);
    expect(new Uint8Array(await webcrypto.subtle.exportKey('spki', imported))).toEqual(spki);
    expect(imported.usages).toEqual(['verify']);
  });

  it('refuses secret and private keys, bad PEM and non-EC keys', async () => {
    const keys = await generateKeyPair();
    const hmac = await webcrypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
    expect(await codeOf(() => publicKeySpki(keys.privateKey))).toBe('KEY_INVALID');
    expect(await codeOf(() => publicKeySpki(hmac))).toBe('KEY_INVALID');
    expect(await codeOf(() => publicKeySpki(createSecretKey(Buffer.alloc(32))))).toBe('KEY_INVALID');
    expect(await codeOf(() => publicKeySpki('-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n'))).toBe('KEY_INVALID');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' });
    expect(await codeOf(() => importPublicKeyPem(rsa))).toBe('KEY_INVALID');
    expect(await codeOf(() => importPublicKeyPem(new Uint8Array([1, 2, 3])))).toBe('KEY_INVALID');
  });
});
