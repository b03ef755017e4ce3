import { X509Certificate as NodeX509Certificate, webcrypto } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { isMosaicError, type MosaicError } from '../errors.js';
import {
  clientProfileExtensions,
  makeClientCert,
  makeCustomCert,
  makeServerCert,
  makeTestCa,
  mosaicRawExtensions,
  randomGrantId,
  rawExtension,
  type RootCa,
} from '../test-support/pki.js';
import { generateKeyPair } from './keys.js';
import { Oid } from './oids.js';
import { verifyClientCertificate } from './verify.js';
import { x509, type WebCryptoKeyPair } from './x509.js';

function failure(fn: () => unknown): MosaicError {
  try {
    fn();
  } catch (err) {
    if (isMosaicError(err)) return err;
    throw err;
  }
  throw new Error('verification passed');
}

let ca: RootCa;
let otherCa: RootCa;
let sameNameCa: RootCa;
beforeAll(async () => {
  // Backdated a day, so "just before the leaf's notBefore" is still inside the CA's window.
  ca = await makeTestCa({ commonName: 'Mosaic CA', now: new Date(Date.now() - 86_400_000) });
  otherCa = await makeTestCa({ commonName: 'Another CA' });
  sameNameCa = await makeTestCa({ commonName: 'Mosaic CA' });
});

type Profile = 'bc' | 'ku' | 'eku' | 'ski' | 'aki';
/** A CA-signed leaf with the client profile, some parts replaced. */
async function leafWith(replace: Partial<Record<Profile, x509.Extension | null>>, extra: x509.Extension[] = [], keys?: WebCryptoKeyPair): Promise<string> {
  const k = keys ?? (await generateKeyPair());
  const profile = await clientProfileExtensions(ca, k.publicKey);
  const names: Profile[] = ['bc', 'ku', 'eku', 'ski', 'aki'];
  const extensions = profile
    .map((ext, i) => (replace[names[i]!] === undefined ? ext : replace[names[i]!]))
    .filter((e): e is x509.Extension => e !== null);
  return (await makeCustomCert(ca, { keys: k, extensions: [...extensions, ...mosaicRawExtensions(randomGrantId(), 'alice'), ...extra] })).certPem;
}

describe('accepts', () => {
  it('a client certificate from the CA, in every input form, and reports its facts', async () => {
    const client = await makeClientCert(ca);
    const result = verifyClientCertificate(client.certPem, ca.certPem);
    expect(result).toEqual({ serialHex: client.serialHex, notBefore: client.notBefore, notAfter: client.notAfter, spkiPin: client.spkiPin });
    expect(verifyClientCertificate(client.certDer, new NodeX509Certificate(ca.certPem), { purpose: 'client' }).serialHex).toBe(client.serialHex);
    expect(verifyClientCertificate(new x509.X509Certificate(client.certPem), ca.certDer).serialHex).toBe(client.serialHex);
  });

  it('a server certificate for purpose server', async () => {
    const server = await makeServerCert(ca);
    expect(verifyClientCertificate(server.certPem, ca.certPem, { purpose: 'server' }).serialHex).toBe(server.serialHex);
  });

  it('a certificate at the very edges of its window', async () => {
    const client = await makeClientCert(ca);
    expect(() => verifyClientCertificate(client.certPem, ca.certPem, { now: client.notBefore })).not.toThrow();
    expect(() => verifyClientCertificate(client.certPem, ca.certPem, { now: client.notAfter })).not.toThrow();
  });
});

