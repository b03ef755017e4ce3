/**
 * The embedded CA's state, one row (`id = 1`) holding three things with three lifecycles:
 *
 * - the root (certificate + sealed key): created once and never overwritten — a second creator
 *   (another replica starting at the same moment) gets the row that won;
 * - the federation listener's server certificate: absent until the CA first issues one, then
 *   replaced by compare-and-swap on its serial, so replicas converge on one certificate;
 * - the CRL number counter: incremented atomically.
 *
 * This is what `ca-store.ts` adapts to the CA's `CaStateStore`. Every operation is one
 * statement (plus a read-back), atomic on both engines without an explicit transaction.
 */
import type { Selectable } from 'kysely';
import { CaStateMissingError } from './errors.js';
import { nowTs, parseJson, type Executor, type RepoContext } from './sql.js';
import type { CaStateTable } from './schema.js';
import { toTimestamp, type TimeInput, type Timestamp } from './time.js';

/** The CA root and the CRL counter. Keys are sealed by the caller, never plaintext. */
export interface CaStateRecord {
  readonly caCertPem: string;
  /** The root key, sealed (base64 text of a federation-core `sealText` envelope). */
  readonly caSealedKey: string;
  readonly createdAt: Timestamp;
  /** The number of the last CRL published; 0 before the first. */
  readonly crlNumber: number;
}

/** Input of {@link CaStateRepository.createOnce}: the root alone. */
export interface NewCaState {
  readonly caCertPem: string;
  readonly caSealedKey: string;
  /** Default: now. */
  readonly createdAt?: TimeInput;
}

/** The federation listener's server certificate as stored. */
export interface ServerCertRecord {
  readonly certPem: string;
  /** Its private key, sealed (base64 text of a `sealText` envelope). */
  readonly sealedKey: string;
  /** Lowercase hex serial, exactly as saved: the compare-and-swap key. */
  readonly serialHex: string;
  /** The subject alternative names, in the order saved. */
  readonly sans: string[];
  readonly notBefore: Timestamp;
  readonly notAfter: Timestamp;
  readonly issuedAt: Timestamp;
}

/** Input of {@link CaStateRepository.saveServerCert}. */
export interface NewServerCert {
  readonly certPem: string;
  readonly sealedKey: string;
  /** Lowercase hex (federation-core's `IssuedCertificate.serialHex`); stored verbatim. */
  readonly serialHex: string;
  readonly sans: readonly string[];
  readonly notBefore: TimeInput;
  readonly notAfter: TimeInput;
  /** Default: now. */
  readonly issuedAt?: TimeInput;
}

/** Result of {@link CaStateRepository.saveServerCert}. */
export interface ServerCertSwap {
  /** True when this call replaced the certificate. */
  readonly swapped: boolean;
  /** The certificate stored afterwards: the one saved when `swapped`, else whatever is there (null: none). */
  readonly current: ServerCertRecord | null;
}

const ROW_ID = 1;
const SERIAL = /^[0-9a-f]+$/;

const toState = (r: Selectable<CaStateTable>): CaStateRecord => ({
  caCertPem: r.ca_cert_pem,
  caSealedKey: r.ca_sealed_key,
  createdAt: r.created_at,
  crlNumber: Number(r.crl_number),
});

function toServerCert(r: Selectable<CaStateTable>): ServerCertRecord | null {
  if (r.server_serial_hex === null) return null;
  const { server_cert_pem: certPem, server_sealed_key: sealedKey, server_sans: sans } = r;
  const { server_not_before: notBefore, server_not_after: notAfter, server_issued_at: issuedAt } = r;
  // The table's CHECK keeps the server columns all set or all null.
  if (certPem === null || sealedKey === null || sans === null || notBefore === null || notAfter === null || issuedAt === null) {
    throw new Error('storage: ca_state holds an incomplete server certificate');
  }
  return { certPem, sealedKey, serialHex: r.server_serial_hex, sans: parseJson<string[]>(sans), notBefore, notAfter, issuedAt };
}

/** The CA state. */
export class CaStateRepository {
  readonly #db: Executor;
  readonly #ctx: RepoContext;

  constructor(db: Executor, ctx: RepoContext) {
    this.#db = db;
    this.#ctx = ctx;
  }

