/**
 * Renewal of the requesting side's peer certificates (CONTRACT.md, "Renewal policy, one for
 * everyone"): due once 2/3 of the lifetime has passed, never later than 7 days before expiry.
 *
 * One renewal: a new key and CSR made here, `POST /renew` over mTLS with the current
 * certificate, the answer verified (it chains to the pinned CA as a client certificate, is for
 * the key we sent, and names the same grant and subject), the new key sealed, certificate +
 * sealed key + serial + validity stored in one transaction with its audit row, then the live
 * link swapped ({@link PeerConnections.updateCredentials}): requests in flight finish on the
 * old certificate, which the serving side honours for 10 more minutes; new ones use the new.
 *
 * Who renews: `POST /api/admin/peers/:name/renew` (`mosaic federation peer renew`), and the
 * renewal job, which looks for due peers every few minutes. A renewal is claimed in the store
 * first (a conditional update on the certificate being renewed, with a lease), so two replicas
 * sharing PostgreSQL — or the job and a person — never renew one peer at the same time.
 *
 * A failed renewal makes the peer `degraded` with `lastError`, and starts a failure streak
 * (`renewalFailedSince`) that only a successful renewal ends — a successful read does not.
 * The job retries with exponential backoff and jitter; the streak is logged once when it
 * starts and once when it ends. Doctor's `peers.renewal` turns yellow once it is over an hour
 * old, red under 3 days before expiry.
 */
import { randomUUID, X509Certificate } from 'node:crypto';
import {
  codedError,
  createCsr,
  decodeMosaicIdentity,
  exportPrivateKeyPem,
  FederationRequestError,
  generateKeyPair,
  generateRequestId,
  isMosaicError,
  MosaicError,
  normaliseSerialHex,
  openText,
  parseCsr,
  PeerResponseInvalidError,
  pinsEqual,
  quoteForDisplay,
  sealText,
  spkiPin,
  spkiPinFromSpki,
  verifyCertificateChain,
  type VerifiedChain,
  type EnrollResponse,
  type SealKey,
} from '@mosaic/federation-core';
import type { Logger } from 'pino';
import type { Tracing } from '../tracing.js';
import type { PeerRecord, Storage } from '../storage/index.js';
import { auditActor, type AuditWriter } from './audit.js';
import type { Actor } from './grants.js';
import type { PeerClients } from './peer-clients.js';
import type { PeerConnections } from './peer-connections.js';
import { errorText } from './peer-connections.js';
import { peerKeyRecordId, renewalDueAt } from './peers.js';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Tunables of renewal and of the renewal job (defaults in brackets). */
export interface RenewalOptions {
  /** Run the job at all (true). `peer renew` works either way. */
  enabled?: boolean;
  /** Between two looks for due peers (10 min). */
  intervalMs?: number;
  /** The first look after start (60 s: after start-up, not during it). */
  firstRunMs?: number;
  /** The job's first retry after a failed renewal; doubled per failure, with jitter (5 min). */
  retryBaseMs?: number;
  /** The longest wait between the job's retries (1 h). */
  retryMaxMs?: number;
  /** How long a claim on a peer's renewal holds if its holder dies (2 min). */
  claimMs?: number;
  /** Time limit of the `renew` call (15 s). */
  timeoutMs?: number;
  /**
   * Tries of one renewal, with the same key and CSR, when its answer may have been lost after
   * the serving side committed it — timeout, reset, 502/503/504, or our store failed (3).
   */
  tries?: number;
  /** The wait before the second try; doubled for each further one (250 ms). */
  tryBackoffMs?: number;
  /** Clock, ms since the epoch. */
  now?: () => number;
  /** Jitter source in [0, 1) (Math.random). */
  random?: () => number;
}

export interface PeerRenewalDeps {
  storage: Storage;
  sealKey: SealKey;
  audit: AuditWriter;
  peerClients: PeerClients;
  connections: Pick<PeerConnections, 'updateCredentials'>;
  logger: Logger;
  options?: RenewalOptions;
  /** Spans and the traceparent sent with `renew` (every federation call carries one). */
  tracing?: Pick<Tracing, 'startServerSpan' | 'startClientSpan'>;
}

