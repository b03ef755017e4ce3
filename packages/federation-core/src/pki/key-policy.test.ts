import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bitString, integer, oid, sequence, tlv } from './der-writer.js';
import { checkPublicKey, describeKey, KeyPolicyError } from './key-policy.js';
import { Oid } from './oids.js';

const spkiOf = (key: ReturnType<typeof generateKeyPairSync>['publicKey']): Uint8Array => new Uint8Array(key.export({ type: 'spki', format: 'der' }));
const ecSpki = (params: Uint8Array | undefined, point: Uint8Array): Uint8Array => sequence(sequence(oid(Oid.ecPublicKey), ...(params ? [params] : [])), bitString(point));
/** An RSA SPKI with any modulus/exponent (Node does not check primality, so no key generation is needed). */
const rsaSpki = (bits: number, exponent: bigint, params: Uint8Array | null = Uint8Array.of(0x05, 0x00)): Uint8Array => {
  const modulus = (1n << BigInt(bits - 1)) | 1n;
  return sequence(sequence(oid(Oid.rsaEncryption), ...(params ? [params] : [])), bitString(sequence(integer(modulus), integer(exponent))));
};

function reason(spki: Uint8Array): string {
  try {
    checkPublicKey(spki);
  } catch (err) {
    if (err instanceof KeyPolicyError) return err.message;
    throw err;
  }
  return 'accepted';
}

describe('checkPublicKey', () => {
  it('accepts P-256 (uncompressed and compressed points), P-384 and RSA 2048–4096', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    expect(checkPublicKey(spkiOf(p256)).description).toEqual({ type: 'ec', curve: 'P-256' });
    const point = spkiOf(p256).subarray(-65);
    const x = point.subarray(1, 33);
    const yOdd = point[64]! & 1;
    expect(checkPublicKey(ecSpki(oid(Oid.p256), Uint8Array.from([yOdd ? 3 : 2, ...x]))).description).toEqual({ type: 'ec', curve: 'P-256' });
    expect(checkPublicKey(spkiOf(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey)).description).toEqual({ type: 'ec', curve: 'P-384' });
    expect(checkPublicKey(rsaSpki(2048, 65537n)).description).toEqual({ type: 'rsa', bits: 2048 });
    expect(checkPublicKey(rsaSpki(4096, 65537n)).description).toEqual({ type: 'rsa', bits: 4096 });
    // RFC 4055 wants NULL parameters; an absent field is tolerated.
    expect(checkPublicKey(rsaSpki(2048, 65537n, null)).description).toEqual({ type: 'rsa', bits: 2048 });
  });

  it.each<[string, () => Uint8Array, RegExp]>([
    ['RSA 1024', () => rsaSpki(1024, 65537n), /RSA 1024 is too weak/],
    ['RSA 2047', () => rsaSpki(2047, 65537n), /RSA 2047 is too weak/],
    ['RSA 4097', () => rsaSpki(4097, 65537n), /RSA 4097 is larger than the 4096-bit limit/],
    ['RSA 8192', () => rsaSpki(8192, 65537n), /larger than/],
    ['RSA e=3', () => rsaSpki(2048, 3n), /exponent/],
    ['RSA even exponent', () => rsaSpki(2048, 65538n), /exponent/],
    ['RSA with non-NULL parameters', () => rsaSpki(2048, 65537n, oid('1.2.3')), /must be NULL/],
    ['RSA-PSS key', () => sequence(sequence(oid(Oid.rsassaPss)), bitString(sequence(integer(5n), integer(3n)))), /RSA-PSS/],
    ['Ed25519', () => spkiOf(generateKeyPairSync('ed25519').publicKey), /Ed25519/],
    ['Ed448', () => spkiOf(generateKeyPairSync('ed448').publicKey), /Ed448/],
    ['X25519 (unknown algorithm)', () => spkiOf(generateKeyPairSync('x25519').publicKey), /key algorithm 1\.3\.101\.110 is not supported/],
    ['P-192', () => spkiOf(generateKeyPairSync('ec', { namedCurve: 'prime192v1' }).publicKey), /P-192/],
    ['P-521', () => spkiOf(generateKeyPairSync('ec', { namedCurve: 'secp521r1' }).publicKey), /P-521/],
    ['EC without curve', () => ecSpki(undefined, new Uint8Array(65)), /names no curve/],
    ['explicit curve parameters', () => ecSpki(sequence(integer(1)), new Uint8Array(65)), /explicit EC curve parameters/],
    ['a malformed curve OID', () => ecSpki(tlv(0x06, Uint8Array.of(0x80)), new Uint8Array(65)), /not a valid OID/],
    ['a P-256 point of the wrong size', () => ecSpki(oid(Oid.p256), Uint8Array.of(4, ...new Uint8Array(63))), /wrong size or form/],
    ['a hybrid-form point', () => ecSpki(oid(Oid.p256), Uint8Array.of(6, ...new Uint8Array(64))), /wrong size or form/],
    ['a point not on the curve', () => ecSpki(oid(Oid.p256), Uint8Array.of(4, ...new Uint8Array(63), 1)), /not on the curve/],
    ['unused bits in the key', () => sequence(sequence(oid(Oid.ecPublicKey), oid(Oid.p256)), tlv(0x03, Uint8Array.of(1, 4, 0))), /unused bits|not valid DER/],
    ['trailing bytes', () => Uint8Array.from([...rsaSpki(2048, 65537n), 0]), /not valid DER/],
    ['garbage', () => Uint8Array.of(1, 2, 3), /not valid DER/],
  ])('refuses %s', (_name, make, message) => {
    expect(reason(make())).toMatch(message);
  });

  it('describes keys for display', () => {
    expect(describeKey({ type: 'ec', curve: 'P-256' })).toBe('ECDSA P-256');
    expect(describeKey({ type: 'rsa', bits: 3072 })).toBe('RSA 3072');
  });
});
