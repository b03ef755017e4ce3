import { generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isMosaicError, type MosaicError } from '../errors.js';
import { buildCsrDer, buildCsrPem } from '../test-support/pki.js';
import { createCsr, csrToPem, isVerifiedCsr, MAX_CSR_PEM_BYTES, parseCsr } from './csr.js';
import { encodePem } from './pem.js';
import { generateKeyPair } from './keys.js';
import { Oid } from './oids.js';
import { integer, sequence } from './der-writer.js';

function csrError(input: string | Uint8Array): MosaicError {
  try {
    parseCsr(input);
  } catch (err) {
    if (isMosaicError(err)) return err;
    throw err;
  }
  throw new Error('parseCsr accepted it');
}

const ec = (namedCurve: string): { publicKey: KeyObject; privateKey: KeyObject } => generateKeyPairSync('ec', { namedCurve });
const rsa = (modulusLength: number, publicExponent?: number): { publicKey: KeyObject; privateKey: KeyObject } =>
  generateKeyPairSync('rsa', { modulusLength, ...(publicExponent ? { publicExponent } : {}) });

describe('createCsr / parseCsr', () => {
  it('makes a CSR that parses, verifies and describes its key', async () => {
    const keys = await generateKeyPair();
    const pem = await createCsr({ keys, commonName: 'home' });
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
    const csr = parseCsr(pem);
    expect(csr.key).toEqual({ type: 'ec', curve: 'P-256' });
    expect(csr.signatureAlgorithm).toBe('ecdsa-with-SHA256');
    expect(csr.requestedSubject).toBe('CN=home');
    expect(csr.requestedExtensions).toEqual([]);
    expect(Buffer.from(csr.spki)).toEqual(Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey)));
    expect(isVerifiedCsr(csr)).toBe(true);
    expect(isVerifiedCsr({ ...csr })).toBe(false);
    expect(Object.isFrozen(csr)).toBe(true);
    expect(parseCsr(csr.der).spki).toEqual(csr.spki);
    expect(csrToPem(csr.der)).toBe(pem);
  });

  it('makes a CSR without a subject and with a P-384 key', async () => {
    const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-384' }, true, ['sign', 'verify']);
    const csr = parseCsr(await createCsr({ keys }));
    expect(csr.requestedSubject).toBe('');
    expect(csr.key).toEqual({ type: 'ec', curve: 'P-384' });
    expect(csr.signatureAlgorithm).toBe('ecdsa-with-SHA384');
  });

  it('refuses to make a CSR for a non-ECDSA key or an unsafe common name', async () => {
    const rsaKeys = await webcrypto.subtle.generateKey(
      { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['sign', 'verify'],
    );
    await expect(createCsr({ keys: rsaKeys })).rejects.toMatchObject({ code: 'CSR_INVALID' });
    await expect(createCsr({ keys: await generateKeyPair(), commonName: 'a\nb' })).rejects.toMatchObject({ code: 'CSR_INVALID' });
    const p521 = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-521' }, true, ['sign', 'verify']);
    await expect(createCsr({ keys: p521 })).rejects.toMatchObject({ code: 'CSR_INVALID' });
  });

  it('refuses a signed CSR whose subject is not a Name', () => {
    const err = csrError(buildCsrDer({ ...ec('prime256v1'), subjectDer: sequence(integer(1)) }));
    expect(err.message).toMatch(/subject is not a valid X\.501 Name/);
  });

  it('accepts the legacy NEW CERTIFICATE REQUEST label and a CSR without the attributes field', () => {
    const k = ec('prime256v1');
    const der = buildCsrDer({ ...k, subjectCn: 'x', omitAttributes: true });
    expect(parseCsr(encodePem(der, 'NEW CERTIFICATE REQUEST')).requestedSubject).toBe('CN=x');
  });

  it('lists the extensions a CSR asks for, without taking them', () => {
    const k = ec('prime256v1');
    const csr = parseCsr(
      buildCsrPem({
        ...k,
        extensions: [
          [Oid.basicConstraints, true, Uint8Array.of(0x30, 0x03, 0x01, 0x01, 0xff)],
          [Oid.mosaicGrantId, false, Uint8Array.of(0x0c, 0x01, 0x61)],
        ],
      }),
    );
    expect(csr.requestedExtensions).toEqual([Oid.basicConstraints, Oid.mosaicGrantId]);
  });
});

// SECURITY.md adversarial case 12: weak keys → 400 CSR_INVALID with a reason.
describe('key policy', () => {
  it.each<[string, () => { publicKey: KeyObject; privateKey: KeyObject }]>([
    ['ECDSA P-256', () => ec('prime256v1')],
    ['ECDSA P-384', () => ec('secp384r1')],
    ['RSA 2048', () => rsa(2048)],
    ['RSA 3072', () => rsa(3072)],
  ])('accepts %s', (_name, make) => {
    expect(parseCsr(buildCsrPem({ ...make(), subjectCn: 'x' })).key).toBeDefined();
  });

  it('accepts RSA 4096 (the upper bound)', () => {
    expect(parseCsr(buildCsrPem(rsa(4096))).key).toEqual({ type: 'rsa', bits: 4096 });
  });

  it.each<[string, () => { publicKey: KeyObject; privateKey: KeyObject }, RegExp]>([
    ['RSA 1024', () => rsa(1024), /RSA 1024 is too weak/],
    ['RSA 2048 with e=3', () => rsa(2048, 3), /exponent/],
    ['ECDSA P-192', () => ec('prime192v1'), /P-192/],
    ['ECDSA P-521', () => ec('secp521r1'), /P-521/],
    ['secp256k1', () => ec('secp256k1'), /curve 1\.3\.132\.0\.10 is not supported/],
    ['Ed25519', () => generateKeyPairSync('ed25519'), /Ed25519/],
  ])('refuses %s with CSR_INVALID (400)', (_name, make, reason) => {
    const err = csrError(buildCsrPem(make()));
    expect(err.code).toBe('CSR_INVALID');
    expect(err.statusCode).toBe(400);
    expect(err.message).toMatch(reason);
    expect(err.remediation).toMatch(/P-256/);
  });
});

