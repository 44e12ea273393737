/**
 * Load shedding on event-loop lag. When the loop of a process lags, everything it does waits:
 * every delivery, every reply, every heartbeat. Taking more work in then makes it worse for
 * everyone already connected. So while the lag stays past LOAD_SHED_LAG_MS, new work is turned
 * away at the door (REST 503 `unavailable` with Retry-After; a new WebSocket accepted and closed
 * with 1013), and what is already established (open WebSockets) keeps being served.
 *
 * `ShedPolicy` decides, without timers or I/O (unit-tested with lags given to it): the lag is
 * smoothed (an exponentially weighted mean of the samples, so one garbage-collection pause does
 * not shed), shedding starts when the smoothed lag reaches the threshold, and stops only once it
 * has stayed under half the threshold for `holdMs` (hysteresis: no flapping at the edge).
 * `LoadShedder` is its shell: it samples the lag every SAMPLE_MS, cheaply (one timer of its own,
 * whose drift it measures, and Node's event-loop delay histogram, which sees stalls between
 * samples), and feeds the policy.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

export interface ShedPolicyOptions {
  /** Smoothed lag, ms, at which shedding starts; 0 disables shedding (the lag is still measured). */
  thresholdMs: number;
  /** How long the smoothed lag must stay under half the threshold before shedding stops, ms. */
  holdMs?: number;
  /** Weight of each new sample in the smoothed lag (0–1). */
  smoothing?: number;
}

export const DEFAULT_HOLD_MS = 1_000;
export const DEFAULT_SMOOTHING = 0.3;

export class ShedPolicy {
  readonly #thresholdMs: number;
  readonly #holdMs: number;
  readonly #smoothing: number;
  #lagMs = 0;
  #shedding = false;
  /** Since when the smoothed lag has been under the low mark while shedding (epoch ms). */
  #calmSince: number | null = null;

  constructor(options: ShedPolicyOptions) {
    this.#thresholdMs = options.thresholdMs;
    this.#holdMs = options.holdMs ?? DEFAULT_HOLD_MS;
    this.#smoothing = options.smoothing ?? DEFAULT_SMOOTHING;
  }

  /** Takes one lag sample (ms) at `nowMs`; returns whether to shed now. */
  observe(sampleMs: number, nowMs: number): boolean {
    const sample = Number.isFinite(sampleMs) && sampleMs > 0 ? sampleMs : 0;
    this.#lagMs = this.#smoothing * sample + (1 - this.#smoothing) * this.#lagMs;
    if (this.#thresholdMs <= 0) return false;
    if (!this.#shedding) {
      if (this.#lagMs >= this.#thresholdMs) {
        this.#shedding = true;
        this.#calmSince = null;
      }
    } else if (this.#lagMs < this.#thresholdMs / 2) {
      this.#calmSince ??= nowMs;
      if (nowMs - this.#calmSince >= this.#holdMs) {
        this.#shedding = false;
        this.#calmSince = null;
      }
    } else {
      this.#calmSince = null;
    }
    return this.#shedding;
  }

  get shedding(): boolean {
    return this.#shedding;
  }

  /** The smoothed lag, ms. */
  get lagMs(): number {
    return this.#lagMs;
  }
}

/** How often the lag is sampled, ms. */
export const SAMPLE_MS = 100;
/** Resolution of the delay histogram, ms (a libuv timer in C++: no JavaScript runs for it). */
const RESOLUTION_MS = 20;
/** Retry-After of a shed request: past the hold time, when shedding may have stopped. */
export const SHED_RETRY_AFTER_SECONDS = Math.ceil(DEFAULT_HOLD_MS / 1000) + 1;

export interface LoadShedderOptions extends ShedPolicyOptions {
  /** Told when shedding starts and stops, with the smoothed lag then (ms). */
  onChange?(shedding: boolean, lagMs: number): void;
}

export class LoadShedder {
  readonly #policy: ShedPolicy;
  readonly #histogram: IntervalHistogram;
  readonly #onChange: LoadShedderOptions['onChange'];
  #timer: NodeJS.Timeout | null = null;
  #last = 0;
  #closed = false;

  constructor(options: LoadShedderOptions) {
    this.#policy = new ShedPolicy(options);
    this.#onChange = options.onChange;
    this.#histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  }

  /**
   * Starts sampling: once the process serves, so the stalls of starting up (loading modules,
   * opening the store) neither shed its first requests nor count in its lag. Idempotent.
   */
  start(): void {
    if (this.#timer !== null || this.#closed) return;
    this.#histogram.enable();
    this.#last = performance.now();
    this.#timer = setInterval(() => this.#sample(), SAMPLE_MS);
    this.#timer.unref();
  }

  /** True while new work is to be turned away. */
  get shedding(): boolean {
    return this.#policy.shedding;
  }

  /** The smoothed event-loop lag, seconds. */
  get lagSeconds(): number {
    return this.#policy.lagMs / 1000;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#histogram.disable();
  }

  #sample(): void {
    const now = performance.now();
    // This timer's own lateness, and the worst stall the histogram saw since the last sample
    // (its values are whole timer periods: the resolution is not lag).
    const drift = now - this.#last - SAMPLE_MS;
    this.#last = now;
    const stall = this.#histogram.count > 0 ? this.#histogram.max / 1e6 - RESOLUTION_MS : 0;
    this.#histogram.reset();
    const before = this.#policy.shedding;
    const after = this.#policy.observe(Math.max(drift, stall), Date.now());
    if (after !== before) this.#onChange?.(after, this.#policy.lagMs);
  }
}