/** What one look of the job did, per peer due. */
export interface RenewalRun {
  renewed: string[];
  failed: Array<{ peer: string; error: string }>;
  /** Due, but claimed elsewhere, or the serving side says not due yet (clock skew). */
  skipped: string[];
}

/**
 * The job's wait before retry number `failures` (1, 2, …): `base · 2^(failures-1)`, at most
 * `max`, scaled by a jitter factor in [0.5, 1) so replicas and peers do not retry in step.
 */
export function renewalRetryDelayMs(failures: number, options: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  const exp = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, Math.min(failures - 1, 30)));
  return Math.round(exp * (0.5 + random() * 0.5));
}

type Settled = Required<Omit<RenewalOptions, 'now' | 'random'>>;

/** Renews peer certificates: on request, and by the job. */
export class PeerRenewal {
  readonly options: Settled;
  private readonly now: () => number;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<RenewalRun> | null = null;
  private stopped = false;

  constructor(private readonly deps: PeerRenewalDeps) {
    const o = deps.options ?? {};
    this.now = o.now ?? Date.now;
    this.random = o.random ?? Math.random;
    this.options = {
      enabled: o.enabled ?? true,
      intervalMs: o.intervalMs ?? 10 * MINUTE,
      firstRunMs: o.firstRunMs ?? MINUTE,
      retryBaseMs: o.retryBaseMs ?? 5 * MINUTE,
      retryMaxMs: o.retryMaxMs ?? 60 * MINUTE,
      claimMs: o.claimMs ?? 2 * MINUTE,
      timeoutMs: o.timeoutMs ?? 15_000,
      tries: Math.max(1, o.tries ?? 3),
      tryBackoffMs: o.tryBackoffMs ?? 250,
    };
  }

  // ── one renewal ─────────────────────────────────────────────────────────────────────────

  /**
   * Renew `name`'s certificate now. `manual` (`peer renew`): the job's retry time is ignored,
   * a renewal running elsewhere is 409 RENEWAL_IN_PROGRESS (or, when it has just finished,
   * its result), and the serving side's 409 RENEWAL_NOT_DUE passes through.
   * @throws PEER_NOT_FOUND, GRANT_REVOKED (the peer is revoked), RENEWAL_IN_PROGRESS,
   *   RENEWAL_NOT_DUE, or the failure (PEER_UNREACHABLE, PEER_ERROR, PEER_RESPONSE_INVALID, …)
   */
  async renew(name: string, options: { actor: Actor; manual: boolean }): Promise<PeerRecord> {
    const { storage } = this.deps;
    const record = await storage.peers.get(name);
    if (record === null) throw codedError('PEER_NOT_FOUND', `no peer named ${quoteForDisplay(name)}`, { remediation: 'list them with `mosaic federation peer list`' });
    if (record.state === 'revoked') {
      throw codedError('GRANT_REVOKED', `${name}: this peer is revoked (${record.lastError ?? 'its grant was revoked'}); a renewal cannot bring it back`, {
        remediation: `ask ${name}'s admin for a new grant and token, then \`mosaic federation peer remove ${name}\` and \`peer add\` again`,
      });
    }
    const result = await this.attempt(record, options);
    if (result.kind === 'renewed') return result.record;
    if (result.kind === 'claimed_elsewhere') {
      const current = await storage.peers.get(name);
      // it finished meanwhile: that renewal is the answer
      if (current !== null && current.certSerial !== record.certSerial) return current;
      throw codedError('RENEWAL_IN_PROGRESS', `${name}: another renewal of this peer is running (the renewal job, or another replica)`);
    }
    throw result.error;
  }

