/**
 * What a node knows of room moves between shards (shard-move.ts): the primary's directory is
 * polled every `pollMs` for the rooms being moved and those whose move ended since the last
 * poll. A room being moved takes no write here until its move ends (writes wait, then go to the
 * room's new shard); a room whose move ended has its placement forgotten, so the next call asks
 * the directory again.
 *
 * The mover waits longer than `staleAfter` (three polls) after announcing a move before it
 * copies the room: by then every node has seen it, or has not polled for that long, and a node
 * whose last poll is that old holds every room's writes until a poll succeeds again. So no write
 * reaches the old shard once the copy has begun.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../../errors.js';
import type { ShardSql } from './shard-sql.js';

export interface MoveWatchOptions {
  pollMs: number;
  /** A write held this long by a move (or a stale view of moves) fails with `unavailable`. */
  waitMs: number;
  /** Told of each room whose move ended: its placement is to be read again. */
  onMoved: (roomId: string) => void;
  onError?: (error: unknown) => void;
}

/** Polls older than this many poll intervals hold every write: see the module comment. */
export const STALE_POLLS = 3;

export class MoveWatch {
  readonly #sql: ShardSql;
  readonly #options: MoveWatchOptions;
  #moving = new Map<string, string>();
  #seq = 0;
  /** performance.now() at the start of the last poll that succeeded (monotonic). */
  #lastPollAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | null = null;
  #polling: Promise<void> | null = null;
  #closed = false;
  #started = false;

  constructor(sql: ShardSql, options: MoveWatchOptions) {
    this.#sql = sql;
    this.#options = options;
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.poll()
        .catch((error: unknown) => this.#options.onError?.(error))
        .finally(() => this.#schedule());
    }, this.#options.pollMs);
    this.#timer.unref();
  }

  /** One poll (joined when one is running). The first that succeeds starts polling every `pollMs`. */
  poll(): Promise<void> {
    this.#polling ??= (async () => {
      // What the poll reads is the state as of its start: a slow answer must not look fresh.
      const startedAt = performance.now();
      try {
        // Moves that ended before the first poll concern no placement known here.
        if (!this.#started) this.#seq = await this.#sql.latestMoveSeq();
        const seen = await this.#sql.movesSince(this.#seq);
        for (const roomId of this.#moving.keys()) if (!seen.moving.has(roomId)) this.#options.onMoved(roomId);
        for (const roomId of seen.moved) this.#options.onMoved(roomId);
        this.#moving = seen.moving;
        this.#seq = seen.seq;
        this.#lastPollAt = startedAt;
        if (!this.#started) {
          this.#started = true;
          this.#schedule();
        }
      } finally {
        this.#polling = null;
      }
    })();
    return this.#polling;
  }

  get stale(): boolean {
    return performance.now() - this.#lastPollAt > STALE_POLLS * this.#options.pollMs;
  }

  /** A write to the room may go ahead now: no move of it seen, and a fresh view of moves. */
  canWrite(roomId: string): boolean {
    return !this.stale && !this.#moving.has(roomId);
  }

  isMoving(roomId: string): boolean {
    return this.#moving.has(roomId);
  }

  /** Resolves once a write to the room may go ahead: no move of it under way, and a fresh view of moves. */
  writable(roomId: string): Promise<void> {
    return this.#hold(roomId, true);
  }

  /** Resolves once a read of the room may go ahead: no move of it under way (as last seen). */
  readable(roomId: string): Promise<void> {
    return this.#hold(roomId, false);
  }

  async #hold(roomId: string, writing: boolean): Promise<void> {
    const held = () => (writing && this.stale) || this.#moving.has(roomId);
    if (!held()) return;
    const deadline = Date.now() + this.#options.waitMs;
    while (held()) {
      if (this.#closed || Date.now() >= deadline) {
        throw new AppError('unavailable', this.#moving.has(roomId) ? 'The room is moving to another database; retry shortly.' : 'The room directory is unreachable; retry shortly.');
      }
      await sleep(Math.max(10, Math.floor(this.#options.pollMs / 2)));
      if (this.stale) await this.poll().catch((error: unknown) => this.#options.onError?.(error));
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
  }
}
