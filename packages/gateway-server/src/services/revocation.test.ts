/**
 * `Revocation` reloads are numbered: a read of the revoked serials that finishes after a newer
 * one — or after a revoke applied since it started — never puts back the older set. The reads
 * here are made deliberately slow (each resolves when the test says so).
 */
import { describe, expect, it } from 'vitest';
import type { Storage } from '../storage/index.js';
import { Revocation } from './revocation.js';

/** A store whose `revokedSerials` reads are answered by the test, in any order. */
function slowStore() {
  const pending: Array<(serials: Set<string>) => void> = [];
  const storage = {
    certs: {
      revokedSerials: () => new Promise<Set<string>>((resolve) => pending.push(resolve)),
      nextScheduledRevocation: () => Promise.resolve(null),
    },
  } as unknown as Storage;
  return { storage, pending };
}

const ca = { invalidateCrl: () => undefined };
const tick = () => new Promise((r) => setImmediate(r));

describe('Revocation reloads', () => {
  it('a slow, older read finishing last does not overwrite a newer one', async () => {
    const { storage, pending } = slowStore();
    const revocation = new Revocation(storage, ca);
    const older = revocation.refresh();
    const newer = revocation.refresh();
    await tick();
    expect(pending).toHaveLength(2);
    // the newer read sees the serial revoked meanwhile and finishes first
    pending[1]!(new Set(['0a']));
    await newer;
    expect(revocation.isRevoked('0a')).toBe(true);
    // the older read (from before the revoke) finishes last: ignored
    pending[0]!(new Set());
    await older;
    expect(revocation.isRevoked('0a')).toBe(true);
    expect(revocation.size).toBe(1);
  });

  it('a read that started before a revoke was applied here does not drop that revoke', async () => {
    const { storage, pending } = slowStore();
    const revocation = new Revocation(storage, ca);
    const stale = revocation.refresh();
    await tick();
    revocation.applied(['0b'], { announced: true });
    pending[0]!(new Set());
    await stale;
    expect(revocation.isRevoked('0b')).toBe(true);
    // a read started afterwards is applied as usual
    const next = revocation.refresh();
    await tick();
    pending[1]!(new Set(['0b', '0c']));
    await next;
    expect(revocation.isRevoked('0c')).toBe(true);
  });
});