  /** One claimed attempt; failures are recorded here and returned, never thrown (but store errors). */
  private async attempt(
    record: PeerRecord,
    options: { actor: Actor; manual: boolean },
  ): Promise<{ kind: 'renewed'; record: PeerRecord } | { kind: 'claimed_elsewhere' } | { kind: 'not_due'; error: Error } | { kind: 'failed'; error: Error }> {
    const { storage, logger } = this.deps;
    const name = record.name;
    const started = performance.now();
    const token = randomUUID();
    const claimed = await storage.peers.claimRenewal(name, {
      token,
      serial: record.certSerial,
      until: new Date(this.now() + this.options.claimMs),
      at: new Date(this.now()),
      respectRetry: !options.manual,
    });
    if (claimed === null) return { kind: 'claimed_elsewhere' };
    const by = options.manual ? 'admin' : 'job';
    // The answer of a renewal can be lost after the serving side committed it (it then honours
    // only the new certificate, and revokes ours 10 minutes later): every try of this renewal —
    // the quick ones below, and a later one after a crash — sends the same key and CSR, and
    // the serving side answers a repeated CSR from the superseded certificate with the
    // certificate it issued.
    for (let tryNo = 1; ; tryNo++) {
      const r = await this.attemptOnce(claimed, token, options, by, started, tryNo < this.options.tries);
      if (r.kind !== 'retry') return r;
      logger.info({ peer: name, try: tryNo, err: errorText(r.error) }, `peer certificate renewal: the answer may be lost, asking again with the same key (${name})`);
      await sleep(this.options.tryBackoffMs * 2 ** (tryNo - 1));
    }
  }

  /** One try of a claimed renewal; `retry` when the caller may try again at once (same key and CSR). */
  private async attemptOnce(
    claimed: PeerRecord,
    token: string,
    options: { actor: Actor; manual: boolean },
    by: string,
    started: number,
    mayRetry: boolean,
  ): Promise<{ kind: 'renewed'; record: PeerRecord } | { kind: 'not_due'; error: Error } | { kind: 'failed'; error: Error } | { kind: 'retry'; error: unknown }> {
    const { storage, logger } = this.deps;
    const name = claimed.name;
    let renewed: Renewed;
    try {
      renewed = await this.obtain(claimed, await this.pendingKey(claimed, token));
    } catch (err) {
      if (mayRetry && answerMayBeLost(err)) return { kind: 'retry', error: err };
      if (err instanceof FederationRequestError && err.code === 'RENEWAL_NOT_DUE') {
        // Not a failure: the serving side (whose clock decides) says later. The job looks again
        // after its usual backoff; a person is told.
        await storage.peers.releaseRenewal(name, token, options.manual ? {} : { retryAt: new Date(this.now() + renewalRetryDelayMs(1, this.backoff(), this.random)) });
        const error = codedError('RENEWAL_NOT_DUE', `${name}: the serving side says renewal is not due yet (${stripPeer(name, err.message)})`, {
          remediation: `\`mosaic federation peer needs-renewal ${name}\` tells when; the gateway renews by itself once it is due`,
          details: { remoteCode: err.code, remoteStatus: err.status },
        });
        await this.auditFailure(claimed, options.actor, by, error);
        return { kind: 'not_due', error };
      }
      const error = asAdminError(name, err);
      const failures = claimed.renewalFailures + 1;
      const retryAt = new Date(this.now() + renewalRetryDelayMs(failures, this.backoff(), this.random));
      const text = errorText(error);
      if (!isMosaicError(error)) logger.error({ peer: name, err: { message: error.message, stack: error.stack } }, `peer certificate renewal: unexpected error (${name})`);
      await storage.peers.recordRenewalFailure(name, token, { error: `renewal failed: ${text}`, retryAt, at: new Date(this.now()) });
      if (claimed.renewalFailedSince === null) {
        logger.warn({ peer: name, error: text, retryAt: retryAt.toISOString(), by }, `peer certificate renewal failing: ${name}`);
      } else {
        logger.debug({ peer: name, error: text, failures, retryAt: retryAt.toISOString(), by }, `peer certificate renewal failed again: ${name}`);
      }
      await this.auditFailure(claimed, options.actor, by, error);
      return { kind: 'failed', error };
    }

    // A certificate the renewal could not extend (the grant ends first and caps it): the job
    // leaves it alone until it expires — renewing again would give the same date. Doctor is
    // red under 3 days left; the remedy is a new grant.
    const capped = renewed.notAfter.getTime() <= Date.parse(claimed.certNotAfter) + MINUTE;
    let stored: PeerRecord | null;
    try {
      stored = await storage.transaction(async (tx) => {
        const done = await tx.peers.completeRenewal(
          name,
          claimed.certSerial,
          {
            certPem: renewed.certPem,
            sealedKey: renewed.sealedKey,
            certSerial: renewed.serial,
            certNotBefore: renewed.notBefore,
            certNotAfter: renewed.notAfter,
            retryAt: capped ? renewed.notAfter : null,
          },
          new Date(this.now()),
        );
        if (done === null) return null;
        await this.deps.audit.record(
          {
            ...auditActor(options.actor),
            verb: 'admin.peer.renew',
            outcome: 'allowed',
            statusCode: 200,
            peer: name,
            grantId: claimed.grantId,
            subjectUserId: claimed.subjectUserId,
            latencyMs: performance.now() - started,
            detail: JSON.stringify({ by, previousSerial: claimed.certSerial, serial: renewed.serial, notAfter: renewed.notAfter.toISOString() }),
          },
          tx,
        );
        return done;
      });
    } catch (err) {
      if (mayRetry) return { kind: 'retry', error: err };
      await storage.peers.releaseRenewal(name, token).catch(() => undefined);
      throw err;
    }
    if (stored === null) {
      // removed or re-enrolled while we renewed: the certificate we got is not kept
      return { kind: 'failed', error: codedError('RENEWAL_IN_PROGRESS', `${name}: the peer changed while it was renewed (removed, or enrolled again); the new certificate was not kept`) };
    }
    // The swap: the client's agent is replaced at once (every later request uses the new
    // certificate); the old agent closes once its requests in flight have finished — not
    // awaited here, the answer does not wait for the slowest of them.
    this.deps.connections
      .updateCredentials(name, { certPem: renewed.certPem, keyPem: renewed.keyPem, certSerial: renewed.serial, certNotBefore: renewed.notBefore })
      .catch((err: unknown) => logger.warn({ peer: name, err: errorText(err) }, 'closing the previous connection after a renewal failed'));
    const ms = Math.round(performance.now() - started);
    if (claimed.renewalFailedSince !== null) {
      logger.info({ peer: name, failedSince: claimed.renewalFailedSince, failures: claimed.renewalFailures, serial: renewed.serial }, `peer certificate renewal recovered: ${name}`);
    }
    logger.info({ peer: name, serial: renewed.serial, previousSerial: claimed.certSerial, notAfter: renewed.notAfter.toISOString(), ms, by }, `peer certificate renewed: ${name}`);
    if (capped) {
      logger.warn(
        { peer: name, notAfter: renewed.notAfter.toISOString() },
        `the certificate of ${name} cannot be extended past ${renewed.notAfter.toISOString()} (its grant ends then); ask ${name}'s admin for a new grant before that`,
      );
    }
    return { kind: 'renewed', record: stored };
  }

