/**
 * The Step-CA mode (`--ca step-ca`): peers' client certificates and the federation listener's
 * server certificate are signed by a Step-CA through its JWK provisioner.
 *
 * - The provisioner key comes from the CA's `/provisioners` list (a JWE, PBES2-HS256+A128KW,
 *   100 000 iterations as `step ca provisioner add` writes it) and is decrypted with the
 *   password file; every `/1.0/sign` and `/1.0/revoke` carries a one-time token (JWT, ES256,
 *   `kid` = the provisioner key id, iss/aud/sub/sans/sha/iat/nbf/exp/jti, 5 minutes).
 * - The token carries the two Mosaic extension values (DER, base64) that the provisioner's
 *   template (infra/step-ca/mosaic.tpl) writes, non-critical; the issued certificate is checked
 *   byte for byte and revoked when it does not say what was asked.
 * - A shared Step-CA root also signs for other provisioners: {@link StepCa.acceptsCertificate}
 *   is true only for a client certificate whose SHA-256 fingerprint this gateway recorded from
 *   its own `/1.0/sign` answers (`issued_certs.cert_pem`, leaf + intermediate) and whose
 *   verified issuer is one of the intermediates it knows; the listener ends every other
 *   connection that presents a certificate, whatever it holds. This protects the SERVING side
 *   only: a requesting gateway trusts any server certificate the pinned root issues for the
 *   host, so other provisioners of the same CA are reported (`ca.step_ca_exclusive`).
 * - The trust anchor peers pin (`caPin`, `GET /api/federation/v1/ca`) is Step-CA's ROOT
 *   (`STEP_CA_ROOT`, checked against what `/root/<sha256>` serves). Leaves and the CRL are
 *   signed by Step-CA's intermediate: the listener presents leaf + intermediate, enrollment and
 *   renewal answers carry `certChainPem` = leaf + intermediate (what the peer presents over
 *   mTLS), and the requesting side verifies every intermediate to be signed by the pinned root.
 *   An intermediate rotated under the same root therefore changes nothing a peer stored: the
 *   gateway learns the new one from the next `/1.0/sign` answer (or at its next start), tells
 *   the listener to trust it ({@link StepCa.onTrustChanged}) and re-signs the listener's own
 *   certificate under it.
 * - Revoke = the gateway's own deny list (unchanged) + `/1.0/revoke` (in the background,
 *   failures retried with backoff and reported by `crlStatus`); the published CRL is Step-CA's
 *   own `/crl` (signed by the intermediate), fetched again after every revoke.
 */
import type { webcrypto } from 'node:crypto';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { compactDecrypt, decodeProtectedHeader, importJWK, SignJWT, type JWK } from 'jose';
import {
  createCsr,
  csrToPem,
  decodeMosaicIdentity,
  encodeGrantIdValue,
  encodeSubjectUserIdValue,
  exportPrivateKeyPem,
  generateKeyPair,
  loadCertificate,
  MOSAIC_GRANT_ID_OID,
  MOSAIC_SUBJECT_USER_ID_OID,
  isIntermediateOf,
  normaliseSerialHex,
  parseCrlUnderRoot,
  parseCsr,
  pinsEqual,
  REVOCATION_REASONS,
  splitCertificates,
  spkiPin,
  spkiPinFromSpki,
  verifyClientCertificate,
  type IssuedClientCertificate,
  type ParsedCsr,
} from '@mosaic/federation-core';
import type { CrlStatus, PublishedCrl } from './crl.js';
import type { IssueClientOptions, RenewalHandle, ServerCertificate, ServerCertificateOptions, ServerCertRenewalOptions } from './embedded-ca.js';
import { CaArgumentInvalid, CrlUnavailable } from './errors.js';
import type { GatewayCa } from './gateway-ca.js';
import { serverNames } from './server-names.js';
import { StepCaCertMismatch, StepCaConfigInvalid, StepCaPasswordInvalid, StepCaRefused, StepCaRootMismatch, StepCaUnreachable } from './step-ca-errors.js';
import type { CaStateStore } from './store.js';

/**
 * Step-CA encrypts provisioner keys with 100 000 PBES2 iterations; `jose` refuses more than
 * 10 000 by default (a guard against a JWE that makes the decrypter burn CPU). The JWE comes
 * from the CA we verified over TLS against STEP_CA_ROOT, and is decrypted once at start, so
 * the cap is raised to exactly what Step-CA uses — not further.
 */
export const STEP_CA_PBES2_ITERATIONS = 100_000;
/** One-time tokens live 5 minutes (Step-CA's ceiling for JWK tokens). */
export const OTT_LIFETIME_S = 5 * 60;
const PEER_LIFETIME_DAYS = 30;
const SERVER_RENEW_AT = 2 / 3;
const HTTP_TIMEOUT_MS = 10_000;
const MAX_BODY = 2 * 1024 * 1024;
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Intermediates kept (the current one and those that signed live certificates). */
const MAX_KNOWN_INTERMEDIATES = 8;
/** Revocations pushed to `/1.0/revoke` at once (start-up, or a backlog after an outage). */
const PUSH_CONCURRENCY = 4;
/** The first retry of a failed `/1.0/revoke`, doubled per failure up to {@link PUSH_RETRY_MAX_MS}. */
const PUSH_RETRY_BASE_MS = 5_000;
const PUSH_RETRY_MAX_MS = 5 * 60_000;
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** Where the Step-CA is and how to use it (from the STEP_CA_* environment). */
export interface StepCaSettings {
  url: string;
  rootPem: string;
  provisioner: string;
  /** The provisioner password (bytes from the file, trailing newline removed). Never logged. */
  password: Uint8Array;
  /** Things worth a warning at start (a password file others can read). */
  warnings?: string[];
}

/**
 * Read the STEP_CA_* settings, saying exactly which one is missing or unreadable.
 * @throws STEP_CA_CONFIG_INVALID
 */
