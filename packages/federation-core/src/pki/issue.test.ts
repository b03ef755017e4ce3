import { generateKeyPairSync, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { isMosaicError } from '../errors.js';
import { buildCsrPem, makeTestCa, randomGrantId, type RootCa } from '../test-support/pki.js';
import { decodeBasicConstraints, decodeKeyUsage, KeyUsageBit, singleExtension } from './ca-material.js';
import { parseCertificateDer } from './certificate-der.js';
import { createCsr, parseCsr } from './csr.js';
import { exportPublicKeyPem, generateKeyPair } from './keys.js';
import { issueClientCertificate } from './issue-client.js';
import { issueServerCertificate } from './issue-server.js';
import { decodeMosaicIdentity } from './mosaic-identity.js';
import { Oid } from './oids.js';
import { spkiPin } from './pins.js';
import { createRootCa } from './root-ca.js';
import { decodeExtendedKeyUsage } from './verify.js';
import { x509 } from './x509.js';

const DAY = 86_400_000;
let ca: RootCa;
let csrPem: string;
beforeAll(async () => {
  // Backdated so the fixed dates below fall inside the CA's validity, whatever today is.
  ca = await makeTestCa({ commonName: 'Mosaic Federation CA (work)', now: new Date('2025-01-01T00:00:00Z') });
  csrPem = await createCsr({ keys: await generateKeyPair(), commonName: 'whatever' });
});

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(isMosaicError(err) && err.code).toBe(code);
  if (message) expect((err as Error).message).toMatch(message);
}

describe('createRootCa', () => {
  it('makes a self-signed P-256 CA: CA:TRUE pathlen 0 critical, keyCertSign+cRLSign critical, SKI, 10 years', async () => {
    const now = new Date('2026-03-01T12:00:00.500Z');
    const root = await createRootCa({ commonName: 'Root', now });
    const node = new NodeX509Certificate(root.certPem);
    const der = parseCertificateDer(root.certDer);
    expect(node.subject).toBe('CN=Root');
    expect(node.issuer).toBe('CN=Root');
    expect(node.ca).toBe(true);
    expect(node.verify(node.publicKey)).toBe(true);
    expect(node.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const bc = singleExtension(der, Oid.basicConstraints)!;
    expect(bc.critical).toBe(true);
    expect(decodeBasicConstraints(bc.value)).toEqual({ ca: true, pathLength: 0n });
    const ku = singleExtension(der, Oid.keyUsage)!;
    expect(ku.critical).toBe(true);
    const has = decodeKeyUsage(ku.value);
    expect([has(KeyUsageBit.keyCertSign), has(KeyUsageBit.cRLSign), has(KeyUsageBit.digitalSignature)]).toEqual([true, true, false]);
    expect(singleExtension(der, Oid.subjectKeyIdentifier)).toBeDefined();
    expect(root.notBefore.toISOString()).toBe('2026-03-01T11:55:00.000Z');
    expect(root.notAfter.toISOString()).toBe('2036-03-01T12:00:00.000Z');
    expect(root.serialHex).toMatch(/^[0-7][0-9a-f]{31}$/);
    expect(root.spkiPin).toBe(spkiPin(root.certPem));
    expect(root.cert).toBe(root.certPem);
  });

  it('re-issues a root with the same key: same pin, new serial', async () => {
    const again = await createRootCa({ commonName: 'Mosaic Federation CA (work)', keys: ca.keys });
    expect(again.spkiPin).toBe(ca.spkiPin);
    expect(again.serialHex).not.toBe(ca.serialHex);
  });

  it('refuses a bad name, a bad validity, or a non-ECDSA key', async () => {
    await rejectsWith(createRootCa({ commonName: '' }), 'ISSUE_INVALID');
    await rejectsWith(createRootCa({ commonName: 'x', validityYears: 0 }), 'ISSUE_INVALID');
    const hmac = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['sign']);
    await rejectsWith(createRootCa({ commonName: 'x', keys: { privateKey: hmac, publicKey: hmac } }), 'CA_INVALID');
  });
});

