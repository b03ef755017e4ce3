import { randomUUID, X509Certificate } from 'node:crypto';
import {
  createCsr,
  decodeMosaicIdentity,
  exportPrivateKeyPem,
  generateKeyPair,
  generateMasterSecret,
  isMosaicError,
  parseMasterSecret,
  SealKey,
  verifyClientCertificate,
  type MosaicError,
} from '@mosaic/federation-core';
import { describe, expect, it } from 'vitest';
import { EmbeddedCa } from './embedded-ca.js';
import { MemoryCaStateStore } from './memory-store.js';
import { openRootState, rootCommonName } from './root.js';
import type { CaStateStore } from './store.js';

async function failure(fn: () => unknown): Promise<MosaicError> {
  try {
    await fn();
  } catch (err) {
    if (isMosaicError(err)) return err;
    throw err;
  }
  throw new Error('expected a MosaicError');
}

const PRIVATE_KEY_PEM = /-----BEGIN[A-Z ]*PRIVATE KEY-----/;
const json = (value: unknown) => JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

/** Counts calls, to show a refused open wrote nothing. */
function spyStore(inner: MemoryCaStateStore): CaStateStore & { writes: string[] } {
  const writes: string[] = [];
  return {
    writes,
    load: () => inner.load(),
    createOnce: (s) => (writes.push('createOnce'), inner.createOnce(s)),
    loadServerCert: () => inner.loadServerCert(),
    saveServerCert: (c, p) => (writes.push('saveServerCert'), inner.saveServerCert(c, p)),
    nextCrlNumber: () => (writes.push('nextCrlNumber'), inner.nextCrlNumber()),
    revokedSerials: () => inner.revokedSerials(),
  };
}

