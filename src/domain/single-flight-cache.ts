/**
 * An in-process cache-aside map with expiry, a size bound and single flight: concurrent misses
 * for one key share one load. `invalidate(key)` drops the entry and the load in flight for it,
 * so a load that started before a change never stores its (stale) answer; other keys' loads are
 * not affected. Oldest entries go first when the bound is reached.
 */
export class SingleFlightCache<V> {
  readonly #entries = new Map<string, { value: V; readonly expiresAt: number; weight: number }>();
  readonly #inflight = new Map<string, Promise<V>>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #maxWeight: number;
  readonly #weigh: (value: V) => number;
  #weight = 0;
  readonly counts = { hits: 0, misses: 0 };

  /** `maxWeight` with `weigh`: a bound on the sum of the entries' weights too (a list's length, say). */
  constructor(options: { ttlMs: number; maxEntries: number; maxWeight?: number; weigh?: (value: V) => number }) {
    this.#ttlMs = options.ttlMs;
    this.#maxEntries = options.maxEntries;
    this.#maxWeight = options.maxWeight ?? Number.POSITIVE_INFINITY;
    this.#weigh = options.weigh ?? (() => 0);
  }

  /** Forgets every entry and every load in flight. */
  clear(): void {
    this.#entries.clear();
    this.#inflight.clear();
    this.#weight = 0;
  }

  /** The sum of the weights of the entries kept. */
  get weight(): number {
    return this.#weight;
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
    this.#drop(key);
    this.#inflight.delete(key);
  }

  /**
   * Changes a kept entry in place: `change` gets the value and returns it (changed) or undefined
   * to drop the entry; its weight is counted again. A load in flight for the key is forgotten
   * (its answer may predate the change and is not kept), as invalidate() does.
   */
  update(key: string, change: (value: V) => V | undefined): void {
    this.#inflight.delete(key);
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    const value = change(entry.value);
    if (value === undefined) {
      this.#drop(key);
      return;
    }
    const weight = this.#weigh(value);
    this.#weight += weight - entry.weight;
    entry.value = value;
    entry.weight = weight;
    if (this.#weight > this.#maxWeight) this.#drop(key);
  }

  #put(key: string, value: V): void {
    this.#drop(key);
    const weight = this.#weigh(value);
    // One value heavier than the whole bound is served, not kept.
    if (weight > this.#maxWeight) return;
    while (this.#entries.size > 0 && (this.#entries.size >= this.#maxEntries || this.#weight + weight > this.#maxWeight)) {
      this.#drop(this.#entries.keys().next().value as string);
    }
    this.#entries.set(key, { value, expiresAt: Date.now() + this.#ttlMs, weight });
    this.#weight += weight;
  }

  #drop(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#weight -= entry.weight;
  }
}
