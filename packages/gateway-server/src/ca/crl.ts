/**
 * The published CRL (`GET /api/federation/v1/crl`): for outside consumers only — the listener
 * checks serials against the store itself, so a stale CRL never changes who gets in (SECURITY.md,
 * case 7b).
 *
 * Issued from the store's revoked serials with the store's atomic CRL counter, valid 7 days,
 * cached, and reissued at half its validity or after {@link CrlPublisher.invalidate}.
 *
 * No serial is lost to a race: a generation counter is captured *before* the revoked serials
 * are read, and `invalidate()` (called after a revoke committed) bumps it, so a CRL built from
 * a read that may predate the revoke is never taken as current. Builds in one process run one
 * at a time, so the numbers it publishes strictly increase.
 */
import { buildCrl, DEFAULT_CRL_VALIDITY_MS, normaliseSerialHex, REVOCATION_REASONS, type CaMaterial, type RevokedEntry } from '@mosaic/federation-core';
import { CrlUnavailable } from './errors.js';
import type { CaStateStore, RevokedSerial } from './store.js';

/** A CRL as published. */
export interface PublishedCrl {
  readonly der: Uint8Array;
  readonly crlNumber: bigint;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
}

/** The CRL's health, for `gateway doctor` (red when `fresh` is false). */
export interface CrlStatus {
  /** Null until a CRL was issued. */
  crlNumber: bigint | null;
  thisUpdate: Date | null;
  nextUpdate: Date | null;
  /** True when the CRL served is current: issued after the last revoke and before its half-life. */
  fresh: boolean;
  /** Why the last reissue failed, when it did (and no reissue succeeded since). */
  lastError?: string;
  /** Step-CA mode: revoked serials the CA has not accepted yet (so missing from its CRL; retried). */
  pendingRevocations?: number;
}

/** Options of {@link CrlPublisher}. */
export interface CrlPublisherOptions {
  store: Pick<CaStateStore, 'nextCrlNumber' | 'revokedSerials'>;
  ca: CaMaterial;
  now: () => Date;
  /** thisUpdate → nextUpdate. Default 7 days. */
  validityMs?: number;
  /** After a failed reissue, serve the last CRL this long before trying again (unless invalidated). Default 60 s. */
  retryMs?: number;
}

interface Cached extends PublishedCrl {
  readonly generation: number;
}

/** Entries for buildCrl: one per serial (earliest revocation), unknown reasons left out, no date after thisUpdate. */
export function crlEntries(revoked: readonly RevokedSerial[], thisUpdate: Date): RevokedEntry[] {
  const bySerial = new Map<string, RevokedEntry>();
  for (const row of revoked) {
    // An unparseable serial is kept as given: buildCrl refuses it loudly rather than the CRL silently omitting it.
    const serialHex = normaliseSerialHex(row.serialHex) ?? row.serialHex;
    // Another replica's clock may run ahead; a revocation is never dated after the CRL listing it.
    const revokedAt = row.revokedAt.getTime() > thisUpdate.getTime() ? thisUpdate : row.revokedAt;
    const reason = row.reason !== undefined && Object.hasOwn(REVOCATION_REASONS, row.reason) ? (row.reason as RevokedEntry['reason']) : undefined;
    const existing = bySerial.get(serialHex);
    if (existing && existing.revokedAt.getTime() <= revokedAt.getTime()) continue;
    bySerial.set(serialHex, reason === undefined ? { serialHex, revokedAt } : { serialHex, revokedAt, reason });
  }
  return [...bySerial.values()];
}

function describe(err: unknown): string {
  if (err instanceof Error) return 'code' in err && typeof err.code === 'string' ? `${err.code}: ${err.message}` : err.message;
  return String(err);
}

/** Issues, caches and reissues the CA's CRL. */
export class CrlPublisher {
  readonly #store: CrlPublisherOptions['store'];
  readonly #ca: CaMaterial;
  readonly #now: () => Date;
  readonly #validityMs: number;
  readonly #retryMs: number;
  #generation = 0;
  #cached: Cached | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #lastError: { message: string; at: number; generation: number } | undefined;

  constructor(options: CrlPublisherOptions) {
    this.#store = options.store;
    this.#ca = options.ca;
    this.#now = options.now;
    this.#validityMs = options.validityMs ?? DEFAULT_CRL_VALIDITY_MS;
    this.#retryMs = options.retryMs ?? 60_000;
  }

  /** Mark the cached CRL out of date (call it after a revoke committed); the next {@link current} reissues. */
  invalidate(): void {
    this.#generation += 1;
  }

  #isCurrent(crl: Cached | undefined, now: Date): boolean {
    if (!crl || crl.generation !== this.#generation) return false;
    const halfLife = crl.thisUpdate.getTime() + (crl.nextUpdate.getTime() - crl.thisUpdate.getTime()) / 2;
    return now.getTime() < halfLife;
  }

  /**
   * The CRL to publish: the cached one while current, otherwise a reissued one. When a reissue
   * fails, the last CRL is served (and {@link status} reports the error).
   * @throws CRL_UNAVAILABLE when no CRL was ever issued and one cannot be now
   */
  async current(): Promise<PublishedCrl> {
    const now = this.#now();
    const cached = this.#cached;
    if (cached && this.#isCurrent(cached, now)) return cached;
    const failed = this.#lastError;
    if (cached && failed && failed.generation === this.#generation && now.getTime() - failed.at < this.#retryMs) return cached;
    try {
      return await this.#reissue();
    } catch (err) {
      if (this.#cached) return this.#cached;
      throw new CrlUnavailable(describe(err), { cause: err });
    }
  }

  /** The CRL's health; tries a reissue first when one is due. */
  async status(): Promise<CrlStatus> {
    await this.current().catch(() => undefined);
    const crl = this.#cached;
    const status: CrlStatus = {
      crlNumber: crl?.crlNumber ?? null,
      thisUpdate: crl?.thisUpdate ?? null,
      nextUpdate: crl?.nextUpdate ?? null,
      fresh: this.#isCurrent(crl, this.#now()) && this.#lastError === undefined,
    };
    if (this.#lastError) status.lastError = this.#lastError.message;
    return status;
  }

  #reissue(): Promise<Cached> {
    const run = this.#queue.then(() => this.#buildUnlessCurrent());
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #buildUnlessCurrent(): Promise<Cached> {
    // A build queued ahead of this one may already have produced a current CRL.
    const ahead = this.#cached;
    if (ahead && this.#isCurrent(ahead, this.#now())) return ahead;
    const generation = this.#generation;
    const startedAt = this.#now().getTime();
    try {
      const revoked = await this.#store.revokedSerials();
      const crlNumber = await this.#store.nextCrlNumber();
      const thisUpdate = this.#now();
      const built = await buildCrl({
        ca: this.#ca,
        revoked: crlEntries(revoked, thisUpdate),
        crlNumber,
        previousCrlNumber: ahead?.crlNumber ?? null,
        thisUpdate,
        nextUpdate: new Date(thisUpdate.getTime() + this.#validityMs),
      });
      const cached: Cached = { der: built.der, crlNumber: built.crlNumber, thisUpdate: built.thisUpdate, nextUpdate: built.nextUpdate, generation };
      this.#cached = cached;
      this.#lastError = undefined;
      return cached;
    } catch (err) {
      this.#lastError = { message: describe(err), at: startedAt, generation };
      throw err;
    }
  }
}
