/**
 * What the embedded CA needs from persistence — deliberately narrow, so the SQLite and
 * PostgreSQL engines implement it with a handful of statements over one row.
 *
 * Every value is text, a Date, or a bigint counter. Private keys only ever arrive here sealed
 * (the base64 text form of the seal envelope, `sealText` in federation-core): a store, its
 * backups and its logs never see key material in the clear.
 *
 * Suggested SQL shape (one row, `id = 1`):
 *
 *   ca_state(id PRIMARY KEY CHECK (id = 1),
 *            root_cert_pem TEXT NOT NULL, root_sealed_key TEXT NOT NULL, created_at,
 *            server_cert_pem TEXT, server_sealed_key TEXT, server_serial_hex TEXT,
 *            server_sans TEXT (JSON array), server_not_before, server_not_after, server_issued_at,
 *            crl_number BIGINT NOT NULL DEFAULT 0)
 *
 * - `createOnce`:  INSERT … ON CONFLICT (id) DO NOTHING; then SELECT the row (on PostgreSQL
 *                  this is also safe without an advisory lock; take one if you like).
 * - `saveServerCert(next, prev)`: UPDATE … SET server_* = … WHERE id = 1 AND
 *                  server_serial_hex IS NOT DISTINCT FROM prev (SQLite: `IS prev`); then SELECT.
 * - `nextCrlNumber`: UPDATE ca_state SET crl_number = crl_number + 1 WHERE id = 1 RETURNING crl_number.
 * - `revokedSerials`: SELECT serial_hex, revoked_at, reason FROM the issued-certificates table
 *                  WHERE revoked_at IS NOT NULL (every serial ever revoked, expired ones may be left out).
 */
import type { RevocationReasonName } from '@mosaic/federation-core';

/** The CA root as stored. */
export interface StoredCaState {
  /** The root certificate, PEM. */
  readonly certPem: string;
  /**
   * The root's private key: PKCS#8 DER sealed with `sealText` under the master secret's seal
   * key, record id {@link CA_ROOT_RECORD_ID}. Base64 text.
   */
  readonly sealedKey: string;
  /** When the root was created. */
  readonly createdAt: Date;
}

/** The federation listener's current server certificate as stored. */
export interface StoredServerCert {
  /** The certificate, PEM. */
  readonly certPem: string;
  /** Its PKCS#8 private key sealed with `sealText`, record id {@link CA_SERVER_RECORD_ID}. Base64 text. */
  readonly sealedKey: string;
  /** Lowercase hex serial (as `IssuedCertificate.serialHex`); the compare-and-swap key of {@link CaStateStore.saveServerCert}. */
  readonly serialHex: string;
  /** The SANs it was issued for, canonical and sorted: `dns:<name>` / `ip:<address>`. */
  readonly sans: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly issuedAt: Date;
}

/** One revoked certificate, as the CRL lists it. */
export interface RevokedSerial {
  /** Lowercase hex serial (`:` separators and upper case are tolerated). */
  readonly serialHex: string;
  readonly revokedAt: Date;
  /** An RFC 5280 reason name; unknown names are left out of the CRL entry (the serial is still listed). */
  readonly reason?: RevocationReasonName | (string & {});
}

/** Persistence of the embedded CA. Implementations must be safe under concurrent callers (replicas). */
export interface CaStateStore {
  /** The CA root, or null before the first start. */
  load(): Promise<StoredCaState | null>;
  /**
   * Insert the root only if there is none; return the root that is stored afterwards — `state`
   * when this call won, otherwise the one another process created first.
   */
  createOnce(state: StoredCaState): Promise<StoredCaState>;
  /** The current server certificate, or null when none was issued yet. */
  loadServerCert(): Promise<StoredServerCert | null>;
  /**
   * Replace the server certificate if the stored one still has serial `previousSerialHex`
   * (null: none is stored yet). Return the certificate stored afterwards: `cert` when the swap
   * happened, otherwise whatever another process left there (null if it is empty).
   */
  saveServerCert(cert: StoredServerCert, previousSerialHex: string | null): Promise<StoredServerCert | null>;
  /** Atomically increment and return the CRL number: 1 the first time, strictly increasing across processes. */
  nextCrlNumber(): Promise<bigint>;
  /** Every revoked serial the CRL should list. */
  revokedSerials(): Promise<RevokedSerial[]>;
}

/** Seal record id (authenticated associated data) of the root key. */
export const CA_ROOT_RECORD_ID = 'ca/root';
/** Seal record id of the federation listener's server key. */
export const CA_SERVER_RECORD_ID = 'ca/server';
