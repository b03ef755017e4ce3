import { describe, expect, it } from 'vitest';
import type { GrantRecord } from '../storage/index.js';
import { GrantCache } from './grant-cache.js';

/** A grant source whose answer the test changes, counting reads. */
function source(initial: string) {
  let serial = initial;
  let reads = 0;
  return {
    setSerial: (s: string) => (serial = s),
    reads: () => reads,
    get: async (id: string): Promise<GrantRecord | null> => {
      reads++;
      await new Promise((r) => setTimeout(r, 5));
      return { id, certSerial: serial } as unknown as GrantRecord;
    },
  };
}

describe('GrantCache.reread (a certificate newer than the cached grant, made through another replica)', () => {
  it('reads the grant again once, shared by concurrent callers holding the same outdated record', async () => {
    const src = source('aa');
    const cache = new GrantCache(src, { ttlMs: 60_000 });
    const seen = (await cache.get('g'))!;
    expect(seen.certSerial).toBe('aa');
    src.setSerial('bb'); // renewed elsewhere; this cache still holds 'aa'
    expect((await cache.get('g'))!.certSerial).toBe('aa');
    const fresh = await Promise.all(Array.from({ length: 50 }, () => cache.reread('g', seen)));
    expect(new Set(fresh.map((g) => g!.certSerial))).toEqual(new Set(['bb']));
    expect(src.reads()).toBe(2);
    // a caller still holding the old record gets the newer read, not another one
    expect((await cache.reread('g', seen))!.certSerial).toBe('bb');
    expect(src.reads()).toBe(2);
    // holding the current record: read again
    await cache.reread('g', fresh[0]!);
    expect(src.reads()).toBe(3);
  });
});