  /**
   * The key and CSR of this renewal: the ones kept for the certificate being renewed (a try
   * before this one, maybe by a process that died, may have been answered and the answer
   * lost), or new ones — kept, sealed, before they are sent.
   */
  private async pendingKey(record: PeerRecord, token: string): Promise<PendingKey> {
    const { storage, sealKey, logger } = this.deps;
    const name = record.name;
    const current = await storage.peers.get(name);
    const kept = current?.renewalPending ?? null;
    if (kept !== null) {
      try {
        const p = JSON.parse(openText(sealKey, kept, { recordId: pendingRecordId(name) }).toString('utf8')) as Partial<PendingKey> & { serial?: unknown };
        if (p.serial === record.certSerial && typeof p.keyPem === 'string' && typeof p.csrPem === 'string') return { keyPem: p.keyPem, csrPem: p.csrPem };
      } catch (err) {
        logger.warn({ peer: name, err: errorText(err) }, 'the kept renewal key could not be opened; a new one is made');
      }
    }
    const keys = await generateKeyPair({ extractable: true });
    const pending = { keyPem: await exportPrivateKeyPem(keys.privateKey), csrPem: await createCsr({ keys }) };
    const sealed = sealText(sealKey, JSON.stringify({ serial: record.certSerial, ...pending }), { recordId: pendingRecordId(name) });
    if (!(await storage.peers.setRenewalPending(name, token, sealed))) {
      throw codedError('RENEWAL_IN_PROGRESS', `${name}: the claim on this renewal was lost (it took longer than its lease); nothing was sent`);
    }
    return pending;
  }

