/**
 * Cache-aside over a Cache port: read the cache, on a miss load from the store and fill the
 * cache. Concurrent misses for one key share one load (single flight). An invalidation marks the
 * load in flight for the key as stale, so it cannot fill the cache with what it read before.
 * A cache that fails is skipped (and reported): the store answers.
 */
import type { Cache } from '../ports.js';

export interface CacheAsideOptions<T> {
  ttlMs: number;
  encode(value: T): string;
  decode(raw: string): T;
  onError(error: unknown): void;
}

export class CacheAside<T> {
  readonly #cache: Cache;
  readonly #options: CacheAsideOptions<T>;
  readonly #inflight = new Map<string, { promise: Promise<T | undefined>; stale: boolean }>();
  hits = 0;
  misses = 0;

  constructor(cache: Cache, options: CacheAsideOptions<T>) {
    this.#cache = cache;
    this.#options = options;
  }

  async get(key: string, load: () => Promise<T | undefined>, ttlMs = this.#options.ttlMs): Promise<T | undefined> {
    let raw: string | undefined;
    try {
      raw = await this.#cache.get(key);
    } catch (error) {
      this.#options.onError(error);
    }
    if (raw !== undefined) {
      this.hits++;
      return this.#options.decode(raw);
    }
    this.misses++;
    const running = this.#inflight.get(key);
    if (running !== undefined) return running.promise;
    const entry: { promise: Promise<T | undefined>; stale: boolean } = { promise: Promise.resolve(undefined), stale: false };
    entry.promise = (async () => {
      try {
        const value = await load();
        if (value !== undefined && !entry.stale && ttlMs > 0) {
          await this.#cache.set(key, this.#options.encode(value), ttlMs).catch(this.#options.onError);
        }
        return value;
      } finally {
        if (this.#inflight.get(key) === entry) this.#inflight.delete(key);
      }
    })();
    this.#inflight.set(key, entry);
    return entry.promise;
  }

  /** Drops `keys` now; resolves once the cache has forgotten them. */
  async invalidate(keys: string[]): Promise<void> {
    this.forgetInflight(keys);
    await this.#cache.delete(keys);
  }

  /**
   * Marks loads in flight for `keys` as stale, so they do not fill the cache: used on the other
   * nodes when one node invalidated keys of a shared cache (through the bus).
   */
  forgetInflight(keys: string[]): void {
    for (const key of keys) {
      const running = this.#inflight.get(key);
      if (running !== undefined) running.stale = true;
      this.#inflight.delete(key);
    }
  }
}
