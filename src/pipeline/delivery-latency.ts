/**
 * Delivery latency for analytics: how long after its commit a stream event was written to each
 * subscriber's socket on this node, gathered in a histogram (one count per delivery) and sent
 * to the event log every window as one operational event, `delivery.latency`, with the
 * buckets that counted something. Analytics sums the windows of every node and reads
 * percentiles from them (the upper bound of the bucket a percentile falls in).
 *
 * The commit time is the committing node's clock and the delivery time this node's: across
 * machines their clocks must be in sync (NTP) for the figure to mean anything.
 */
import type { OpsSink } from './ops-events.js';

/** Bucket upper bounds, ms; the last also holds everything slower. */
export const LATENCY_BUCKETS_MS = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 5_000, 10_000, 30_000, 60_000] as const;
const LAST = LATENCY_BUCKETS_MS.length - 1;

/** Where a latency falls: the first bucket whose bound it does not pass. */
export function bucketOf(ms: number): number {
  for (let i = 0; i < LAST; i++) if (ms <= (LATENCY_BUCKETS_MS[i] as number)) return i;
  return LAST;
}

export class DeliveryLatency {
  readonly #ops: OpsSink;
  readonly #windowMs: number;
  #counts = new Array<number>(LATENCY_BUCKETS_MS.length).fill(0);
  #total = 0;
  #started = Date.now();
  #timer: NodeJS.Timeout | undefined;

  constructor(ops: OpsSink, windowMs = 10_000) {
    this.#ops = ops;
    this.#windowMs = windowMs;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.flush(), this.#windowMs).unref();
  }

  /** `deliveries` writes of an event committed at `committedAt` (epoch ms), now. */
  observe(committedAt: number, deliveries = 1): void {
    const i = bucketOf(Math.max(0, Date.now() - committedAt));
    this.#counts[i] = (this.#counts[i] as number) + deliveries;
    this.#total += deliveries;
  }

  /** Sends the window's histogram, if anything was delivered in it, and starts the next. */
  flush(): void {
    const now = Date.now();
    if (this.#total > 0) {
      const buckets: Array<[number, number]> = [];
      this.#counts.forEach((count, i) => {
        if (count > 0) buckets.push([LATENCY_BUCKETS_MS[i] as number, count]);
      });
      this.#ops.emit('delivery.latency', { windowMs: now - this.#started, deliveries: this.#total, buckets });
      this.#counts = new Array<number>(LATENCY_BUCKETS_MS.length).fill(0);
      this.#total = 0;
    }
    this.#started = now;
  }

  /** Sends what the last window holds and stops. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.flush();
  }
}

/**
 * The commit time of an event frame as the bus carries it (the client frame, JSON, whose first
 * `createdAt` is the event's: the user view before it has none), or undefined.
 */
export function committedAtOf(frame: string): number | undefined {
  const key = '"createdAt":"';
  const at = frame.indexOf(key);
  if (at < 0) return undefined;
  const start = at + key.length;
  const end = frame.indexOf('"', start);
  if (end < 0 || end - start > 40) return undefined;
  const ms = Date.parse(frame.slice(start, end));
  return Number.isFinite(ms) ? ms : undefined;
}
