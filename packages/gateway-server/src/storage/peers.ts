/**
 * Peers (requesting side): the remote gateways this one reads from, each through a grant
 * there, with our client certificate and its sealed private key.
 */
import { sql } from 'kysely';
import { codedError, quoteForDisplay, type CapabilitiesResponse, type PeerState } from '@mosaic/federation-core';
import { canonicalSerial } from './certs.js';
import { nowTs, parseJson, toCount, type Executor, type RepoContext } from './sql.js';
import type { PeersTable } from './schema.js';
import { toTimestamp, type TimeInput, type Timestamp } from './time.js';

/** A peer as stored. */
export interface PeerRecord {
  readonly name: string;
  readonly endpoint: string;
  /** The remote gateway's own name, when known. */
  readonly serverName: string | null;
  readonly localUserId: string;
  readonly grantId: string;
  readonly subjectUserId: string;
  readonly caCertPem: string;
  readonly caPin: string;
  readonly certPem: string;
  /** Our private key, sealed (a federation-core `seal` envelope). Never plaintext. */
  readonly sealedKey: string;
  readonly certSerial: string;
  readonly certNotBefore: Timestamp;
  readonly certNotAfter: Timestamp;
  readonly state: PeerState;
  readonly capabilities: CapabilitiesResponse | null;
  readonly lastSuccessAt: Timestamp | null;
  readonly lastFailureAt: Timestamp | null;
  readonly lastError: string | null;
  readonly createdAt: Timestamp;
  readonly updatedAt: Timestamp;
  /**
   * When the current streak of failed renewals began, or null. A separate marker from
   * `state`: the peer is `degraded` while it is set, and only a successful renewal clears it.
   */
  readonly renewalFailedSince: Timestamp | null;
  /** Failed renewals in the current streak. */
  readonly renewalFailures: number;
  /** The renewal job does not try before this (a jittered retry, or a certificate renewal cannot extend). */
  readonly renewalRetryAt: Timestamp | null;
  /** A renewal in progress: its key and CSR, sealed (see `PeersTable.renewal_pending`), or null. */
  readonly renewalPending: string | null;
}

/** Input of {@link PeersRepository.insert}. */
export interface NewPeer {
  readonly name: string;
  readonly endpoint: string;
  readonly serverName?: string | null;
  readonly localUserId: string;
  readonly grantId: string;
  readonly subjectUserId: string;
  readonly caCertPem: string;
  readonly caPin: string;
  readonly certPem: string;
  readonly sealedKey: string;
  readonly certSerial: string;
  readonly certNotBefore: TimeInput;
  readonly certNotAfter: TimeInput;
  readonly state?: PeerState;
  readonly capabilities?: CapabilitiesResponse | null;
  /** Default: now. */
  readonly createdAt?: TimeInput;
}

/** A renewed certificate, swapped in atomically by {@link PeersRepository.replaceCertificate}. */
export interface PeerCertificate {
  readonly certPem: string;
  readonly sealedKey: string;
  readonly certSerial: string;
  readonly certNotBefore: TimeInput;
  readonly certNotAfter: TimeInput;
}

const toPeer = (r: PeersTable): PeerRecord => ({
  name: r.name,
  endpoint: r.endpoint,
  serverName: r.server_name,
  localUserId: r.local_user_id,
  grantId: r.grant_id,
  subjectUserId: r.subject_user_id,
  caCertPem: r.ca_cert_pem,
  caPin: r.ca_pin,
  certPem: r.cert_pem,
  sealedKey: r.sealed_key,
  certSerial: r.cert_serial,
  certNotBefore: r.cert_not_before,
  certNotAfter: r.cert_not_after,
  state: r.state,
  capabilities: r.capabilities === null ? null : parseJson<CapabilitiesResponse>(r.capabilities),
  lastSuccessAt: r.last_success_at,
  lastFailureAt: r.last_failure_at,
  lastError: r.last_error,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  renewalFailedSince: r.renewal_failed_since,
  renewalFailures: Number(r.renewal_failures),
  renewalRetryAt: r.renewal_retry_at,
  renewalPending: r.renewal_pending ?? null,
});

