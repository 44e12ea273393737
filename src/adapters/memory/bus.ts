import type { Bus, Channel } from '../../ports.js';

/**
 * The bus of a single process. Delivery is synchronous-free: handlers run in a later microtask,
 * as they would with a network bus, so publishers never re-enter themselves. FIFO per channel.
 */
export class MemoryBus implements Bus {
  readonly #handlers = new Map<Channel, Set<(payload: string) => void>>();
  #closed = false;

  async publish(channel: Channel, payload: string): Promise<void> {
    if (this.#closed) return;
    const handlers = this.#handlers.get(channel);
    if (handlers === undefined) return;
    const snapshot = [...handlers];
    queueMicrotask(() => {
      for (const handler of snapshot) handler(payload);
    });
  }

  async subscribe(channel: Channel, handler: (payload: string) => void): Promise<() => Promise<void>> {
    let handlers = this.#handlers.get(channel);
    if (handlers === undefined) {
      handlers = new Set();
      this.#handlers.set(channel, handlers);
    }
    handlers.add(handler);
    return async () => {
      const set = this.#handlers.get(channel);
      if (set === undefined) return;
      set.delete(handler);
      if (set.size === 0) this.#handlers.delete(channel);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#handlers.clear();
  }
}
