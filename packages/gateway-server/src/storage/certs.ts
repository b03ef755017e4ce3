/**
 * Certificates the CA issued, and their revocation. Serials are kept canonical (lowercase
 * hex, no leading zero bytes: federation-core's `normaliseSerialHex`), so the listener's
 * lookup of a socket's serial matches whatever case or separators it was printed with.
 *
 * A revocation may be scheduled: `revoked_at` in the future (the previous serial after a
 * renewal is revoked 10 minutes later). A serial counts as revoked once `revoked_at <= now`.
 */
import { normaliseSerialHex, REVOCATION_REASONS, type RevocationReasonName } from '@mosaic/federation-core';
import { nowTs, type Executor, type RepoContext } from './sql.js';
import type { IssuedCertsTable } from './schema.js';
import { toTimestamp, type TimeInput, type Timestamp } from './time.js';

/** An issued certificate. */
export interface IssuedCertRecord {
  readonly serial: string;
  readonly grantId: string;
  readonly notBefore: Timestamp;
  readonly notAfter: Timestamp;
  readonly issuedAt: Timestamp;
  /** When it is (or will be) revoked. */
  readonly revokedAt: Timestamp | null;
  readonly revokeReason: RevocationReasonName | null;
  /** The certificate (PEM), when it was kept (migration 3 on). */
  readonly certPem: string | null;
}

/** Input of {@link IssuedCertsRepository.record}. */
export interface NewIssuedCert {
  readonly serial: string;
  readonly grantId: string;
  readonly notBefore: TimeInput;
  readonly notAfter: TimeInput;
  /** Default: now. */
  readonly issuedAt?: TimeInput;
  /** The certificate (PEM): kept so that a renewal whose answer was lost can be answered again. */
  readonly certPem?: string;
}

/** Options of the revoke operations. */
export interface RevokeOptions {
  /** RFC 5280 reason name (default `unspecified`). */
  readonly reason?: RevocationReasonName;
  /** When the revocation takes effect (default now; may be in the future). */
  readonly at?: TimeInput;
}

/** One entry of the CRL. */
export interface RevokedCertEntry {
  readonly serial: string;
  readonly revokedAt: Timestamp;
  readonly reason: RevocationReasonName | null;
}

/** `serial` in canonical form. @throws TypeError for something that is not a serial */
export function canonicalSerial(serial: string): string {
  const s = normaliseSerialHex(serial);
  if (s === undefined) throw new TypeError('storage: invalid certificate serial');
  return s;
}

function checkReason(reason: string | undefined): RevocationReasonName {
  const r = reason ?? 'unspecified';
  if (!Object.hasOwn(REVOCATION_REASONS, r)) throw new TypeError('storage: unknown revocation reason');
  return r as RevocationReasonName;
}

const toCert = (r: IssuedCertsTable): IssuedCertRecord => ({
  serial: r.serial,
  grantId: r.grant_id,
  notBefore: r.not_before,
  notAfter: r.not_after,
  issuedAt: r.issued_at,
  revokedAt: r.revoked_at,
  revokeReason: r.revoke_reason as RevocationReasonName | null,
  certPem: r.cert_pem ?? null,
});

/** Issued certificates. */
export class IssuedCertsRepository {
  readonly #db: Executor;
  readonly #ctx: RepoContext;

  constructor(db: Executor, ctx: RepoContext) {
    this.#db = db;
    this.#ctx = ctx;
  }

