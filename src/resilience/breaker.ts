/**
 * Circuit breakers (opossum) for the dependencies of a process: one per dependency (`store`,
 * `redis`, `bus`, `jobs`) and one per outbound endpoint (`webhook:<endpoint id>`).
 *
 * Why: while a dependency is down, every call to it waits for its own timeout (a Redis command
 * up to REDIS_COMMAND_TIMEOUT_MS, a PostgreSQL connection attempt 5 s) before failing, so
 * requests pile up, hold memory and connections, and the dependency is hammered as it comes
 * back. A breaker counts outage failures over a rolling window; past the threshold it opens and
 * refuses calls at once with `unavailable` (503 with Retry-After, the same code in a WebSocket
 * reply), then after a reset time lets one probe call through: its success closes it, its
 * failure opens it again for another reset time.
 *
 * Only outages count: `unavailable` (what every adapter turns an outage into) and the breaker's
 * own timeout, or what a breaker's `isFailure` adds. A domain answer (not_found, forbidden,
 * conflict, validation_failed) means the dependency answered: it never opens a breaker.
 *
 * Bounded: the breakers of named dependencies live as long as the registry; per-endpoint ones
 * (a name with a colon) are kept for the `maxEndpoints` most recently used endpoints, the least
 * recently used shut down past that. All breakers rotate their rolling windows on one shared
 * timer, not one each.
 */
import { EventEmitter } from 'node:events';
import Opossum from 'opossum';
import { AppError, unavailable } from '../errors.js';

export type BreakerState = 'closed' | 'half_open' | 'open';

/** The value of `parley_breaker_state`: 0 closed, 1 half-open, 2 open. */
export const STATE_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, half_open: 1, open: 2 };

export interface BreakerSettings {
  /** Percent of the calls in the rolling window that failed for an outage, past which it opens (100: never). */
  errorThresholdPercent: number;
  /** Calls in the rolling window before it may open at all (a quiet process never opens on one failure). */
  volumeThreshold: number;
  /** How long it stays open before letting one probe call through, ms. */
  resetMs: number;
  /**
   * The breaker's own timeout, ms, for calls that have none of their own (false: none). A call
   * past it is answered `unavailable` and counts as a failure; the call itself runs on to its
   * end, its outcome ignored.
   */
  timeoutMs: number | false;
}

export interface BreakerOptions extends Partial<BreakerSettings> {
  /** The message of the `unavailable` error a refused call gets (what a client reads). */
  message?: string;
  /** Other errors that mean "the dependency is failing" (besides `unavailable` and timeouts). */
  isFailure?(error: unknown): boolean;
}

/** Told of every change of state and every refused call, by kind (see `kindOf`). */
export interface BreakerObserver {
  created?(kind: string): void;
  /** `openForMs`: when closing, how long since it opened from closed; else null. */
  transition?(name: string, kind: string, from: BreakerState, to: BreakerState, openForMs: number | null): void;
  rejected?(kind: string): void;
}

/**
 * The metric label of a breaker: its name, or for a per-endpoint breaker the part before the
 * colon (`webhook`), so series stay bounded whatever the number of endpoints.
 */
export const kindOf = (name: string): string => {
  const colon = name.indexOf(':');
  return colon < 0 ? name : name.slice(0, colon);
};

const NAME = /^[a-z][a-z0-9_-]{0,31}(:[^\s]{1,200})?$/;
/** Named dependencies are a handful; more is a programming error (a name made per request). */
const MAX_FIXED = 32;

type Call = () => Promise<unknown>;

const isUnavailable = (error: unknown): boolean => error instanceof AppError && error.code === 'unavailable';

export class Breaker {
  readonly name: string;
  readonly kind: string;
  readonly #opossum: Opossum<[Call], unknown>;
  readonly #message: string;
  readonly #resetMs: number;
  readonly #observer: BreakerObserver;
  #state: BreakerState = 'closed';
  /** When it last opened from closed (epoch ms), for the log line when it closes again. */
  #openedAt = 0;
  /** When it last opened or reopened: the probe is let through resetMs after this. */
  #lastOpenAt = 0;
  readonly #closeListeners: Array<() => void> = [];

