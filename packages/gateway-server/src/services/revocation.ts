import type { GatewayCa } from '../ca/index.js';
import type { SocketRegistry } from '../federation/sockets.js';
import type { Storage } from '../storage/index.js';

/**
 * The gateway's view of revocation: the set of revoked serials the listener checks at every
 * handshake (in memory, loaded at start, updated on every revoke), plus the side effects of a
 * revoke — the published CRL is reissued and the affected sockets are closed.
 */
/** What a revoke made here tells the other replicas. */
export type RevocationEvent = { kind: 'revoked'; serials: readonly string[] } | { kind: 'grant-closed'; grantId: string };

export class Revocation {
  private revoked = new Set<string>();
  /** Reads of the store are numbered: one that finishes after a newer one (or a revoke applied since it started) is ignored. */
  private readsStarted = 0;
  private readApplied = 0;
  private sockets: SocketRegistry | null = null;
  /** Replicas sharing a store: told of every revoke made here (after it committed). */
  private publish: ((event: RevocationEvent) => void) | null = null;

  constructor(
    private readonly storage: Storage,
    private readonly ca: Pick<GatewayCa, 'invalidateCrl'>,
  ) {}

  private timer: NodeJS.Timeout | null = null;

  /** Load the revoked serials from the store (at start), and wake up for scheduled ones. */
  async load(): Promise<void> {
    await this.refresh();
    await this.scheduleNext();
  }

  /**
   * Revocations dated in the future (the previous certificate after a renewal, 10 minutes
   * on) take effect when their time comes: a timer re-reads the store then.
   */
  async scheduleNext(): Promise<void> {
    const next = await this.storage.certs.nextScheduledRevocation();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (next === null) return;
    const delay = Math.max(0, Date.parse(next) - Date.now()) + 50;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refresh()
        .then(() => this.scheduleNext())
        .catch(() => undefined);
    }, Math.min(delay, 2 ** 31 - 1));
    this.timer.unref();
  }

  /** Stop the timer (at shutdown). */
  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /**
   * Re-read the revoked serials (replicas sharing a store): serials revoked elsewhere are
   * refused from now on and their sockets here are closed.
   */
  async refresh(): Promise<void> {
    const seq = ++this.readsStarted;
    const now = await this.storage.certs.revokedSerials();
    // A slower, older read must not put back a set a newer one (or a revoke) already replaced.
    if (seq <= this.readApplied) return;
    this.readApplied = seq;
    const added = [...now].filter((s) => !this.revoked.has(s));
    this.revoked = now;
    if (added.length > 0) {
      this.sockets?.closeSerials(new Set(added));
      this.ca.invalidateCrl();
    }
  }

  /** The listener's socket registry, once it exists. */
  attach(sockets: SocketRegistry): void {
    this.sockets = sockets;
  }

  isRevoked(serialHex: string): boolean {
    return this.revoked.has(serialHex);
  }

  /** Tell the other replicas of every revoke made through this process (`SharedInvalidation.publish`). */
  share(publish: (event: RevocationEvent) => void): void {
    this.publish = publish;
  }

  /**
   * Serials just revoked in the store (committed): refuse them from now on, close their
   * sockets, and reissue the CRL. `remote`: told by another replica; `announced`: already
   * notified inside the committing transaction — neither is published again.
   */
  applied(serials: readonly string[], options: { remote?: boolean; announced?: boolean } = {}): void {
    if (serials.length === 0) return;
    // a read of the store that started before this revoke committed is stale now
    this.readApplied = ++this.readsStarted;
    for (const s of serials) this.revoked.add(s);
    this.sockets?.closeSerials(new Set(serials));
    this.ca.invalidateCrl();
    if (options.remote !== true && options.announced !== true) this.publish?.({ kind: 'revoked', serials });
  }

  /** A grant was revoked (or its subject deleted): close every socket of it. */
  grantClosed(grantId: string, options: { remote?: boolean; announced?: boolean } = {}): void {
    this.sockets?.closeGrant(grantId);
    if (options.remote !== true && options.announced !== true) this.publish?.({ kind: 'grant-closed', grantId });
  }

  get size(): number {
    return this.revoked.size;
  }
}