describe('signature', () => {
  it('refuses a CSR whose signature bytes were altered', () => {
    const der = buildCsrDer({ ...ec('prime256v1'), subjectCn: 'home' });
    const bad = Uint8Array.from(der);
    bad[bad.length - 5]! ^= 0x01;
    expect(csrError(bad).message).toMatch(/self-signature does not verify|signature field is malformed/);
  });

  it('refuses a CSR whose signed content was altered (subject home → hose)', () => {
    const der = buildCsrDer({ ...ec('prime256v1'), subjectCn: 'home' });
    const at = Buffer.from(der).indexOf(Buffer.from('home'));
    const bad = Uint8Array.from(der);
    bad[at + 2] = 's'.charCodeAt(0);
    expect(csrError(bad).message).toMatch(/self-signature does not verify/);
  });

  it('refuses a CSR signed by another key than the one it carries', () => {
    const a = ec('prime256v1');
    const b = ec('prime256v1');
    expect(csrError(buildCsrDer({ publicKey: a.publicKey, privateKey: b.privateKey })).message).toMatch(/does not verify/);
  });

  it('refuses SHA-1 and algorithms with bad parameters', () => {
    const k = ec('prime256v1');
    expect(csrError(buildCsrDer({ ...k, signatureOid: Oid.ecdsaWithSha1, hash: 'sha1' })).message).toMatch(/1\.2\.840\.10045\.4\.1 is not accepted/);
    const r = rsa(2048);
    expect(csrError(buildCsrDer({ ...r, signatureOid: Oid.sha1WithRsa, hash: 'sha1' })).message).toMatch(/not accepted/);
    expect(csrError(buildCsrDer({ ...k, signatureOid: Oid.sha256WithRsa })).message).toMatch(/does not verify/);
  });
});

describe('malformed input', () => {
  const good = (): Uint8Array => buildCsrDer({ ...ec('prime256v1'), subjectCn: 'x' });

  it.each<[string, () => string | Uint8Array, RegExp]>([
    ['text that is not PEM', () => 'hello', /no PEM block/],
    ['a certificate block', () => encodePem(good(), 'CERTIFICATE'), /expected a CERTIFICATE REQUEST/],
    ['two CSR blocks', () => encodePem(good(), 'CERTIFICATE REQUEST').repeat(2), /found 2/],
    ['text around the block', () => `note\n${encodePem(good(), 'CERTIFICATE REQUEST')}`, /text outside/],
    ['a non-base64 body', () => '-----BEGIN CERTIFICATE REQUEST-----\nMII*\n-----END CERTIFICATE REQUEST-----\n', /not base64/],
    ['non-canonical base64 padding', () => '-----BEGIN CERTIFICATE REQUEST-----\nMB==\n-----END CERTIFICATE REQUEST-----\n', /canonical/],
    ['mismatched END label', () => '-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE-----\n', /closed by/],
    ['PEM headers (legacy encryption)', () => '-----BEGIN CERTIFICATE REQUEST-----\nProc-Type: 4,ENCRYPTED\n\nMAA=\n-----END CERTIFICATE REQUEST-----\n', /headers/],
    ['an over-sized PEM', () => 'x'.repeat(MAX_CSR_PEM_BYTES + 1), /larger than/],
    ['over-sized DER', () => new Uint8Array(17 * 1024), /larger than/],
    ['over-sized DER inside PEM', () => encodePem(new Uint8Array(17 * 1024), 'CERTIFICATE REQUEST'), /larger than/],
    ['garbage DER', () => Uint8Array.of(1, 2, 3), /not a valid DER PKCS#10/],
    ['an empty SEQUENCE', () => Uint8Array.of(0x30, 0x00), /not a valid DER PKCS#10/],
    ['trailing bytes after the CSR', () => Uint8Array.from([...good(), 0]), /not a valid DER PKCS#10/],
    ['indefinite-length BER', () => Uint8Array.from([0x30, 0x80, ...good().subarray(2), 0, 0]), /not a valid DER PKCS#10/],
    ['an input of the wrong type', () => 42 as unknown as string, /expected PEM text or DER/],
  ])('refuses %s with a clear CSR_INVALID', (_name, input, reason) => {
    const err = csrError(input());
    expect(err.code).toBe('CSR_INVALID');
    expect(err.message).toMatch(reason);
    // Never a raw ASN.1 library stack or message.
    expect(err.message).not.toMatch(/asn1|AsnSchema|at Object|Error:/i);
  });

  it('refuses a CSR claiming version 2', () => {
    const der = Buffer.from(good());
    // SEQUENCE { SEQUENCE { INTEGER 0 ...: the version byte is the first INTEGER's value.
    const at = der.indexOf(Buffer.from([0x02, 0x01, 0x00]));
    der[at + 2] = 1;
    expect(csrError(der).message).toMatch(/version 1 is unknown/);
  });
});
