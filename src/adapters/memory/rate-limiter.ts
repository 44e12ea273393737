import { type Bucket, type BucketRule, fullBucket, isRefilled, take } from '../../core/token-bucket.js';
import type { RateLimiter } from '../../ports.js';

/**
 * Rate limits held in this process. Buckets that have refilled are swept, so memory is bounded
 * by the number of keys active within one refill period; `maxKeys` caps it outright (past it, the
 * oldest bucket is forgotten, which errs on the side of letting a request through).
 */
export class MemoryRateLimiter implements RateLimiter {
  readonly #rule: BucketRule;
  readonly #buckets = new Map<string, Bucket>();
  readonly #maxKeys: number;
  readonly #now: () => number;
  #lastSweep = 0;

  constructor(rule: BucketRule, options: { maxKeys?: number; now?: () => number } = {}) {
    this.#rule = rule;
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  async consume(key: string) {
    return this.consumeNow(key);
  }

  /** Synchronous form, for callers on the hot path of the same process. */
  consumeNow(key: string) {
    const now = this.#now();
    // Sweep before looking up, so the bucket about to be used is never the one swept away.
    if (now - this.#lastSweep > 60_000) this.#sweep(now, false);
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      if (this.#buckets.size >= this.#maxKeys) this.#sweep(now, true);
      bucket = fullBucket(this.#rule, now);
      this.#buckets.set(key, bucket);
    }
    return take(bucket, this.#rule, now);
  }

  #sweep(now: number, force: boolean): void {
    this.#lastSweep = now;
    for (const [key, bucket] of this.#buckets) {
      if (isRefilled(bucket, this.#rule, now)) this.#buckets.delete(key);
    }
    if (force && this.#buckets.size >= this.#maxKeys) {
      const oldest = this.#buckets.keys().next();
      if (!oldest.done) this.#buckets.delete(oldest.value);
    }
  }
}
