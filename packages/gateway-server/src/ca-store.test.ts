/**
 * The embedded CA on the SQL store (`createCaStateStore`), on both engines: the CA's
 * guarantees (one CA per deployment, a refused wrong secret, converging server certificates,
 * increasing CRL numbers, revocations on the CRL, sealed keys only) hold on SQLite and PostgreSQL,
 * and the store behaves like the in-memory reference (`MemoryCaStateStore`).
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import {
  createCsr,
  generateKeyPair,
  generateMasterSecret,
  isMosaicError,
  parseCrl,
  parseMasterSecret,
  validateScope,
  type MasterSecret,
  type MosaicError,
} from '@mosaic/federation-core';
import { createCaStateStore } from './ca-store.js';
import { EmbeddedCa } from './ca/embedded-ca.js';
import { MemoryCaStateStore } from './ca/memory-store.js';
import type { CaStateStore, StoredServerCert } from './ca/store.js';
import { TABLES, type Storage } from './storage/index.js';
import { describeEachEngine, type EngineHarness } from './test-support/engines.js';

const DAY = 86_400_000;
const PUBLIC_URL = 'https://gw.example.org:8443';

async function failure(fn: () => unknown): Promise<MosaicError> {
  try {
    await fn();
  } catch (err) {
    if (isMosaicError(err)) return err;
    throw err;
  }
  throw new Error('expected a MosaicError');
}

const newSecret = (): MasterSecret => parseMasterSecret(generateMasterSecret());

/** Every row of every table, as JSON text (to compare, and to search for key material). */
async function dump(storage: Storage): Promise<string> {
  const out: Record<string, unknown[]> = {};
  for (const table of TABLES) out[table] = (await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(storage.db)).rows;
  return JSON.stringify(out);
}

const serverCert = (serialHex: string, sans: string[] = ['dns:a.example']): StoredServerCert => ({
  certPem: `-----BEGIN CERTIFICATE-----\n${serialHex}\n-----END CERTIFICATE-----\n`,
  sealedKey: `sealed-${serialHex}`,
  serialHex,
  sans,
  notBefore: new Date('2030-01-01T00:00:00.000Z'),
  notAfter: new Date('2030-04-01T00:00:00.000Z'),
  issuedAt: new Date('2030-01-01T00:00:01.234Z'),
});

/** One scripted run of the store interface; the SQL store must answer exactly like the memory one. */
async function script(store: CaStateStore): Promise<unknown[]> {
  const root = (n: number) => ({ certPem: `root-${n}`, sealedKey: `sealed-root-${n}`, createdAt: new Date(Date.UTC(2030, 0, n)) });
  const out: unknown[] = [];
  out.push(await store.load(), await store.loadServerCert());
  out.push(await store.createOnce(root(1)), await store.createOnce(root(2)), await store.load());
  out.push(await store.loadServerCert());
  out.push(await store.saveServerCert(serverCert('0a'), 'ff')); // nothing stored, wrong previous → null
  out.push(await store.saveServerCert(serverCert('0a'), null)); // swapped
  out.push(await store.saveServerCert(serverCert('0b'), null)); // stale → the stored 0a
  out.push(await store.saveServerCert(serverCert('0c', ['dns:b.example', 'ip:10.0.0.1']), '0a')); // swapped
  out.push(await store.loadServerCert());
  out.push(await store.nextCrlNumber(), await store.nextCrlNumber());
  out.push(await store.revokedSerials());
  return out;
}

describe('createCaStateStore: the reference script on the memory store', () => {
  it('answers as CaStateStore documents', async () => {
    const out = await script(new MemoryCaStateStore());
    expect(out.slice(0, 2)).toEqual([null, null]);
    expect(out[6]).toBeNull();
    expect((out[7] as StoredServerCert).serialHex).toBe('0a');
    expect((out[8] as StoredServerCert).serialHex).toBe('0a');
    expect((out[9] as StoredServerCert).serialHex).toBe('0c');
    expect(out.slice(11, 13)).toEqual([1n, 2n]);
  });
});