function notFound(name: string): Error {
  return codedError('PEER_NOT_FOUND', `no peer is named ${quoteForDisplay(name)}`);
}

/** Peers. */
export class PeersRepository {
  readonly #db: Executor;
  readonly #ctx: RepoContext;

  constructor(db: Executor, ctx: RepoContext) {
    this.#db = db;
    this.#ctx = ctx;
  }

  /**
   * Insert a peer — all of it or nothing (one statement).
   * @throws PEER_EXISTS (409) when the name is taken
   */
  async insert(peer: NewPeer): Promise<PeerRecord> {
    const createdAt = peer.createdAt === undefined ? nowTs(this.#ctx) : toTimestamp(peer.createdAt);
    const row = await this.#db
      .insertInto('peers')
      .values({
        name: peer.name,
        endpoint: peer.endpoint,
        server_name: peer.serverName ?? null,
        local_user_id: peer.localUserId,
        grant_id: peer.grantId,
        subject_user_id: peer.subjectUserId,
        ca_cert_pem: peer.caCertPem,
        ca_pin: peer.caPin,
        cert_pem: peer.certPem,
        sealed_key: peer.sealedKey,
        cert_serial: canonicalSerial(peer.certSerial),
        cert_not_before: toTimestamp(peer.certNotBefore),
        cert_not_after: toTimestamp(peer.certNotAfter),
        state: peer.state ?? 'active',
        capabilities: peer.capabilities == null ? null : JSON.stringify(peer.capabilities),
        last_success_at: null,
        last_failure_at: null,
        last_error: null,
        created_at: createdAt,
        updated_at: createdAt,
        renewal_failed_since: null,
        renewal_failures: 0,
        renewal_retry_at: null,
        renewal_claim: null,
        renewal_claimed_until: null,
        renewal_pending: null,
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (row === undefined) throw codedError('PEER_EXISTS', `a peer named ${quoteForDisplay(peer.name)} already exists`);
    return toPeer(row);
  }

  /** The peer with this name, or null. */
  async get(name: string): Promise<PeerRecord | null> {
    const row = await this.#db.selectFrom('peers').selectAll().where('name', '=', name).executeTakeFirst();
    return row === undefined ? null : toPeer(row);
  }

  /** Peers by name; only `localUserId`'s when given (one local user never reads through another's grant). */
  async list(filter: { localUserId?: string | undefined } = {}): Promise<PeerRecord[]> {
    let q = this.#db.selectFrom('peers').selectAll();
    if (filter.localUserId !== undefined) q = q.where('local_user_id', '=', filter.localUserId);
    const rows = await q.orderBy('name').execute();
    return rows.map(toPeer);
  }

  /** How many peers are in each state. */
  async countByState(): Promise<Record<PeerState, number>> {
    const rows = await this.#db.selectFrom('peers').select(['state', (eb) => eb.fn.countAll().as('n')]).groupBy('state').execute();
    const out: Record<PeerState, number> = { active: 0, degraded: 0, revoked: 0 };
    for (const r of rows) out[r.state] = toCount(r.n);
    return out;
  }

  /** Delete a peer. @throws PEER_NOT_FOUND (404) */
  async delete(name: string): Promise<void> {
    const result = await this.#db.deleteFrom('peers').where('name', '=', name).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound(name);
  }

  /** Set a peer's state. @throws PEER_NOT_FOUND (404) */
  async setState(name: string, state: PeerState, at?: TimeInput): Promise<PeerRecord> {
    return this.#update(name, { state, updated_at: at === undefined ? nowTs(this.#ctx) : toTimestamp(at) });
  }

  /**
   * Record a successful exchange (and the capabilities answer, when one was read); a
   * `degraded` peer becomes `active` again — unless its renewal is failing (only a successful
   * renewal ends that) — and a `revoked` one stays revoked.
   * @throws PEER_NOT_FOUND (404)
   */
  async recordSuccess(name: string, options: { at?: TimeInput; capabilities?: CapabilitiesResponse } = {}): Promise<PeerRecord> {
    const at = options.at === undefined ? nowTs(this.#ctx) : toTimestamp(options.at);
    const result = await this.#db
      .updateTable('peers')
      .set(() => ({
        last_success_at: at,
        updated_at: at,
        state: sql<PeerState>`case when state = 'degraded' and renewal_failed_since is null then 'active' else state end`,
        ...(options.capabilities === undefined ? {} : { capabilities: JSON.stringify(options.capabilities) }),
      }))
      .where('name', '=', name)
      .returningAll()
      .executeTakeFirst();
    if (result === undefined) throw notFound(name);
    return toPeer(result);
  }

  /**
   * Record a failed exchange with a short error text (no secrets: the caller passes a code or
   * a redacted message).
   * @throws PEER_NOT_FOUND (404)
   */
  async recordFailure(name: string, options: { error: string; at?: TimeInput; state?: PeerState }): Promise<PeerRecord> {
    const at = options.at === undefined ? nowTs(this.#ctx) : toTimestamp(options.at);
    return this.#update(name, {
      last_failure_at: at,
      last_error: options.error.slice(0, 2000),
      updated_at: at,
      ...(options.state === undefined ? {} : { state: options.state }),
    });
  }

  /** Swap in a renewed certificate and key in one statement. @throws PEER_NOT_FOUND (404) */
  async replaceCertificate(name: string, cert: PeerCertificate, at?: TimeInput): Promise<PeerRecord> {
    return this.#update(name, {
      cert_pem: cert.certPem,
      sealed_key: cert.sealedKey,
      cert_serial: canonicalSerial(cert.certSerial),
      cert_not_before: toTimestamp(cert.certNotBefore),
      cert_not_after: toTimestamp(cert.certNotAfter),
      renewal_pending: null,
      updated_at: at === undefined ? nowTs(this.#ctx) : toTimestamp(at),
    });
  }

  /**
   * Claim the peer's renewal until `until`: one renewal of a peer at a time, across replicas.
   * A conditional update — on PostgreSQL the row lock makes a second claimant wait and then
   * find the claim taken; SQLite has one writer. Only certificate `serial` is claimed, so a
   * certificate another replica has just replaced is not renewed twice; a revoked peer is
   * never claimed; with `respectRetry` (the job) neither is one whose retry time is ahead.
   * @returns the claimed peer, or null when any of that says no
   */
  async claimRenewal(name: string, claim: { token: string; serial: string; until: TimeInput; at?: TimeInput; respectRetry?: boolean }): Promise<PeerRecord | null> {
    const at = claim.at === undefined ? nowTs(this.#ctx) : toTimestamp(claim.at);
    let q = this.#db
      .updateTable('peers')
      .set({ renewal_claim: claim.token, renewal_claimed_until: toTimestamp(claim.until) })
      .where('name', '=', name)
      .where('cert_serial', '=', canonicalSerial(claim.serial))
      .where('state', '<>', 'revoked')
      .where((eb) => eb.or([eb('renewal_claimed_until', 'is', null), eb('renewal_claimed_until', '<=', at)]));
    if (claim.respectRetry === true) q = q.where((eb) => eb.or([eb('renewal_retry_at', 'is', null), eb('renewal_retry_at', '<=', at)]));
    const row = await q.returningAll().executeTakeFirst();
    return row === undefined ? null : toPeer(row);
  }

  /**
   * A renewal succeeded: swap in the new certificate and key, end any failure streak (a
   * `degraded` peer is `active` again), drop the claim. Compare-and-swap on the certificate
   * renewed, so a newer one is never overwritten.
   * @returns the peer, or null when its certificate is no longer `previousSerial` (or it is gone)
   */
  async completeRenewal(name: string, previousSerial: string, cert: PeerCertificate & { retryAt?: TimeInput | null }, at?: TimeInput): Promise<PeerRecord | null> {
    const ts = at === undefined ? nowTs(this.#ctx) : toTimestamp(at);
    const row = await this.#db
      .updateTable('peers')
      .set(() => ({
        cert_pem: cert.certPem,
        sealed_key: cert.sealedKey,
        cert_serial: canonicalSerial(cert.certSerial),
        cert_not_before: toTimestamp(cert.certNotBefore),
        cert_not_after: toTimestamp(cert.certNotAfter),
        state: sql<PeerState>`case when state = 'degraded' then 'active' else state end`,
        renewal_failed_since: null,
        renewal_failures: 0,
        renewal_retry_at: cert.retryAt == null ? null : toTimestamp(cert.retryAt),
        renewal_claim: null,
        renewal_claimed_until: null,
        renewal_pending: null,
        updated_at: ts,
      }))
      .where('name', '=', name)
      .where('cert_serial', '=', canonicalSerial(previousSerial))
      .returningAll()
      .executeTakeFirst();
    return row === undefined ? null : toPeer(row);
  }

  /**
   * A renewal failed: the peer is `degraded` (a revoked one stays revoked), the streak starts
   * (or goes on), `lastError` says why, the job waits until `retryAt`; the claim is dropped.
   * @returns the peer, or null when `token` no longer holds the claim (nothing written)
   */
  async recordRenewalFailure(name: string, token: string, failure: { error: string; retryAt: TimeInput | null; at?: TimeInput }): Promise<PeerRecord | null> {
    const at = failure.at === undefined ? nowTs(this.#ctx) : toTimestamp(failure.at);
    const row = await this.#db
      .updateTable('peers')
      .set(() => ({
        state: sql<PeerState>`case when state = 'revoked' then 'revoked' else 'degraded' end`,
        renewal_failed_since: sql<Timestamp>`coalesce(renewal_failed_since, ${at})`,
        renewal_failures: sql<number>`renewal_failures + 1`,
        renewal_retry_at: failure.retryAt === null ? null : toTimestamp(failure.retryAt),
        renewal_claim: null,
        renewal_claimed_until: null,
        last_failure_at: at,
        last_error: failure.error.slice(0, 2000),
        updated_at: at,
      }))
      .where('name', '=', name)
      .where('renewal_claim', '=', token)
      .returningAll()
      .executeTakeFirst();
    return row === undefined ? null : toPeer(row);
  }

  /**
   * Keep the key and CSR of the renewal `token` holds (sealed by the caller) until it is stored:
   * a retry — even by another process after a crash — sends the same CSR.
   * @returns whether `token` still holds the claim (nothing written otherwise)
   */
  async setRenewalPending(name: string, token: string, pending: string | null): Promise<boolean> {
    const rows = await this.#db
      .updateTable('peers')
      .set({ renewal_pending: pending })
      .where('name', '=', name)
      .where('renewal_claim', '=', token)
      .returning('name')
      .execute();
    return rows.length > 0;
  }

  /** Drop the claim without a verdict (renewal was not due after all); the job waits until `retryAt` when given. */
  async releaseRenewal(name: string, token: string, options: { retryAt?: TimeInput } = {}): Promise<void> {
    await this.#db
      .updateTable('peers')
      .set({ renewal_claim: null, renewal_claimed_until: null, ...(options.retryAt === undefined ? {} : { renewal_retry_at: toTimestamp(options.retryAt) }) })
      .where('name', '=', name)
      .where('renewal_claim', '=', token)
      .execute();
  }

  async #update(name: string, values: Partial<Omit<PeersTable, 'name'>>): Promise<PeerRecord> {
    const row = await this.#db.updateTable('peers').set(values).where('name', '=', name).returningAll().executeTakeFirst();
    if (row === undefined) throw notFound(name);
    return toPeer(row);
  }
}