  /** `renew` over mTLS with the current certificate and the pending CSR, and the answer verified. */
  private async obtain(record: PeerRecord, pending: PendingKey): Promise<Renewed> {
    const name = record.name;
    const { csrPem, keyPem } = pending;
    const csrPin = spkiPinFromSpki(parseCsr(csrPem).spki);
    const root = this.deps.tracing?.startServerSpan('peer renew', null, { peer: name });
    const span = root === undefined ? undefined : this.deps.tracing?.startClientSpan('federation renew', root, { peer: name });
    const client = this.deps.peerClients.clientFor(record, {
      breaker: false,
      cache: false,
      timeoutMs: this.options.timeoutMs,
      ...(span === undefined ? {} : { headers: () => ({ traceparent: span.traceparent() }) }),
    });
    let answer: EnrollResponse;
    let status: 'ok' | 'error' = 'error';
    try {
      answer = (await client.renew(csrPem)).body;
      status = 'ok';
    } finally {
      span?.end(status);
      root?.end(status);
      await client.close().catch(() => undefined);
    }
    // The answer is taken on the pinned CA's word only, and only for this grant and subject.
    // The CA the answer names must be byte for byte the one we pinned (as at enrollment), and
    // the certificate comes with the intermediates that lead to it (Step-CA mode), which we
    // present from now on.
    if (!sameCertificate(answer.caCertPem, record.caCertPem)) throw new PeerResponseInvalidError(name, 'the renewal answer names a different CA than the pinned one');
    let chain: VerifiedChain;
    try {
      chain = verifyCertificateChain(answer.certChainPem, record.caCertPem, { purpose: 'client' });
    } catch (err) {
      throw new PeerResponseInvalidError(name, 'the renewed certificate does not verify against the pinned CA as a client certificate', { cause: err });
    }
    if (!sameCertificate(chain.leafPem, answer.certPem)) {
      throw new PeerResponseInvalidError(name, 'the certificate chain of the renewal answer does not start with the renewed certificate');
    }
    if (!pinsEqual(spkiPin(answer.certPem), csrPin)) throw new PeerResponseInvalidError(name, 'the renewed certificate is not for the key we sent');
    let identity: { grantId: string; subjectUserId: string };
    try {
      identity = decodeMosaicIdentity(answer.certPem);
    } catch (err) {
      throw new PeerResponseInvalidError(name, 'the renewed certificate lacks valid Mosaic extensions', { cause: err });
    }
    if (identity.grantId !== record.grantId || identity.subjectUserId !== record.subjectUserId || answer.grantId !== record.grantId || answer.subjectUserId !== record.subjectUserId) {
      throw new PeerResponseInvalidError(name, 'the renewed certificate names another grant or subject than this peer');
    }
    const cert = new X509Certificate(answer.certPem);
    const serial = normaliseSerialHex(cert.serialNumber);
    if (serial === undefined || serial === record.certSerial) throw new PeerResponseInvalidError(name, 'the renewed certificate does not have a new serial');
    return {
      certPem: chain.intermediates.length === 0 ? answer.certPem : chain.chainPem,
      keyPem,
      sealedKey: sealText(this.deps.sealKey, keyPem, { recordId: peerKeyRecordId(name) }),
      serial,
      notBefore: cert.validFromDate,
      notAfter: cert.validToDate,
    };
  }

  private backoff(): { baseMs: number; maxMs: number } {
    return { baseMs: this.options.retryBaseMs, maxMs: this.options.retryMaxMs };
  }

  private async auditFailure(record: PeerRecord, actor: Actor, by: string, error: Error): Promise<void> {
    const code = isMosaicError(error) ? error.code : 'INTERNAL';
    const statusCode = isMosaicError(error) ? error.statusCode : 500;
    try {
      await this.deps.audit.record({
        ...auditActor(actor),
        verb: 'admin.peer.renew',
        outcome: 'error',
        statusCode,
        peer: record.name,
        grantId: record.grantId,
        subjectUserId: record.subjectUserId,
        detail: JSON.stringify({ by, serial: record.certSerial, error: code }),
      });
    } catch {
      // the failure itself is what the caller hears about; the audit writer has logged
    }
  }

  // ── the job ─────────────────────────────────────────────────────────────────────────────

  /** The peers whose renewal is due now and whose retry time (if any) has come; expired and revoked peers are not. */
  async duePeers(): Promise<PeerRecord[]> {
    const now = this.now();
    return (await this.deps.storage.peers.list()).filter(
      (p) =>
        p.state !== 'revoked' &&
        Date.parse(p.certNotAfter) > now &&
        Date.parse(renewalDueAt(p.certNotBefore, p.certNotAfter)) <= now &&
        (p.renewalRetryAt === null || Date.parse(p.renewalRetryAt) <= now),
    );
  }

