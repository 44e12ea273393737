/**
 * A small typed event emitter. A handler that throws does not stop the others nor corrupt the
 * client's state: the error is rethrown on a fresh task, where the host reports it as uncaught
 * (as EventTarget does), instead of unwinding through the socket's message handler.
 */

export type Listener<T> = (payload: T) => void;

export class Emitter<M extends object> {
  readonly #listeners: { [K in keyof M]?: Set<Listener<M[K]>> } = {};

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof M>(type: K, listener: Listener<M[K]>): () => void {
    let set = this.#listeners[type];
    if (set === undefined) {
      set = new Set();
      this.#listeners[type] = set;
    }
    // A fresh wrapper per call, so adding the same function twice needs two removals.
    const entry: Listener<M[K]> = (payload) => listener(payload);
    set.add(entry);
    return () => {
      set.delete(entry);
    };
  }

  emit<K extends keyof M>(type: K, payload: M[K]): void {
    const set = this.#listeners[type];
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        listener(payload);
      } catch (error) {
        setTimeout(() => {
          throw error;
        }, 0);
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    for (const key of Object.keys(this.#listeners)) delete this.#listeners[key as keyof M];
  }
}