describeEachEngine('createCaStateStore', (engine: EngineHarness) => {
  it('answers the reference script exactly like MemoryCaStateStore', async () => {
    const storage = await engine.open();
    expect(await script(createCaStateStore(storage))).toEqual(await script(new MemoryCaStateStore()));
  });

  it('two EmbeddedCa.open at once on one empty store create one CA', async () => {
    const storage = await engine.open();
    const store = createCaStateStore(storage);
    const secret = newSecret();
    const cas = await Promise.all([EmbeddedCa.open({ store, secret, name: 'home' }), EmbeddedCa.open({ store, secret, name: 'home' })]);
    expect(cas[0].caPin).toBe(cas[1].caPin);
    expect(cas.filter((c) => c.created)).toHaveLength(1);
    expect((await store.load())?.certPem).toBe(cas[0].caCertPem);
  });

  it('two replicas (two handles on one empty location) starting at once create one CA', async () => {
    const location = await engine.location();
    const [a, b] = await Promise.all([engine.openAt(location), engine.openAt(location)]);
    const secret = newSecret();
    const cas = await Promise.all([EmbeddedCa.open({ store: createCaStateStore(a), secret, name: 'home' }), EmbeddedCa.open({ store: createCaStateStore(b), secret, name: 'home' })]);
    expect(cas[0].caPin).toBe(cas[1].caPin);
    expect(cas.filter((c) => c.created)).toHaveLength(1);
  });

  it('reopens with the same secret after a restart: same CA, same pin', async () => {
    const location = await engine.location();
    const text = generateMasterSecret();
    const first = await engine.openAt(location);
    const created = await EmbeddedCa.open({ store: createCaStateStore(first), secret: parseMasterSecret(text), name: 'home' });
    expect(created.created).toBe(true);
    await first.close();
    const again = await engine.openAt(location);
    const reopened = await EmbeddedCa.open({ store: createCaStateStore(again), secret: parseMasterSecret(text), name: 'home' });
    expect(reopened.created).toBe(false);
    expect(reopened.caPin).toBe(created.caPin);
    expect(reopened.caCertPem).toBe(created.caCertPem);
  });

  it('refuses a wrong master secret with CA_SECRET_MISMATCH and leaves the store unchanged', async () => {
    const storage = await engine.open();
    const store = createCaStateStore(storage);
    const ca = await EmbeddedCa.open({ store, secret: newSecret(), name: 'home' });
    await ca.ensureServerCertificate({ publicUrl: PUBLIC_URL });
    const before = await dump(storage);
    const err = await failure(() => EmbeddedCa.open({ store, secret: newSecret(), name: 'home' }));
    expect(err.code).toBe('CA_SECRET_MISMATCH');
    expect(await dump(storage)).toBe(before);
    expect((await store.load())?.certPem).toBe(ca.caCertPem);
  });

  it('stores the server certificate, reuses it (also from another replica), and swaps it when the names change', async () => {
    const location = await engine.location();
    const storage = await engine.openAt(location);
    const store = createCaStateStore(storage);
    const secret = newSecret();
    const ca = await EmbeddedCa.open({ store, secret, name: 'home' });

    const first = await ca.ensureServerCertificate({ publicUrl: PUBLIC_URL });
    expect(first.issued).toBe('none-stored');
    const stored = await store.loadServerCert();
    expect(stored).toMatchObject({ certPem: first.certPem, serialHex: first.serialHex, sans: first.sans, notBefore: first.notBefore, notAfter: first.notAfter });
    expect(stored?.issuedAt).toBeInstanceOf(Date);

    const reused = await ca.ensureServerCertificate({ publicUrl: PUBLIC_URL });
    expect(reused.issued).toBeUndefined();
    expect(reused.serialHex).toBe(first.serialHex);
    expect(reused.keyPem).toBe(first.keyPem);
    // another replica opens the sealed server key from the store and serves the same certificate
    const replica = await EmbeddedCa.open({ store: createCaStateStore(await engine.openAt(location)), secret, name: 'home' });
    const fromReplica = await replica.ensureServerCertificate({ publicUrl: PUBLIC_URL });
    expect(fromReplica.issued).toBeUndefined();
    expect(fromReplica.serialHex).toBe(first.serialHex);
    expect(fromReplica.keyPem).toBe(first.keyPem);

    const renamed = await ca.ensureServerCertificate({ publicUrl: PUBLIC_URL, extraHosts: ['10.0.0.7'] });
    expect(renamed.issued).toBe('names-changed');
    expect(renamed.serialHex).not.toBe(first.serialHex);
    expect((await store.loadServerCert())?.serialHex).toBe(renamed.serialHex);
    expect((await store.loadServerCert())?.sans).toEqual(renamed.sans);
    expect(renamed.sans).toContain('ip:10.0.0.7');

    // compare-and-swap: a save against the superseded serial changes nothing and returns the current one
    const stale = await store.saveServerCert(serverCert('0d'), first.serialHex);
    expect(stale?.serialHex).toBe(renamed.serialHex);
    expect((await store.loadServerCert())?.serialHex).toBe(renamed.serialHex);
  });

  it('replicas ensuring the server certificate at once converge on one', async () => {
    const location = await engine.location();
    const secret = newSecret();
    const [a, b] = await Promise.all([engine.openAt(location), engine.openAt(location)]);
    const caA = await EmbeddedCa.open({ store: createCaStateStore(a), secret, name: 'home' });
    const caB = await EmbeddedCa.open({ store: createCaStateStore(b), secret, name: 'home' });
    const certs = await Promise.all([caA.ensureServerCertificate({ publicUrl: PUBLIC_URL }), caB.ensureServerCertificate({ publicUrl: PUBLIC_URL })]);
    expect(certs[0].serialHex).toBe(certs[1].serialHex);
    expect(certs.filter((c) => c.issued !== undefined)).toHaveLength(1);
    expect((await createCaStateStore(a).loadServerCert())?.serialHex).toBe(certs[0].serialHex);
  });

  it('renews the server certificate at 2/3 of its life', async () => {
    const storage = await engine.open();
    let now = new Date('2030-01-01T00:00:00.000Z');
    const ca = await EmbeddedCa.open({ store: createCaStateStore(storage), secret: newSecret(), name: 'home', now: () => now });
    const first = await ca.ensureServerCertificate({ publicUrl: PUBLIC_URL });
    now = new Date(now.getTime() + 59 * DAY);
    expect((await ca.ensureServerCertificate({ publicUrl: PUBLIC_URL })).serialHex).toBe(first.serialHex);
    now = new Date(now.getTime() + 2 * DAY);
    const renewed = await ca.ensureServerCertificate({ publicUrl: PUBLIC_URL });
    expect(renewed.issued).toBe('renewal-due');
    expect(renewed.notBefore.getTime()).toBeGreaterThan(first.notBefore.getTime());
    expect(await createCaStateStore(storage).loadServerCert()).toMatchObject({ serialHex: renewed.serialHex, issuedAt: now });
  });

  it('hands out distinct, increasing CRL numbers to concurrent callers', async () => {
    const location = await engine.location();
    const storage = await engine.openAt(location);
    const store = createCaStateStore(storage);
    await EmbeddedCa.open({ store, secret: newSecret(), name: 'home' });
    const two = await Promise.all([store.nextCrlNumber(), store.nextCrlNumber()]);
    expect(two.every((n) => typeof n === 'bigint')).toBe(true);
    expect([...two].sort()).toEqual([1n, 2n]);
    // and across processes (another handle on the same store)
    const other = createCaStateStore(await engine.openAt(location));
    const many = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? store : other).nextCrlNumber()));
    expect([...many].sort((x, y) => (x < y ? -1 : 1))).toEqual([3n, 4n, 5n, 6n, 7n, 8n]);
  });

  it('lists a serial revoked through storage.certs on the CRL after invalidateCrl', async () => {
    const storage = await engine.open();
    const ca = await EmbeddedCa.open({ store: createCaStateStore(storage), secret: newSecret(), name: 'home' });
    await storage.directory.applySeed({ users: [{ id: 'alice', name: 'Alice' }] });
    const grant = await storage.grants.create({ subjectUserId: 'alice', peerName: 'work', scope: validateScope({ resources: ['tasks'] }) });
    const issued = await ca.issueClientCertificate({ csr: await createCsr({ keys: await generateKeyPair() }), peerName: 'work', grantId: grant.id, subjectUserId: 'alice' });
    await storage.certs.record({ serial: issued.serialHex, grantId: grant.id, notBefore: issued.notBefore, notAfter: issued.notAfter });

    const before = parseCrl(await ca.currentCrl(), ca.caCertPem);
    expect(before.revokedSerials.has(issued.serialHex)).toBe(false);

    const revokedAt = new Date(Date.now() - 60_000);
    expect(await storage.certs.revokeAllOfGrant(grant.id, { reason: 'privilegeWithdrawn', at: revokedAt })).toEqual([issued.serialHex]);
    ca.invalidateCrl();
    const after = parseCrl(await ca.currentCrl(), ca.caCertPem);
    expect(after.crlNumber).toBeGreaterThan(before.crlNumber);
    expect(after.revoked).toEqual([{ serialHex: issued.serialHex, revokedAt: new Date(Math.floor(revokedAt.getTime() / 1000) * 1000), reason: 'privilegeWithdrawn' }]);
  });

  it('never stores a private key in the clear', async () => {
    const storage = await engine.open();
    const ca = await EmbeddedCa.open({ store: createCaStateStore(storage), secret: newSecret(), name: 'home' });
    const server = await ca.ensureServerCertificate({ publicUrl: PUBLIC_URL });
    await ca.ensureServerCertificate({ publicUrl: PUBLIC_URL, extraHosts: ['backup.example.org'] });
    ca.invalidateCrl();
    await ca.currentCrl();
    const everything = await dump(storage);
    expect(everything).toContain(ca.caCertPem.split('\n')[1]);
    expect(everything).not.toContain('PRIVATE KEY');
    const keyBody = server.keyPem.replace(/-----[^-]+-----|\s/g, '');
    expect(everything).not.toContain(keyBody.slice(-40));
    const row = await storage.db.selectFrom('ca_state').select(['ca_sealed_key', 'server_sealed_key']).executeTakeFirstOrThrow();
    expect(row.ca_sealed_key).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(row.server_sealed_key).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });
});
