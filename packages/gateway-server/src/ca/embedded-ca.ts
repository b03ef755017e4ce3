/**
 * The embedded CA: created once per deployment (root P-256, 10 years, key sealed under the
 * master secret), it issues peers' client certificates and the federation listener's own
 * server certificate, and publishes the CRL.
 *
 * Opening never creates a CA over an existing one: a wrong master secret or a damaged sealed
 * key stops the gateway with an error that says what to restore (SECURITY.md, cases 32/33).
 */
import { createPrivateKey, createPublicKey, timingSafeEqual, webcrypto } from 'node:crypto';
import {
  generateKeyPair,
  issueClientCertificate,
  issueServerCertificate,
  loadCertificate,
  openText,
  SealKey,
  sealText,
  verifyClientCertificate,
  type CaMaterial,
  type IssuedClientCertificate,
  type MasterSecret,
  type ParsedCsr,
} from '@mosaic/federation-core';
import { CrlPublisher, type CrlStatus, type PublishedCrl } from './crl.js';
import type { GatewayCa } from './gateway-ca.js';
import { CaArgumentInvalid, ServerCertContended } from './errors.js';
import { createRootState, openRootState, type OpenedRoot } from './root.js';
import { sameSans, serverNames } from './server-names.js';
import { CA_SERVER_RECORD_ID, type CaStateStore, type StoredServerCert } from './store.js';

/** Lifetime of the listener's certificate. */
export const SERVER_CERT_LIFETIME_DAYS = 90;
/** Fraction of its life after which the listener's certificate is renewed. */
export const SERVER_CERT_RENEW_AT = 2 / 3;
const SAVE_ATTEMPTS = 3;

/** Options of {@link EmbeddedCa.open}. */
export interface OpenEmbeddedCaOptions {
  store: CaStateStore;
  /** The master secret (from `resolveMasterSecret`); the CA key is sealed under its seal key. */
  secret: MasterSecret;
  /** The gateway name, written into the root's CN: `Mosaic Federation CA (<name>)`. */
  name: string;
  /** The clock. Default `() => new Date()`. */
  now?: () => Date;
  /** CRL validity (thisUpdate → nextUpdate). Default 7 days; reissued at half of it. */
  crlValidityMs?: number;
}

/** Options of {@link EmbeddedCa.issueClientCertificate}. */
export interface IssueClientOptions {
  /** PEM/DER, or the result of `parseCsr` (validated before the enrollment token was claimed). */
  csr: string | Uint8Array | ParsedCsr;
  peerName: string;
  grantId: string;
  subjectUserId: string;
  /** The grant's expiry: the certificate never outlives it. */
  notAfterCap?: Date;
  /** Default 30 (federation-core's default). */
  lifetimeDays?: number;
}

/** The issue options for a grant's certificate: its peer, ids, and its expiry as the cap. */
export function issueOptionsFor(grant: { peerName: string; id: string; subjectUserId: string; expiresAt: string | Date | null }, csr: IssueClientOptions['csr']): IssueClientOptions {
  return {
    csr,
    peerName: grant.peerName,
    grantId: grant.id,
    subjectUserId: grant.subjectUserId,
    ...(grant.expiresAt !== null ? { notAfterCap: new Date(grant.expiresAt) } : {}),
  };
}

/** Options of {@link EmbeddedCa.ensureServerCertificate}. */
export interface ServerCertificateOptions {
  /** `--public-url`: its host is what peers dial and must be in the certificate. */
  publicUrl: string;
  /** More DNS names or IP addresses to include. */
  extraHosts?: readonly string[];
}

/** Why a new server certificate was issued. */
export type ServerCertIssueReason = 'none-stored' | 'renewal-due' | 'names-changed' | 'stored-invalid' | 'stored-key-unreadable';

/** The federation listener's certificate and key, for `https.createServer` / `setSecureContext`. */
export interface ServerCertificate {
  readonly certPem: string;
  /** PKCS#8 PEM. Hand it to TLS and nowhere else: never log it, never write it to disk. */
  readonly keyPem: string;
  readonly serialHex: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** When renewal is due (2/3 of the validity). */
  readonly renewAt: Date;
  /** `dns:<name>` / `ip:<address>`, sorted. */
  readonly sans: readonly string[];
  /** Set when this call issued it, saying why; absent when the stored certificate was reused. */
  readonly issued?: ServerCertIssueReason;
}