describe('issueClientCertificate', () => {
  it('issues exactly the Mosaic client profile', async () => {
    const grantId = randomGrantId();
    const now = new Date('2026-05-10T08:00:00Z');
    const issued = await issueClientCertificate({ ca, csr: csrPem, peerName: 'home', grantId, subjectUserId: 'alice', now });
    const node = new NodeX509Certificate(issued.certPem);
    const der = parseCertificateDer(issued.certDer);
    const caDer = parseCertificateDer(ca.certDer);

    expect(node.subject).toBe('CN=home');
    expect(node.checkIssued(new NodeX509Certificate(ca.certPem))).toBe(true);
    expect(node.verify(new NodeX509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(Buffer.from(der.issuer)).toEqual(Buffer.from(caDer.subject));
    expect(der.extensions.map((e) => [e.oid, e.critical])).toEqual([
      [Oid.basicConstraints, true],
      [Oid.keyUsage, true],
      [Oid.extKeyUsage, false],
      [Oid.subjectKeyIdentifier, false],
      [Oid.authorityKeyIdentifier, false],
      [Oid.mosaicGrantId, false],
      [Oid.mosaicSubjectUserId, false],
    ]);
    expect(decodeBasicConstraints(singleExtension(der, Oid.basicConstraints)!.value).ca).toBe(false);
    const ku = decodeKeyUsage(singleExtension(der, Oid.keyUsage)!.value);
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8].filter((b) => ku(b))).toEqual([KeyUsageBit.digitalSignature]);
    expect(decodeExtendedKeyUsage(singleExtension(der, Oid.extKeyUsage)!.value)).toEqual([Oid.clientAuth]);
    // AKI carries the CA's SKI.
    const caSki = new x509.X509Certificate(ca.certPem).getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
    expect(new x509.X509Certificate(issued.certPem).getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(caSki);

    expect(decodeMosaicIdentity(issued.certPem)).toEqual({ grantId, subjectUserId: 'alice' });
    expect(issued).toMatchObject({ grantId, subjectUserId: 'alice', peerName: 'home' });
    expect(issued.notBefore.toISOString()).toBe('2026-05-10T07:55:00.000Z');
    expect(issued.notAfter.toISOString()).toBe('2026-06-09T08:00:00.000Z');
    expect(issued.spkiPin).toBe(spkiPin(issued.certPem));
  });

  it('reads the serial back from the certificate: 16 bytes, positive, lowercase hex, unique', async () => {
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const issued = await issueClientCertificate({ ca, csr: csrPem, peerName: 'home', grantId: randomGrantId(), subjectUserId: 'a' });
      expect(issued.serialHex).toMatch(/^[0-7][0-9a-f]{31}$/);
      expect(issued.serialHex).not.toMatch(/^00/);
      expect(new NodeX509Certificate(issued.certPem).serialNumber.toLowerCase()).toBe(issued.serialHex);
      serials.add(issued.serialHex);
    }
    expect(serials.size).toBe(20);
  });

  // SECURITY.md adversarial case 12: the CSR's wishes are ignored.
  it('copies nothing from the CSR but its key: CA:TRUE, SANs, Mosaic OIDs and the subject are dropped', async () => {
    const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const evilGrant = randomGrantId();
    const evil = buildCsrPem({
      ...keys,
      subjectCn: 'admin',
      extensions: [
        [Oid.basicConstraints, true, Uint8Array.of(0x30, 0x03, 0x01, 0x01, 0xff)],
        [Oid.keyUsage, true, Uint8Array.of(0x03, 0x02, 0x01, 0x06)],
        [Oid.subjectAltName, false, Uint8Array.of(0x30, 0x06, 0x82, 0x04, 0x65, 0x76, 0x69, 0x6c)],
        [Oid.mosaicGrantId, false, Uint8Array.from([0x0c, 36, ...Buffer.from(evilGrant)])],
        [Oid.mosaicSubjectUserId, false, Uint8Array.from([0x0c, 4, ...Buffer.from('root')])],
      ],
    });
    expect(parseCsr(evil).requestedExtensions).toHaveLength(5);
    const grantId = randomGrantId();
    const issued = await issueClientCertificate({ ca, csr: evil, peerName: 'home', grantId, subjectUserId: 'alice' });
    const node = new NodeX509Certificate(issued.certPem);
    expect(node.ca).toBe(false);
    expect(node.subject).toBe('CN=home');
    expect(node.subjectAltName).toBeUndefined();
    expect(decodeMosaicIdentity(issued.certPem)).toEqual({ grantId, subjectUserId: 'alice' });
    const der = parseCertificateDer(issued.certDer);
    expect(der.extensions.filter((e) => e.oid === Oid.subjectAltName)).toHaveLength(0);
    expect(decodeKeyUsage(singleExtension(der, Oid.keyUsage)!.value)(KeyUsageBit.keyCertSign)).toBe(false);
    expect(Buffer.from(der.spki)).toEqual(keys.publicKey.export({ type: 'spki', format: 'der' }));
  });

  it('writes a peer name as one literal CN, whatever DN syntax it contains', async () => {
    const tricky = 'home, O=Evil+CN="root" #0c03';
    const issued = await issueClientCertificate({ ca, csr: csrPem, peerName: tricky, grantId: randomGrantId(), subjectUserId: 'a' });
    const name = new x509.X509Certificate(issued.certPem).subjectName.toJSON();
    expect(name).toEqual([{ CN: [tricky] }]);
  });

  it('issues from an RSA 2048 CSR and from a parsed CSR object', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const parsed = parseCsr(buildCsrPem(rsa));
    const issued = await issueClientCertificate({ ca, csr: parsed, peerName: 'home', grantId: randomGrantId(), subjectUserId: 'a' });
    expect(new NodeX509Certificate(issued.certPem).publicKey.asymmetricKeyType).toBe('rsa');
  });

  it('caps notAfter at the grant expiry and at the CA notAfter', async () => {
    const now = new Date('2026-05-10T08:00:00Z');
    const cap = new Date('2026-05-20T00:00:00.750Z');
    const capped = await issueClientCertificate({ ca, csr: csrPem, peerName: 'h', grantId: randomGrantId(), subjectUserId: 'a', now, notAfterCap: cap });
    expect(capped.notAfter.toISOString()).toBe('2026-05-20T00:00:00.000Z');
    const later = await issueClientCertificate({ ca, csr: csrPem, peerName: 'h', grantId: randomGrantId(), subjectUserId: 'a', now, notAfterCap: new Date(now.getTime() + 90 * DAY) });
    expect(later.notAfter.getTime()).toBe(now.getTime() + 30 * DAY);
    const nearEnd = new Date(ca.notAfter.getTime() - 3 * DAY);
    const atCaEnd = await issueClientCertificate({ ca, csr: csrPem, peerName: 'h', grantId: randomGrantId(), subjectUserId: 'a', now: nearEnd });
    expect(atCaEnd.notAfter.getTime()).toBe(ca.notAfter.getTime());
  });

  it.each<[string, Record<string, unknown>, string, RegExp]>([
    ['an upper-case grant id', { grantId: 'ABCDEF00-0000-4000-8000-000000000000' }, 'ISSUE_INVALID', /grantId/],
    ['an empty subject', { subjectUserId: '' }, 'ISSUE_INVALID', /subjectUserId/],
    ['a 257-byte subject', { subjectUserId: 'x'.repeat(257) }, 'ISSUE_INVALID', /257/],
    ['a peer name with a newline', { peerName: 'home\nevil' }, 'ISSUE_INVALID', /control/],
    ['a peer name with a bidi override', { peerName: 'home\u202eevil' }, 'ISSUE_INVALID', /control/],
    ['a 65-character peer name', { peerName: 'p'.repeat(65) }, 'ISSUE_INVALID', /64/],
    ['a peer name with padding', { peerName: ' home' }, 'ISSUE_INVALID', /whitespace/],
    ['a peer name with a lone surrogate', { peerName: 'h\ud800' }, 'ISSUE_INVALID', /surrogate/],
    ['a zero lifetime', { lifetimeDays: 0 }, 'ISSUE_INVALID', /lifetimeDays/],
    ['a 366-day lifetime', { lifetimeDays: 366 }, 'ISSUE_INVALID', /lifetimeDays/],
    ['an expired grant', { notAfterCap: new Date(Date.now() - 1000) }, 'ISSUE_INVALID', /already passed/],
    ['an invalid cap', { notAfterCap: new Date(Number.NaN) }, 'ISSUE_INVALID', /notAfterCap/],
    ['an invalid now', { now: new Date(Number.NaN) }, 'ISSUE_INVALID', /now/],
    ['a hand-made CSR object', { csr: { spki: new Uint8Array(91) } }, 'ISSUE_INVALID', /parseCsr/],
    ['a garbage CSR', { csr: 'nope' }, 'CSR_INVALID', /PEM/],
  ])('refuses %s', async (_name, override, code, message) => {
    await rejectsWith(
      issueClientCertificate({ ca, csr: csrPem, peerName: 'home', grantId: randomGrantId(), subjectUserId: 'alice', ...override }),
      code,
      message,
    );
  });

  it('refuses a CA that cannot issue: expired, not a CA, wrong key, mismatched private key', async () => {
    const base = { csr: csrPem, peerName: 'home', grantId: randomGrantId(), subjectUserId: 'a' };
    await rejectsWith(issueClientCertificate({ ...base, ca, now: new Date(ca.notAfter.getTime() + DAY) }), 'CA_INVALID', /expired/);
    await rejectsWith(issueClientCertificate({ ...base, ca, now: new Date(ca.notBefore.getTime() - DAY) }), 'CA_INVALID', /not valid before/);
    const leafKeys = await generateKeyPair();
    const leaf = await issueClientCertificate({ ...base, ca, csr: await createCsr({ keys: leafKeys }) });
    await rejectsWith(issueClientCertificate({ ...base, ca: { cert: leaf.certPem, keys: leafKeys } }), 'CA_INVALID', /not a CA/);
    const other = await generateKeyPair();
    await rejectsWith(issueClientCertificate({ ...base, ca: { cert: ca.certPem, keys: other } }), 'CA_INVALID', /does not match/);
    // Right public key, wrong private key: only the post-issuance check can see it.
    await rejectsWith(
      issueClientCertificate({ ...base, ca: { cert: ca.certPem, keys: { publicKey: ca.keys.publicKey, privateKey: other.privateKey } } }),
      'ISSUE_SELF_CHECK_FAILED',
      /does not verify under the CA key/,
    );
    await rejectsWith(issueClientCertificate({ ...base, ca: { cert: 'garbage', keys: ca.keys } }), 'CA_INVALID', /cannot be parsed/);
    await rejectsWith(issueClientCertificate({ ...base, ca: { cert: ca.certPem, keys: { publicKey: ca.keys.publicKey, privateKey: ca.keys.publicKey } } }), 'CA_INVALID', /cannot sign/);
  });
});

