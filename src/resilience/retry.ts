/**
 * Retries with exponential backoff and full jitter (the waits of src/jobs/backoff.ts), for
 * operations that are safe to repeat only: idempotent reads, connection attempts, a migration
 * (one transaction under a lock that records what it applied). Never for a write whose first
 * attempt may have taken effect without its answer arriving: the client retries those, sends
 * with their `clientMsgId`, so nothing is stored twice (see docs/architecture.md, "Retries").
 */
import { backoffDelay } from '../jobs/backoff.js';

export interface RetryOptions {
  /** Attempts in all, the first included (1: no retry). */
  attempts: number;
  /** The wait after the first failure is uniform in [0, baseMs); it doubles per failure up to maxMs. */
  baseMs: number;
  maxMs: number;
  /** Aborting stops the retries: a wait in progress ends at once and the call rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Whether this failure may go away by itself (an outage); any other is thrown at once. */
  retryable(error: unknown): boolean;
  /** Told before each wait: the error, the attempt that failed (1 for the first), the wait. */
  onRetry?(error: unknown, attempt: number, delayMs: number): void;
  /** For tests: the source of jitter (default Math.random) and of waiting. */
  random?: () => number;
  sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
}

/** Calls `fn` (with the attempt number, from 1) until it resolves, fails for good, or runs out of attempts; then rejects with its last error. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const attempts = Math.max(1, Math.floor(options.attempts));
  const sleep = options.sleep ?? wait;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= attempts || !options.retryable(error) || options.signal?.aborted === true) throw error;
      const delayMs = backoffDelay(attempt, { baseMs: options.baseMs, maxMs: options.maxMs }, options.random);
      options.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, options.signal);
    }
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts (its timer cleared). */
function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
