/**
 * Interoperability with the real `openssl` binary: what we issue, OpenSSL reads and verifies;
 * what OpenSSL issues, we read and verify. Each test works in its own temporary directory.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isMosaicError } from '../errors.js';
import { hasOpenssl, openssl, run, withTempDir } from '../test-support/openssl.js';
import { makeClientCert, makeServerCert, makeTestCa, randomGrantId, type RootCa } from '../test-support/pki.js';
import { buildCrl, crlToPem } from './crl-build.js';
import { parseCrl } from './crl-parse.js';
import { createCsr, parseCsr } from './csr.js';
import { generateKeyPair } from './keys.js';
import { issueClientCertificate } from './issue-client.js';
import { decodeMosaicIdentity } from './mosaic-identity.js';
import { spkiPin } from './pins.js';
import { verifyClientCertificate } from './verify.js';

const available = await hasOpenssl();
if (!available && process.env.CI === 'true') throw new Error('the openssl binary is required for the interop tests under CI=true');
const describeOpenssl = describe.skipIf(!available);

let ca: RootCa & { keyPem: string };
let otherCa: RootCa;
beforeAll(async () => {
  ca = await makeTestCa({ commonName: 'Interop CA' });
  otherCa = await makeTestCa({ commonName: 'Interop CA' });
});

async function ok(args: string[], cwd: string, input?: string): Promise<string> {
  const result = await openssl(args, { cwd, ...(input === undefined ? {} : { input }) });
  if (result.code !== 0) throw new Error(`openssl ${args[0]} failed (${result.code}): ${result.stderr}`);
  return result.stdout + result.stderr;
}

/** The DER hex openssl asn1parse shows as the value of extension `oid`, and whether a BOOLEAN sat between. */
function extensionFromAsn1parse(dump: string, oid: string): { hex: string; critical: boolean } {
  const lines = dump.split('\n');
  const at = lines.findIndex((l) => l.includes(`OBJECT            :${oid}`));
  if (at < 0) throw new Error(`${oid} not found by openssl`);
  const critical = lines[at + 1]!.includes('BOOLEAN');
  const valueLine = lines[at + (critical ? 2 : 1)]!;
  const match = /OCTET STRING\s+\[HEX DUMP\]:([0-9A-F]+)/.exec(valueLine);
  if (!match) throw new Error(`no OCTET STRING after ${oid}`);
  return { hex: match[1]!.toLowerCase(), critical };
}

const utf8Hex = (s: string): string => {
  const bytes = Buffer.from(s, 'utf8');
  const len = bytes.length < 0x80 ? bytes.length.toString(16).padStart(2, '0') : `81${bytes.length.toString(16).padStart(2, '0')}`;
  return `0c${len}${bytes.toString('hex')}`;
};

