/**
 * When each user's latest write finished, on this process's clock: what a replica must hold
 * before it may serve that user's reads. Bounded: past `maxEntries` the oldest marks are
 * forgotten, and the latest forgotten one becomes a floor every user is held to, so forgetting
 * can only send reads to the primary, never serve one stale. Marks older than any replica in
 * rotation may lag are useless and are dropped (prune()).
 */
export class WriteMarks {
  /** User id → when their latest write finished; in order of that time (re-marking moves to the end). */
  readonly #marks = new Map<string, number>();
  readonly #maxEntries: number;
  #floor = Number.NEGATIVE_INFINITY;

  constructor(maxEntries = 100_000) {
    this.#maxEntries = maxEntries;
  }

  mark(userId: string, at: number): void {
    this.#marks.delete(userId);
    this.#marks.set(userId, at);
    while (this.#marks.size > this.#maxEntries) {
      const [oldest, time] = this.#marks.entries().next().value as [string, number];
      this.#marks.delete(oldest);
      this.#floor = Math.max(this.#floor, time);
    }
  }

  /** What a replica must have caught up to before serving `userId`. */
  since(userId: string): number {
    return Math.max(this.#floor, this.#marks.get(userId) ?? Number.NEGATIVE_INFINITY);
  }

  /** Drops marks (and the floor) older than `before`. */
  prune(before: number): void {
    for (const [userId, at] of this.#marks) {
      if (at >= before) break;
      this.#marks.delete(userId);
    }
    if (this.#floor < before) this.#floor = Number.NEGATIVE_INFINITY;
  }

  get size(): number {
    return this.#marks.size;
  }
}