export function stepCaSettingsFromEnv(env: NodeJS.ProcessEnv): StepCaSettings {
  const get = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new StepCaConfigInvalid(`${name} is not set`);
    return value;
  };
  const rawUrl = get('STEP_CA_URL');
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    // not echoed: a mistyped URL may carry credentials
    throw new StepCaConfigInvalid('STEP_CA_URL is not a URL (expected https://<host>[:port])');
  }
  if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new StepCaConfigInvalid('STEP_CA_URL must be https://<host>[:port] with no credentials, query or fragment');
  }
  const rootFile = get('STEP_CA_ROOT');
  let rootPem: string;
  try {
    rootPem = readFileSync(rootFile, 'utf8');
    loadCertificate(rootPem);
  } catch (err) {
    const io = err as NodeJS.ErrnoException;
    throw new StepCaConfigInvalid(io.syscall !== undefined ? `STEP_CA_ROOT ${rootFile} cannot be read (${io.code ?? 'error'})` : `STEP_CA_ROOT ${rootFile} is not a PEM certificate`);
  }
  const provisioner = get('STEP_CA_PROVISIONER');
  const passwordFile = get('STEP_CA_PROVISIONER_PASSWORD_FILE');
  let password: Buffer;
  const warnings: string[] = [];
  try {
    password = readFileSync(passwordFile);
    const mode = statSync(passwordFile).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      warnings.push(`STEP_CA_PROVISIONER_PASSWORD_FILE ${passwordFile} is readable by others (mode ${mode.toString(8).padStart(4, '0')}); \`chmod 600\` it`);
    }
  } catch (err) {
    throw new StepCaConfigInvalid(`STEP_CA_PROVISIONER_PASSWORD_FILE ${passwordFile} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // `step` reads the first line of a password file.
  const newline = password.indexOf(0x0a);
  let end = newline === -1 ? password.length : newline;
  if (end > 0 && password[end - 1] === 0x0d) end -= 1;
  const secret = new Uint8Array(password.subarray(0, end));
  password.fill(0);
  if (secret.length === 0) throw new StepCaConfigInvalid(`STEP_CA_PROVISIONER_PASSWORD_FILE ${passwordFile} is empty`);
  return { url: url.origin + url.pathname.replace(/\/+$/, ''), rootPem, provisioner, password: secret, ...(warnings.length > 0 ? { warnings } : {}) };
}

/** Options of {@link StepCa.open}. */
export interface OpenStepCaOptions extends StepCaSettings {
  /** The gateway's store: the revoked serials pushed to `/1.0/revoke`. */
  store: Pick<CaStateStore, 'revokedSerials'>;
  /**
   * The chains (leaf + intermediate) recorded for live certificates (`issued_certs.cert_pem`):
   * the listener accepts exactly these leaves (by SHA-256 fingerprint), and trusts the
   * intermediates that signed them too, so Step-CA rotating its intermediate does not lock out
   * peers whose certificates the earlier one signed.
   */
  knownChains: () => Promise<Iterable<string>>;
  now?: () => Date;
  /** Told about background failures (revocations not yet pushed, CRL fetches). */
  onError?: (err: unknown) => void;
  /** Told about a setting worth an operator's attention (other provisioners, a readable password file). */
  onWarning?: (message: string) => void;
  /** The first retry of a failed `/1.0/revoke` (ms, default 5 s; doubled per failure up to 5 min). */
  pushRetryBaseMs?: number;
}

/** Whether the Step-CA serves this gateway alone (`gateway doctor`: `ca.step_ca_exclusive`). */
export interface StepCaExclusivity {
  /** The other provisioners `/provisioners` lists (names), empty when ours is the only one. */
  otherProvisioners: string[];
}

interface SignAnswer {
  leafPem: string;
  issuerPem: string;
}

/** The Step-CA backed CA of a serving gateway (same surface as {@link EmbeddedCa}). */
export class StepCa implements GatewayCa {
  readonly mode = 'step-ca' as const;
  readonly created = false;
  readonly #url: string;
  readonly #rootPem: string;
  readonly #rootSha: string;
  readonly #provisioner: string;
  readonly #kid: string;
  readonly #key: webcrypto.CryptoKey;
  readonly #root: X509Certificate;
  /** The intermediates seen signing for us under the root, the current one first. */
  #intermediates: string[];
  /** SHA-256 (hex) of each of {@link #intermediates}' DER: the issuers the listener accepts. */
  #intermediateFps = new Set<string>();
  readonly #store: OpenStepCaOptions['store'];
  readonly #knownChains: OpenStepCaOptions['knownChains'];
  readonly #now: () => Date;
  readonly #onError: (err: unknown) => void;
  /** Leaf SHA-256 fingerprint (hex) → serial, of every certificate Step-CA signed for us (live). */
  #own = new Map<string, string>();
  #ownSerials = new Set<string>();
  /** The recorded chains already read (by their PEM), so a poll parses only new ones. */
  #parsedChains = new Map<string, { fp: string; serial: string } | null>();
  readonly #pushed = new Set<string>();
  /** Revoked serials `/1.0/revoke` has not accepted yet (serial → reason), retried with backoff. */
  readonly #unpushed = new Map<string, string>();
  #pushError: string | undefined;
  #pushFailures = 0;
  #pushRetry: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #pushRetryBaseMs: number;
  #sync: Promise<void> = Promise.resolve();
  #crl: PublishedCrl | undefined;
  /** The serials of the last CRL read: already revoked at Step-CA, never pushed again. */
  #crlSerials = new Set<string>();
  #crlStale = true;
  #crlError: string | undefined;
  #otherProvisioners: string[] = [];
  readonly #trustListeners = new Set<() => void>();
  #kickServerRenewal: (() => void) | undefined;
  #server: { args: ServerCertificateOptions; cert: ServerCertificate } | undefined;
  readonly #timers = new Set<RenewalHandle>();

  private constructor(o: {
    url: string;
    rootPem: string;
    provisioner: string;
    kid: string;
    key: webcrypto.CryptoKey;
    intermediatePem: string;
    store: OpenStepCaOptions['store'];
    knownChains: OpenStepCaOptions['knownChains'];
    now: () => Date;
    onError: (err: unknown) => void;
    pushRetryBaseMs?: number;
  }) {
    this.#url = o.url;
    this.#rootPem = o.rootPem;
    this.#rootSha = createHash('sha256').update(new X509Certificate(o.rootPem).raw).digest('hex');
    this.#provisioner = o.provisioner;
    this.#kid = o.kid;
    this.#key = o.key;
    this.#root = new X509Certificate(o.rootPem);
    this.#intermediates = [o.intermediatePem];
    this.#intermediateFps = new Set([fingerprint(o.intermediatePem)]);
    this.#store = o.store;
    this.#knownChains = o.knownChains;
    this.#now = o.now;
    this.#onError = o.onError;
    this.#pushRetryBaseMs = o.pushRetryBaseMs ?? PUSH_RETRY_BASE_MS;
  }

  /**
   * Connect to Step-CA: check its root against STEP_CA_ROOT, decrypt the provisioner key,
   * learn the signing CA, load the certificates issued so far, push revocations not yet pushed
   * (in the background). Warns (`onWarning`) when the CA has other provisioners.
   * @throws STEP_CA_UNREACHABLE, STEP_CA_ROOT_MISMATCH, STEP_CA_CONFIG_INVALID (no such JWK provisioner), STEP_CA_PASSWORD_INVALID, STEP_CA_REFUSED
   * @example
   * const ca = await StepCa.open({ ...stepCaSettingsFromEnv(process.env), store, knownChains });
   */
  static async open(options: OpenStepCaOptions): Promise<StepCa> {
    for (const w of options.warnings ?? []) options.onWarning?.(w);
    const rootDer = new X509Certificate(options.rootPem).raw;
    const rootSha = createHash('sha256').update(rootDer).digest('hex');
    const http = new StepCaHttp(options.url, options.rootPem);
    // The root the CA serves under its fingerprint must be byte for byte the file's.
    const served = await http.json('GET', `/root/${rootSha}`);
    const servedPem = typeof served.body === 'object' && served.body !== null ? (served.body as { ca?: unknown }).ca : undefined;
    if (served.status !== 200 || typeof servedPem !== 'string' || !sameCert(servedPem, options.rootPem)) {
      throw new StepCaRootMismatch(`${options.url}/root/${rootSha.slice(0, 16)}… did not return the certificate in STEP_CA_ROOT (HTTP ${served.status})`);
    }
    let provisionerKey: { kid: string; key: webcrypto.CryptoKey; others: string[] };
    try {
      provisionerKey = await loadProvisionerKey(http, options.provisioner, options.password);
    } finally {
      options.password.fill(0);
    }
    const { kid, key, others } = provisionerKey;
    if (others.length > 0) {
      options.onWarning?.(
        `Step-CA has other provisioners besides ${options.provisioner} (${others.slice(0, 5).join(', ')}${others.length > 5 ? ', …' : ''}): ` +
          'requesting gateways that pin this root trust every certificate it issues for this host, so whoever controls another provisioner can impersonate this gateway to them. ' +
          'Use a Step-CA dedicated to Mosaic, or restrict the other provisioners with a Step-CA policy that excludes this host (docs/setup.md "Step-CA mode")',
      );
    }
    const now = options.now ?? (() => new Date());
    // The signing CA (Step-CA's current intermediate) is learnt from one short-lived probe
    // certificate, revoked at once: the listener trusts it (with the root) from the start, and
    // chains it to every certificate it hands out.
    const probe = new StepCa({
      url: options.url,
      rootPem: options.rootPem,
      provisioner: options.provisioner,
      kid,
      key,
      intermediatePem: options.rootPem,
      store: options.store,
      knownChains: options.knownChains,
      now,
      onError: options.onError ?? (() => undefined),
    });
    const intermediatePem = await probe.#discoverIssuer();
    const ca = new StepCa({
      url: options.url,
      rootPem: options.rootPem,
      provisioner: options.provisioner,
      kid,
      key,
      intermediatePem,
      store: options.store,
      knownChains: options.knownChains,
      now,
      onError: options.onError ?? (() => undefined),
      ...(options.pushRetryBaseMs !== undefined ? { pushRetryBaseMs: options.pushRetryBaseMs } : {}),
    });
    ca.#otherProvisioners = others;
    await ca.refreshSerials();
    ca.invalidateCrl();
    return ca;
  }

  /** The other provisioners of this Step-CA (see {@link StepCaExclusivity}). */
  get exclusivity(): StepCaExclusivity {
    return { otherProvisioners: [...this.#otherProvisioners] };
  }

  /**
   * Call `listener` whenever {@link listenerTrustPem} changes (a `/1.0/sign` answer or a
   * stored chain brought an intermediate rotated under the root); returns the unsubscribe.
   */
  onTrustChanged(listener: () => void): () => void {
    this.#trustListeners.add(listener);
    return () => this.#trustListeners.delete(listener);
  }

  /** The CA certificate peers trust and pin: Step-CA's root (STEP_CA_ROOT). */
  get caCertPem(): string {
    return this.#rootPem;
  }

  get caCertDer(): Uint8Array {
    return new Uint8Array(this.#root.raw);
  }

  /** `sha256:<hex>` of the root's key. */
  get caPin(): string {
    return spkiPin(this.#rootPem);
  }

  /** The pin of STEP_CA_ROOT (same as {@link caPin}; kept for the summary and docs). */
  get rootPin(): string {
    return spkiPin(this.#rootPem);
  }

  /** Step-CA's current signing (intermediate) certificate. */
  get intermediatePem(): string {
    return this.#intermediates[0]!;
  }

  /**
   * What the federation listener trusts for client certificates: the root, with the
   * intermediates known (so a peer presenting its leaf alone is verified through them up to
   * the root; peers enrolled here present leaf + intermediate anyway). It grows when Step-CA
   * rotates its intermediate: see {@link onTrustChanged}.
   */
  get listenerTrustPem(): string {
    return `${[...this.#intermediates, this.#rootPem].map((p) => p.trim()).join('\n')}\n`;
  }

  /** The earlier of the current intermediate's and the root's expiry. */
  get rootNotAfter(): Date {
    const a = new Date(new X509Certificate(this.intermediatePem).validTo);
    const r = new Date(this.#root.validTo);
    return a < r ? a : r;
  }

  /** A certificate Step-CA issued for us, followed by the intermediate that signed it. */
  certChainPem(certPem: string): string {
    const leaf = new X509Certificate(certPem);
    const issuer = this.#intermediates.find((i) => {
      const node = new X509Certificate(i);
      return leaf.checkIssued(node) && leaf.verify(node.publicKey);
    });
    return issuer === undefined ? certPem : `${certPem.trim()}\n${issuer.trim()}\n`;
  }

  /** True for serials of certificates this gateway obtained from its own `/1.0/sign` calls. */
  acceptsSerial(serialHex: string): boolean {
    const s = normaliseSerialHex(serialHex);
    return s !== undefined && this.#ownSerials.has(s);
  }

  /**
   * True when a client certificate is exactly one Step-CA signed for this gateway (its DER's
   * SHA-256 was recorded from our own `/1.0/sign` answer: a serial alone can be forged by a
   * template, and sibling CAs have their own serial spaces) and the issuer the TLS layer
   * verified it with is one of our intermediates.
   */
  acceptsCertificate(leafDer: Uint8Array, issuerDer: Uint8Array | undefined): boolean {
    if (issuerDer === undefined || !this.#intermediateFps.has(fingerprint(issuerDer))) return false;
    return this.#own.has(fingerprint(leafDer));
  }

  /**
   * Reload the issued certificates from the store (replicas sharing a database), and learn
   * the intermediates that signed them.
   */
  async refreshSerials(): Promise<void> {
    const next = new Map<string, string>();
    const parsed = new Map<string, { fp: string; serial: string } | null>();
    for (const chain of await this.#knownChains()) {
      // a chain read before is not parsed again (replicas poll this)
      let facts = this.#parsedChains.get(chain);
      if (facts === undefined) {
        facts = null;
        try {
          const ders = splitCertificates(chain);
          const serial = normaliseSerialHex(new X509Certificate(ders[0]!).serialNumber);
          if (serial !== undefined) facts = { fp: fingerprint(ders[0]!), serial };
          if (ders.length > 1) this.#learnIntermediates(ders.slice(1));
        } catch {
          // not a certificate chain: never accepted
        }
      }
      parsed.set(chain, facts);
      if (facts !== null) next.set(facts.fp, facts.serial);
    }
    this.#parsedChains = parsed;
    // certificates signed here since the read started are kept
    for (const [fp, serial] of this.#own) next.set(fp, serial);
    this.#own = next;
    this.#ownSerials = new Set(next.values());
  }

  /**
   * A certificate Step-CA issued that was never recorded (the enrollment's transaction failed,
   * the renewal answered 409): no longer accepted here, and revoked at Step-CA (best effort,
   * failures reported to `onError`).
   */
  async discardUnrecorded(certPem: string): Promise<void> {
    const leaf = loadCertificate(certPem);
    this.#own.delete(fingerprint(leaf.der));
    this.#ownSerials = new Set(this.#own.values());
    await this.#revokeSerial(leaf.serialHex, 'cessationOfOperation').catch((err: unknown) => this.#onError(err));
  }

  /**
   * A peer's client certificate for a grant, signed by Step-CA with the Mosaic extensions.
   * @throws CSR_INVALID, ISSUE_INVALID, STEP_CA_REFUSED, STEP_CA_UNREACHABLE, STEP_CA_CERT_MISMATCH
   */
  async issueClientCertificate(options: IssueClientOptions): Promise<IssuedClientCertificate> {
    const grantDer = encodeGrantIdValue(options.grantId);
    const subjectDer = encodeSubjectUserIdValue(options.subjectUserId);
    const csr: ParsedCsr = typeof options.csr === 'object' && 'spki' in options.csr ? options.csr : parseCsr(options.csr);
    const now = this.#now();
    const lifetimeMs = (options.lifetimeDays ?? PEER_LIFETIME_DAYS) * 86_400_000;
    let notAfter = new Date(now.getTime() + lifetimeMs);
    if (options.notAfterCap !== undefined && options.notAfterCap < notAfter) notAfter = options.notAfterCap;
    // The template writes the extensions from the DER values alone: no identifier travels in
    // plain text in the token (Step-CA may log tokens).
    const answer = await this.#sign(csrToPem(csr.der), options.peerName, [options.peerName], {
      mosaic: {
        grantIdDer: Buffer.from(grantDer).toString('base64'),
        subjectUserIdDer: Buffer.from(subjectDer).toString('base64'),
      },
    }, options.notAfterCap !== undefined || options.lifetimeDays !== undefined ? notAfter : undefined);
    const leaf = loadCertificate(answer.leafPem);
    const refuse = async (why: string): Promise<never> => {
      await this.#revokeSerial(leaf.serialHex, 'cessationOfOperation').catch((err: unknown) => this.#onError(err));
      throw new StepCaCertMismatch(why);
    };
    if (!this.#adoptIssuer(answer.issuerPem, now)) await refuse('it was signed by a CA certificate that does not chain to STEP_CA_ROOT');
    let facts: ReturnType<typeof verifyClientCertificate>;
    try {
      facts = verifyClientCertificate(answer.leafPem, answer.issuerPem, { purpose: 'client', now });
    } catch (err) {
      return refuse(`it is not a valid client certificate (${(err as Error).message})`);
    }
    if (!pinsEqual(facts.spkiPin, spkiPinFromSpki(csr.spki))) await refuse('it certifies another key than the CSR');
    for (const [oid, want, label] of [
      [MOSAIC_GRANT_ID_OID, grantDer, 'grant id'],
      [MOSAIC_SUBJECT_USER_ID_OID, subjectDer, 'subject user id'],
    ] as const) {
      const found = leaf.extensions.filter((e) => e.oid === oid);
      if (found.length !== 1) await refuse(`the ${label} extension (${oid}) is ${found.length === 0 ? 'missing' : 'repeated'}`);
      if (found[0]!.critical) await refuse(`the ${label} extension is critical`);
      if (!Buffer.from(found[0]!.value).equals(Buffer.from(want))) await refuse(`the ${label} extension holds another value than asked`);
    }
    try {
      const identity = decodeMosaicIdentity(answer.leafPem);
      if (identity.grantId !== options.grantId || identity.subjectUserId !== options.subjectUserId) await refuse('its Mosaic identity differs from the one asked');
    } catch (err) {
      if (StepCaCertMismatch.is(err)) throw err;
      await refuse('its Mosaic extensions do not decode');
    }
    const node = new X509Certificate(answer.leafPem);
    if (node.subject !== `CN=${options.peerName}`) await refuse(`its subject is not CN=${options.peerName}`);
    // mosaic.tpl's client profile exactly: extendedKeyUsage clientAuth alone, no subjectAltName
    // (a template that adds serverAuth would make a peer's certificate usable as a TLS server's).
    const eku = node.keyUsage ?? [];
    if (eku.length !== 1 || eku[0] !== CLIENT_AUTH_OID) await refuse(`its extendedKeyUsage is ${eku.length === 0 ? 'missing' : eku.join(', ')}, not clientAuth alone`);
    if (node.subjectAltName !== undefined) await refuse('it carries a subjectAltName (mosaic.tpl writes none for a peer)');
    this.#own.set(fingerprint(leaf.der), normaliseSerialHex(facts.serialHex) ?? facts.serialHex);
    this.#ownSerials.add(normaliseSerialHex(facts.serialHex) ?? facts.serialHex);
    return {
      certPem: answer.leafPem,
      certDer: leaf.der,
      serialHex: facts.serialHex,
      notBefore: facts.notBefore,
      notAfter: facts.notAfter,
      spkiPin: facts.spkiPin,
      peerName: options.peerName,
      grantId: options.grantId,
      subjectUserId: options.subjectUserId,
    };
  }

  /**
   * The federation listener's certificate, signed by Step-CA (kept in memory; each replica
   * has its own, all chaining to the same CA). `certPem` holds the leaf and the signing CA.
   * @throws CA_SERVER_NAME_INVALID, STEP_CA_REFUSED, STEP_CA_UNREACHABLE, STEP_CA_CERT_MISMATCH
   */
  async ensureServerCertificate(options: ServerCertificateOptions): Promise<ServerCertificate> {
    const names = serverNames(options.publicUrl, options.extraHosts ?? []);
    const now = this.#now();
    const current = this.#server?.cert;
    // signed by an intermediate Step-CA has since replaced: peers verify our CRL (signed by the
    // new one) through the chain this listener presents, so it is re-signed too
    const currentIssuer = current === undefined ? undefined : splitCertificates(current.certPem)[1];
    const issuerCurrent = currentIssuer !== undefined && fingerprint(currentIssuer) === fingerprint(this.intermediatePem);
    if (current && issuerCurrent && current.sans.join(',') === [...names.sans].sort().join(',') && now < current.renewAt && now < current.notAfter) {
      this.#server = { args: options, cert: current };
      return current;
    }
    const reason = current === undefined ? 'none-stored' : current.sans.join(',') !== [...names.sans].sort().join(',') ? 'names-changed' : 'renewal-due';
    const keys = await generateKeyPair({ extractable: true });
    const csrPem = await createCsr({ keys, commonName: names.commonName });
    const answer = await this.#sign(csrPem, names.commonName, [...names.dnsNames, ...names.ipAddresses], {});
    let facts: ReturnType<typeof verifyClientCertificate>;
    try {
      if (!this.#adoptIssuer(answer.issuerPem, now)) throw new Error('its CA certificate does not chain to STEP_CA_ROOT');
      facts = verifyClientCertificate(answer.leafPem, answer.issuerPem, { purpose: 'server', now });
    } catch (err) {
      await this.#revokeSerial(loadCertificate(answer.leafPem).serialHex, 'cessationOfOperation').catch((e: unknown) => this.#onError(e));
      throw new StepCaCertMismatch(`the server certificate is not valid for TLS servers (${(err as Error).message})`);
    }
    const notBefore = facts.notBefore;
    const cert: ServerCertificate = {
      certPem: `${answer.leafPem.trim()}\n${answer.issuerPem.trim()}\n`,
      keyPem: await exportPrivateKeyPem(keys.privateKey),
      serialHex: facts.serialHex,
      notBefore,
      notAfter: facts.notAfter,
      renewAt: new Date(notBefore.getTime() + (facts.notAfter.getTime() - notBefore.getTime()) * SERVER_RENEW_AT),
      sans: [...names.sans].sort(),
    };
    this.#server = { args: options, cert };
    return { ...cert, issued: reason };
  }

  /** Renew the listener's certificate at 2/3 of its life (see {@link EmbeddedCa.scheduleServerCertRenewal}). */
  scheduleServerCertRenewal(onRenewed: (cert: ServerCertificate) => void | Promise<void>, options: ServerCertRenewalOptions = {}): RenewalHandle {
    const served = this.#server;
    if (!served) throw new CaArgumentInvalid('call ensureServerCertificate before scheduleServerCertRenewal');
    const retryMs = options.retryMs ?? 5 * 60 * 1000;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    let serial = served.cert.serialHex;
    const arm = (ms: number) => {
      if (stopped) return;
      timer = setTimeout(() => void tick(), Math.min(Math.max(1000, ms), MAX_TIMER_MS));
      timer.unref();
    };
    // Step-CA rotated its intermediate: re-sign the listener's certificate under the new one now
    this.#kickServerRenewal = () => {
      if (stopped) return;
      if (timer) clearTimeout(timer);
      arm(0);
    };
    const tick = async () => {
      try {
        const cert = await this.ensureServerCertificate(served.args);
        if (cert.serialHex !== serial && !stopped) {
          serial = cert.serialHex;
          await onRenewed(cert);
        }
        arm(cert.renewAt.getTime() - this.#now().getTime());
      } catch (err) {
        try {
          options.onError?.(err);
        } catch {
          // a failing reporter must not stop renewals
        }
        arm(retryMs);
      }
    };
    const handle: RenewalHandle = {
      stop: () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        this.#kickServerRenewal = undefined;
        this.#timers.delete(handle);
      },
    };
    this.#timers.add(handle);
    arm(served.cert.renewAt.getTime() - this.#now().getTime());
    return handle;
  }

  /** Step-CA's CRL (DER), fetched again after a revoke and at half of its validity. @throws CRL_UNAVAILABLE */
  async currentCrl(): Promise<Uint8Array> {
    return (await this.currentCrlInfo()).der;
  }

  /** @throws CRL_UNAVAILABLE */
  async currentCrlInfo(): Promise<PublishedCrl> {
    // Never waits for revocations being pushed: a slow or failing /1.0/revoke must not hold the
    // public /crl route; the CRL is read again once they are through (#crlStale).
    const now = this.#now();
    const cached = this.#crl;
    const halfLife = cached ? cached.thisUpdate.getTime() + (cached.nextUpdate.getTime() - cached.thisUpdate.getTime()) / 2 : 0;
    if (cached && !this.#crlStale && now.getTime() < halfLife) return cached;
    try {
      const res = await new StepCaHttp(this.#url, this.#rootPem).raw('GET', '/crl');
      if (res.status !== 200) throw new Error(`GET /crl answered HTTP ${res.status} (is "crl": {"enabled": true} in ca.json?)`);
      const parsed = parseCrlUnderRoot(new Uint8Array(res.body), this.#rootPem, this.#intermediates, now);
      this.#crl = { der: new Uint8Array(res.body), crlNumber: parsed.crlNumber, thisUpdate: parsed.thisUpdate, nextUpdate: parsed.nextUpdate };
      this.#crlSerials = new Set(parsed.revoked.map((r) => normaliseSerialHex(r.serialHex) ?? r.serialHex));
      this.#crlStale = false;
      this.#crlError = undefined;
      return this.#crl;
    } catch (err) {
      this.#crlError = (err as Error).message;
      if (cached && now < cached.nextUpdate) return cached;
      throw new CrlUnavailable(`Step-CA's CRL cannot be read: ${this.#crlError}`);
    }
  }

  /** After a revoke committed in the store: push it to `/1.0/revoke` (in the background), then read the CRL again. */
  invalidateCrl(): void {
    this.#crlStale = true;
    this.#sync = this.#sync.then(() => this.#pushRevocations()).catch((err: unknown) => {
      this.#onError(err);
    });
  }

  /** Resolves once every revocation asked so far has been pushed (or failed; see `onError`). */
  async whenRevocationsPushed(): Promise<void> {
    await this.#sync;
  }

  /** Revoked serials `/1.0/revoke` has not accepted yet (retried with backoff). */
  get unpushedRevocations(): number {
    return this.#unpushed.size;
  }

  /**
   * The CRL's health for `gateway doctor`: not fresh while a revoked serial has not reached
   * Step-CA (`pendingRevocations`), even when the CRL itself was read.
   */
  async crlStatus(): Promise<CrlStatus> {
    try {
      const crl = await this.currentCrlInfo();
      const pending = this.#unpushed.size;
      const fresh = !this.#crlStale && this.#crlError === undefined && pending === 0 && this.#now() < crl.nextUpdate;
      const lastError = this.#crlError ?? (pending > 0 ? `${pending} revoked serial(s) not yet accepted by Step-CA's /1.0/revoke, so missing from its CRL (${this.#pushError ?? 'retrying'})` : undefined);
      return {
        crlNumber: crl.crlNumber,
        thisUpdate: crl.thisUpdate,
        nextUpdate: crl.nextUpdate,
        fresh,
        ...(lastError !== undefined ? { lastError } : {}),
        ...(pending > 0 ? { pendingRevocations: pending } : {}),
      };
    } catch (err) {
      return { crlNumber: null, thisUpdate: null, nextUpdate: null, fresh: false, lastError: (err as Error).message };
    }
  }

  close(): void {
    this.#closed = true;
    for (const handle of [...this.#timers]) handle.stop();
    if (this.#pushRetry) clearTimeout(this.#pushRetry);
    this.#pushRetry = undefined;
  }

  /**
   * Push every revoked serial Step-CA does not list yet: those in its last CRL count as pushed
   * (so a restart does not push them all again), the rest go out {@link PUSH_CONCURRENCY} at a
   * time; failures stay in {@link #unpushed} and are retried with backoff.
   */
  async #pushRevocations(): Promise<void> {
    const revoked = await this.#store.revokedSerials();
    if (this.#crl === undefined) await this.currentCrlInfo().catch(() => undefined);
    for (const r of revoked) {
      const serial = normaliseSerialHex(r.serialHex) ?? r.serialHex;
      if (this.#pushed.has(serial)) continue;
      if (this.#crlSerials.has(serial)) {
        this.#pushed.add(serial);
        this.#unpushed.delete(serial);
        continue;
      }
      this.#unpushed.set(serial, r.reason ?? 'unspecified');
    }
    const queue = [...this.#unpushed];
    const failures: string[] = [];
    const worker = async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
        const [serial, reason] = next;
        try {
          await this.#revokeSerial(serial, reason);
          this.#pushed.add(serial);
          this.#unpushed.delete(serial);
        } catch (err) {
          failures.push(`${serial}: ${(err as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUSH_CONCURRENCY, queue.length) }, worker));
    this.#crlStale = true;
    if (failures.length === 0) {
      this.#pushFailures = 0;
      this.#pushError = undefined;
      return;
    }
    this.#pushError = failures[0];
    this.#pushFailures += 1;
    this.#scheduleRetry();
    throw new StepCaRefused(`${failures.length} revocation(s) not accepted yet, retried (${failures[0]})`);
  }

  #scheduleRetry(): void {
    if (this.#pushRetry !== undefined || this.#closed) return;
    const delay = Math.min(this.#pushRetryBaseMs * 2 ** Math.min(this.#pushFailures - 1, 20), PUSH_RETRY_MAX_MS);
    this.#pushRetry = setTimeout(() => {
      this.#pushRetry = undefined;
      if (this.#unpushed.size > 0) this.invalidateCrl();
    }, delay);
    this.#pushRetry.unref();
  }

  async #revokeSerial(serialHex: string, reason: string): Promise<void> {
    const serial = BigInt(`0x${serialHex}`).toString(10);
    const ott = await this.#token(`${this.#url}/1.0/revoke`, serial, [], {});
    const res = await new StepCaHttp(this.#url, this.#rootPem).json('POST', '/1.0/revoke', {
      serial,
      ott,
      reasonCode: (REVOCATION_REASONS as Record<string, number>)[reason] ?? 0,
      reason,
      passive: true,
    });
    if (res.status === 200) return;
    const message = errorMessage(res.body);
    if (/already revoked/i.test(message)) return;
    throw new StepCaRefused(`/1.0/revoke of ${serialHex}: HTTP ${res.status} ${message}`);
  }

  /**
   * The CA certificate of a `/1.0/sign` answer is acceptable when it is the root or an
   * intermediate the root signed; a new one (Step-CA's intermediate rotated) becomes the
   * current one, the listener is told to trust it, and the CRL is read again (the new
   * intermediate signs it).
   */
  #adoptIssuer(issuerPem: string, now: Date): boolean {
    if (this.#intermediateFps.has(fingerprint(issuerPem))) {
      if (!sameCert(this.#intermediates[0]!, issuerPem)) this.#setIntermediates([issuerPem, ...this.#intermediates.filter((i) => !sameCert(i, issuerPem))]);
      return true;
    }
    if (!sameCert(issuerPem, this.#rootPem) && !isIntermediateOf(issuerPem, this.#rootPem, now)) return false;
    this.#setIntermediates([`${issuerPem.trim()}\n`, ...this.#intermediates].slice(0, MAX_KNOWN_INTERMEDIATES));
    this.#crlStale = true;
    this.#trustChanged();
    this.#kickServerRenewal?.();
    return true;
  }

  /** Add the intermediates of a recorded chain that the root signed (earlier ones, after a rotation, or learnt by another replica). */
  #learnIntermediates(ders: Uint8Array[]): void {
    let changed = false;
    for (const der of ders) {
      if (this.#intermediateFps.has(fingerprint(der)) || !isIntermediateOf(der, this.#rootPem, this.#now())) continue;
      const pem = new X509Certificate(der).toString();
      this.#setIntermediates([...this.#intermediates, `${pem.trim()}\n`].slice(0, MAX_KNOWN_INTERMEDIATES));
      changed = true;
    }
    if (changed) this.#trustChanged();
  }

  #setIntermediates(list: string[]): void {
    this.#intermediates = list;
    this.#intermediateFps = new Set(list.map((p) => fingerprint(p)));
  }

  #trustChanged(): void {
    for (const listener of this.#trustListeners) {
      try {
        listener();
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  /** Sign a CSR once to learn which CA certificate signs leaves; it must chain to the root. */
  async #discoverIssuer(): Promise<string> {
    const keys = await generateKeyPair({ extractable: false });
    const csrPem = await createCsr({ keys, commonName: 'mosaic-step-ca-probe' });
    const answer = await this.#sign(csrPem, 'mosaic-step-ca-probe', ['mosaic-step-ca-probe'], {}, new Date(this.#now().getTime() + 10 * 60_000));
    const issuer = new X509Certificate(answer.issuerPem);
    const chains = sameCert(answer.issuerPem, this.#rootPem) || isIntermediateOf(answer.issuerPem, this.#rootPem, this.#now());
    const leaf = new X509Certificate(answer.leafPem);
    if (!chains || !leaf.checkIssued(issuer) || !leaf.verify(issuer.publicKey)) {
      throw new StepCaRootMismatch('the certificate chain in the /1.0/sign answer does not lead to STEP_CA_ROOT');
    }
    // the probe is of no use to anyone: revoke it at once
    await this.#revokeSerial(loadCertificate(answer.leafPem).serialHex, 'cessationOfOperation').catch((err: unknown) => this.#onError(err));
    return `${answer.issuerPem.trim()}\n`;
  }

  async #token(aud: string, sub: string, sans: string[], extra: Record<string, unknown>): Promise<string> {
    const now = Math.floor(this.#now().getTime() / 1000);
    return new SignJWT({ sans, sha: this.#rootSha, ...extra })
      .setProtectedHeader({ alg: 'ES256', kid: this.#kid, typ: 'JWT' })
      .setIssuer(this.#provisioner)
      .setAudience(aud)
      .setSubject(sub)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + OTT_LIFETIME_S)
      .setJti(randomBytes(32).toString('hex'))
      .sign(this.#key);
  }

  async #sign(csrPem: string, sub: string, sans: string[], extra: Record<string, unknown>, notAfter?: Date): Promise<SignAnswer> {
    const ott = await this.#token(`${this.#url}/1.0/sign`, sub, sans, extra);
    const res = await new StepCaHttp(this.#url, this.#rootPem).json('POST', '/1.0/sign', {
      csr: csrPem,
      ott,
      ...(notAfter ? { notAfter: notAfter.toISOString() } : {}),
    });
    if (res.status !== 200 && res.status !== 201) throw new StepCaRefused(`/1.0/sign: HTTP ${res.status} ${errorMessage(res.body)}`);
    const body = res.body as { crt?: unknown; ca?: unknown; certChain?: unknown };
    if (typeof body?.crt !== 'string' || typeof body.ca !== 'string') throw new StepCaUnreachable(`/1.0/sign answered without crt and ca`);
    try {
      loadCertificate(body.crt);
      loadCertificate(body.ca);
    } catch {
      throw new StepCaUnreachable('/1.0/sign answered a certificate that does not parse');
    }
    return { leafPem: `${body.crt.trim()}\n`, issuerPem: `${body.ca.trim()}\n` };
  }
}

/** The JWK provisioner's key id and decrypted private key. */
async function loadProvisionerKey(http: StepCaHttp, name: string, password: Uint8Array): Promise<{ kid: string; key: webcrypto.CryptoKey; others: string[] }> {
  let cursor = '';
  let found: { kid: string; key: webcrypto.CryptoKey } | undefined;
  const others: string[] = [];
  for (let page = 0; page < 100; page += 1) {
    const res = await http.json('GET', `/provisioners${cursor ? `?cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (res.status !== 200) throw new StepCaUnreachable(`/provisioners answered HTTP ${res.status}`);
    const body = res.body as { provisioners?: unknown; nextCursor?: unknown };
    if (!Array.isArray(body?.provisioners)) throw new StepCaUnreachable('/provisioners answered without a provisioner list');
    for (const p of body.provisioners as Array<Record<string, unknown>>) {
      if (p?.name !== name) {
        others.push((typeof p?.name === 'string' ? p.name : '?').replace(/[^\x20-\x7e]/g, '?').slice(0, 64));
        continue;
      }
      if (found !== undefined) continue;
      if (p.type !== 'JWK') throw new StepCaConfigInvalid(`provisioner ${name} is of type ${String(p.type)}; the Step-CA mode needs a JWK provisioner`);
      const pub = p.key as JWK | undefined;
      if (typeof p.encryptedKey !== 'string' || !pub || typeof pub.kid !== 'string') {
        throw new StepCaConfigInvalid(`provisioner ${name} publishes no encrypted key (add it with \`step ca provisioner add ${name} --type JWK --create\`)`);
      }
      // Read the iteration count first: a key over the cap is not a wrong password.
      let p2c: unknown;
      try {
        p2c = decodeProtectedHeader(p.encryptedKey).p2c;
      } catch {
        throw new StepCaConfigInvalid(`the encrypted key of provisioner ${name} is not a JWE`);
      }
      if (typeof p2c === 'number' && p2c > STEP_CA_PBES2_ITERATIONS) {
        throw new StepCaConfigInvalid(
          `the key of provisioner ${name} is encrypted with ${p2c} PBES2 iterations, over the ${STEP_CA_PBES2_ITERATIONS} this gateway accepts; re-create the provisioner key with step-cli's default`,
        );
      }
      let plain: Uint8Array;
      try {
        ({ plaintext: plain } = await compactDecrypt(p.encryptedKey, password, {
          // PBES2 is off in jose unless named; step-cli writes PBES2-HS256+A128KW with A256GCM.
          keyManagementAlgorithms: ['PBES2-HS256+A128KW'],
          contentEncryptionAlgorithms: ['A256GCM', 'A128GCM'],
          maxPBES2Count: STEP_CA_PBES2_ITERATIONS,
        }));
      } catch {
        throw new StepCaPasswordInvalid(name);
      }
      let jwk: JWK;
      try {
        jwk = JSON.parse(Buffer.from(plain).toString('utf8')) as JWK;
      } finally {
        plain.fill(0);
      }
      if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || jwk.x !== pub.x || jwk.y !== pub.y || typeof jwk.d !== 'string') {
        throw new StepCaConfigInvalid(`the decrypted key of provisioner ${name} is not the P-256 key it publishes`);
      }
      const key = (await importJWK({ ...jwk, alg: 'ES256' }, 'ES256')) as webcrypto.CryptoKey;
      found = { kid: pub.kid, key };
    }
    if (typeof body.nextCursor !== 'string' || body.nextCursor === '') break;
    cursor = body.nextCursor;
  }
  if (found !== undefined) return { ...found, others };
  throw new StepCaConfigInvalid(`Step-CA has no provisioner named ${JSON.stringify(name)} (STEP_CA_PROVISIONER); \`step ca provisioner list\` shows them`);
}

function errorMessage(body: unknown): string {
  const m = typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : undefined;
  return typeof m === 'string' ? m.replace(/[^\x20-\x7e]/g, '?').slice(0, 200) : '';
}

/** SHA-256 (hex) of a certificate's DER. */
function fingerprint(cert: string | Uint8Array): string {
  const der = typeof cert === 'string' ? new X509Certificate(cert).raw : cert;
  return createHash('sha256').update(der).digest('hex');
}

function sameCert(a: string, b: string): boolean {
  try {
    return new X509Certificate(a).raw.equals(new X509Certificate(b).raw);
  } catch {
    return false;
  }
}

/** HTTPS to Step-CA, verified against STEP_CA_ROOT. */
class StepCaHttp {
  constructor(
    private readonly base: string,
    private readonly rootPem: string,
  ) {}

  async json(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const res = await this.raw(method, path, body === undefined ? undefined : JSON.stringify(body));
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new StepCaUnreachable(`${method} ${path} answered HTTP ${res.status} that is not JSON`);
    }
    return { status: res.status, body: parsed };
  }

  raw(method: string, path: string, body?: string): Promise<{ status: number; body: Buffer }> {
    const url = new URL(this.base + path);
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        {
          method,
          ca: this.rootPem,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
          timeout: HTTP_TIMEOUT_MS,
          headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BODY) req.destroy(new Error('the answer is too large'));
            else chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${HTTP_TIMEOUT_MS / 1000} s`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        const tlsHint = /certificate|self.signed|issuer/i.test(err.message) ? ' (its TLS certificate does not chain to STEP_CA_ROOT)' : '';
        reject(new StepCaUnreachable(`${method} ${this.base}${path}: ${err.code ?? err.message}${tlsHint}`));
      });
      req.end(body);
    });
  }
}