describe('refuses (each with its own code, 401)', () => {
  it('a certificate from another CA with perfect Mosaic extensions → CERT_UNTRUSTED', async () => {
    const foreign = await makeClientCert(otherCa);
    expect(failure(() => verifyClientCertificate(foreign.certPem, ca.certPem)).code).toBe('CERT_UNTRUSTED');
    // Same CA name, different key: the AKI does not match, OpenSSL's checkIssued says no.
    const twin = await makeClientCert(sameNameCa);
    expect(failure(() => verifyClientCertificate(twin.certPem, ca.certPem)).code).toBe('CERT_UNTRUSTED');
  });

  it('a self-signed impostor with the same subject and extensions → CERT_UNTRUSTED', async () => {
    const keys = await generateKeyPair();
    const { certPem } = await makeCustomCert(ca, {
      keys,
      selfSigned: true,
      extensions: [...(await clientProfileExtensions(ca, keys.publicKey)), ...mosaicRawExtensions(randomGrantId(), 'alice')],
    });
    expect(failure(() => verifyClientCertificate(certPem, ca.certPem)).code).toBe('CERT_UNTRUSTED');
  });

  it('a certificate naming the CA (name and AKI) but signed by another key → CERT_SIGNATURE_INVALID', async () => {
    const keys = await generateKeyPair();
    const extensions = [...(await clientProfileExtensions(ca, keys.publicKey)), ...mosaicRawExtensions(randomGrantId(), 'alice')];
    const forged = await makeCustomCert(ca, { keys, signWith: sameNameCa.keys.privateKey, extensions });
    expect(failure(() => verifyClientCertificate(forged.certPem, ca.certPem)).code).toBe('CERT_SIGNATURE_INVALID');
    // Self-signed, but with the CA's name as subject/issuer and its key id: still only a bad signature.
    const mimic = await makeCustomCert(ca, { keys, selfSigned: true, subjectCn: 'Mosaic CA', extensions });
    expect(failure(() => verifyClientCertificate(mimic.certPem, ca.certPem)).code).toBe('CERT_SIGNATURE_INVALID');
  });

  it('a certificate signed with ECDSA-SHA1 → CERT_ALGORITHM_REJECTED', async () => {
    const keys = await generateKeyPair();
    const { certPem } = await makeCustomCert(ca, {
      keys,
      hash: 'SHA-1',
      extensions: [...(await clientProfileExtensions(ca, keys.publicKey)), ...mosaicRawExtensions(randomGrantId(), 'alice')],
    });
    const err = failure(() => verifyClientCertificate(certPem, ca.certPem));
    expect(err.code).toBe('CERT_ALGORITHM_REJECTED');
    expect(err.message).toMatch(/1\.2\.840\.10045\.4\.1/);
  });

  // SECURITY.md adversarial case 3.
  it('an expired certificate → CERT_EXPIRED; one not yet valid → CERT_NOT_YET_VALID', async () => {
    const client = await makeClientCert(ca);
    const late = failure(() => verifyClientCertificate(client.certPem, ca.certPem, { now: new Date(client.notAfter.getTime() + 1000) }));
    expect(late.code).toBe('CERT_EXPIRED');
    expect(late.statusCode).toBe(401);
    expect(late.message).toContain(client.notAfter.toISOString());
    const early = failure(() => verifyClientCertificate(client.certPem, ca.certPem, { now: new Date(client.notBefore.getTime() - 1000) }));
    expect(early.code).toBe('CERT_NOT_YET_VALID');
  });

  // SECURITY.md adversarial case 7a.
  it.each<[string, string, () => Promise<string>, RegExp?]>([
    ['a leaf with CA:TRUE', 'CERT_IS_CA', () => leafWith({ bc: new x509.BasicConstraintsExtension(true, undefined, true) }), /CA:TRUE/],
    ['a leaf with keyCertSign', 'CERT_IS_CA', () => leafWith({ ku: new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign, true) }), /keyCertSign/],
    ['a leaf with cRLSign', 'CERT_IS_CA', () => leafWith({ ku: new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.cRLSign, true) }), /cRLSign/],
    ['a leaf without keyUsage', 'CERT_KEY_USAGE_INVALID', () => leafWith({ ku: null }), /missing/],
    ['a leaf without digitalSignature', 'CERT_KEY_USAGE_INVALID', () => leafWith({ ku: new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyEncipherment, true) }), /digitalSignature/],
    ['a leaf without extendedKeyUsage', 'CERT_WRONG_PURPOSE', () => leafWith({ eku: null }), /client/],
    ['a leaf with serverAuth only', 'CERT_WRONG_PURPOSE', () => leafWith({ eku: new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]) })],
    ['a leaf with anyExtendedKeyUsage only', 'CERT_WRONG_PURPOSE', () => leafWith({ eku: new x509.ExtendedKeyUsageExtension([Oid.anyExtendedKeyUsage]) })],
    ['a leaf with an unknown critical extension', 'CERT_UNKNOWN_CRITICAL_EXTENSION', () => leafWith({}, [rawExtension('1.3.6.1.4.1.99999.77', true, Uint8Array.of(0x05, 0x00))]), /99999\.77/],
    ['a leaf with a duplicated extension', 'CERT_MALFORMED', () => leafWith({}, [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])]), /more than once/],
    ['a leaf with a malformed keyUsage', 'CERT_MALFORMED', () => leafWith({ ku: rawExtension(Oid.keyUsage, true, Uint8Array.of(0x03, 0x01, 0x09)) }), /malformed/],
  ])('%s → %s', async (_name, code, make, message) => {
    const pem = await make();
    const e = failure(() => verifyClientCertificate(pem, ca.certPem));
    expect(e.code).toBe(code);
    expect(e.statusCode).toBe(401);
    if (message) expect(e.message).toMatch(message);
  });

  it('a server certificate used as a client one, and the reverse → CERT_WRONG_PURPOSE', async () => {
    const server = await makeServerCert(ca);
    const client = await makeClientCert(ca);
    expect(failure(() => verifyClientCertificate(server.certPem, ca.certPem, { purpose: 'client' })).code).toBe('CERT_WRONG_PURPOSE');
    expect(failure(() => verifyClientCertificate(client.certPem, ca.certPem, { purpose: 'server' })).code).toBe('CERT_WRONG_PURPOSE');
  });

  it('a CA-signed leaf with an RSA 1024 key → CERT_KEY_REJECTED', async () => {
    const rsa: WebCryptoKeyPair = await webcrypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    );
    const pem = await leafWith({}, [], rsa);
    expect(failure(() => verifyClientCertificate(pem, ca.certPem)).message).toMatch(/RSA 1024/);
  });

  it('the CA certificate presented as a leaf → CERT_IS_CA', () => {
    expect(failure(() => verifyClientCertificate(ca.certPem, ca.certPem)).code).toBe('CERT_IS_CA');
  });

  it('garbage → CERT_MALFORMED', () => {
    expect(failure(() => verifyClientCertificate('garbage', ca.certPem)).code).toBe('CERT_MALFORMED');
    expect(failure(() => verifyClientCertificate(undefined as never, ca.certPem)).code).toBe('CERT_MALFORMED');
    expect(failure(() => verifyClientCertificate(Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x01), ca.certPem)).code).toBe('CERT_MALFORMED');
  });
});

