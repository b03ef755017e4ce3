import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateMasterSecret, parseCrl, parseMasterSecret } from '@mosaic/federation-core';
import { describe, expect, it } from 'vitest';
import { crlEntries } from './crl.js';
import { EmbeddedCa } from './embedded-ca.js';
import { MemoryCaStateStore } from './memory-store.js';
import type { CaStateStore } from './store.js';

const DAY = 24 * 60 * 60 * 1000;
const T0 = new Date('2026-03-01T12:00:00Z');
// 16 bytes, top bit clear, first byte non-zero: canonical as stored (like randomSerialHex).
const serial = () => `7${randomBytes(16).toString('hex').slice(1)}`;

async function setup(store: CaStateStore = new MemoryCaStateStore()) {
  let now = T0;
  const ca = await EmbeddedCa.open({ store, secret: parseMasterSecret(generateMasterSecret()), name: 'home', now: () => now });
  return { ca, setNow: (d: Date) => (now = d) };
}

function openssl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('openssl', args, { encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('EmbeddedCa CRL', () => {
  it('lists the revoked serials, verifies against the CA, and is valid 7 days', async () => {
    const store = new MemoryCaStateStore();
    const { ca } = await setup(store);
    const a = serial();
    const b = serial();
    await store.revoke(a, new Date(T0.getTime() - DAY), 'keyCompromise');
    await store.revoke(b.toUpperCase(), new Date(T0.getTime() - 2 * DAY), 'superseded');
    const der = await ca.currentCrl();
    const crl = parseCrl(der, ca.caCertPem);
    expect([...crl.revokedSerials].sort()).toEqual([a, b].sort());
    expect(crl.revoked.find((e) => e.serialHex === a)).toEqual({ serialHex: a, revokedAt: new Date(T0.getTime() - DAY), reason: 'keyCompromise' });
    expect(crl.crlNumber).toBe(1n);
    expect(crl.thisUpdate).toEqual(T0);
    expect(crl.nextUpdate.getTime() - crl.thisUpdate.getTime()).toBe(7 * DAY);
    // Another CA's certificate does not verify it.
    const other = await setup();
    expect(() => parseCrl(der, other.ca.caCertPem)).toThrow(expect.objectContaining({ code: 'CRL_INVALID' }));
  });

  it('is cached until invalidated, and every reissue has a higher number', async () => {
    const store = new MemoryCaStateStore();
    const { ca } = await setup(store);
    const first = await ca.currentCrl();
    expect(await ca.currentCrl()).toBe(first);
    expect(store.snapshot().crlNumber).toBe(1n);
    const numbers = [parseCrl(first, ca.caCertPem).crlNumber];
    for (let i = 0; i < 3; i += 1) {
      await store.revoke(serial());
      ca.invalidateCrl();
      numbers.push(parseCrl(await ca.currentCrl(), ca.caCertPem).crlNumber);
    }
    expect(numbers).toEqual([1n, 2n, 3n, 4n]);
    expect(parseCrl(await ca.currentCrl(), ca.caCertPem).revoked).toHaveLength(3);
  });

  it('is reissued at half its validity (3.5 days), not before', async () => {
    const { ca, setNow } = await setup();
    const first = parseCrl(await ca.currentCrl(), ca.caCertPem);
    setNow(new Date(T0.getTime() + 3.5 * DAY - 1000));
    expect(parseCrl(await ca.currentCrl(), ca.caCertPem).crlNumber).toBe(first.crlNumber);
    expect((await ca.crlStatus()).fresh).toBe(true);
    setNow(new Date(T0.getTime() + 3.5 * DAY));
    const second = parseCrl(await ca.currentCrl(), ca.caCertPem);
    expect(second.crlNumber).toBe(first.crlNumber + 1n);
    expect(second.thisUpdate).toEqual(new Date(T0.getTime() + 3.5 * DAY));
    expect(second.nextUpdate).toEqual(new Date(T0.getTime() + 10.5 * DAY));
  });

  it('two revokes at once: numbers strictly increase and no serial is lost (case 34)', async () => {
    const store = new MemoryCaStateStore();
    const { ca } = await setup(store);
    await ca.currentCrl();
    const published: bigint[] = [];
    const serials = Array.from({ length: 8 }, serial);
    // Each "revoke" commits to the store, then invalidates and fetches, all interleaved.
    const crls = await Promise.all(
      serials.map(async (s, i) => {
        await store.revoke(s);
        ca.invalidateCrl();
        const der = await ca.currentCrl();
        const parsed = parseCrl(der, ca.caCertPem);
        published.push(parsed.crlNumber);
        // The CRL handed back after a revoke lists that revoke.
        expect(parsed.revokedSerials.has(s)).toBe(true);
        return { i, parsed };
      }),
    );
    expect(crls).toHaveLength(8);
    // In completion order the numbers never go down, and distinct CRLs have distinct numbers.
    for (let k = 1; k < published.length; k += 1) expect(published[k]!).toBeGreaterThanOrEqual(published[k - 1]!);
    const final = parseCrl(await ca.currentCrl(), ca.caCertPem);
    expect([...final.revokedSerials].sort()).toEqual([...serials].sort());
    expect(final.crlNumber).toBe(published.at(-1));
  });

  it('a revoke that commits while a CRL is being built is in the next CRL, not lost to the build in flight', async () => {
    const inner = new MemoryCaStateStore();
    let gate: Promise<void> | undefined;
    const store: CaStateStore = {
      load: () => inner.load(),
      createOnce: (s) => inner.createOnce(s),
      loadServerCert: () => inner.loadServerCert(),
      saveServerCert: (c, p) => inner.saveServerCert(c, p),
      nextCrlNumber: () => inner.nextCrlNumber(),
      // The read is taken first, then the answer is held back: a slow query racing a revoke.
      revokedSerials: async () => {
        const rows = await inner.revokedSerials();
        await gate;
        return rows;
      },
    };
    const { ca } = await setup(store);
    const early = serial();
    await inner.revoke(early);
    let release!: () => void;
    gate = new Promise((resolve) => (release = resolve));
    const inFlight = ca.currentCrl();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    const late = serial();
    await inner.revoke(late);
    ca.invalidateCrl();
    const afterRevoke = ca.currentCrl();
    release();
    gate = undefined;
    const first = parseCrl(await inFlight, ca.caCertPem);
    const second = parseCrl(await afterRevoke, ca.caCertPem);
    expect(first.revokedSerials.has(early)).toBe(true);
    expect(first.revokedSerials.has(late)).toBe(false);
    expect(second.revokedSerials.has(late)).toBe(true);
    expect(second.crlNumber).toBeGreaterThan(first.crlNumber);
    expect(parseCrl(await ca.currentCrl(), ca.caCertPem).crlNumber).toBe(second.crlNumber);
  });

  it('two CA instances (replicas) on one store never reuse a CRL number', async () => {
    const store = new MemoryCaStateStore();
    const secret = parseMasterSecret(generateMasterSecret());
    const a = await EmbeddedCa.open({ store, secret, name: 'home' });
    const b = await EmbeddedCa.open({ store, secret, name: 'home' });
    const numbers: bigint[] = [];
    for (let i = 0; i < 3; i += 1) {
      await store.revoke(serial());
      a.invalidateCrl();
      b.invalidateCrl();
      const [x, y] = await Promise.all([a.currentCrl(), b.currentCrl()]);
      numbers.push(parseCrl(x, a.caCertPem).crlNumber, parseCrl(y, b.caCertPem).crlNumber);
    }
    expect(new Set(numbers).size).toBe(numbers.length);
  });

  it('openssl reads it and verifies its signature with the CA certificate', async () => {
    const store = new MemoryCaStateStore();
    const { ca } = await setup(store);
    const revoked = serial();
    await store.revoke(revoked, new Date(T0.getTime() - DAY), 'keyCompromise');
    const dir = await mkdtemp(join(tmpdir(), 'mosaic-crl-'));
    try {
      await writeFile(join(dir, 'crl.der'), await ca.currentCrl());
      await writeFile(join(dir, 'ca.pem'), ca.caCertPem);
      const text = await openssl(['crl', '-inform', 'DER', '-in', join(dir, 'crl.der'), '-text', '-noout']);
      expect(text.code, text.stderr).toBe(0);
      expect(text.stdout).toContain('Certificate Revocation List (CRL)');
      expect(text.stdout).toContain('Issuer: CN = Mosaic Federation CA (home)');
      expect(text.stdout).toMatch(/X509v3 CRL Number:\s*\n\s*1\b/);
      expect(text.stdout.toLowerCase().replace(/:/g, '')).toContain(revoked.toLowerCase());
      expect(text.stdout).toContain('Key Compromise');
      const verify = await openssl(['crl', '-inform', 'DER', '-in', join(dir, 'crl.der'), '-CAfile', join(dir, 'ca.pem'), '-noout']);
      expect(verify.code, verify.stderr).toBe(0);
      expect(verify.stderr + verify.stdout).toMatch(/verify OK/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('status: fresh after issue; stale with the error when a reissue fails; the last CRL is still served', async () => {
    const inner = new MemoryCaStateStore();
    let broken = false;
    const store: CaStateStore = {
      load: () => inner.load(),
      createOnce: (s) => inner.createOnce(s),
      loadServerCert: () => inner.loadServerCert(),
      saveServerCert: (c, p) => inner.saveServerCert(c, p),
      nextCrlNumber: () => (broken ? Promise.reject(new Error('database is locked')) : inner.nextCrlNumber()),
      revokedSerials: () => inner.revokedSerials(),
    };
    const { ca, setNow } = await setup(store);
    const before = await ca.crlStatus();
    expect(before).toEqual({ crlNumber: 1n, thisUpdate: T0, nextUpdate: new Date(T0.getTime() + 7 * DAY), fresh: true });
    const first = await ca.currentCrl();

    broken = true;
    setNow(new Date(T0.getTime() + 4 * DAY));
    expect(await ca.currentCrl()).toBe(first);
    const status = await ca.crlStatus();
    expect(status.fresh).toBe(false);
    expect(status.crlNumber).toBe(1n);
    expect(status.lastError).toContain('database is locked');

    broken = false;
    // Not retried on every request…
    setNow(new Date(T0.getTime() + 4 * DAY + 30_000));
    expect(await ca.currentCrl()).toBe(first);
    // …but after the retry delay, or at once after a revoke.
    setNow(new Date(T0.getTime() + 4 * DAY + 61_000));
    const again = parseCrl(await ca.currentCrl(), ca.caCertPem);
    expect(again.crlNumber).toBe(2n);
    expect(await ca.crlStatus()).toMatchObject({ fresh: true, crlNumber: 2n });
    expect((await ca.crlStatus()).lastError).toBeUndefined();
  });

  it('says CRL_UNAVAILABLE when no CRL was ever issued and none can be', async () => {
    const inner = new MemoryCaStateStore();
    const store: CaStateStore = {
      load: () => inner.load(),
      createOnce: (s) => inner.createOnce(s),
      loadServerCert: () => inner.loadServerCert(),
      saveServerCert: (c, p) => inner.saveServerCert(c, p),
      nextCrlNumber: () => Promise.reject(new Error('no such table: ca_state')),
      revokedSerials: () => inner.revokedSerials(),
    };
    const { ca } = await setup(store);
    await expect(ca.currentCrl()).rejects.toMatchObject({ code: 'CRL_UNAVAILABLE', statusCode: 503 });
    expect(await ca.crlStatus()).toEqual({ crlNumber: null, thisUpdate: null, nextUpdate: null, fresh: false, lastError: 'no such table: ca_state' });
  });

  it('refuses a store whose counter goes backwards rather than publishing a lower number', async () => {
    const inner = new MemoryCaStateStore();
    let n = 5n;
    const store: CaStateStore = {
      load: () => inner.load(),
      createOnce: (s) => inner.createOnce(s),
      loadServerCert: () => inner.loadServerCert(),
      saveServerCert: (c, p) => inner.saveServerCert(c, p),
      nextCrlNumber: () => Promise.resolve((n -= 1n)),
      revokedSerials: () => inner.revokedSerials(),
    };
    const { ca } = await setup(store);
    const first = await ca.currentCrl();
    ca.invalidateCrl();
    expect(await ca.currentCrl()).toBe(first);
    expect((await ca.crlStatus()).lastError).toMatch(/CRL_NUMBER_NOT_INCREASING/);
  });
});

describe('crlEntries', () => {
  it('keeps one entry per serial (the earliest), drops unknown reasons, never dates after thisUpdate', () => {
    const at = new Date('2026-03-01T00:00:00Z');
    const entries = crlEntries(
      [
        { serialHex: '0A:0B', revokedAt: new Date('2026-02-01T00:00:00Z'), reason: 'superseded' },
        { serialHex: '0a0b', revokedAt: new Date('2026-01-01T00:00:00Z') },
        { serialHex: '0c', revokedAt: new Date('2026-02-01T00:00:00Z'), reason: 'made-up' },
        { serialHex: '0d', revokedAt: new Date('2026-03-02T00:00:00Z'), reason: 'keyCompromise' },
      ],
      at,
    );
    expect(entries).toEqual([
      { serialHex: '0a0b', revokedAt: new Date('2026-01-01T00:00:00Z') },
      { serialHex: '0c', revokedAt: new Date('2026-02-01T00:00:00Z') },
      { serialHex: '0d', revokedAt: at, reason: 'keyCompromise' },
    ]);
  });
});
