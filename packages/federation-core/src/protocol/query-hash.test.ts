import { createHmac, createSecretKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';
import { AUDIT_KEY_MIN_BYTES, SHA256_HEX_PATTERN, canonicalSha256, queryHash, type QueryHashParams } from './query-hash.js';

const key = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');

describe('queryHash', () => {
  it('is HMAC-SHA-256 over the canonical JSON, lowercase hex (vector computed with openssl)', () => {
    // printf '%s' '{"limit":20,"query":"salary","resource":"notes","verb":"search"}' \
    //   | openssl dgst -sha256 -mac HMAC -macopt hexkey:000102…1f
    expect(queryHash(key, { verb: 'search', resource: 'notes', query: 'salary', limit: 20 })).toBe(
      '577c915f8ace13e1d08ca2ad41d2d5ad1c70ab2f60a43e3aa1724d80edb96969',
    );
  });

  it('does not depend on property order or absent fields', () => {
    const a = queryHash(key, { verb: 'list', resource: 'tasks', limit: 5, cursor: undefined });
    const b = queryHash(key, { limit: 5, resource: 'tasks', verb: 'list' });
    expect(a).toBe(b);
    expect(a).toMatch(SHA256_HEX_PATTERN);
  });

  it.each([
    [{ verb: 'list', resource: 'tasks' }, { verb: 'list', resource: 'notes' }],
    [{ verb: 'get', resource: 'tasks', id: '1' }, { verb: 'get', resource: 'tasks', id: '2' }],
    [{ verb: 'list', resource: 'tasks', limit: 5 }, { verb: 'list', resource: 'tasks', limit: '5' }],
    [{ verb: 'search', resource: 'notes', query: 'a' }, { verb: 'search', resource: 'notes', query: 'a ' }],
  ])('distinguishes %j from %j', (p, q) => {
    expect(queryHash(key, p as QueryHashParams)).not.toBe(queryHash(key, q as QueryHashParams));
  });

  it('depends on the key (a dictionary without the key gets nothing)', () => {
    const other = Buffer.alloc(32, 7);
    const params = { verb: 'search', resource: 'notes', query: 'salary' };
    expect(queryHash(key, params)).not.toBe(queryHash(other, params));
    expect(queryHash(key, params)).not.toBe(canonicalSha256(params));
  });

  it('accepts a secret KeyObject', () => {
    const params = { verb: 'list', resource: 'tasks' };
    expect(queryHash(createSecretKey(key), params)).toBe(createHmac('sha256', key).update(canonicalJson(params)).digest('hex'));
  });

  it.each([
    ['a 31-byte key', Buffer.alloc(AUDIT_KEY_MIN_BYTES - 1)],
    ['an empty key', new Uint8Array()],
    ['a short KeyObject', createSecretKey(Buffer.alloc(16))],
    ['an asymmetric key', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey],
  ])('refuses %s', (_name, k) => {
    expect(() => queryHash(k, { verb: 'list' })).toThrow(RangeError);
  });
});

describe('canonicalSha256', () => {
  it('is SHA-256 of the canonical JSON (vector: sha256sum of {"a":1})', () => {
    expect(canonicalSha256({ a: 1 })).toBe('015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862');
  });
});
