/**
 * The embedded CA's persistence (`CaStateStore`) on the gateway's store — SQLite or
 * PostgreSQL, the same statements on both: the `ca_state` row (`storage.ca`) for the root, the
 * server certificate and the CRL counter, and the issued-certificates table (`storage.certs`)
 * for the revoked serials.
 *
 * The store's text timestamps become `Date`s here, the CRL counter a `bigint`. Private keys
 * arrive sealed and are stored as the text they arrive as.
 *
 * @example
 * const ca = await EmbeddedCa.open({ store: createCaStateStore(storage), secret, name });
 */
import type { CaStateStore, RevokedSerial, StoredCaState, StoredServerCert } from './ca/store.js';
import type { CaStateRecord, ServerCertRecord, Storage } from './storage/index.js';

const toRoot = (r: CaStateRecord): StoredCaState => ({ certPem: r.caCertPem, sealedKey: r.caSealedKey, createdAt: new Date(r.createdAt) });

const toServer = (r: ServerCertRecord | null): StoredServerCert | null =>
  r === null
    ? null
    : {
        certPem: r.certPem,
        sealedKey: r.sealedKey,
        serialHex: r.serialHex,
        sans: r.sans,
        notBefore: new Date(r.notBefore),
        notAfter: new Date(r.notAfter),
        issuedAt: new Date(r.issuedAt),
      };

/**
 * A {@link CaStateStore} over `storage` (bound to the store itself, not a transaction: each
 * call commits on its own, and the CA's concurrency guarantees come from the statements).
 */
export function createCaStateStore(storage: Storage): CaStateStore {
  return {
    async load() {
      const state = await storage.ca.get();
      return state === null ? null : toRoot(state);
    },

    async createOnce(state) {
      const { state: stored } = await storage.ca.createOnce({ caCertPem: state.certPem, caSealedKey: state.sealedKey, createdAt: state.createdAt });
      return toRoot(stored);
    },

    async loadServerCert() {
      return toServer(await storage.ca.getServerCert());
    },

    async saveServerCert(cert, previousSerialHex) {
      const { current } = await storage.ca.saveServerCert(
        {
          certPem: cert.certPem,
          sealedKey: cert.sealedKey,
          serialHex: cert.serialHex,
          sans: cert.sans,
          notBefore: cert.notBefore,
          notAfter: cert.notAfter,
          issuedAt: cert.issuedAt,
        },
        previousSerialHex,
      );
      return toServer(current);
    },

    async nextCrlNumber() {
      return BigInt(await storage.ca.bumpCrlNumber());
    },

    /**
     * The revocations in effect now (`revoked_at <= now` by the store's clock) of certificates
     * not yet expired — RFC 5280 lets an expired certificate leave the CRL. A revocation
     * scheduled for later (a renewal's superseded serial) is listed once it takes effect.
     */
    async revokedSerials() {
      const entries = await storage.certs.revokedList();
      return entries.map((e): RevokedSerial => (e.reason === null ? { serialHex: e.serial, revokedAt: new Date(e.revokedAt) } : { serialHex: e.serial, revokedAt: new Date(e.revokedAt), reason: e.reason }));
    },
  };
}
