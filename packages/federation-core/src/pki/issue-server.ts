/**
 * Issuing the federation listener's own certificate: serverAuth, the DNS names and IP
 * addresses peers connect to as SANs (clients match SANs, not the CN), 90 days by default.
 */
import { resolveCa, type CaMaterial } from './ca-material.js';
import { IssueInvalidError, KeyInvalidError } from './errors.js';
import { signCertificate, type IssuedCertificate } from './issue.js';
import { checkPublicKey, KeyPolicyError } from './key-policy.js';
import { publicKeySpki, type PublicKeyInput } from './keys.js';
import { commonNameSubject, normaliseDnsName, normaliseIpAddress, validateCommonName } from './names.js';
import { randomSerialHex } from './serial.js';
import { validityWindow } from './validity.js';
import { defaultCrypto, toArrayBuffer, x509, type WebCrypto, type WebCryptoKeyPair } from './x509.js';

/** Default server certificate lifetime (renewed at 2/3, ARCHITECTURE.md). */
export const DEFAULT_SERVER_LIFETIME_DAYS = 90;
/** CA/B Forum's ceiling for TLS server certificates; no reason to exceed it privately. */
export const MAX_SERVER_LIFETIME_DAYS = 397;

/** Options for {@link issueServerCertificate}: the key as `publicKey`, or `keys`. */
export interface IssueServerCertificateOptions {
  ca: CaMaterial;
  /** The server's public key (WebCrypto, KeyObject, SPKI DER or PEM)… */
  publicKey?: PublicKeyInput;
  /** …or its key pair (only the public half is used). */
  keys?: WebCryptoKeyPair;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /** Subject CN; default: the first DNS name, else the first IP address. */
  commonName?: string;
  /** Default 90. */
  lifetimeDays?: number;
  now?: Date;
  crypto?: WebCrypto;
}

/** An issued server certificate and the names it covers. */
export interface IssuedServerCertificate extends IssuedCertificate {
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
}

/**
 * Issue a TLS server certificate.
 * @example
 * const keys = await generateKeyPair();
 * const server = await issueServerCertificate({ ca, keys, dnsNames: ['gw.example.org'], ipAddresses: ['10.0.0.5'] });
 */
export async function issueServerCertificate(options: IssueServerCertificateOptions): Promise<IssuedServerCertificate> {
  const crypto = options.crypto ?? defaultCrypto;
  const now = options.now ?? new Date();
  if ((options.publicKey === undefined) === (options.keys === undefined)) throw new IssueInvalidError('pass exactly one of publicKey and keys');
  const dnsNames = dedupe((options.dnsNames ?? []).map((n) => normaliseDnsName(n, IssueInvalidError)));
  const ipAddresses = dedupe((options.ipAddresses ?? []).map((ip) => normaliseIpAddress(ip, IssueInvalidError)));
  if (dnsNames.length + ipAddresses.length === 0) throw new IssueInvalidError('a server certificate needs at least one DNS name or IP address');
  const commonName = validateCommonName(options.commonName ?? dnsNames[0] ?? ipAddresses[0], 'commonName', IssueInvalidError);

  const spkiInput = await publicKeySpki(options.keys ? options.keys.publicKey : options.publicKey!, crypto);
  let spki: Uint8Array;
  try {
    spki = checkPublicKey(spkiInput).spki;
  } catch (err) {
    /* v8 ignore next */
    if (!(err instanceof KeyPolicyError)) throw err;
    throw new KeyInvalidError(err.message);
  }

  const ca = await resolveCa(options.ca, { now, crypto });
  const { notBefore, notAfter } = validityWindow({
    now,
    lifetimeDays: options.lifetimeDays ?? DEFAULT_SERVER_LIFETIME_DAYS,
    maxLifetimeDays: MAX_SERVER_LIFETIME_DAYS,
    caNotAfter: ca.cert.notAfter,
  });
  const { issued } = await signCertificate({
    issuer: ca,
    subject: commonNameSubject(commonName),
    spki,
    serialHex: randomSerialHex(crypto),
    notBefore,
    notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      await x509.SubjectKeyIdentifierExtension.create(toArrayBuffer(spki), false, crypto),
      new x509.AuthorityKeyIdentifierExtension(ca.keyIdentifierHex, false),
      new x509.SubjectAlternativeNameExtension(
        [...dnsNames.map((value) => ({ type: 'dns' as const, value })), ...ipAddresses.map((value) => ({ type: 'ip' as const, value }))],
        false,
      ),
    ],
    crypto,
  });
  return { ...issued, dnsNames, ipAddresses };
}

function dedupe(values: string[]): string[] {
  return [...new Set(values)];
}
