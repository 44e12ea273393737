/**
 * Outages logged once. A Redis restart used to write over a hundred error lines: every
 * reconnection attempt, every failed call and every failed best-effort publish logged its own.
 * What an operator needs is when a dependency went away, when it came back, and how much
 * failed meanwhile; the failures themselves are counted in metrics and answered `unavailable`.
 *
 * One OutageLog per connection (the app's Redis client, the bus's publisher and subscriber, the
 * NATS connection, the PostgreSQL pool, the SQLite thread): the first failure writes one error
 * line, later ones are counted, and the first success writes one line with how long it was
 * down and how many errors were not logged.
 */
import { AppError } from '../errors.js';
import type { Logger } from './log.js';

/** The two levels an OutageLog writes at (a pino logger, or a child of one). */
export type OutageSink = Pick<Logger, 'error' | 'info'>;

export class OutageLog {
  readonly #log: OutageSink;
  readonly #dependency: string;
  readonly #now: () => number;
  #downSince: number | null = null;
  #suppressed = 0;
  #restoredAt = Number.NEGATIVE_INFINITY;

  constructor(log: OutageSink, dependency: string, now: () => number = Date.now) {
    this.#log = log;
    this.#dependency = dependency;
    this.#now = now;
  }

  get down(): boolean {
    return this.#downSince !== null;
  }

  /**
   * A failure: the first of an outage is logged, the others counted. A call that started before
   * the last recovery (`startedAt`, epoch ms) belongs to the outage that ended: it was in flight
   * through it and fails late, and opens no new one.
   */
  lost(error: unknown, startedAt?: number): void {
    if (this.#downSince !== null) {
      this.#suppressed++;
      return;
    }
    if (startedAt !== undefined && startedAt < this.#restoredAt) return;
    this.#downSince = this.#now();
    this.#suppressed = 0;
    this.#log.error({ err: error, dependency: this.#dependency }, `${this.#dependency} unavailable`);
  }

  /** A success: ends the outage, if there is one, with one line. */
  restored(): void {
    if (this.#downSince === null) return;
    this.#restoredAt = this.#now();
    const downMs = this.#restoredAt - this.#downSince;
    const suppressed = this.#suppressed;
    this.#downSince = null;
    this.#suppressed = 0;
    this.#log.info({ dependency: this.#dependency, downMs, suppressed }, `${this.#dependency} available again`);
  }
}

/**
 * Logs the failure of a background task (a best-effort publish, a presence update, a gap fill)
 * by what it says: an outage (`unavailable`) was already logged once by the connection that
 * caused it, so its consequences are debug lines; anything else is a bug and an error line.
 */
export function logFailure(log: Pick<Logger, 'error' | 'debug'>, error: unknown, message: string, fields: Record<string, unknown> = {}): void {
  if (error instanceof AppError && error.code === 'unavailable') log.debug({ ...fields, err: error }, message);
  else log.error({ ...fields, err: error }, message);
}