  /** One look of the job: renew every due peer, one after another. Never rejects; runs do not overlap. */
  runNow(): Promise<RenewalRun> {
    this.running ??= this.once().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async once(): Promise<RenewalRun> {
    const run: RenewalRun = { renewed: [], failed: [], skipped: [] };
    let due: PeerRecord[];
    try {
      due = await this.duePeers();
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'the renewal job could not read the peers; it looks again on its next run');
      return run;
    }
    for (const peer of due) {
      if (this.stopped) break;
      try {
        const r = await this.attempt(peer, { actor: { requestId: generateRequestId(), adminTokenName: null }, manual: false });
        if (r.kind === 'renewed') run.renewed.push(peer.name);
        else if (r.kind === 'failed') run.failed.push({ peer: peer.name, error: errorText(r.error) });
        else run.skipped.push(peer.name);
      } catch (err) {
        run.failed.push({ peer: peer.name, error: errorText(err) });
        this.deps.logger.warn({ peer: peer.name, err: (err as Error).message }, 'the renewal job could not record a renewal; it looks again on its next run');
      }
    }
    return run;
  }

  /** Start the job (when enabled): a first look after `firstRunMs`, then every `intervalMs`. Timers are unref'd. */
  start(): void {
    if (!this.options.enabled || this.timer !== null || this.stopped) return;
    const schedule = (ms: number) => {
      this.timer = setTimeout(() => {
        void this.runNow().finally(() => {
          if (!this.stopped) schedule(this.options.intervalMs);
        });
      }, ms);
      this.timer.unref();
    };
    schedule(this.options.firstRunMs);
  }

  /**
   * Stop the job: no further peer is started; a renewal in progress gets up to `graceMs` to
   * store what work issued (the gateway must exit within 5 s of SIGTERM, CONTRACT.md).
   */
  async stop(graceMs = 3_000): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.running === null) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running.catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
  }
}

/** The key and CSR of a renewal in progress. */
interface PendingKey {
  keyPem: string;
  csrPem: string;
}

