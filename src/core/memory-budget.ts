/**
 * A byte budget shared by many holders of optional memory (the recent events of every room open
 * on a node). Each holder reports what it adds and frees; when the total passes the budget, the
 * holders used least recently are asked to shed everything they hold until the total is back
 * under it. What is shed is only a cache: a holder that lost its memory reads the store instead.
 */
export interface MemoryHolder {
  /** Drops all its optional memory, without charging the budget for it (the budget settles). */
  shed(): void;
}

export class MemoryBudget {
  readonly #maxBytes: number;
  /** Bytes per holder, in order of last use (least recent first). */
  readonly #held = new Map<MemoryHolder, number>();
  #total = 0;
  #shedding = false;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  get totalBytes(): number {
    return this.#total;
  }

  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** `holder` now holds `delta` more bytes (less when negative); a positive charge marks it as used. */
  charge(holder: MemoryHolder, delta: number): void {
    if (delta === 0) return;
    const held = (this.#held.get(holder) ?? 0) + delta;
    this.#total += delta;
    if (delta > 0) this.#held.delete(holder);
    if (held > 0) this.#held.set(holder, held);
    else this.#held.delete(holder);
    if (delta > 0 && this.#total > this.#maxBytes) this.#shed(holder);
  }

  /** `holder` is gone: its bytes no longer count. */
  forget(holder: MemoryHolder): void {
    const held = this.#held.get(holder);
    if (held === undefined) return;
    this.#held.delete(holder);
    this.#total -= held;
  }

  /** Sheds the least recently used holders, the one charging last of all. */
  #shed(charging: MemoryHolder): void {
    if (this.#shedding) return;
    this.#shedding = true;
    try {
      for (const holder of [...this.#held.keys()]) {
        if (this.#total <= this.#maxBytes) break;
        if (holder === charging) continue;
        this.#release(holder);
      }
      if (this.#total > this.#maxBytes) this.#release(charging);
    } finally {
      this.#shedding = false;
    }
  }

  #release(holder: MemoryHolder): void {
    // The holder drops its memory without charging for it: what this budget counted is freed.
    holder.shed();
    this.#total -= this.#held.get(holder) ?? 0;
    this.#held.delete(holder);
  }
}
