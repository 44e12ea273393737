/**
 * Follows every room's stream from a cursor of its own (`stream_cursors`, beside the room's
 * events): the way committed events leave the send path for the event pipeline. After a commit
 * the writer tells `committed`; once per room per short window the room's events after the
 * cursor are read, page by page, and handed to `take`, which moves the cursor when it is done
 * with them (in the same transaction when it writes to the store). A sweep finds the rooms still
 * behind (a process died between a commit and its run, or `take` failed).
 *
 * At least once: a run repeated, or two processes on one room, hand the same events again; what
 * `take` does is idempotent. The event loop is never held: runs are bounded in number at once,
 * and the rooms waiting are bounded (past it, the sweep finds them).
 */
import type { StreamEventRecord } from '../domain/types.js';
import type { Store } from '../ports.js';

/** A room whose run failed is run again after this. */
const RETRY_MS = 1_000;

export interface RoomTailOptions {
  /** The cursor's consumer name (`log`, `search`). */
  consumer: string;
  /** Handles a room's next events (seq order: every event after `after`, the cursor, up to the last) and moves the cursor past them. */
  take(roomId: string, events: StreamEventRecord[], after: number): Promise<void>;
  onError(error: unknown, context: string): void;
  windowMs?: number;
  sweepMs?: number;
  /** Rooms run at once by this process. */
  concurrency?: number;
  page?: number;
  /** Pages one run takes before it yields to other rooms. */
  pagesPerRun?: number;
  /** Rooms waiting for a run; past it they wait for the sweep. */
  maxWaiting?: number;
}

export class RoomTail {
  readonly #store: Store;
  readonly #options: Required<Omit<RoomTailOptions, 'take' | 'onError' | 'consumer'>> & Pick<RoomTailOptions, 'take' | 'onError' | 'consumer'>;
  /** Rooms owed a run, in order. */
  readonly #waiting = new Set<string>();
  readonly #running = new Map<string, Promise<void>>();
  /** Rooms committed to again while their run was going: they run once more after it. */
  readonly #again = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;
  #sweeping: Promise<void> | undefined;

  constructor(store: Store, options: RoomTailOptions) {
    this.#store = store;
    this.#options = { windowMs: 10, sweepMs: 15_000, concurrency: 4, page: 200, pagesPerRun: 5, maxWaiting: 10_000, ...options };
  }

  start(): void {
    this.#sweeper = setInterval(() => this.sweep(), this.#options.sweepMs);
    this.#sweeper.unref();
    if (this.#options.sweepMs <= 15_000) this.sweep();
  }

  /** A room's stream has a new event. */
  committed(event: StreamEventRecord): void {
    this.#want(event.roomId);
  }

  /** Runs every room that is behind its cursor (at most a few hundred per sweep). */
  sweep(): void {
    if (this.#closed || this.#sweeping !== undefined) return;
    this.#sweeping = this.#store
      .roomsBehindCursor(this.#options.consumer, 500)
      .then((rooms) => {
        for (const roomId of rooms) this.#want(roomId);
      })
      .catch((error: unknown) => this.#options.onError(error, `${this.#options.consumer} sweep`))
      .finally(() => {
        this.#sweeping = undefined;
      });
  }

  /** Rooms owed a run or running: what this process knows is behind. */
  get backlog(): number {
    return this.#waiting.size + this.#running.size;
  }

  /** Stops taking rooms; waits for the runs in hand (bounded by the caller). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#sweeper);
    this.#waiting.clear();
    await Promise.allSettled([...this.#running.values(), this.#sweeping]);
  }

  #want(roomId: string): void {
    if (this.#closed) return;
    if (this.#running.has(roomId)) {
      this.#again.add(roomId);
      return;
    }
    if (this.#waiting.size >= this.#options.maxWaiting && !this.#waiting.has(roomId)) return;
    this.#waiting.add(roomId);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#pump();
    }, this.#options.windowMs);
  }

  #pump(): void {
    for (const roomId of this.#waiting) {
      if (this.#running.size >= this.#options.concurrency) return;
      this.#waiting.delete(roomId);
      if (this.#running.has(roomId)) {
        this.#again.add(roomId);
        continue;
      }
      const run = this.#run(roomId)
        .catch((error: unknown) => {
          this.#options.onError(error, `${this.#options.consumer} of room ${roomId}`);
          // Tried again soon (the log or the store back), not only at the next sweep.
          setTimeout(() => this.#want(roomId), RETRY_MS).unref();
        })
        .finally(() => {
          this.#running.delete(roomId);
          if (this.#again.delete(roomId)) this.#want(roomId);
          this.#pump();
        });
      this.#running.set(roomId, run);
    }
  }

  async #run(roomId: string): Promise<void> {
    const { consumer, page, pagesPerRun, take } = this.#options;
    let cursor = await this.#store.streamCursor(roomId, consumer);
    for (let n = 0; n < pagesPerRun; n++) {
      const events = await this.#store.readEvents(roomId, cursor, page);
      if (events.length === 0) return;
      await take(roomId, events, cursor);
      cursor = (events.at(-1) as StreamEventRecord).seq;
      if (events.length < page) return;
    }
    // More remain: the room goes to the back, so one busy room does not hold the others.
    this.#again.add(roomId);
  }
}