/** The seal binding of a peer's pending renewal key (not interchangeable with its live key's). */
function pendingRecordId(name: string): string {
  return `${peerKeyRecordId(name)}/renewal-pending`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Whether a failed `renew` may have been committed by the serving side with its answer lost:
 * the connection failed or timed out (after the request may have arrived), or the answer was
 * 502/503/504 (a proxy, or work's audit spool failing after the commit). A refusal (4xx), a
 * 500 or an answer we reject is final for this renewal.
 */
function answerMayBeLost(err: unknown): boolean {
  if (err instanceof FederationRequestError) return err.status === 502 || err.status === 503 || err.status === 504;
  return isMosaicError(err) && (err.code === 'PEER_UNREACHABLE' || err.code === 'PEER_REFUSED_CERT');
}

interface Renewed {
  certPem: string;
  keyPem: string;
  sealedKey: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

/** `work: renewal is due from …` → `renewal is due from …` (the peer is named once by the caller). */
function stripPeer(name: string, message: string): string {
  return message.startsWith(`${name}: `) ? message.slice(name.length + 2) : message;
}

/**
 * A renewal failure as the admin API answers it: the peer's own refusal (a status below 500 is
 * about the peer's grant, not our caller) becomes 502 PEER_ERROR with the remote code in
 * details; network, TLS and protocol failures keep their 502 codes; anything else is ours.
 */
function asAdminError(name: string, err: unknown): Error {
  if (err instanceof FederationRequestError) {
    return new MosaicError('PEER_ERROR', `${name}: renewal refused: ${err.status} ${err.code} (${stripPeer(name, err.message)})`, 502, {
      remediation: err.remediation ?? `see \`mosaic federation peer show ${name}\`; a peer whose certificate cannot be renewed needs a re-enrollment token (\`grant token <grant id> --reenroll\` on ${name})`,
      details: { remoteCode: err.code, remoteStatus: err.status },
      cause: err,
    });
  }
  if (isMosaicError(err)) return err;
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Doctor's `peers.renewal` (CONTRACT.md): red when a peer certificate has under 3 days left or
 * has expired; yellow when its renewal is due and has been failing for over an hour; green
 * otherwise (a renewal due and not yet failing long is the job's to do). Revoked peers are
 * `peers.reachable`'s.
 */
export function renewalCheck(
  peerList: ReadonlyArray<{
    name: string;
    state: string;
    grantId: string;
    certNotBefore: string;
    certNotAfter: string;
    renewalFailedSince: string | null;
    renewalRetryAt: string | null;
    lastError: string | null;
  }>,
  now: number,
): [id: string, status: 'green' | 'yellow' | 'red', message: string, remediation: string | null] {
  const reenroll = (p: { name: string; grantId: string }) =>
    `ask ${p.name}'s admin for a re-enrollment token (\`mosaic federation grant token ${p.grantId} --reenroll\`), then \`mosaic federation peer remove ${p.name}\` and \`peer add\` with it`;
  const red: string[] = [];
  const yellow: string[] = [];
  const redRemedies: string[] = [];
  const yellowRemedies: string[] = [];
  const due: string[] = [];
  const capped: string[] = [];
  let next: { name: string; at: number } | null = null;
  const live = peerList.filter((p) => p.state !== 'revoked');
  for (const p of live) {
    const notAfter = Date.parse(p.certNotAfter);
    const dueAt = Date.parse(renewalDueAt(p.certNotBefore, p.certNotAfter));
    const failing = p.renewalFailedSince === null ? '' : `; renewal failing since ${p.renewalFailedSince}${p.lastError ? ` (${p.lastError})` : ''}`;
    if (notAfter <= now) {
      red.push(`${p.name}: its certificate expired ${p.certNotAfter}`);
      redRemedies.push(`${p.name}: an expired certificate cannot be renewed — ${reenroll(p)}`);
    } else if (notAfter - now < 3 * DAY) {
      red.push(`${p.name}: its certificate expires ${p.certNotAfter} (in ${Math.floor((notAfter - now) / HOUR)}h)${failing}`);
      redRemedies.push(`${p.name}: \`mosaic federation peer renew ${p.name}\` now; if that fails, or the grant ends first (a renewal cannot outlast it), ${reenroll(p)}`);
    } else if (dueAt <= now && p.renewalFailedSince !== null && now - Date.parse(p.renewalFailedSince) > HOUR) {
      yellow.push(`${p.name}: renewal due since ${new Date(dueAt).toISOString()}${failing}`);
      yellowRemedies.push(`${p.name}: \`mosaic federation peer renew ${p.name}\` tries now and shows the error; is ${p.name} reachable (\`mosaic federation status\`)? if its side refuses, ${reenroll(p)}`);
    } else if (dueAt <= now && p.renewalRetryAt !== null && Date.parse(p.renewalRetryAt) >= notAfter) {
      // the last renewal could not extend it: its grant ends first
      capped.push(`${p.name}: cannot be renewed past ${p.certNotAfter} (its grant ends then)`);
    } else if (dueAt <= now) {
      due.push(p.name);
    } else if (next === null || dueAt < next.at) {
      next = { name: p.name, at: dueAt };
    }
  }
  if (red.length + yellow.length > 0) {
    const clip = (text: string) => (text.length > 2_000 ? `${text.slice(0, 1_999)}…` : text);
    return ['peers.renewal', red.length > 0 ? 'red' : 'yellow', clip([...red, ...yellow].join('; ')), clip([...redRemedies, ...yellowRemedies].join('; '))];
  }
  const parts = [
    ...(due.length > 0 ? [`renewal due for ${due.join(', ')}: the renewal job renews ${due.length === 1 ? 'it' : 'them'}`] : []),
    ...capped,
  ];
  const message =
    live.length === 0
      ? 'no peers'
      : parts.length > 0
        ? parts.join('; ')
        : `no renewal due${next === null ? '' : ` (next: ${next.name} from ${new Date(next.at).toISOString()})`}`;
  return ['peers.renewal', 'green', message.length > 2_000 ? `${message.slice(0, 1_999)}…` : message, null];
}

function sameCertificate(a: string, b: string): boolean {
  try {
    return new X509Certificate(a).raw.equals(new X509Certificate(b).raw);
  } catch {
    return false;
  }
}