describeOpenssl('openssl reads what we issue', () => {
  it('x509 -text and asn1parse show both Mosaic extensions, non-critical, with exact values, plus the profile', async () => {
    await withTempDir(async (dir) => {
      const grantId = randomGrantId();
      const subject = 'ünïcode-user-✓';
      const client = await makeClientCert(ca, { grantId, subjectUserId: subject });
      await writeFile(join(dir, 'leaf.pem'), client.certPem);

      const text = await ok(['x509', '-in', 'leaf.pem', '-noout', '-text'], dir);
      expect(text).toMatch(/^\s*1\.3\.6\.1\.4\.1\.99999\.1: ?\n\s*\.\$/m);
      expect(text).toContain(grantId);
      expect(text).toMatch(/^\s*1\.3\.6\.1\.4\.1\.99999\.2: ?\n/m);
      expect(text).not.toMatch(/99999\.[12]: critical/);
      expect(text).toMatch(/X509v3 Extended Key Usage: ?\n\s*TLS Web Client Authentication\n/);
      expect(text).toMatch(/X509v3 Key Usage: critical\n\s*Digital Signature\n/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s*CA:FALSE\n/);
      expect(text).toMatch(/Subject: CN ?= ?home\n/);

      const dump = await ok(['asn1parse', '-in', 'leaf.pem'], dir);
      expect(extensionFromAsn1parse(dump, '1.3.6.1.4.1.99999.1')).toEqual({ hex: utf8Hex(grantId), critical: false });
      expect(extensionFromAsn1parse(dump, '1.3.6.1.4.1.99999.2')).toEqual({ hex: utf8Hex(subject), critical: false });
    });
  });

  it('verify -x509_strict accepts our client and server certificates, and fails them under another CA', async () => {
    await withTempDir(async (dir) => {
      const client = await makeClientCert(ca);
      const server = await makeServerCert(ca, ['localhost', '127.0.0.1']);
      await writeFile(join(dir, 'root.pem'), ca.certPem);
      await writeFile(join(dir, 'other.pem'), otherCa.certPem);
      await writeFile(join(dir, 'client.pem'), client.certPem);
      await writeFile(join(dir, 'server.pem'), server.certPem);

      expect(await ok(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', 'root.pem', 'client.pem'], dir)).toContain('client.pem: OK');
      expect(
        await ok(['verify', '-x509_strict', '-purpose', 'sslserver', '-verify_hostname', 'localhost', '-verify_ip', '127.0.0.1', '-CAfile', 'root.pem', 'server.pem'], dir),
      ).toContain('server.pem: OK');

      const foreign = await openssl(['verify', '-CAfile', 'other.pem', 'client.pem'], { cwd: dir });
      expect(foreign.code).not.toBe(0);
      expect(foreign.stdout + foreign.stderr).toMatch(/unable to get local issuer certificate|certificate signature failure|signature/);
      const wrongPurpose = await openssl(['verify', '-purpose', 'sslserver', '-CAfile', 'root.pem', 'client.pem'], { cwd: dir });
      expect(wrongPurpose.code).not.toBe(0);
    });
  });

  it('req -verify accepts a CSR made here', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'req.pem'), await createCsr({ keys: await generateKeyPair(), commonName: 'home' }));
      expect(await ok(['req', '-in', 'req.pem', '-noout', '-verify'], dir)).toMatch(/verify OK/i);
    });
  });

  it('the SPKI pin equals `openssl x509 -pubkey | openssl pkey -pubin -outform DER | sha256sum`', async () => {
    await withTempDir(async (dir) => {
      await writeFile(join(dir, 'root.pem'), ca.certPem);
      const pipeline = await run('sh', ['-c', 'openssl x509 -in root.pem -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum'], { cwd: dir });
      expect(pipeline.code).toBe(0);
      expect(spkiPin(ca.certPem)).toBe(`sha256:${pipeline.stdout.split(/\s/)[0]}`);
    });
  });

  it('crl verifies our CRL, and verify -crl_check refuses exactly the revoked certificate', async () => {
    await withTempDir(async (dir) => {
      const revoked = await makeClientCert(ca);
      const kept = await makeClientCert(ca);
      const crl = await buildCrl({ ca, crlNumber: 42, revoked: [{ serialHex: revoked.serialHex, revokedAt: new Date(Date.now() - 60_000), reason: 'keyCompromise' }] });
      await writeFile(join(dir, 'root.pem'), ca.certPem);
      await writeFile(join(dir, 'crl.der'), crl.der);
      await writeFile(join(dir, 'crl.pem'), crlToPem(crl.der));
      await writeFile(join(dir, 'revoked.pem'), revoked.certPem);
      await writeFile(join(dir, 'kept.pem'), kept.certPem);

      expect(await ok(['crl', '-inform', 'DER', '-in', 'crl.der', '-CAfile', 'root.pem', '-noout'], dir)).toMatch(/verify OK/);
      const text = await ok(['crl', '-inform', 'DER', '-in', 'crl.der', '-noout', '-text'], dir);
      expect(text).toMatch(/X509v3 CRL Number: ?\n\s*42\n/);
      expect(text).toContain(revoked.serialHex.toUpperCase());
      expect(text).toMatch(/Key Compromise/);

      const bad = await openssl(['verify', '-crl_check', '-CRLfile', 'crl.pem', '-CAfile', 'root.pem', 'revoked.pem'], { cwd: dir });
      expect(bad.code).not.toBe(0);
      expect(bad.stdout + bad.stderr).toMatch(/certificate revoked/);
      expect(await ok(['verify', '-crl_check', '-CRLfile', 'crl.pem', '-CAfile', 'root.pem', 'kept.pem'], dir)).toContain('kept.pem: OK');
    });
  });
});

