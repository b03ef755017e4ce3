/**
 * An in-memory {@link CaStateStore}: for unit tests, and the reference behaviour the SQL
 * engines must match. Each method yields to the event loop first, so concurrent callers
 * interleave the way they would against a database.
 */
import type { CaStateStore, RevokedSerial, StoredCaState, StoredServerCert } from './store.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Copies in and out, so a caller mutating what it got cannot change the store. */
function copy<T>(value: T): T {
  return structuredClone(value);
}

/** In-memory CA state, with helpers to revoke serials and inspect what is stored. */
export class MemoryCaStateStore implements CaStateStore {
  #root: StoredCaState | null = null;
  #server: StoredServerCert | null = null;
  #crlNumber = 0n;
  #revoked = new Map<string, RevokedSerial>();

  async load(): Promise<StoredCaState | null> {
    await tick();
    return copy(this.#root);
  }

  async createOnce(state: StoredCaState): Promise<StoredCaState> {
    await tick();
    this.#root ??= copy(state);
    return copy(this.#root);
  }

  async loadServerCert(): Promise<StoredServerCert | null> {
    await tick();
    return copy(this.#server);
  }

  async saveServerCert(cert: StoredServerCert, previousSerialHex: string | null): Promise<StoredServerCert | null> {
    await tick();
    if ((this.#server?.serialHex ?? null) === previousSerialHex) this.#server = copy(cert);
    return copy(this.#server);
  }

  async nextCrlNumber(): Promise<bigint> {
    await tick();
    this.#crlNumber += 1n;
    return this.#crlNumber;
  }

  async revokedSerials(): Promise<RevokedSerial[]> {
    await tick();
    return [...this.#revoked.values()].map(copy);
  }

  /** Test helper: record a revocation, as the grants table would. */
  async revoke(serialHex: string, revokedAt = new Date(), reason?: RevokedSerial['reason']): Promise<void> {
    await tick();
    this.#revoked.set(serialHex, reason === undefined ? { serialHex, revokedAt } : { serialHex, revokedAt, reason });
  }

  /** Test helper: every stored value, for asserting what never reaches the store. */
  snapshot(): { root: StoredCaState | null; server: StoredServerCert | null; crlNumber: bigint; revoked: RevokedSerial[] } {
    return copy({ root: this.#root, server: this.#server, crlNumber: this.#crlNumber, revoked: [...this.#revoked.values()] });
  }

  /** Test helper: overwrite the stored root (to simulate corruption or a restore). */
  replaceRoot(state: StoredCaState | null): void {
    this.#root = copy(state);
  }

  /** Test helper: overwrite the stored server certificate. */
  replaceServerCert(cert: StoredServerCert | null): void {
    this.#server = copy(cert);
  }
}
