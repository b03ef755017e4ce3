import type { GrantRecord } from '../storage/index.js';

/** What the cache reads grants from (`storage.grants`). */
export interface GrantSource {
  get(id: string): Promise<GrantRecord | null>;
}

export interface GrantCacheOptions {
  /** How long a read grant (or its absence) is trusted, in ms (default 1 000). */
  ttlMs?: number;
  /** Clock in ms (default `Date.now`). */
  now?: () => number;
}

interface Entry {
  readonly at: number;
  readonly value: Promise<GrantRecord | null>;
  /** What `value` resolved to, once it did. */
  record?: GrantRecord | null;
}

/**
 * Grants as the federation verbs see them on every request: read from the store, kept for a
 * short TTL (1 s) so a burst costs one read, and dropped at once by `invalidate` when the grant
 * is edited, revoked or re-enrolled in this process (other replicas see it within the TTL).
 */
export class GrantCache {
  readonly #source: GrantSource;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();

  constructor(source: GrantSource, options: GrantCacheOptions = {}) {
    this.#source = source;
    this.#ttlMs = options.ttlMs ?? 1_000;
    this.#now = options.now ?? Date.now;
  }

  /** The grant `id` as of at most `ttlMs` ago, or null when it does not exist. */
  async get(id: string): Promise<GrantRecord | null> {
    const now = this.#now();
    const hit = this.#entries.get(id);
    if (hit !== undefined && now - hit.at < this.#ttlMs) return hit.value;
    // One read per grant at a time: concurrent requests share the promise.
    const value = this.#source.get(id);
    const entry: Entry = { at: now, value };
    this.#entries.set(id, entry);
    try {
      const record = await value;
      entry.record = record;
      return record;
    } catch (err) {
      // A failed read is not cached.
      if (this.#entries.get(id) === entry) this.#entries.delete(id);
      throw err;
    } finally {
      this.#sweep(now);
    }
  }

  /**
   * Grant `id` read again because `seen` (what this cache returned) looks outdated — a
   * certificate newer than it arrived, made through another replica a moment ago. Concurrent
   * callers holding the same `seen` share one read; a read newer than `seen` is reused.
   */
  async reread(id: string, seen: GrantRecord): Promise<GrantRecord | null> {
    const hit = this.#entries.get(id);
    if (hit !== undefined && hit.record !== seen) return this.get(id);
    this.#entries.delete(id);
    return this.get(id);
  }

  /** Forget grant `id`: the next request reads it from the store. */
  invalidate(id: string): void {
    this.#entries.delete(id);
  }

  /** Forget every grant. */
  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }

  #sweep(now: number): void {
    if (this.#entries.size < 1_024) return;
    for (const [id, e] of this.#entries) if (now - e.at >= this.#ttlMs) this.#entries.delete(id);
  }
}