  async #row(): Promise<Selectable<CaStateTable> | undefined> {
    return this.#db.selectFrom('ca_state').selectAll().where('id', '=', ROW_ID).executeTakeFirst();
  }

  /** The CA root and CRL number, or null before the CA was created. */
  async get(): Promise<CaStateRecord | null> {
    const row = await this.#row();
    return row === undefined ? null : toState(row);
  }

  /**
   * Store the CA root if none exists (`INSERT … ON CONFLICT DO NOTHING` on the one-row table:
   * atomic on both engines, never an overwrite). Whoever loses gets the existing row and must
   * discard the CA it generated. No server certificate is stored yet.
   * @returns the stored state and whether this call created it
   */
  async createOnce(input: NewCaState): Promise<{ state: CaStateRecord; created: boolean }> {
    const inserted = await this.#db
      .insertInto('ca_state')
      .values({
        id: ROW_ID,
        ca_cert_pem: input.caCertPem,
        ca_sealed_key: input.caSealedKey,
        created_at: input.createdAt === undefined ? nowTs(this.#ctx) : toTimestamp(input.createdAt),
      })
      .onConflict((oc) => oc.column('id').doNothing())
      .returningAll()
      .executeTakeFirst();
    if (inserted !== undefined) return { state: toState(inserted), created: true };
    const existing = await this.get();
    if (existing === null) throw new Error('storage: ca_state vanished after a conflicting insert');
    return { state: existing, created: false };
  }

  /** The federation listener's current certificate, or null when none was saved yet (or before the CA exists). */
  async getServerCert(): Promise<ServerCertRecord | null> {
    const row = await this.#row();
    return row === undefined ? null : toServerCert(row);
  }

  /**
   * Replace the server certificate if the stored one still has serial `previousSerialHex`
   * (null: none stored yet) — one `UPDATE … WHERE server_serial_hex IS NOT DISTINCT FROM prev`,
   * written portably as `IS NULL` / `= prev`. A concurrent saver with the same `prev` finds
   * the serial changed (PostgreSQL re-checks the condition on the row it waited for; SQLite
   * serialises writers) and updates nothing. Then the row is read back.
   * @throws CA_STATE_MISSING before the CA exists; TypeError for a serial that is not lowercase hex
   */
  async saveServerCert(cert: NewServerCert, previousSerialHex: string | null): Promise<ServerCertSwap> {
    if (!SERIAL.test(cert.serialHex)) throw new TypeError('storage: the server certificate serial must be lowercase hex');
    const row = await this.#db
      .updateTable('ca_state')
      .set({
        server_cert_pem: cert.certPem,
        server_sealed_key: cert.sealedKey,
        server_serial_hex: cert.serialHex,
        server_sans: JSON.stringify(cert.sans),
        server_not_before: toTimestamp(cert.notBefore),
        server_not_after: toTimestamp(cert.notAfter),
        server_issued_at: cert.issuedAt === undefined ? nowTs(this.#ctx) : toTimestamp(cert.issuedAt),
      })
      .where('id', '=', ROW_ID)
      .where((eb) => (previousSerialHex === null ? eb('server_serial_hex', 'is', null) : eb('server_serial_hex', '=', previousSerialHex)))
      .returningAll()
      .executeTakeFirst();
    if (row !== undefined) return { swapped: true, current: toServerCert(row) };
    const now = await this.#row();
    if (now === undefined) throw new CaStateMissingError();
    return { swapped: false, current: toServerCert(now) };
  }

  /**
   * Add one to the CRL number and return the new value — one `UPDATE … RETURNING`, so
   * concurrent callers (two revokes at once, two replicas) get distinct, strictly increasing
   * numbers.
   * @throws CA_STATE_MISSING before the CA exists
   */
  async bumpCrlNumber(): Promise<number> {
    const row = await this.#db
      .updateTable('ca_state')
      .set((eb) => ({ crl_number: eb('crl_number', '+', 1) }))
      .where('id', '=', ROW_ID)
      .returning('crl_number')
      .executeTakeFirst();
    if (row === undefined) throw new CaStateMissingError();
    return Number(row.crl_number);
  }
}