describe('the trusted CA itself', () => {
  it('must be a parseable, currently valid CA certificate (else CA_INVALID, 500)', async () => {
    const client = await makeClientCert(ca);
    const asLeaf = failure(() => verifyClientCertificate(client.certPem, client.certPem));
    expect(asLeaf.code).toBe('CA_INVALID');
    expect(asLeaf.statusCode).toBe(500);
    expect(failure(() => verifyClientCertificate(client.certPem, 'nope')).code).toBe('CA_INVALID');
    expect(failure(() => verifyClientCertificate(client.certPem, ca.certPem, { now: new Date(ca.notAfter.getTime() + 1000) })).code).toBe('CA_INVALID');
  });

  it('a CA kept from an earlier call (same DER, as the listener passes it per socket) is still judged: its validity window each time, a changed buffer or another CA afresh', async () => {
    const client = await makeClientCert(ca);
    const caDer = Buffer.from(new NodeX509Certificate(ca.certPem).raw);
    expect(verifyClientCertificate(client.certPem, caDer).serialHex).toBe(client.serialHex);
    // the same bytes again, past the CA's notAfter: refused, not served from the kept copy
    expect(failure(() => verifyClientCertificate(client.certPem, Buffer.from(caDer), { now: new Date(ca.notAfter.getTime() + 1000) })).code).toBe('CA_INVALID');
    // the caller's buffer changed after the call: what was kept is unaffected, and the changed bytes are parsed (and refused)
    caDer.fill(0);
    expect(failure(() => verifyClientCertificate(client.certPem, caDer)).code).toBe('CA_INVALID');
    expect(verifyClientCertificate(client.certPem, ca.certPem).serialHex).toBe(client.serialHex);
    // another CA (same name) right after: the leaf does not chain to it
    expect(failure(() => verifyClientCertificate(client.certPem, sameNameCa.certPem)).code).toBe('CERT_UNTRUSTED');
    expect(verifyClientCertificate(client.certPem, ca.certPem).serialHex).toBe(client.serialHex);
  });

  it('refuses a "CA" whose keyUsage lacks keyCertSign', async () => {
    const keys = await generateKeyPair();
    const { certPem } = await makeCustomCert(ca, {
      keys,
      selfSigned: true,
      subjectCn: 'Odd CA',
      extensions: [new x509.BasicConstraintsExtension(true, 0, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.cRLSign, true)],
    });
    expect(failure(() => verifyClientCertificate(certPem, certPem)).code).toBe('CA_INVALID');
    const broken = await makeCustomCert(ca, { keys, selfSigned: true, extensions: [rawExtension(Oid.basicConstraints, true, Uint8Array.of(0x30, 0x03, 0x01, 0x01, 0x01))] });
    expect(failure(() => verifyClientCertificate(broken.certPem, broken.certPem)).message).toMatch(/malformed/);
  });
});
