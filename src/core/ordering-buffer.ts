/**
 * Releases a room's events in seq order, each exactly once.
 *
 * Events come from the bus, which may reorder events of different publishers and may lose
 * some. An event whose seq is the next expected one is released at once, with any buffered
 * successors; an older one is a duplicate and dropped; a newer one waits. While something
 * waits there is a gap: the owner waits a little for the bus, then fills the gap from the store
 * (`fill`). The buffer is bounded: past `maxPending` waiting events the gap is reported as
 * urgent, so the owner fetches at once instead of waiting.
 */
export class OrderingBuffer<T> {
  #next: number;
  readonly #pending = new Map<number, T>();
  readonly #maxPending: number;

  constructor(lastReleased: number, maxPending = 1024) {
    this.#next = lastReleased + 1;
    this.#maxPending = maxPending;
  }

  /** The seq of the last event released. */
  get lastReleased(): number {
    return this.#next - 1;
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  /** True when an event is missing and later ones are waiting for it. */
  get hasGap(): boolean {
    return this.#pending.size > 0;
  }

  /** True when the waiting events reached the bound: fetch the gap now. */
  get isFull(): boolean {
    return this.#pending.size >= this.#maxPending;
  }

  /** Offers one event; returns the events now released, in order (maybe none). */
  push(seq: number, item: T): T[] {
    if (seq < this.#next || this.#pending.has(seq)) return [];
    if (seq > this.#next) {
      // Past the bound, keep the lowest seqs: they are the ones released first.
      if (this.#pending.size >= this.#maxPending) {
        const highest = Math.max(...this.#pending.keys());
        if (seq > highest) return [];
        this.#pending.delete(highest);
      }
      this.#pending.set(seq, item);
      return [];
    }
    const released = [item];
    this.#next++;
    for (let following = this.#pending.get(this.#next); following !== undefined; following = this.#pending.get(this.#next)) {
      this.#pending.delete(this.#next);
      released.push(following);
      this.#next++;
    }
    return released;
  }

  /** Offers events fetched from the store (any order); returns what is now released. */
  fill(items: Array<{ seq: number; item: T }>): T[] {
    const released: T[] = [];
    for (const { seq, item } of [...items].sort((a, b) => a.seq - b.seq)) released.push(...this.push(seq, item));
    return released;
  }
}