describe('issueServerCertificate', () => {
  it('issues serverAuth with DNS and IP SANs (lowercased, IPv6 canonical), 90 days', async () => {
    const keys = await generateKeyPair();
    const now = new Date('2026-05-10T08:00:00Z');
    const issued = await issueServerCertificate({
      ca,
      keys,
      dnsNames: ['GW.Example.org', 'gw.example.org', 'localhost'],
      ipAddresses: ['127.0.0.1', '2001:DB8:0:0::1'],
      now,
    });
    const node = new NodeX509Certificate(issued.certPem);
    expect(node.subject).toBe('CN=gw.example.org');
    expect(node.subjectAltName).toBe('DNS:gw.example.org, DNS:localhost, IP Address:127.0.0.1, IP Address:2001:DB8:0:0:0:0:0:1');
    expect(node.checkHost('gw.example.org')).toBe('gw.example.org');
    expect(node.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(issued.dnsNames).toEqual(['gw.example.org', 'localhost']);
    expect(issued.ipAddresses).toEqual(['127.0.0.1', '2001:db8::1']);
    const der = parseCertificateDer(issued.certDer);
    expect(decodeExtendedKeyUsage(singleExtension(der, Oid.extKeyUsage)!.value)).toEqual([Oid.serverAuth]);
    expect(decodeBasicConstraints(singleExtension(der, Oid.basicConstraints)!.value).ca).toBe(false);
    expect(issued.notAfter.getTime() - now.getTime()).toBe(90 * DAY);
  });

  it('takes a public key as PEM, and an IP-only server gets the IP as CN', async () => {
    const keys = await generateKeyPair();
    const issued = await issueServerCertificate({ ca, publicKey: await exportPublicKeyPem(keys.publicKey), ipAddresses: ['10.0.0.5'] });
    expect(new NodeX509Certificate(issued.certPem).subject).toBe('CN=10.0.0.5');
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['no names', {}, 'ISSUE_INVALID'],
    ['a wildcard', { dnsNames: ['*.example.org'] }, 'ISSUE_INVALID'],
    ['an underscore', { dnsNames: ['a_b.example'] }, 'ISSUE_INVALID'],
    ['a label starting with a hyphen', { dnsNames: ['-a.example'] }, 'ISSUE_INVALID'],
    ['an IP given as DNS', { dnsNames: ['10.0.0.1'] }, 'ISSUE_INVALID'],
    ['a DNS name given as IP', { ipAddresses: ['example.org'] }, 'ISSUE_INVALID'],
    ['an IPv6 zone id', { ipAddresses: ['fe80::1%eth0'] }, 'ISSUE_INVALID'],
    ['a 254-character name', { dnsNames: [`${'a'.repeat(63)}.`.repeat(4).slice(0, 254)] }, 'ISSUE_INVALID'],
    ['a 398-day lifetime', { dnsNames: ['a.example'], lifetimeDays: 398 }, 'ISSUE_INVALID'],
  ])('refuses %s', async (_name, override, code) => {
    await rejectsWith(issueServerCertificate({ ca, keys: await generateKeyPair(), ...override }), code);
  });

  it('refuses both or neither key inputs, and weak keys', async () => {
    const keys = await generateKeyPair();
    await rejectsWith(issueServerCertificate({ ca, keys, publicKey: keys.publicKey, dnsNames: ['a.example'] }), 'ISSUE_INVALID', /exactly one/);
    await rejectsWith(issueServerCertificate({ ca, dnsNames: ['a.example'] }), 'ISSUE_INVALID', /exactly one/);
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    await rejectsWith(issueServerCertificate({ ca, publicKey: weak, dnsNames: ['a.example'] }), 'KEY_INVALID', /RSA 1024/);
  });
});
