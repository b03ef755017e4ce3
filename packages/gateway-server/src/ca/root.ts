/**
 * The CA root at rest and in memory. At rest: the certificate and the PKCS#8 key sealed under
 * the master secret. In memory: a non-extractable WebCrypto key — nothing can export it again,
 * and the plaintext PKCS#8 bytes are wiped as soon as the key is imported.
 */
import { X509Certificate, webcrypto } from 'node:crypto';
import {
  CertMalformedError,
  createRootCa,
  generateKeyPair,
  loadCertificate,
  openText,
  readSealHeader,
  type SealKey,
  SealMalformed,
  SealTampered,
  SealUnknownKey,
  SealVersionUnsupported,
  sealText,
  spkiPin,
  type WebCryptoKeyPair,
} from '@mosaic/federation-core';
import { CaCertCorrupt, CaKeyCorrupt, CaSecretMismatch } from './errors.js';
import { CA_ROOT_RECORD_ID, type StoredCaState } from './store.js';

const { subtle } = webcrypto;

/** The root, opened. */
export interface OpenedRoot {
  readonly certPem: string;
  readonly certDer: Uint8Array;
  /** The private key is non-extractable. */
  readonly keys: WebCryptoKeyPair;
  readonly pin: string;
  readonly notAfter: Date;
}

/** Subject CN of a gateway's root: `Mosaic Federation CA (<name>)`, shortened to fit 64 characters. */
export function rootCommonName(name: string): string {
  const prefix = 'Mosaic Federation CA (';
  const room = 64 - prefix.length - 1;
  const chars = [...name];
  const shown = chars.length <= room ? name : `${chars.slice(0, room - 1).join('')}…`;
  return `${prefix}${shown})`;
}

/** Create a new root (P-256, 10 years) and its stored form, the key sealed. */
export async function createRootState(options: { name: string; sealKey: SealKey; now: Date }): Promise<StoredCaState> {
  // Extractable only for the moment it takes to seal it; the instance that serves re-imports it non-extractable.
  const keys = await generateKeyPair({ extractable: true });
  const root = await createRootCa({ commonName: rootCommonName(options.name), keys, now: options.now, validityYears: 10 });
  const pkcs8 = new Uint8Array(await subtle.exportKey('pkcs8', keys.privateKey));
  try {
    return { certPem: root.certPem, sealedKey: sealText(options.sealKey, pkcs8, { recordId: CA_ROOT_RECORD_ID }), createdAt: options.now };
  } finally {
    pkcs8.fill(0);
  }
}

function namedCurve(cert: X509Certificate): 'P-256' | 'P-384' | undefined {
  const curve = cert.publicKey.asymmetricKeyDetails?.namedCurve;
  return curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
}

/**
 * Open a stored root with the master secret's seal key.
 * @throws CA_SECRET_MISMATCH (sealed under another master secret), CA_KEY_CORRUPT (the sealed
 *   key was altered, or does not belong to the certificate), CA_CERT_CORRUPT
 */
export async function openRootState(state: StoredCaState, sealKey: SealKey): Promise<OpenedRoot> {
  let cert: X509Certificate;
  let certDer: Uint8Array;
  let notAfter: Date;
  try {
    ({ der: certDer, notAfter } = loadCertificate(state.certPem));
    cert = new X509Certificate(certDer);
  } catch (err) {
    throw new CaCertCorrupt(CertMalformedError.is(err) ? err.message : 'it is not a certificate', { cause: err });
  }
  if (!cert.ca) throw new CaCertCorrupt('it is not a CA certificate');
  if (!cert.checkIssued(cert) || !cert.verify(cert.publicKey)) throw new CaCertCorrupt('it is not a self-signed root');
  const curve = namedCurve(cert);
  if (!curve) throw new CaCertCorrupt('its key is not ECDSA P-256 or P-384');

  let pkcs8: Buffer;
  try {
    pkcs8 = openText(sealKey, state.sealedKey, { recordId: CA_ROOT_RECORD_ID });
  } catch (err) {
    if (SealUnknownKey.is(err)) throw new CaSecretMismatch(readSealHeader(state.sealedKey).keyId, sealKey.id, { cause: err });
    if (SealTampered.is(err)) throw new CaKeyCorrupt('the sealed key fails authentication: it was modified or belongs to another record', { cause: err });
    if (SealMalformed.is(err) || SealVersionUnsupported.is(err)) throw new CaKeyCorrupt(`the sealed key is unreadable (${err.message})`, { cause: err });
    throw err;
  }

  let keys: WebCryptoKeyPair;
  const algorithm = { name: 'ECDSA', namedCurve: curve };
  try {
    const privateKey = await subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign']);
    const publicKey = await subtle.importKey('spki', cert.publicKey.export({ type: 'spki', format: 'der' }), algorithm, true, ['verify']);
    keys = { privateKey, publicKey };
  } catch (err) {
    throw new CaKeyCorrupt('the sealed key opens but is not an ECDSA private key of the certificate’s curve', { cause: err });
  } finally {
    pkcs8.fill(0);
  }

  // The key can no longer be exported to compare it with the certificate: prove it instead.
  const hash = curve === 'P-256' ? 'SHA-256' : 'SHA-384';
  const challenge = webcrypto.getRandomValues(new Uint8Array(32));
  const signature = await subtle.sign({ name: 'ECDSA', hash }, keys.privateKey, challenge);
  if (!(await subtle.verify({ name: 'ECDSA', hash }, keys.publicKey, signature, challenge))) {
    throw new CaKeyCorrupt('the sealed key does not belong to the stored CA certificate');
  }
  return { certPem: state.certPem, certDer, keys, pin: spkiPin(certDer), notAfter };
}
