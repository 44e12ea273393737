/**
 * Operational events (connections, logins, job outcomes) to the event log, best effort and
 * never in the way: `emit` only adds to a bounded buffer, flushed in batches. While the log is
 * down the buffer holds what it can; past its bound the oldest are dropped and counted. These
 * are measurements, not state: the stream events are what must never be lost, and the relay
 * takes those from the store.
 */
import type { EventLog, LogRecord } from '../ports.js';
import { type OpsName, opsRecord } from './records.js';

export interface OpsSink {
  emit(name: OpsName, fields: Record<string, unknown>): void;
}

/** Without an event log: nothing is kept. */
export const NO_OPS: OpsSink = { emit: () => undefined };

export interface OpsEventsOptions {
  node: string;
  maxBuffered?: number;
  flushMs?: number;
  batch?: number;
  onError(error: unknown, context: string): void;
  onDropped?(count: number): void;
  onAppended?(count: number): void;
}

export class OpsEvents implements OpsSink {
  readonly #log: EventLog;
  readonly #options: Required<Omit<OpsEventsOptions, 'onDropped' | 'onAppended'>> & Pick<OpsEventsOptions, 'onDropped' | 'onAppended'>;
  #buffer: LogRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #failing = false;
  #closed = false;

  constructor(log: EventLog, options: OpsEventsOptions) {
    this.#log = log;
    this.#options = { maxBuffered: 10_000, flushMs: 200, batch: 500, ...options };
  }

  emit(name: OpsName, fields: Record<string, unknown>): void {
    if (this.#closed) return;
    if (this.#buffer.length >= this.#options.maxBuffered) {
      this.#buffer.shift();
      this.#options.onDropped?.(1);
    }
    this.#buffer.push(opsRecord(name, fields, this.#options.node, Date.now()));
    this.#timer ??= setTimeout(() => this.#flush(), this.#options.flushMs).unref();
  }

  /** Flushes what is buffered (one attempt, bounded by the log's own timeouts). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#flushing;
    if (this.#buffer.length > 0) await this.#flushOnce();
  }

  #flush(): void {
    this.#timer = undefined;
    if (this.#flushing !== undefined) return;
    this.#flushing = this.#flushOnce().finally(() => {
      this.#flushing = undefined;
      if (this.#buffer.length > 0 && !this.#closed) this.#timer ??= setTimeout(() => this.#flush(), this.#failing ? this.#options.flushMs * 10 : 0).unref();
    });
  }

  async #flushOnce(): Promise<void> {
    const batch = this.#buffer.slice(0, this.#options.batch);
    if (batch.length === 0) return;
    try {
      const { stored } = await this.#log.append(batch);
      // Only what was sent leaves the buffer (drops meanwhile took from its front).
      const sent = new Set(batch);
      this.#buffer = this.#buffer.filter((r) => !sent.has(r));
      this.#options.onAppended?.(stored);
      if (this.#failing) this.#failing = false;
    } catch (error) {
      if (!this.#failing) this.#options.onError(error, 'operational events');
      this.#failing = true;
    }
  }
}
