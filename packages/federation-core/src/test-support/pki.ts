/**
 * Test helpers for anything that needs certificates: a CA, server and client certificates
 * issued through the real PKI code, and — for adversarial tests — certificates and CSRs with
 * whatever content a test wants, signed by a real key. Excluded from the build.
 */
import { createPrivateKey, randomUUID, sign as nodeSign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import {
  createCsr,
  createRootCa,
  exportPrivateKeyPem,
  generateKeyPair,
  issueClientCertificate,
  issueServerCertificate,
  type IssuedClientCertificate,
  type IssuedServerCertificate,
  type RootCa,
  type WebCryptoKeyPair,
} from '../pki/index.js';
import { bitString, booleanTrue, integer, octetString, oid, sequence, setOf, tlv } from '../pki/der-writer.js';
import { Oid } from '../pki/oids.js';
import { encodePem } from '../pki/pem.js';
import { randomSerialHex } from '../pki/serial.js';
import { x509, toArrayBuffer } from '../pki/x509.js';

export type { RootCa } from '../pki/index.js';

/** A fresh random grant id (lowercase UUID v4). */
export function randomGrantId(): string {
  return randomUUID();
}

/** Options for {@link makeTestCa}. */
export interface MakeTestCaOptions {
  commonName?: string;
  /** Issue the root as of this instant (for certificates with a past window). */
  now?: Date;
  validityYears?: number;
  keys?: WebCryptoKeyPair;
}

/** A root CA for tests: `ca.certPem`, `ca.keys`, `ca.spkiPin`… usable as `ca` when issuing. */
export async function makeTestCa(options: MakeTestCaOptions = {}): Promise<RootCa & { keyPem: string }> {
  const ca = await createRootCa({
    commonName: options.commonName ?? 'Mosaic Test CA',
    ...(options.now ? { now: options.now } : {}),
    ...(options.validityYears ? { validityYears: options.validityYears } : {}),
    ...(options.keys ? { keys: options.keys } : {}),
  });
  return { ...ca, keyPem: await exportPrivateKeyPem(ca.keys.privateKey) };
}

/** A server certificate with its key, ready for `tls.createServer`. */
export interface TestServerCert extends IssuedServerCertificate {
  readonly keys: WebCryptoKeyPair;
  readonly keyPem: string;
  readonly caPem: string;
}

/** Issue a server certificate for `hosts` (DNS names and IP addresses mixed). */
export async function makeServerCert(
  ca: RootCa,
  hosts: readonly string[] = ['localhost', '127.0.0.1'],
  options: { lifetimeDays?: number; now?: Date } = {},
): Promise<TestServerCert> {
  const keys = await generateKeyPair();
  const issued = await issueServerCertificate({
    ca,
    keys,
    dnsNames: hosts.filter((h) => isIP(h) === 0),
    ipAddresses: hosts.filter((h) => isIP(h) !== 0),
    ...options,
  });
  return { ...issued, keys, keyPem: await exportPrivateKeyPem(keys.privateKey), caPem: ca.certPem };
}

/** Options for {@link makeClientCert}. */
export interface MakeClientCertOptions {
  grantId?: string;
  subjectUserId?: string;
  peerName?: string;
  lifetimeDays?: number;
  notAfterCap?: Date;
  now?: Date;
  keys?: WebCryptoKeyPair;
}

/** A client certificate with its key and CSR. */
export interface TestClientCert extends IssuedClientCertificate {
  readonly keys: WebCryptoKeyPair;
  readonly keyPem: string;
  readonly csrPem: string;
  readonly caPem: string;
}

/** Generate a key, make a CSR and have `ca` issue a client certificate from it. */
export async function makeClientCert(ca: RootCa, options: MakeClientCertOptions = {}): Promise<TestClientCert> {
  const keys = options.keys ?? (await generateKeyPair());
  const csrPem = await createCsr({ keys, commonName: 'ignored-by-the-ca' });
  const issued = await issueClientCertificate({
    ca,
    csr: csrPem,
    peerName: options.peerName ?? 'home',
    grantId: options.grantId ?? randomGrantId(),
    subjectUserId: options.subjectUserId ?? 'alice',
    ...(options.lifetimeDays !== undefined ? { lifetimeDays: options.lifetimeDays } : {}),
    ...(options.notAfterCap ? { notAfterCap: options.notAfterCap } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  return { ...issued, keys, keyPem: await exportPrivateKeyPem(keys.privateKey), csrPem, caPem: ca.certPem };
}

/** An extension with arbitrary OID, criticality and value bytes. */
export function rawExtension(extOid: string, critical: boolean, value: Uint8Array): x509.Extension {
  return new x509.Extension(extOid, critical, toArrayBuffer(value));
}

/** The DER UTF8String of `text`, however long (long-form lengths included). */
export function utf8StringDer(text: string): Uint8Array {
  return tlv(0x0c, Buffer.from(text, 'utf8'));
}

/** The two Mosaic extensions as plain (unchecked) extensions. */
export function mosaicRawExtensions(grantId: string, subjectUserId: string): x509.Extension[] {
  return [rawExtension(Oid.mosaicGrantId, false, utf8StringDer(grantId)), rawExtension(Oid.mosaicSubjectUserId, false, utf8StringDer(subjectUserId))];
}

/** The extensions a proper Mosaic client certificate carries, except the Mosaic ones. */
export async function clientProfileExtensions(ca: RootCa, publicKey: WebCryptoKeyPair['publicKey']): Promise<x509.Extension[]> {
  const caCert = new x509.X509Certificate(ca.certPem);
  const caSki = caCert.getExtension(x509.SubjectKeyIdentifierExtension);
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
    await x509.SubjectKeyIdentifierExtension.create(publicKey, false),
    new x509.AuthorityKeyIdentifierExtension(caSki!.keyId, false),
  ];
}

/** Options for {@link makeCustomCert}: anything a test wants, signed by `ca` (or self-signed). */
export interface MakeCustomCertOptions {
  extensions: x509.Extension[];
  subjectCn?: string;
  notBefore?: Date;
  notAfter?: Date;
  keys?: WebCryptoKeyPair;
  /** Sign with the subject's own key and name instead of the CA (an impostor). */
  selfSigned?: boolean;
  /** Keep the CA as issuer name but sign with this private key (a forged signature). */
  signWith?: WebCryptoKeyPair['privateKey'];
  /** Signature hash; default SHA-256. */
  hash?: 'SHA-1' | 'SHA-256' | 'SHA-384';
  /** The serial (hex); default random. */
  serialNumber?: string;
}

/** A certificate with exactly the given extensions, bypassing the issuing profile. */
export async function makeCustomCert(
  ca: RootCa,
  options: MakeCustomCertOptions,
): Promise<{ certPem: string; certDer: Uint8Array; keys: WebCryptoKeyPair; keyPem: string }> {
  const keys = options.keys ?? (await generateKeyPair());
  const now = Date.now();
  const caCert = new x509.X509Certificate(ca.certPem);
  const subject = new x509.Name([{ [Oid.commonName]: [{ utf8String: options.subjectCn ?? 'home' }] }]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: options.serialNumber ?? randomSerialHex(),
    subject,
    issuer: options.selfSigned ? subject : caCert.subjectName,
    notBefore: options.notBefore ?? new Date(now - 60_000),
    notAfter: options.notAfter ?? new Date(now + 86_400_000),
    publicKey: keys.publicKey,
    signingKey: options.selfSigned ? keys.privateKey : (options.signWith ?? ca.keys.privateKey),
    signingAlgorithm: { name: 'ECDSA', hash: options.hash ?? 'SHA-256' },
    extensions: options.extensions,
  });
  const certDer = new Uint8Array(cert.rawData);
  return { certPem: encodePem(certDer, 'CERTIFICATE'), certDer, keys, keyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/** Options for {@link buildCsrDer}: a PKCS#10 request built byte by byte from Node keys. */
export interface BuildCsrOptions {
  publicKey: KeyObject;
  privateKey: KeyObject;
  subjectCn?: string;
  /** A raw subject encoding (overrides subjectCn), for malformed-Name tests. */
  subjectDer?: Uint8Array;
  /** Requested extensions, as `[oid, critical, valueDer]`. */
  extensions?: [string, boolean, Uint8Array][];
  /** Signature algorithm OID and hash; default by key type (ecdsa-with-SHA256, sha256WithRSA, Ed25519). */
  signatureOid?: string;
  hash?: string | null;
  /** Omit the (mandatory but sometimes dropped) attributes field. */
  omitAttributes?: boolean;
}

/** A CSR from arbitrary Node keys (weak ones included) with arbitrary requested extensions. */
export function buildCsrDer(options: BuildCsrOptions): Uint8Array {
  const type = options.privateKey.asymmetricKeyType;
  const defaultOid = type === 'ec' ? Oid.ecdsaWithSha256 : type === 'rsa' ? Oid.sha256WithRsa : Oid.ed25519;
  const signatureOid = options.signatureOid ?? defaultOid;
  const hash = options.hash === undefined ? (type === 'ed25519' ? null : 'sha256') : options.hash;
  const spki = new Uint8Array(options.publicKey.export({ type: 'spki', format: 'der' }));
  const subject = options.subjectDer ?? (options.subjectCn === undefined ? sequence() : sequence(setOf(sequence(oid(Oid.commonName), tlv(0x0c, Buffer.from(options.subjectCn))))));
  const exts = (options.extensions ?? []).map(([extOid, critical, value]) =>
    critical ? sequence(oid(extOid), booleanTrue(), octetString(value)) : sequence(oid(extOid), octetString(value)),
  );
  const attributes = exts.length > 0 ? tlv(0xa0, sequence(oid(Oid.extensionRequest), setOf(sequence(...exts)))) : tlv(0xa0);
  const cri = sequence(integer(0), subject, spki, ...(options.omitAttributes ? [] : [attributes]));
  const algorithm = signatureOid === Oid.sha256WithRsa ? sequence(oid(signatureOid), Uint8Array.of(0x05, 0x00)) : sequence(oid(signatureOid));
  const signature = nodeSign(hash, cri, options.privateKey);
  return sequence(cri, algorithm, bitString(signature));
}

/** PEM of a CSR built by {@link buildCsrDer}. */
export function buildCsrPem(options: BuildCsrOptions): string {
  return encodePem(buildCsrDer(options), 'CERTIFICATE REQUEST');
}

/** A WebCrypto-free private KeyObject from a PEM (for signing raw structures in tests). */
export function privateKeyObject(pem: string): KeyObject {
  return createPrivateKey(pem);
}

/** A CA certificate (root or intermediate) usable as `ca` when issuing, with its key PEM. */
export type TestTierCa = RootCa & { keyPem: string };

/**
 * A two-tier CA as Step-CA has it: a self-signed root (no path length limit) that signs only
 * an intermediate, and the intermediate, which signs leaves and CRLs. Both are usable as `ca`
 * for {@link makeClientCert}, {@link makeServerCert} and `buildCrl`.
 */
export async function makeTwoTierCa(options: { commonName?: string; root?: TestTierCa } = {}): Promise<{ root: TestTierCa; intermediate: TestTierCa }> {
  const name = options.commonName ?? 'Two-tier Test';
  const seed = await makeTestCa({ commonName: `${name} seed` });
  const caExtensions = async (keys: WebCryptoKeyPair, pathLen: number | undefined, issuerSki?: string) => [
    new x509.BasicConstraintsExtension(true, pathLen, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false),
    ...(issuerSki ? [new x509.AuthorityKeyIdentifierExtension(issuerSki, false)] : []),
  ];
  const asCa = (base: RootCa, made: { certPem: string; certDer: Uint8Array; keys: WebCryptoKeyPair; keyPem: string }): TestTierCa =>
({ ...base, cert: made.certPem, certPem: made.certPem, certDer: made.certDer, keys: made.keys, keyPem: made.keyPem });
  let root = options.root;
  if (root === undefined) {
    const rootKeys = await generateKeyPair();
    root = asCa(seed, await makeCustomCert(seed, { subjectCn: `${name} Root CA`, keys: rootKeys, selfSigned: true, notAfter: new Date(Date.now() + 3650 * 86_400_000), extensions: await caExtensions(rootKeys, undefined) }));
  }
  const rootSki = new x509.X509Certificate(root.certPem).getExtension(x509.SubjectKeyIdentifierExtension)!.keyId;
  const intermediateKeys = await generateKeyPair();
  const intermediate = asCa(
    seed,
    await makeCustomCert(root, { subjectCn: `${name} Intermediate CA`, keys: intermediateKeys, notAfter: new Date(Date.now() + 3650 * 86_400_000), extensions: await caExtensions(intermediateKeys, 0, rootSki) }),
  );
  return { root, intermediate };
}
