/**
 * The embedded CA's root: self-signed ECDSA P-256, CA:TRUE with pathLen 0 (it signs leaves
 * only, never another CA), keyCertSign + cRLSign, 10 years.
 */
import { CaInvalidError, IssueInvalidError } from './errors.js';
import { signCertificate, type IssuedCertificate } from './issue.js';
import { generateKeyPair } from './keys.js';
import { commonNameSubject, validateCommonName } from './names.js';
import { randomSerialHex } from './serial.js';
import { BACKDATE_MS, truncateToSecond } from './validity.js';
import { defaultCrypto, ecdsaSigningAlgorithm, x509, type WebCrypto, type WebCryptoKeyPair } from './x509.js';

/** Options for {@link createRootCa}. */
export interface CreateRootCaOptions {
  /** Subject CN, e.g. `Mosaic Federation CA (home)`. */
  commonName: string;
  /**
   * An existing key pair to certify again (re-issuing the root keeps every CA pin valid).
   * Default: a new P-256 pair.
   */
  keys?: WebCryptoKeyPair;
  /** Default 10. */
  validityYears?: number;
  now?: Date;
  crypto?: WebCrypto;
}

/** A root CA: its certificate, key pair and facts. Usable directly as `ca` when issuing. */
export interface RootCa extends IssuedCertificate {
  /** The certificate (PEM), so a RootCa is itself a `CaMaterial`. */
  readonly cert: string;
  readonly keys: WebCryptoKeyPair;
}

/**
 * Create a self-signed root CA.
 * @example
 * const ca = await createRootCa({ commonName: 'Mosaic Federation CA (home)' });
 * const pin = ca.spkiPin;  // what `grant token` shows
 */
export async function createRootCa(options: CreateRootCaOptions): Promise<RootCa> {
  const crypto = options.crypto ?? defaultCrypto;
  const now = options.now ?? new Date();
  const commonName = validateCommonName(options.commonName, 'commonName', IssueInvalidError);
  const years = options.validityYears ?? 10;
  if (!Number.isInteger(years) || years < 1 || years > 30) throw new IssueInvalidError('validityYears must be an integer from 1 to 30');
  const keys = options.keys ?? (await generateKeyPair({ crypto }));
  const signingAlgorithm = ecdsaSigningAlgorithm(keys.privateKey);
  if (!signingAlgorithm) throw new CaInvalidError('the root key must be ECDSA P-256 or P-384');

  const spki = new Uint8Array(await crypto.subtle.exportKey('spki', keys.publicKey));
  const notBefore = truncateToSecond(new Date(now.getTime() - BACKDATE_MS));
  const notAfterDate = new Date(now.getTime());
  notAfterDate.setUTCFullYear(notAfterDate.getUTCFullYear() + years);
  const notAfter = truncateToSecond(notAfterDate);
  const ski = await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto);

  const { issued } = await signCertificate({
    issuer: { selfSigned: true, signingKey: keys.privateKey, signingAlgorithm },
    subject: commonNameSubject(commonName),
    spki,
    serialHex: randomSerialHex(crypto),
    notBefore,
    notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      ski,
      // RFC 5280 lets a self-signed root omit AKI; OpenSSL's path builder uses it, so keep it.
      new x509.AuthorityKeyIdentifierExtension(ski.keyId, false),
    ],
    crypto,
  });
  return { ...issued, cert: issued.certPem, keys };
}