  constructor(name: string, settings: BreakerSettings, options: BreakerOptions, shared: { rotate: EventEmitter; rollingWindowMs: number; observer: BreakerObserver }) {
    this.name = name;
    this.kind = kindOf(name);
    this.#message = options.message ?? `${name} is unavailable; retry shortly.`;
    this.#resetMs = settings.resetMs;
    this.#observer = shared.observer;
    const isFailure = options.isFailure;
    this.#opossum = new Opossum<[Call], unknown>((call: Call) => call(), {
      name,
      timeout: settings.timeoutMs,
      errorThresholdPercentage: settings.errorThresholdPercent,
      volumeThreshold: settings.volumeThreshold,
      resetTimeout: settings.resetMs,
      rollingCountTimeout: shared.rollingWindowMs,
      rollingCountBuckets: 10,
      rotateBucketController: shared.rotate,
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      // True: the error does not count against the dependency (it answered, with a refusal).
      errorFilter: (error: unknown) => !(isUnavailable(error) || isOwnTimeout(error) || (isFailure?.(error) ?? false)),
    });
    this.#opossum.on('open', () => this.#moved('open'));
    this.#opossum.on('halfOpen', () => this.#moved('half_open'));
    this.#opossum.on('close', () => this.#moved('closed'));
    this.#opossum.on('reject', () => this.#observer.rejected?.(this.kind));
    this.#observer.created?.(this.kind);
  }

  get state(): BreakerState {
    return this.#state;
  }

  /**
   * Runs `call` through the breaker: refused at once with `unavailable` while open (and while a
   * half-open probe is in flight); its outcome counts (only outages as failures).
   */
  run<T>(call: () => Promise<T>): Promise<T> {
    // Evicted (an endpoint unused for long) or the registry closed (the last calls of a
    // shutdown): no longer guarded, never refused for that.
    if (this.#opossum.isShutdown) return call();
    return (this.#opossum.fire(call) as Promise<T>).catch((error: unknown) => {
      throw this.#translate(error);
    });
  }

  /**
   * Runs `call` unless the breaker is open, without counting its outcome: for calls whose
   * failures say nothing about the dependency (a search stopped at its own deadline).
   */
  gate<T>(call: () => Promise<T>): Promise<T> {
    if (this.#state === 'open') {
      this.#observer.rejected?.(this.kind);
      return Promise.reject(this.#refusal());
    }
    return call();
  }

  /** `listener` runs each time the breaker closes again after being open. */
  onClose(listener: () => void): void {
    this.#closeListeners.push(listener);
  }

  /** Stops its timers; calls made after run unguarded. */
  shutdown(): void {
    this.#opossum.shutdown();
  }

  #moved(to: BreakerState): void {
    const from = this.#state;
    this.#state = to;
    const now = Date.now();
    if (to === 'open') {
      this.#lastOpenAt = now;
      if (from === 'closed') this.#openedAt = now;
    }
    this.#observer.transition?.(this.name, this.kind, from, to, to === 'closed' ? now - this.#openedAt : null);
    if (to === 'closed') for (const listener of this.#closeListeners) listener();
  }

  #refusal(): AppError {
    // Retry once the probe may have closed it: the rest of the reset time, at least a second.
    const left = this.#resetMs - (Date.now() - this.#lastOpenAt);
    return unavailable(this.#message, Math.max(1, Math.ceil(left / 1000)));
  }

  #translate(error: unknown): unknown {
    if (!(error instanceof Error) || !Opossum.isOurError(error)) return error;
    const code = (error as Error & { code?: unknown }).code;
    if (code === 'ETIMEDOUT') {
      const timedOut = unavailable(this.#message);
      timedOut.cause = error;
      return timedOut;
    }
    // EOPENBREAKER: open, or a half-open probe in flight.
    return this.#refusal();
  }
}

function isOwnTimeout(error: unknown): boolean {
  return error instanceof Error && Opossum.isOurError(error) && (error as Error & { code?: unknown }).code === 'ETIMEDOUT';
}

export interface BreakersOptions extends BreakerSettings {
  /** Length of the rolling window the error percentage is measured over, ms (ten buckets). */
  rollingWindowMs: number;
  /** Per-endpoint breakers kept (least recently used shut down past it). */
  maxEndpoints: number;
  observer?: BreakerObserver;
}