describeOpenssl('we read what openssl issues', () => {
  const EXTFILE = (grantId: string, subject: string): string => `[v3]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
1.3.6.1.4.1.99999.1 = ASN1:UTF8String:${grantId}
1.3.6.1.4.1.99999.2 = ASN1:UTF8String:${subject}
`;

  it('a CA and a client certificate made entirely by openssl (x509 -req with an extfile)', async () => {
    await withTempDir(async (dir) => {
      const grantId = randomGrantId();
      const subject = `user-${'x'.repeat(200)}`; // long-form length in the extension
      await ok(
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '30', '-subj', '/CN=OpenSSL CA',
          '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
        dir,
      );
      await ok(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=x'], dir);
      await writeFile(join(dir, 'ext.cnf'), EXTFILE(grantId, subject));
      await ok(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '7', '-extfile', 'ext.cnf', '-extensions', 'v3', '-out', 'leaf.pem'], dir);

      const leafPem = await readFile(join(dir, 'leaf.pem'), 'utf8');
      const caPem = await readFile(join(dir, 'ca.pem'), 'utf8');
      expect(decodeMosaicIdentity(leafPem)).toEqual({ grantId, subjectUserId: subject });
      const verified = verifyClientCertificate(leafPem, caPem, { purpose: 'client' });
      const serial = (await ok(['x509', '-in', 'leaf.pem', '-noout', '-serial'], dir)).trim().replace(/^serial=/, '');
      expect(verified.serialHex).toBe(serial.toLowerCase().replace(/^(00)+/, ''));
      // And openssl's certificate under our CA is refused.
      expect(() => verifyClientCertificate(leafPem, ca.certPem)).toThrow(expect.objectContaining({ code: 'CERT_UNTRUSTED' }) as Error);
    });
  });

  it('openssl signing with our exported CA key: our verifier and decoder accept it', async () => {
    await withTempDir(async (dir) => {
      const grantId = randomGrantId();
      await writeFile(join(dir, 'ca.pem'), ca.certPem);
      await writeFile(join(dir, 'ca.key'), ca.keyPem);
      await writeFile(join(dir, 'leaf.csr'), await createCsr({ keys: await generateKeyPair() }));
      await writeFile(join(dir, 'ext.cnf'), EXTFILE(grantId, 'bob'));
      await ok(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '0x1234', '-days', '7', '-extfile', 'ext.cnf', '-extensions', 'v3', '-out', 'leaf.pem'], dir);
      const leafPem = await readFile(join(dir, 'leaf.pem'), 'utf8');
      expect(verifyClientCertificate(leafPem, ca.certPem).serialHex).toBe('1234');
      expect(decodeMosaicIdentity(leafPem)).toEqual({ grantId, subjectUserId: 'bob' });
    });
  });

  it('a P-256 CSR from `openssl req -new -newkey ec` parses and is issued; openssl verifies the result', async () => {
    await withTempDir(async (dir) => {
      await ok(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'k.pem', '-out', 'r.pem', '-subj', '/CN=x'], dir);
      const csr = parseCsr(await readFile(join(dir, 'r.pem'), 'utf8'));
      expect(csr.key).toEqual({ type: 'ec', curve: 'P-256' });
      expect(csr.requestedSubject).toBe('CN=x');
      const issued = await issueClientCertificate({ ca, csr, peerName: 'home', grantId: randomGrantId(), subjectUserId: 'alice' });
      await writeFile(join(dir, 'root.pem'), ca.certPem);
      await writeFile(join(dir, 'leaf.pem'), issued.certPem);
      expect(await ok(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', 'root.pem', 'leaf.pem'], dir)).toContain('OK');
      // The key in the issued certificate is the one openssl generated.
      const pub = await run('sh', ['-c', 'openssl pkey -in k.pem -pubout -outform DER | sha256sum'], { cwd: dir });
      expect(issued.spkiPin).toBe(`sha256:${pub.stdout.split(/\s/)[0]}`);
    });
  });

  it.each([
    ['RSA 1024', ['-newkey', 'rsa:1024'], /RSA 1024 is too weak/],
    ['P-192', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-192'], /P-192/],
    ['P-521', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-521'], /P-521/],
    ['Ed25519', ['-newkey', 'ed25519'], /Ed25519/],
  ])('an openssl CSR with a %s key is refused with CSR_INVALID', async (_name, keyArgs, reason) => {
    await withTempDir(async (dir) => {
      await ok(['req', '-new', ...keyArgs, '-nodes', '-keyout', 'k.pem', '-out', 'r.pem', '-subj', '/CN=x'], dir);
      let err: unknown;
      try {
        parseCsr(await readFile(join(dir, 'r.pem'), 'utf8'));
      } catch (e) {
        err = e;
      }
      expect(isMosaicError(err) && err.code).toBe('CSR_INVALID');
      expect((err as Error).message).toMatch(reason);
    });
  });

  it('an openssl CSR asking for CA:TRUE, a SAN and the Mosaic OIDs gets none of them', async () => {
    await withTempDir(async (dir) => {
      const wanted = randomGrantId();
      await ok(
        ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'k.pem', '-out', 'r.pem', '-subj', '/CN=admin/O=Evil',
          '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'subjectAltName=DNS:evil.example', '-addext', `1.3.6.1.4.1.99999.1=ASN1:UTF8String:${wanted}`,
          '-addext', '1.3.6.1.4.1.99999.2=ASN1:UTF8String:root'],
        dir,
      );
      const grantId = randomGrantId();
      const issued = await issueClientCertificate({ ca, csr: await readFile(join(dir, 'r.pem'), 'utf8'), peerName: 'home', grantId, subjectUserId: 'alice' });
      await writeFile(join(dir, 'leaf.pem'), issued.certPem);
      const text = await ok(['x509', '-in', 'leaf.pem', '-noout', '-text'], dir);
      expect(text).toMatch(/CA:FALSE/);
      expect(text).not.toMatch(/CA:TRUE|Subject Alternative Name|evil|admin|Evil/);
      expect(text).not.toContain(wanted);
      expect(decodeMosaicIdentity(issued.certPem)).toEqual({ grantId, subjectUserId: 'alice' });
    });
  });

  it('a CRL made by `openssl ca -gencrl` with our CA key parses and verifies', async () => {
    await withTempDir(async (dir) => {
      const revoked = await makeClientCert(ca);
      const expiry = '300101000000Z';
      const when = new Date(Date.now() - 3_600_000).toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
      await writeFile(join(dir, 'index.txt'), `R\t${expiry}\t${when},keyCompromise\t${revoked.serialHex.toUpperCase()}\tunknown\t/CN=home\n`);
      await writeFile(join(dir, 'crlnumber'), '1000\n');
      await writeFile(join(dir, 'ca.pem'), ca.certPem);
      await writeFile(join(dir, 'ca.key'), ca.keyPem);
      await writeFile(
        join(dir, 'ca.cnf'),
        `[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 7\ncrl_extensions = crl_ext\n[crl_ext]\nauthorityKeyIdentifier = keyid:always\n`,
      );
      await ok(['ca', '-gencrl', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-out', 'crl.pem'], dir);
      const crlPem = await readFile(join(dir, 'crl.pem'), 'utf8');
      const parsed = parseCrl(crlPem, ca.certPem);
      expect(parsed.crlNumber).toBe(0x1000n);
      expect(parsed.revoked).toEqual([{ serialHex: revoked.serialHex, revokedAt: expect.any(Date) as Date, reason: 'keyCompromise' }]);
      // Checked against another CA of the same name, the signature gives it away.
      expect(() => parseCrl(crlPem, otherCa.certPem)).toThrow(/signature does not verify/);
    });
  });
});
