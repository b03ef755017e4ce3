/**
 * The one door to @peculiar/x509. Its decorators need `reflect-metadata` loaded first, and ES
 * modules evaluate imports in order, so every PKI file imports the library from here.
 *
 * The library's typings name the DOM `Crypto`/`CryptoKey` types, which this Node-only project
 * does not load; the aliases below are Node's own WebCrypto types, used at every boundary.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

export { x509 };

/** A WebCrypto implementation (Node's `crypto.webcrypto` by default). */
export type WebCrypto = webcrypto.Crypto;
/** A WebCrypto key. */
export type WebCryptoKey = webcrypto.CryptoKey;
/** A WebCrypto key pair. */
export type WebCryptoKeyPair = webcrypto.CryptoKeyPair;

/**
 * The crypto provider every function defaults to. Passing another one (a hardware-backed
 * WebCrypto, say) as the last argument is how callers swap it; nothing global is mutated.
 */
export const defaultCrypto: WebCrypto = webcrypto;

/** ECDSA parameters for a CA or peer key: the hash matches the curve size (RFC 5480 §4). */
export function ecdsaSigningAlgorithm(key: WebCryptoKey): { name: 'ECDSA'; hash: 'SHA-256' | 'SHA-384' } | undefined {
  const algorithm = key.algorithm as { name?: string; namedCurve?: string };
  if (algorithm.name !== 'ECDSA') return undefined;
  if (algorithm.namedCurve === 'P-256') return { name: 'ECDSA', hash: 'SHA-256' };
  if (algorithm.namedCurve === 'P-384') return { name: 'ECDSA', hash: 'SHA-384' };
  return undefined;
}

/** A copy of `bytes` in its own ArrayBuffer: @peculiar/x509 wants `ArrayBuffer`-backed views. */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return copy.buffer;
}
