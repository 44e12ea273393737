/**
 * An in-process cache-aside map with expiry, a size bound and single flight: concurrent misses
 * for one key share one load. `invalidate(key)` drops the entry and the load in flight for it,
 * so a load that started before a change never stores its (stale) answer; other keys' loads are
 * not affected. Oldest entries go first when the bound is reached.
 */
export class SingleFlightCache<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();
  readonly #inflight = new Map<string, Promise<V>>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly counts = { hits: 0, misses: 0 };

  constructor(options: { ttlMs: number; maxEntries: number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries;
  }

  get(key: string, load: () => Promise<V>): Promise<V> {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.expiresAt > Date.now()) {
      this.counts.hits++;
      return Promise.resolve(entry.value);
    }
    this.counts.misses++;
    const inflight = this.#inflight.get(key);
    if (inflight !== undefined) return inflight;
    const pending: Promise<V> = load().then(
      (value) => {
        // Stored only if no invalidation came in between (it removes the load in flight).
        if (this.#inflight.get(key) === pending) {
          this.#inflight.delete(key);
          this.#put(key, value);
        }
        return value;
      },
      (error: unknown) => {
        if (this.#inflight.get(key) === pending) this.#inflight.delete(key);
        throw error;
      },
    );
    this.#inflight.set(key, pending);
    return pending;
  }

  invalidate(key: string): void {
    this.#entries.delete(key);
    this.#inflight.delete(key);
  }

  #put(key: string, value: V): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresAt: Date.now() + this.#ttlMs });
  }
}