  /** Record a certificate just issued (the serial is UNIQUE: a duplicate throws). */
  async record(input: NewIssuedCert): Promise<IssuedCertRecord> {
    const row = await this.#db
      .insertInto('issued_certs')
      .values({
        serial: canonicalSerial(input.serial),
        grant_id: input.grantId,
        not_before: toTimestamp(input.notBefore),
        not_after: toTimestamp(input.notAfter),
        issued_at: input.issuedAt === undefined ? nowTs(this.#ctx) : toTimestamp(input.issuedAt),
        revoked_at: null,
        revoke_reason: null,
        cert_pem: input.certPem ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toCert(row);
  }

  /** The certificate with this serial (any spelling), or null. */
  async get(serial: string): Promise<IssuedCertRecord | null> {
    const s = normaliseSerialHex(serial);
    if (s === undefined) return null;
    const row = await this.#db.selectFrom('issued_certs').selectAll().where('serial', '=', s).executeTakeFirst();
    return row === undefined ? null : toCert(row);
  }

  /** Every certificate issued for a grant, oldest first. */
  async listOfGrant(grantId: string): Promise<IssuedCertRecord[]> {
    const rows = await this.#db.selectFrom('issued_certs').selectAll().where('grant_id', '=', grantId).orderBy('issued_at').orderBy('serial').execute();
    return rows.map(toCert);
  }

  /** The serials issued for a grant, oldest first. */
  async serialsOfGrant(grantId: string): Promise<string[]> {
    return (await this.listOfGrant(grantId)).map((c) => c.serial);
  }

  /**
   * Revoke every certificate of a grant at `at` (grant revoked, re-enrollment). A serial
   * already revoked keeps the earlier of its time and `at`. Returns the serials changed.
   */
  async revokeAllOfGrant(grantId: string, options: RevokeOptions = {}): Promise<string[]> {
    return this.#revoke(grantId, null, options);
  }

  /** Revoke every certificate of a grant but `keepSerial` (renewal, re-enrollment). */
  async revokeAllExcept(grantId: string, keepSerial: string, options: RevokeOptions = {}): Promise<string[]> {
    return this.#revoke(grantId, canonicalSerial(keepSerial), options);
  }

  async #revoke(grantId: string, keep: string | null, options: RevokeOptions): Promise<string[]> {
    const at = options.at === undefined ? nowTs(this.#ctx) : toTimestamp(options.at);
    const reason = checkReason(options.reason);
    let q = this.#db
      .updateTable('issued_certs')
      .set({ revoked_at: at, revoke_reason: reason })
      .where('grant_id', '=', grantId)
      .where((eb) => eb.or([eb('revoked_at', 'is', null), eb('revoked_at', '>', at)]));
    if (keep !== null) q = q.where('serial', '!=', keep);
    const rows = await q.returning('serial').execute();
    return rows.map((r) => r.serial).sort();
  }

  /** The serials revoked as of `now` — what the listener refuses at `secureConnection`. */
  async revokedSerials(now?: TimeInput): Promise<Set<string>> {
    const ts = now === undefined ? nowTs(this.#ctx) : toTimestamp(now);
    const rows = await this.#db.selectFrom('issued_certs').select('serial').where('revoked_at', 'is not', null).where('revoked_at', '<=', ts).execute();
    return new Set(rows.map((r) => r.serial));
  }

  /**
   * The CRL's entries as of `now`: revoked certificates not yet expired (an expired
   * certificate need not stay on a CRL, RFC 5280 §3.3), oldest revocation first.
   */
  async revokedList(now?: TimeInput): Promise<RevokedCertEntry[]> {
    const ts = now === undefined ? nowTs(this.#ctx) : toTimestamp(now);
    const rows = await this.#db
      .selectFrom('issued_certs')
      .select(['serial', 'revoked_at', 'revoke_reason'])
      .where('revoked_at', 'is not', null)
      .where('revoked_at', '<=', ts)
      .where('not_after', '>', ts)
      .orderBy('revoked_at')
      .orderBy('serial')
      .execute();
    return rows.map((r) => ({ serial: r.serial, revokedAt: r.revoked_at as Timestamp, reason: r.revoke_reason as RevocationReasonName | null }));
  }

  /**
   * The serials of every certificate recorded here and not yet expired: in the Step-CA mode,
   * the only ones the federation listener accepts (a shared root also signs for others).
   */
  async liveSerials(now?: TimeInput): Promise<string[]> {
    const ts = now === undefined ? nowTs(this.#ctx) : toTimestamp(now);
    const rows = await this.#db.selectFrom('issued_certs').select('serial').where('not_after', '>', ts).execute();
    return rows.map((r) => r.serial);
  }

  /**
   * The stored PEM (a chain in the Step-CA mode: leaf + the intermediate that signed it) of
   * every certificate recorded with one and not yet expired.
   */
  async liveCertPems(now?: TimeInput): Promise<string[]> {
    const ts = now === undefined ? nowTs(this.#ctx) : toTimestamp(now);
    const rows = await this.#db.selectFrom('issued_certs').select('cert_pem').where('not_after', '>', ts).where('cert_pem', 'is not', null).execute();
    return rows.flatMap((r) => (r.cert_pem === null ? [] : [r.cert_pem]));
  }

  /** The time of the next scheduled revocation after `now` (for cache expiry), or null. */
  async nextScheduledRevocation(now?: TimeInput): Promise<Timestamp | null> {
    const ts = now === undefined ? nowTs(this.#ctx) : toTimestamp(now);
    const row = await this.#db
      .selectFrom('issued_certs')
      .select((eb) => eb.fn.min('revoked_at').as('next'))
      .where('revoked_at', '>', ts)
      .executeTakeFirst();
    return row?.next ?? null;
  }
}
