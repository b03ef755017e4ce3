/** The verbs whose answers may be cached. `search` never is: its results must be live. */
export type CacheableVerb = 'list' | 'get';

export interface ResponseCacheOptions {
  /** Time to live of an entry (default 30 s). */
  ttlMs?: number;
  /** Upper bound on entries; the oldest are dropped past it (default 1 000). */
  maxEntries?: number;
  /** Injected clock, ms since the epoch. */
  now?: () => number;
}

export interface CacheKey {
  grantId: string;
  verb: CacheableVerb;
  resource: string;
  /** Keyed hash of the request parameters (see protocol's query hash). */
  queryHash: string;
}

interface Entry {
  value: unknown;
  expiresAt: number;
  grantId: string;
}

/**
 * The requesting side's response cache for `list` and `get` answers, keyed by
 * grant + verb + resource + query hash, with a TTL, a size bound and flushes per grant
 * (renewal, removal, a refusal saying the grant is revoked) or whole.
 */
export class ResponseCache {
  readonly ttlMs: number;
  readonly maxEntries: number;
  private readonly now: () => number;
  // A Map iterates in insertion order: re-inserting on set keeps the oldest entries first.
  private readonly entries = new Map<string, Entry>();

  constructor(options: ResponseCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 30_000;
    this.maxEntries = options.maxEntries ?? 1_000;
    this.now = options.now ?? Date.now;
    if (!(this.ttlMs > 0)) throw new RangeError('ttlMs must be > 0');
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
  }

  /** The cached value, or undefined when absent or expired. */
  get<T>(key: CacheKey): T | undefined {
    const k = cacheKeyString(key);
    const entry = this.entries.get(k);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(k);
      return undefined;
    }
    return entry.value as T;
  }

  /** Store a value. Refuses any verb but list/get, so a search answer can never be cached. */
  set(key: CacheKey, value: unknown): void {
    if (key.verb !== 'list' && key.verb !== 'get') throw new TypeError(`answers of "${String(key.verb)}" are never cached`);
    const k = cacheKeyString(key);
    this.entries.delete(k);
    this.entries.set(k, { value, expiresAt: this.now() + this.ttlMs, grantId: key.grantId });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  /** Drop every entry of one grant; returns how many were dropped. */
  flushGrant(grantId: string): number {
    let dropped = 0;
    for (const [k, entry] of this.entries) {
      if (entry.grantId === grantId) {
        this.entries.delete(k);
        dropped += 1;
      }
    }
    return dropped;
  }

  /** Drop everything. */
  flush(): void {
    this.entries.clear();
  }

  /** Live entries (expired ones are dropped first). */
  get size(): number {
    const now = this.now();
    for (const [k, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(k);
    return this.entries.size;
  }
}

function cacheKeyString(key: CacheKey): string {
  // JSON of a fixed-order array: no separator inside an id can make two keys collide.
  return JSON.stringify([key.grantId, key.verb, key.resource, key.queryHash]);
}