describe('EmbeddedCa.open', () => {
  it('creates the root once: P-256, 10 years, CN with the gateway name, key sealed', async () => {
    const store = new MemoryCaStateStore();
    const now = new Date('2026-03-01T12:00:00Z');
    const ca = await EmbeddedCa.open({ store, secret: parseMasterSecret(generateMasterSecret()), name: 'home', now: () => now });
    expect(ca.created).toBe(true);
    const cert = new X509Certificate(ca.caCertPem);
    expect(cert.subject).toBe('CN=Mosaic Federation CA (home)');
    expect(cert.ca).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(ca.rootNotAfter.toISOString()).toBe('2036-03-01T12:00:00.000Z');
    expect(ca.caPin).toMatch(/^sha256:[0-9a-f]{64}$/);
    const { root } = store.snapshot();
    expect(root?.certPem).toBe(ca.caCertPem);
    expect(root?.sealedKey).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('two concurrent opens on an empty store end up with one CA', async () => {
    const store = new MemoryCaStateStore();
    const secret = parseMasterSecret(generateMasterSecret());
    const cas = await Promise.all(Array.from({ length: 5 }, () => EmbeddedCa.open({ store, secret, name: 'home' })));
    expect(new Set(cas.map((c) => c.caPin)).size).toBe(1);
    expect(cas.filter((c) => c.created)).toHaveLength(1);
    expect(store.snapshot().root?.certPem).toBe(cas[0]!.caCertPem);
    // Every instance can sign as that CA.
    for (const ca of cas) {
      const keys = await generateKeyPair();
      const issued = await ca.issueClientCertificate({ csr: await createCsr({ keys }), peerName: 'work', grantId: randomUUID(), subjectUserId: 'alice' });
      expect(() => verifyClientCertificate(issued.certPem, cas[0]!.caCertPem)).not.toThrow();
    }
  });

  it('reopens with the same secret: same CA, same pin', async () => {
    const store = new MemoryCaStateStore();
    const text = generateMasterSecret();
    const first = await EmbeddedCa.open({ store, secret: parseMasterSecret(text), name: 'home' });
    const again = await EmbeddedCa.open({ store, secret: parseMasterSecret(text), name: 'home' });
    expect(again.created).toBe(false);
    expect(again.caPin).toBe(first.caPin);
    expect(again.caCertPem).toBe(first.caCertPem);
  });

  it('fails fast with a wrong master secret, says what to restore, and changes nothing (cases 32, 33)', async () => {
    const inner = new MemoryCaStateStore();
    const right = parseMasterSecret(generateMasterSecret());
    await EmbeddedCa.open({ store: inner, secret: right, name: 'home' });
    const before = json(inner.snapshot());
    const store = spyStore(inner);
    const wrong = parseMasterSecret(generateMasterSecret());
    const err = await failure(() => EmbeddedCa.open({ store, secret: wrong, name: 'home' }));
    expect(err.code).toBe('CA_SECRET_MISMATCH');
    expect(err.message).toContain(SealKey.fromMaster(right).id);
    expect(err.message).toContain(SealKey.fromMaster(wrong).id);
    expect(err.remediation).toMatch(/master secret the CA was created with/);
    expect(err.remediation).toMatch(/never delete the CA/);
    expect(store.writes).toEqual([]);
    expect(json(inner.snapshot())).toBe(before);
  });

  it.each([
    ['a flipped bit in the ciphertext', (s: string) => flipByte(s, 30)],
    ['a flipped bit in the tag', (s: string) => flipByte(s, -1)],
    ['truncation', (s: string) => Buffer.from(s, 'base64').subarray(0, 20).toString('base64')],
    ['not base64 at all', () => 'not a sealed value'],
    ['an unknown envelope version', (s: string) => setByte(s, 0, 9)],
  ])('fails fast on a corrupt sealed key (%s) without creating a new CA', async (_label, corrupt) => {
    const store = new MemoryCaStateStore();
    const secret = parseMasterSecret(generateMasterSecret());
    await EmbeddedCa.open({ store, secret, name: 'home' });
    const root = store.snapshot().root!;
    store.replaceRoot({ ...root, sealedKey: corrupt(root.sealedKey) });
    const err = await failure(() => EmbeddedCa.open({ store, secret, name: 'home' }));
    expect(err.code).toBe('CA_KEY_CORRUPT');
    expect(err.remediation).toMatch(/restore/);
    expect(store.snapshot().root?.certPem).toBe(root.certPem);
  });

  it('refuses a sealed key that opens but belongs to another CA certificate', async () => {
    const secret = parseMasterSecret(generateMasterSecret());
    const a = new MemoryCaStateStore();
    const b = new MemoryCaStateStore();
    await EmbeddedCa.open({ store: a, secret, name: 'home' });
    await EmbeddedCa.open({ store: b, secret, name: 'home' });
    a.replaceRoot({ ...a.snapshot().root!, sealedKey: b.snapshot().root!.sealedKey });
    const err = await failure(() => EmbeddedCa.open({ store: a, secret, name: 'home' }));
    expect(err.code).toBe('CA_KEY_CORRUPT');
    expect(err.message).toMatch(/does not belong/);
  });

  it('refuses a sealed key moved from another record (the server key in place of the root key)', async () => {
    const store = new MemoryCaStateStore();
    const secret = parseMasterSecret(generateMasterSecret());
    const ca = await EmbeddedCa.open({ store, secret, name: 'home' });
    await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    store.replaceRoot({ ...store.snapshot().root!, sealedKey: store.snapshot().server!.sealedKey });
    expect((await failure(() => EmbeddedCa.open({ store, secret, name: 'home' }))).code).toBe('CA_KEY_CORRUPT');
  });

  it('refuses a corrupt CA certificate', async () => {
    const store = new MemoryCaStateStore();
    const secret = parseMasterSecret(generateMasterSecret());
    await EmbeddedCa.open({ store, secret, name: 'home' });
    store.replaceRoot({ ...store.snapshot().root!, certPem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' });
    expect((await failure(() => EmbeddedCa.open({ store, secret, name: 'home' }))).code).toBe('CA_CERT_CORRUPT');
  });

  it('never lets a private key reach the store in the clear', async () => {
    const store = new MemoryCaStateStore();
    const ca = await EmbeddedCa.open({ store, secret: parseMasterSecret(generateMasterSecret()), name: 'home' });
    const server = await ca.ensureServerCertificate({ publicUrl: 'https://gw.example.org' });
    await store.revoke('0a0b');
    ca.invalidateCrl();
    await ca.currentCrl();
    const everything = json(store.snapshot());
    expect(everything).not.toMatch(PRIVATE_KEY_PEM);
    expect(everything).not.toContain('PRIVATE KEY');
    // Nor the DER of the server key (the one key we can see in the clear here).
    const keyDer = Buffer.from(server.keyPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    const sealed = Buffer.from(store.snapshot().server!.sealedKey, 'base64');
    expect(sealed.includes(keyDer.subarray(-32))).toBe(false);
  });

  it('holds the opened CA key non-extractable', async () => {
    const store = new MemoryCaStateStore();
    const secret = parseMasterSecret(generateMasterSecret());
    await EmbeddedCa.open({ store, secret, name: 'home' });
    const root = await openRootState(store.snapshot().root!, SealKey.fromMaster(secret));
    expect(root.keys.privateKey.extractable).toBe(false);
    await expect(exportPrivateKeyPem(root.keys.privateKey)).rejects.toMatchObject({ code: 'KEY_INVALID' });
  });

  it('shortens a long gateway name to keep the CN within 64 characters', () => {
    expect(rootCommonName('home')).toBe('Mosaic Federation CA (home)');
    const long = rootCommonName('x'.repeat(80));
    expect([...long].length).toBe(64);
    expect(long.endsWith('…)')).toBe(true);
  });
});

describe('EmbeddedCa.issueClientCertificate', () => {
  it('issues a certificate that verifies against the CA and carries the grant, subject and caps', async () => {
    const now = new Date('2026-03-01T12:00:00Z');
    const ca = await EmbeddedCa.open({ store: new MemoryCaStateStore(), secret: parseMasterSecret(generateMasterSecret()), name: 'home', now: () => now });
    const keys = await generateKeyPair();
    const grantId = randomUUID();
    const cap = new Date('2026-03-11T00:00:00Z');
    const issued = await ca.issueClientCertificate({ csr: await createCsr({ keys, commonName: 'ignored' }), peerName: 'work', grantId, subjectUserId: 'alice', notAfterCap: cap, lifetimeDays: 30 });
    const verified = verifyClientCertificate(issued.certPem, ca.caCertPem, { now });
    expect(verified.serialHex).toBe(issued.serialHex);
    expect(issued.notAfter.getTime()).toBeLessThanOrEqual(cap.getTime());
    expect(issued.notAfter.toISOString()).toBe('2026-03-11T00:00:00.000Z');
    expect(decodeMosaicIdentity(issued.certPem)).toMatchObject({ grantId, subjectUserId: 'alice' });
    expect(new X509Certificate(issued.certPem).subject).toBe('CN=work');

    const uncapped = await ca.issueClientCertificate({ csr: await createCsr({ keys }), peerName: 'work', grantId, subjectUserId: 'alice', lifetimeDays: 7 });
    expect(uncapped.notAfter.toISOString()).toBe('2026-03-08T12:00:00.000Z');
  });

  it('passes CSR errors through as CSR_INVALID', async () => {
    const ca = await EmbeddedCa.open({ store: new MemoryCaStateStore(), secret: parseMasterSecret(generateMasterSecret()), name: 'home' });
    const err = await failure(() => ca.issueClientCertificate({ csr: 'not a csr', peerName: 'work', grantId: randomUUID(), subjectUserId: 'alice' }));
    expect(err.code).toBe('CSR_INVALID');
  });
});

function flipByte(text: string, index: number): string {
  const bytes = Buffer.from(text, 'base64');
  const i = index < 0 ? bytes.length + index : index;
  bytes[i] = bytes[i]! ^ 0x01;
  return bytes.toString('base64');
}

function setByte(text: string, index: number, value: number): string {
  const bytes = Buffer.from(text, 'base64');
  bytes[index] = value;
  return bytes.toString('base64');
}