/** Options of {@link EmbeddedCa.scheduleServerCertRenewal}. */
export interface ServerCertRenewalOptions {
  /** Longest wait between checks (another replica may have renewed). Default 1 hour. */
  checkIntervalMs?: number;
  /** Wait after a failed check. Default 5 minutes. */
  retryMs?: number;
  /** Told about failed checks (and failures of `onRenewed`); the schedule keeps going. */
  onError?: (err: unknown) => void;
}

/** A running renewal schedule. */
export interface RenewalHandle {
  stop(): void;
}

// setTimeout's ceiling (~24.8 days); longer waits are chained.
const MAX_TIMER_MS = 2 ** 31 - 1;

function renewAt(notBefore: Date, notAfter: Date): Date {
  return new Date(notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) * SERVER_CERT_RENEW_AT);
}

function pkcs8Pem(der: Uint8Array): string {
  return createPrivateKey({ key: Buffer.from(der.buffer, der.byteOffset, der.byteLength), format: 'der', type: 'pkcs8' })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

/** The embedded CA of a serving gateway. */
export class EmbeddedCa implements GatewayCa {
  readonly #store: CaStateStore;
  readonly #sealKey: SealKey;
  readonly #now: () => Date;
  readonly #root: OpenedRoot;
  readonly #material: CaMaterial;
  readonly #crl: CrlPublisher;
  readonly #created: boolean;
  #serverArgs: ServerCertificateOptions | undefined;
  #serverKey: { serialHex: string; keyPem: string } | undefined;
  /** The certificate the last ensureServerCertificate returned (what the listener now serves). */
  #serverCurrent: { serialHex: string; renewAt: Date } | undefined;
  readonly #timers = new Set<RenewalHandle>();

  private constructor(options: { store: CaStateStore; sealKey: SealKey; now: () => Date; root: OpenedRoot; created: boolean; crlValidityMs?: number }) {
    this.#store = options.store;
    this.#sealKey = options.sealKey;
    this.#now = options.now;
    this.#root = options.root;
    this.#created = options.created;
    this.#material = { cert: options.root.certDer, keys: options.root.keys };
    this.#crl = new CrlPublisher({
      store: options.store,
      ca: this.#material,
      now: options.now,
      ...(options.crlValidityMs === undefined ? {} : { validityMs: options.crlValidityMs }),
    });
  }

  /**
   * Load the CA, creating it on the very first start (if another process created it
   * meanwhile, theirs is used).
   * @throws CA_SECRET_MISMATCH, CA_KEY_CORRUPT, CA_CERT_CORRUPT — never a new CA over an existing one
   * @example
   * const ca = await EmbeddedCa.open({ store, secret, name: 'home' });
   * console.log(ca.caPin);
   */
  static async open(options: OpenEmbeddedCaOptions): Promise<EmbeddedCa> {
    const now = options.now ?? (() => new Date());
    const sealKey = SealKey.fromMaster(options.secret);
    let state = await options.store.load();
    let created = false;
    if (state === null) {
      const fresh = await createRootState({ name: options.name, sealKey, now: now() });
      state = await options.store.createOnce(fresh);
      created = state.certPem === fresh.certPem && state.sealedKey === fresh.sealedKey;
    }
    const root = await openRootState(state, sealKey);
    return new EmbeddedCa({ store: options.store, sealKey, now, root, created, ...(options.crlValidityMs === undefined ? {} : { crlValidityMs: options.crlValidityMs }) });
  }

  /** The CA mode (see {@link GatewayCa}). */
  readonly mode = 'embedded' as const;

  /** True when this `open` created the CA (first start of the deployment). */
  get created(): boolean {
    return this.#created;
  }

  /** The CA certificate, PEM (`GET /api/federation/v1/ca`). */
  get caCertPem(): string {
    return this.#root.certPem;
  }

  /** The CA certificate, DER. */
  get caCertDer(): Uint8Array {
    return this.#root.certDer;
  }

  /** `sha256:<hex>` of the CA key: what `grant token` shows and `peer add` pins. */
  get caPin(): string {
    return this.#root.pin;
  }

  /** When the root expires. */
  get rootNotAfter(): Date {
    return this.#root.notAfter;
  }

  /** What the federation listener trusts: this root alone. */
  get listenerTrustPem(): string {
    return this.#root.certPem;
  }

  /** The root signs peers' certificates directly: the chain is the certificate alone. */
  certChainPem(certPem: string): string {
    return certPem;
  }

  /** Every certificate this root signed was signed by this gateway: no serial is foreign. */
  acceptsSerial(_serialHex: string): boolean {
    return true;
  }

  /**
   * Issue a peer's client certificate for a grant (federation-core decides its content).
   * @throws CSR_INVALID, ISSUE_INVALID, CA_INVALID
   */
  async issueClientCertificate(options: IssueClientOptions): Promise<IssuedClientCertificate> {
    return issueClientCertificate({
      ca: this.#material,
      csr: options.csr,
      peerName: options.peerName,
      grantId: options.grantId,
      subjectUserId: options.subjectUserId,
      ...(options.notAfterCap === undefined ? {} : { notAfterCap: options.notAfterCap }),
      ...(options.lifetimeDays === undefined ? {} : { lifetimeDays: options.lifetimeDays }),
      now: this.#now(),
    });
  }

  /**
   * The federation listener's certificate: the stored one while it is valid, names the same
   * SANs and is before 2/3 of its life; otherwise a new one (90 days, P-256 key sealed in the
   * store). Replicas converge on one certificate through the store's compare-and-swap.
   * @throws CA_SERVER_NAME_INVALID, ISSUE_INVALID, CA_INVALID, CA_SERVER_CERT_CONTENDED
   */
  async ensureServerCertificate(options: ServerCertificateOptions): Promise<ServerCertificate> {
    const names = serverNames(options.publicUrl, options.extraHosts ?? []);
    this.#serverArgs = { publicUrl: options.publicUrl, extraHosts: [...(options.extraHosts ?? [])] };
    let stored = await this.#store.loadServerCert();
    for (let attempt = 0; attempt < SAVE_ATTEMPTS; attempt += 1) {
      const now = this.#now();
      let reason: ServerCertIssueReason = 'none-stored';
      if (stored) {
        const reuse = this.#reusable(stored, names.sans, now);
        if ('cert' in reuse) {
          this.#serverCurrent = { serialHex: reuse.cert.serialHex, renewAt: reuse.cert.renewAt };
          return reuse.cert;
        }
        reason = reuse.reason;
      }
      const next = await this.#issueServer(names, now);
      const winner = await this.#store.saveServerCert(next.stored, stored?.serialHex ?? null);
      if (winner?.serialHex === next.stored.serialHex) {
        this.#serverKey = { serialHex: next.cert.serialHex, keyPem: next.cert.keyPem };
        this.#serverCurrent = { serialHex: next.cert.serialHex, renewAt: next.cert.renewAt };
        return { ...next.cert, issued: reason };
      }
      // Another process saved first: judge its certificate like any stored one.
      stored = winner;
    }
    throw new ServerCertContended(`${SAVE_ATTEMPTS} attempts to save a certificate for ${names.sans.join(', ')} lost the race`);
  }

  #reusable(stored: StoredServerCert, sans: readonly string[], now: Date): { cert: ServerCertificate } | { reason: ServerCertIssueReason } {
    if (!sameSans(stored.sans, sans)) return { reason: 'names-changed' };
    let facts: { notBefore: Date; notAfter: Date; serialHex: string };
    try {
      // Issued by this CA, a server cert, valid now: the stored fields are not trusted for that.
      facts = verifyClientCertificate(stored.certPem, this.#root.certDer, { now, purpose: 'server' });
    } catch {
      return { reason: 'stored-invalid' };
    }
    const due = renewAt(facts.notBefore, facts.notAfter);
    if (now.getTime() >= due.getTime()) return { reason: 'renewal-due' };
    const keyPem = this.#openServerKey(stored);
    if (keyPem === undefined) return { reason: 'stored-key-unreadable' };
    return {
      cert: { certPem: stored.certPem, keyPem, serialHex: facts.serialHex, notBefore: facts.notBefore, notAfter: facts.notAfter, renewAt: due, sans: [...stored.sans].sort() },
    };
  }

  /** The stored server key as PEM, if it opens and belongs to the certificate. */
  #openServerKey(stored: StoredServerCert): string | undefined {
    if (this.#serverKey?.serialHex === stored.serialHex) return this.#serverKey.keyPem;
    let der: Buffer | undefined;
    try {
      der = openText(this.#sealKey, stored.sealedKey, { recordId: CA_SERVER_RECORD_ID });
      const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
      const certSpki = loadCertificate(stored.certPem).spki;
      if (spki.length !== certSpki.length || !timingSafeEqual(spki, certSpki)) return undefined;
      const keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
      this.#serverKey = { serialHex: stored.serialHex, keyPem };
      return keyPem;
    } catch {
      // A server key is replaceable: a damaged one is reissued, unlike the CA key.
      return undefined;
    } finally {
      der?.fill(0);
    }
  }

  async #issueServer(names: ReturnType<typeof serverNames>, now: Date): Promise<{ stored: StoredServerCert; cert: ServerCertificate }> {
    const keys = await generateKeyPair({ extractable: true });
    const issued = await issueServerCertificate({
      ca: this.#material,
      keys,
      dnsNames: names.dnsNames,
      ipAddresses: names.ipAddresses,
      commonName: names.commonName,
      lifetimeDays: SERVER_CERT_LIFETIME_DAYS,
      now,
    });
    const pkcs8 = new Uint8Array(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
    let sealedKey: string;
    let keyPem: string;
    try {
      sealedKey = sealText(this.#sealKey, pkcs8, { recordId: CA_SERVER_RECORD_ID });
      keyPem = pkcs8Pem(pkcs8);
    } finally {
      pkcs8.fill(0);
    }
    const stored: StoredServerCert = {
      certPem: issued.certPem,
      sealedKey,
      serialHex: issued.serialHex,
      sans: names.sans,
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      issuedAt: now,
    };
    const cert: ServerCertificate = {
      certPem: issued.certPem,
      keyPem,
      serialHex: issued.serialHex,
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      renewAt: renewAt(issued.notBefore, issued.notAfter),
      sans: names.sans,
    };
    return { stored, cert };
  }

  /**
   * Keep the listener's certificate renewed: checks at its renewal time (and at least every
   * `checkIntervalMs`, to pick up another replica's renewal) and calls `onRenewed` with the new
   * certificate — the listener passes it to `server.setSecureContext`. Uses the options of the
   * last {@link ensureServerCertificate} call. The timer is `unref`ed; nothing runs unless asked.
   * @throws CA_ARGUMENT_INVALID when no server certificate was ensured yet
   * @example
   * const cert = await ca.ensureServerCertificate({ publicUrl });
   * const server = https.createServer({ cert: cert.certPem, key: cert.keyPem, … });
   * ca.scheduleServerCertRenewal((next) => server.setSecureContext({ cert: next.certPem, key: next.keyPem, … }));
   */
  scheduleServerCertRenewal(onRenewed: (cert: ServerCertificate) => void | Promise<void>, options: ServerCertRenewalOptions = {}): RenewalHandle {
    const args = this.#serverArgs;
    const served = this.#serverCurrent;
    if (!args || !served) throw new CaArgumentInvalid('call ensureServerCertificate before scheduleServerCertRenewal');
    const checkIntervalMs = options.checkIntervalMs ?? 60 * 60 * 1000;
    const retryMs = options.retryMs ?? 5 * 60 * 1000;
    const report = (err: unknown) => {
      try {
        options.onError?.(err);
      } catch {
        // A failing error reporter must not stop renewals.
      }
    };
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    let currentSerial = served.serialHex;
    const untilDue = (renewAtDate: Date) => Math.min(checkIntervalMs, Math.max(1000, renewAtDate.getTime() - this.#now().getTime()));

    const arm = (delayMs: number) => {
      if (stopped) return;
      timer = setTimeout(() => void tick(), Math.min(delayMs, MAX_TIMER_MS));
      timer.unref();
    };
    const tick = async () => {
      timer = undefined;
      let next: number;
      try {
        const cert = await this.ensureServerCertificate(args);
        if (cert.serialHex !== currentSerial && !stopped) {
          currentSerial = cert.serialHex;
          try {
            await onRenewed(cert);
          } catch (err) {
            report(err);
          }
        }
        next = untilDue(cert.renewAt);
      } catch (err) {
        report(err);
        next = retryMs;
      }
      arm(next);
    };

    const handle: RenewalHandle = {
      stop: () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        timer = undefined;
        this.#timers.delete(handle);
      },
    };
    this.#timers.add(handle);
    arm(untilDue(served.renewAt));
    return handle;
  }

  /** The current CRL, DER (`GET /api/federation/v1/crl`). @throws CRL_UNAVAILABLE */
  async currentCrl(): Promise<Uint8Array> {
    return (await this.#crl.current()).der;
  }

  /** The current CRL with its number and dates. @throws CRL_UNAVAILABLE */
  async currentCrlInfo(): Promise<PublishedCrl> {
    return this.#crl.current();
  }

  /** Call after a revoke committed in the store: the next {@link currentCrl} is a new CRL listing it. */
  invalidateCrl(): void {
    this.#crl.invalidate();
  }

  /** The CRL's health for `gateway doctor`: red when `fresh` is false. */
  async crlStatus(): Promise<CrlStatus> {
    return this.#crl.status();
  }

  /** Stop every renewal schedule started here. */
  close(): void {
    for (const handle of [...this.#timers]) handle.stop();
  }
}
