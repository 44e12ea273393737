/**
 * Where each user's latest write ends in the primary's WAL: what a replica must have replayed
 * before it may serve that user's reads.
 *
 * Kept here for this process, and in the cache the nodes share (Redis or memcached, when one is
 * configured) for every other process: a user whose send is taken by one worker and whose next
 * read lands on another still reads their write. A mark is needed only while a replica in
 * rotation may lack it (DATABASE_REPLICA_MAX_LAG_MS, and a probe interval): it expires then.
 *
 * Bounded: past `maxEntries` the oldest local marks are forgotten, and the latest forgotten one
 * becomes a floor every user is held to, so forgetting can only send reads to the primary,
 * never serve one stale.
 */
import type { Cache } from '../../ports.js';

/** A mark beyond any WAL position: the write's position is unknown, so its user reads from the primary until the mark expires. */
export const UNKNOWN_POSITION = 2n ** 64n;

export interface SharedMarks {
  /** The user's mark in the shared cache; null when none. Rejects when the cache cannot answer. */
  get(userId: string): Promise<bigint | null>;
  set(userIds: string[], lsn: bigint): Promise<void>;
}

/** Marks in the Cache port, kept `ttlMs`: `replica-mark:<user>` → the WAL position, as decimal. */
export function sharedMarks(cache: Cache, ttlMs: number): SharedMarks {
  const key = (userId: string) => `replica-mark:${userId}`;
  return {
    async get(userId) {
      const value = await cache.get(key(userId));
      return value === undefined || !/^\d{1,30}$/.test(value) ? null : BigInt(value);
    },
    async set(userIds, lsn) {
      await Promise.all(userIds.map((userId) => cache.set(key(userId), lsn.toString(), ttlMs)));
    },
  };
}

/** The later of two WAL positions (Math.max takes no bigint). */
export const later = (a: bigint, b: bigint): bigint => (a > b ? a : b);

export class WriteMarks {
  /** User id → their latest write's position and when it was marked; in order of marking. */
  readonly #marks = new Map<string, { lsn: bigint; at: number }>();
  readonly #maxEntries: number;
  #floor: { lsn: bigint; at: number } | null = null;

  constructor(maxEntries = 100_000) {
    this.#maxEntries = maxEntries;
  }

  mark(userId: string, lsn: bigint, at: number): void {
    const previous = this.#marks.get(userId);
    this.#marks.delete(userId);
    this.#marks.set(userId, { lsn: previous === undefined ? lsn : later(previous.lsn, lsn), at });
    while (this.#marks.size > this.#maxEntries) {
      const [oldest, mark] = this.#marks.entries().next().value as [string, { lsn: bigint; at: number }];
      this.#marks.delete(oldest);
      const floor = this.#floor;
      this.#floor = floor === null ? mark : { lsn: later(mark.lsn, floor.lsn), at: Math.max(mark.at, floor.at) };
    }
  }

  /** The position a replica must have replayed before serving `userId`; null: any. */
  since(userId: string): bigint | null {
    const own = this.#marks.get(userId)?.lsn ?? null;
    const floor = this.#floor?.lsn ?? null;
    if (own === null) return floor;
    return floor === null || own > floor ? own : floor;
  }

  /** Drops marks (and the floor) made before `before`. */
  prune(before: number): void {
    for (const [userId, mark] of this.#marks) {
      if (mark.at >= before) break;
      this.#marks.delete(userId);
    }
    if (this.#floor !== null && this.#floor.at < before) this.#floor = null;
  }

  get size(): number {
    return this.#marks.size;
  }
}
