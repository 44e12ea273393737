import type { Bus, Channel } from '../../ports.js';
import { ChannelHandlers, deliverEach, ResetListeners } from '../bus-handlers.js';

/**
 * The bus of a single process. Handlers run in a later microtask, as they would with a network
 * bus, so publishers never re-enter themselves. FIFO per channel; never loses a message. A
 * handler that throws is reported to `onError`; the others still get the message.
 */
export class MemoryBus implements Bus {
  readonly #handlers = new ChannelHandlers();
  readonly #resets = new ResetListeners();
  readonly #onError: (error: unknown, context: string) => void;
  #closed = false;

  constructor(onError: (error: unknown, context: string) => void = () => undefined) {
    this.#onError = onError;
  }

  async publish(channel: Channel, payload: string): Promise<void> {
    if (this.#closed) return;
    const snapshot = this.#handlers.snapshot(channel);
    if (snapshot.length === 0) return;
    queueMicrotask(() => deliverEach(snapshot, payload, (error) => this.#onError(error, 'bus handler')));
  }

  async subscribe(channel: Channel, handler: (payload: string) => void): Promise<() => Promise<void>> {
    this.#handlers.add(channel, handler);
    return async () => {
      this.#handlers.remove(channel, handler);
    };
  }

  onReset(listener: () => void): void {
    this.#resets.add(listener);
  }

  async resubscribe(): Promise<void> {
    this.#resets.fire(this.#onError);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#handlers.clear();
  }
}
