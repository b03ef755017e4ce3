import { describe, expect, it } from 'vitest';
import { ResponseCache, type CacheKey } from './cache.js';

const key = (over: Partial<CacheKey> = {}): CacheKey => ({ grantId: 'g1', verb: 'list', resource: 'tasks', queryHash: 'h1', ...over });

describe('ResponseCache', () => {
  it('serves an entry until its TTL runs out', () => {
    let t = 0;
    const cache = new ResponseCache({ ttlMs: 30_000, now: () => t });
    cache.set(key(), { items: [1] });
    t = 29_999;
    expect(cache.get(key())).toEqual({ items: [1] });
    t = 30_000;
    expect(cache.get(key())).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keys on grant, verb, resource and query hash', () => {
    const cache = new ResponseCache();
    cache.set(key(), 'a');
    expect(cache.get(key({ grantId: 'g2' }))).toBeUndefined();
    expect(cache.get(key({ verb: 'get' }))).toBeUndefined();
    expect(cache.get(key({ resource: 'notes' }))).toBeUndefined();
    expect(cache.get(key({ queryHash: 'h2' }))).toBeUndefined();
    // ids containing separators cannot collide with another key
    cache.set(key({ grantId: 'a|b', resource: 'c' }), 'x');
    expect(cache.get(key({ grantId: 'a', resource: 'b|c' }))).toBeUndefined();
  });

  it('never stores a search answer', () => {
    const cache = new ResponseCache();
    expect(() => cache.set({ ...key(), verb: 'search' as never }, 'hits')).toThrow('never cached');
    expect(cache.size).toBe(0);
  });

  it('flushes one grant or everything', () => {
    const cache = new ResponseCache();
    cache.set(key({ queryHash: 'a' }), 1);
    cache.set(key({ queryHash: 'b' }), 2);
    cache.set(key({ grantId: 'g2' }), 3);
    expect(cache.flushGrant('g1')).toBe(2);
    expect(cache.get(key({ grantId: 'g2' }))).toBe(3);
    cache.flush();
    expect(cache.size).toBe(0);
  });

  it('drops the oldest entries past its bound', () => {
    const cache = new ResponseCache({ maxEntries: 2 });
    cache.set(key({ queryHash: '1' }), 1);
    cache.set(key({ queryHash: '2' }), 2);
    cache.set(key({ queryHash: '1' }), 11); // refreshed: now the newest
    cache.set(key({ queryHash: '3' }), 3);
    expect(cache.get(key({ queryHash: '2' }))).toBeUndefined();
    expect(cache.get(key({ queryHash: '1' }))).toBe(11);
    expect(cache.get(key({ queryHash: '3' }))).toBe(3);
    expect(() => new ResponseCache({ maxEntries: 0 })).toThrow(RangeError);
    expect(() => new ResponseCache({ ttlMs: 0 })).toThrow(RangeError);
  });
});
