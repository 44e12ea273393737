import type { Channel } from '../ports.js';

type Handler = (payload: string) => void;

/**
 * The local handlers of each channel, for bus adapters: a network subscription exists while a
 * channel has at least one handler. `add` and `remove` say when the first came and the last went.
 */
export class ChannelHandlers {
  readonly #byChannel = new Map<Channel, Set<Handler>>();

  /** Returns true when `channel` had no handler before. */
  add(channel: Channel, handler: Handler): boolean {
    let set = this.#byChannel.get(channel);
    const first = set === undefined;
    if (set === undefined) {
      set = new Set();
      this.#byChannel.set(channel, set);
    }
    set.add(handler);
    return first;
  }

  /** Returns true when `channel` has no handler left (and had this one). */
  remove(channel: Channel, handler: Handler): boolean {
    const set = this.#byChannel.get(channel);
    if (set === undefined || !set.delete(handler)) return false;
    if (set.size > 0) return false;
    this.#byChannel.delete(channel);
    return true;
  }

  has(channel: Channel): boolean {
    return this.#byChannel.has(channel);
  }

  snapshot(channel: Channel): Handler[] {
    const set = this.#byChannel.get(channel);
    return set === undefined ? [] : [...set];
  }

  deliver(channel: Channel, payload: string, onError: (error: unknown) => void): void {
    const set = this.#byChannel.get(channel);
    if (set !== undefined) deliverEach(set, payload, onError);
  }

  channels(): Channel[] {
    return [...this.#byChannel.keys()];
  }

  clear(): void {
    this.#byChannel.clear();
  }
}

/** Hands `payload` to each handler; one that throws is reported and does not keep it from the others. */
export function deliverEach(handlers: Iterable<Handler>, payload: string, onError: (error: unknown) => void): void {
  for (const handler of handlers) {
    try {
      handler(payload);
    } catch (error) {
      onError(error);
    }
  }
}

/**
 * The reset side of a bus: the onReset listeners, and the resubscribe() callers waiting for the
 * next reset. fire() answers the waiters, then runs each listener (one that throws is reported
 * and does not keep it from the others); release() answers the waiters only (a bus closing).
 */
export class ResetListeners {
  readonly #listeners: Array<() => void> = [];
  #waiting: Array<() => void> = [];

  add(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Resolves at the next fire() or release(). */
  next(): Promise<void> {
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  fire(onError: (error: unknown, context: string) => void): void {
    this.release();
    for (const listener of this.#listeners) {
      try {
        listener();
      } catch (error) {
        onError(error, 'bus reset listener');
      }
    }
  }

  release(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const resolve of waiting) resolve();
  }
}
