/**
 * A token bucket as pure arithmetic on (tokens, time): no timers, so a million idle buckets cost
 * nothing and the rules are unit-tested without waiting.
 */
export interface Bucket {
  tokens: number;
  updatedAt: number;
}

export interface BucketRule {
  /** Tokens added per second. */
  ratePerSec: number;
  /** Capacity: the most tokens a bucket holds, i.e. the burst. */
  burst: number;
}

export type TakeResult = { allowed: true } | { allowed: false; retryAfterMs: number };

/** Refills `bucket` up to `now` and takes one token if there is one. Mutates the bucket. */
export function take(bucket: Bucket, rule: BucketRule, now: number): TakeResult {
  const elapsed = Math.max(0, now - bucket.updatedAt);
  bucket.tokens = Math.min(rule.burst, bucket.tokens + (elapsed * rule.ratePerSec) / 1000);
  bucket.updatedAt = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return { allowed: true };
  }
  return { allowed: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) * 1000) / rule.ratePerSec) };
}

export const fullBucket = (rule: BucketRule, now: number): Bucket => ({ tokens: rule.burst, updatedAt: now });

/** True when a bucket left alone this long is full again, so it can be forgotten. */
export const isRefilled = (bucket: Bucket, rule: BucketRule, now: number): boolean =>
  bucket.tokens + ((now - bucket.updatedAt) * rule.ratePerSec) / 1000 >= rule.burst;