/** The breakers of one process, one per name. */
export class Breakers {
  readonly #settings: BreakerSettings;
  readonly #rollingWindowMs: number;
  readonly #maxEndpoints: number;
  readonly #observer: BreakerObserver;
  readonly #fixed = new Map<string, Breaker>();
  /** In order of last use, oldest first (Map keeps insertion order; a use re-inserts). */
  readonly #endpoints = new Map<string, Breaker>();
  readonly #rotate = new EventEmitter();
  readonly #timer: NodeJS.Timeout;
  #closed = false;

  constructor(options: BreakersOptions) {
    this.#settings = {
      errorThresholdPercent: options.errorThresholdPercent,
      volumeThreshold: options.volumeThreshold,
      resetMs: options.resetMs,
      timeoutMs: options.timeoutMs,
    };
    this.#rollingWindowMs = options.rollingWindowMs;
    this.#maxEndpoints = options.maxEndpoints;
    this.#observer = options.observer ?? {};
    // One listener per breaker: up to every endpoint's and the fixed ones.
    this.#rotate.setMaxListeners(options.maxEndpoints + MAX_FIXED + 1);
    this.#timer = setInterval(() => this.#rotate.emit('rotate'), Math.max(10, Math.floor(options.rollingWindowMs / 10)));
    this.#timer.unref();
  }

  /**
   * The breaker named `name`, made on first use with `options` (later calls return it as made).
   * `store`, `redis`, `bus`, `jobs`: a dependency's, kept for good. `webhook:<endpoint id>`
   * (any `kind:id`): an endpoint's, evicted when unused among more than maxEndpoints.
   */
  for(name: string, options: BreakerOptions = {}): Breaker {
    if (!NAME.test(name)) throw new Error(`breaker name "${name}" is not kind or kind:id`);
    if (this.#closed) throw new Error('the breakers are closed');
    const endpoint = name.includes(':');
    if (!endpoint) {
      let breaker = this.#fixed.get(name);
      if (breaker === undefined) {
        if (this.#fixed.size >= MAX_FIXED) throw new Error(`more than ${MAX_FIXED} dependency breakers: "${name}" should be kind:id`);
        breaker = this.#make(name, options);
        this.#fixed.set(name, breaker);
      }
      return breaker;
    }
    let breaker = this.#endpoints.get(name);
    if (breaker !== undefined) {
      this.#endpoints.delete(name);
      this.#endpoints.set(name, breaker);
      return breaker;
    }
    breaker = this.#make(name, options);
    this.#endpoints.set(name, breaker);
    while (this.#endpoints.size > this.#maxEndpoints) {
      const [oldest, evicted] = this.#endpoints.entries().next().value as [string, Breaker];
      this.#endpoints.delete(oldest);
      evicted.shutdown();
    }
    return breaker;
  }

  /** How many breakers exist: dependencies and endpoints. */
  get size(): { fixed: number; endpoints: number } {
    return { fixed: this.#fixed.size, endpoints: this.#endpoints.size };
  }

  /** The worst state of each kind (0 closed, 1 half-open, 2 open), for the state gauge. */
  states(): Map<string, number> {
    const out = new Map<string, number>();
    for (const breaker of [...this.#fixed.values(), ...this.#endpoints.values()]) {
      out.set(breaker.kind, Math.max(out.get(breaker.kind) ?? 0, STATE_VALUE[breaker.state]));
    }
    return out;
  }

  /** Stops every breaker's timers. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    for (const breaker of [...this.#fixed.values(), ...this.#endpoints.values()]) breaker.shutdown();
    this.#fixed.clear();
    this.#endpoints.clear();
  }

  #make(name: string, options: BreakerOptions): Breaker {
    const settings: BreakerSettings = {
      errorThresholdPercent: options.errorThresholdPercent ?? this.#settings.errorThresholdPercent,
      volumeThreshold: options.volumeThreshold ?? this.#settings.volumeThreshold,
      resetMs: options.resetMs ?? this.#settings.resetMs,
      timeoutMs: options.timeoutMs ?? this.#settings.timeoutMs,
    };
    return new Breaker(name, settings, options, { rotate: this.#rotate, rollingWindowMs: this.#rollingWindowMs, observer: this.#observer });
  }
}
