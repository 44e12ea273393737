/**
 * Reconnect delays: exponential backoff with "full jitter" (delay drawn uniformly from
 * [0, min(maxMs, initialMs * factor^attempt)]).
 *
 * Why full jitter rather than decorrelated jitter: when a server node restarts, every client it
 * held reconnects at once. Full jitter spreads those clients uniformly over the whole window,
 * which in AWS's comparison ("Exponential Backoff And Jitter") gave the fewest collisions and
 * the least total work; decorrelated jitter is close, but its next delay depends on the last
 * one, which makes the bound harder to state and to test. Here every delay is provably within
 * [0, maxMs], and the upper bound doubles per attempt until it reaches maxMs.
 */

export interface BackoffOptions {
  /** Upper bound of the first delay, in ms. Default 500. Must be > 0. */
  initialMs?: number;
  /** Largest delay, in ms: the window stops growing here. Default 30 000. Must be >= initialMs. */
  maxMs?: number;
  /** Growth of the window per attempt. Default 2. Must be >= 1. */
  factor?: number;
  /** A source of numbers in [0, 1); tests pass a fixed one. Default Math.random. */
  random?: () => number;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  readonly #random: () => number;
  #attempt = 0;

  constructor(options: BackoffOptions = {}) {
    this.initialMs = options.initialMs ?? 500;
    this.maxMs = options.maxMs ?? 30_000;
    this.factor = options.factor ?? 2;
    this.#random = options.random ?? Math.random;
    if (!(this.initialMs > 0) || !Number.isFinite(this.initialMs)) throw new RangeError('backoff initialMs must be a positive number of ms');
    if (!(this.maxMs >= this.initialMs) || !Number.isFinite(this.maxMs)) throw new RangeError('backoff maxMs must be a finite number >= initialMs');
    if (!(this.factor >= 1) || !Number.isFinite(this.factor)) throw new RangeError('backoff factor must be >= 1');
  }

  /** Attempts since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The upper bound of the next delay. */
  get ceilingMs(): number {
    // After a long outage factor^attempt overflows to Infinity, which min() turns into maxMs.
    return Math.min(this.maxMs, this.initialMs * this.factor ** this.#attempt);
  }

  /** The next delay in whole ms, within [0, ceilingMs]; advances the attempt count. */
  next(): number {
    const ceiling = this.ceilingMs;
    this.#attempt++;
    const r = this.#random();
    const unit = r >= 0 && r < 1 ? r : 0;
    return Math.min(Math.floor(unit * (ceiling + 1)), Math.floor(ceiling));
  }

  /** Back to the first attempt (after a connection proved stable). */
  reset(): void {
    this.#attempt = 0;
  }
}
