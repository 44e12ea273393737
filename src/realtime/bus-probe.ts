/**
 * End-to-end check of the bus: every interval the node publishes a numbered probe on its own
 * channel and expects to receive it before the next. A subscription can stop delivering while
 * its connection looks healthy (a proxy or server dropping it silently); a probe that does not
 * come back makes the node not ready, resubscribe (which resyncs every room from the store), and
 * ready again only once a probe arrives.
 */
import type { Bus, Channel } from '../ports.js';
import { decodeProbe, encodeProbe } from '../protocol/bus-codec.js';

export interface BusProbeOptions {
  intervalMs: number;
  onError(error: unknown, context: string): void;
  onStale?(): void;
}

export class BusProbe {
  readonly #bus: Bus;
  readonly #channel: Channel;
  readonly #options: BusProbeOptions;
  #sent = 0;
  #received = 0;
  #healthy = true;
  #resubscribing = false;
  #timer: NodeJS.Timeout | null = null;
  #stop: (() => Promise<void>) | null = null;

  constructor(bus: Bus, nodeId: string, options: BusProbeOptions) {
    this.#bus = bus;
    this.#channel = `node:${nodeId}`;
    this.#options = options;
  }

  async start(): Promise<void> {
    this.#stop = await this.#bus.subscribe(this.#channel, (payload) => {
      const n = decodeProbe(payload);
      if (n !== null && n > this.#received) this.#received = n;
      if (this.#received >= this.#sent) this.#healthy = true;
    });
    this.#timer = setInterval(() => this.#tick(), this.#options.intervalMs);
    this.#timer.unref();
    this.#publish();
  }

  /** Null when the bus delivers; else why not. */
  get notReadyReason(): string | null {
    return this.#healthy ? null : 'the bus is not delivering (resubscribing)';
  }

  #tick(): void {
    // While resubscribing, probes would only fail: wait for it, then probe at once.
    if (this.#resubscribing) return;
    if (this.#received < this.#sent) {
      this.#healthy = false;
      this.#options.onStale?.();
      this.#resubscribing = true;
      this.#bus
        .resubscribe()
        .catch((error: unknown) => this.#options.onError(error, 'bus resubscribe'))
        .finally(() => {
          this.#resubscribing = false;
          if (this.#timer !== null) this.#publish();
        });
      return;
    }
    this.#publish();
  }

  #publish(): void {
    this.#sent++;
    this.#bus.publish(this.#channel, encodeProbe(this.#sent)).catch((error: unknown) => this.#options.onError(error, 'bus probe'));
  }

  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#stop?.();
  }
}
