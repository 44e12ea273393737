/**
 * Local fan-out of room streams. The node subscribes to a room's bus channel while it has at
 * least one local subscriber; every event from the bus goes through the room's ordering buffer
 * (released in seq order, gaps filled from the store), is framed once, and is written to each
 * subscribed connection.
 *
 * Per connection the hub keeps `delivered`, the last seq written to it. A subscription with
 * `since` first replays from the store; events released meanwhile wait in the subscription's
 * `pending` list and follow the replay, so each connection sees its room's stream gapless,
 * ordered and without duplicates (PROTOCOL.md guarantee 1).
 */
import { OrderingBuffer } from '../core/ordering-buffer.js';
import { eventView } from '../domain/views.js';
import type { StreamEventRecord } from '../domain/types.js';
import { unavailable } from '../errors.js';
import type { Bus, Store } from '../ports.js';
import type { Connection } from './connection.js';
import { type Framed, frameText } from './frame.js';

/** A stream event ready to write. */
interface Released {
  seq: number;
  kind: string;
  /** The actor: for member_left, the member whose subscriptions end with this event. */
  userId: string;
  /** For edit and delete: the seq of the message it changes. */
  target: number | null;
  framed: Framed;
}

interface Subscription {
  delivered: number;
  /** Non-null while the subscription is catching up from the store. */
  pending: Released[] | null;
}

interface RoomState {
  id: string;
  subs: Map<Connection, Subscription>;
  buffer: OrderingBuffer<Released> | null;
  /** Bus payloads that arrived before the buffer was initialised. */
  early: string[];
  ready: Promise<void>;
  stop: (() => Promise<void>) | null;
  gapTimer: NodeJS.Timeout | null;
  filling: boolean;
  /** A resync was asked for while a fill was running (or must go on): run one more. */
  resyncAgain: boolean;
  /** The newest released events, consecutive seqs, oldest first: catch-ups are served from here. */
  recent: Released[];
  /** Store reads in flight for catch-ups, by the seq they read after (single flight). */
  reads: Map<number, Promise<Released[]>>;
  /** Edits and deletes released so far: a store page read across one may hold the old text. */
  changes: number;
}

export interface SubscribeResult {
  lastSeq: number;
  recovered: boolean;
}

export interface RoomHubOptions {
  replayLimit: number;
  /**
   * Released events kept in memory per open room, so subscribers resuming with `since` (a
   * reconnection storm above all) are served without a store query each.
   */
  recentEvents: number;
  gapTimeoutMs: number;
  /** Most events a subscription may hold while it catches up; past it, it is closed as slow. */
  maxPending: number;
  onError(error: unknown, context: string): void;
  /** A read from the store released `events` events (gap fill or resync). */
  onGapFill?(events: number): void;
  /** `count` stream events were written to sockets. */
  onDelivered?(count: number): void;
  /** `count` other frames (typing, presence) were written to sockets. */
  onOtherFrames?(count: number): void;
}

const CATCH_UP_BATCH = 1000;

export class RoomHub {
  readonly #bus: Bus;
  readonly #store: Store;
  readonly #options: RoomHubOptions;
  readonly #rooms = new Map<string, RoomState>();

  constructor(bus: Bus, store: Store, options: RoomHubOptions) {
    this.#bus = bus;
    this.#store = store;
    this.#options = options;
  }

  get roomCount(): number {
    return this.#rooms.size;
  }

  /**
   * Subscribes `conn` to the room (access already checked). `onLive` runs synchronously at the
   * moment the subscription turns live, after every replayed event was queued and before any
   * live one: the subscribe reply is written there, so it sits exactly between the two.
   */
  async subscribe(conn: Connection, roomId: string, since: number | undefined, onLive: (result: SubscribeResult) => void): Promise<void> {
    const state = this.#state(roomId);
    await state.ready;
    const buffer = state.buffer;
    if (buffer === null) throw unavailable('The room could not be opened; retry.');
    // The last subscriber of the room may have left while it opened: start again on a fresh one.
    if (this.#rooms.get(roomId) !== state) return this.subscribe(conn, roomId, since, onLive);

    // Register at once, catching up: whatever is released from now on waits in `pending`.
    const head = buffer.lastReleased;
    const sub: Subscription = { delivered: head, pending: [] };
    state.subs.set(conn, sub);
    conn.rooms.add(roomId);

    let recovered = true;
    if (since !== undefined && since !== head) {
      if (since > head) {
        // The client may have seen events this node has not released yet; believe it only as
        // far as the store has events.
        const room = await this.#store.findRoom(roomId);
        if (room !== undefined && since <= room.lastSeq) sub.delivered = since;
        else recovered = false;
      } else if (head - since > this.#options.replayLimit) {
        recovered = false;
      } else {
        sub.delivered = since;
      }
    }
    try {
      await this.#catchUp(state, conn, sub);
    } catch (error) {
      this.#remove(state, conn);
      throw error;
    }
    onLive({ lastSeq: sub.delivered, recovered });
  }

  async unsubscribe(conn: Connection, roomId: string): Promise<void> {
    const state = this.#rooms.get(roomId);
    conn.rooms.delete(roomId);
    if (state !== undefined) this.#remove(state, conn);
  }

  /** Drops every subscription of a closed connection. */
  disconnect(conn: Connection): void {
    for (const roomId of conn.rooms) {
      const state = this.#rooms.get(roomId);
      if (state !== undefined) this.#remove(state, conn);
    }
    conn.rooms.clear();
  }

  /** Sends a non-stream frame (typing, presence) to the room's live subscribers now. */
  #broadcast(state: RoomState, payload: string, skipUserId: string | null): void {
    const framed = frameText(payload);
    let count = 0;
    for (const [conn, sub] of state.subs) {
      if (sub.pending === null && conn.user.id !== skipUserId && conn.write(framed)) count++;
    }
    if (count > 0) this.#options.onOtherFrames?.(count);
  }

  #state(roomId: string): RoomState {
    let state = this.#rooms.get(roomId);
    if (state !== undefined) return state;
    const created: RoomState = {
      id: roomId,
      subs: new Map(),
      buffer: null,
      early: [],
      ready: Promise.resolve(),
      stop: null,
      gapTimer: null,
      filling: false,
      resyncAgain: false,
      recent: [],
      reads: new Map(),
      changes: 0,
    };
    created.ready = this.#open(created);
    this.#rooms.set(roomId, created);
    state = created;
    return state;
  }

  async #open(state: RoomState): Promise<void> {
    try {
      // Subscribe first, then read the head: an event committed after the read is published
      // after the subscription, so none falls between the two.
      state.stop = await this.#bus.subscribe(`room:${state.id}`, (payload) => this.#onPayload(state, payload));
      const room = await this.#store.findRoom(state.id);
      state.buffer = new OrderingBuffer<Released>(room?.lastSeq ?? 0, this.#options.maxPending);
      const early = state.early;
      state.early = [];
      for (const payload of early) this.#onPayload(state, payload);
    } catch (error) {
      this.#options.onError(error, 'room open');
      this.#teardown(state);
    }
  }

  #onPayload(state: RoomState, payload: string): void {
    if (state.buffer === null) {
      if (state.early.length < this.#options.maxPending) state.early.push(payload);
      return;
    }
    let frame: { type?: unknown; seq?: unknown; kind?: unknown; target?: unknown; user?: { id?: unknown } };
    try {
      frame = JSON.parse(payload);
    } catch (error) {
      this.#options.onError(error, 'bus payload');
      return;
    }
    if (frame.type !== 'event') {
      this.#broadcast(state, payload, frame.type === 'typing' && typeof frame.user?.id === 'string' ? frame.user.id : null);
      return;
    }
    if (typeof frame.seq !== 'number') return;
    const released = state.buffer.push(frame.seq, {
      seq: frame.seq,
      kind: String(frame.kind),
      userId: String(frame.user?.id),
      target: typeof frame.target === 'number' ? frame.target : null,
      framed: frameText(payload),
    });
    this.#deliver(state, released);
    this.#watchGap(state);
  }

  #deliver(state: RoomState, events: Released[]): void {
    let count = 0;
    for (const event of events) {
      this.#remember(state, event);
      for (const [conn, sub] of state.subs) {
        if (sub.pending !== null) {
          sub.pending.push(event);
          if (sub.pending.length > this.#options.maxPending) this.#dropSlow(state, conn);
          continue;
        }
        if (event.seq <= sub.delivered) continue;
        if (event.seq !== sub.delivered + 1) {
          // Should not happen; repair rather than skip: catch this connection up from the store.
          sub.pending = [event];
          this.#catchUp(state, conn, sub).catch((error: unknown) => {
            this.#options.onError(error, 'catch up');
            this.#remove(state, conn);
          });
          continue;
        }
        if (conn.write(event.framed)) count++;
        sub.delivered = event.seq;
      }
      if (event.kind === 'member_left') {
        for (const conn of [...state.subs.keys()]) if (conn.user.id === event.userId) this.#remove(state, conn);
      }
    }
    if (count > 0) this.#options.onDelivered?.(count);
  }

  /** Replays from the store until the subscription meets its pending live events, then turns it live. */
  async #catchUp(state: RoomState, conn: Connection, sub: Subscription): Promise<void> {
    for (;;) {
      const pending = sub.pending ?? [];
      const firstPending = pending.find((e) => e.seq > sub.delivered);
      if (firstPending !== undefined && firstPending.seq === sub.delivered + 1) break;
      const head = state.buffer?.lastReleased ?? sub.delivered;
      if (firstPending === undefined && sub.delivered >= head) break;
      const events = this.#recentAfter(state, sub.delivered) ?? (await this.#readAfter(state, sub.delivered));
      // Unsubscribed meanwhile, or subscribed again (a newer subscription catches up itself).
      if (state.subs.get(conn) !== sub) return;
      let written = 0;
      for (const event of events) {
        if (event.seq <= sub.delivered) continue;
        if (event.seq !== sub.delivered + 1) break;
        if (conn.write(event.framed)) written++;
        sub.delivered = event.seq;
        if (event.kind === 'member_left' && event.userId === conn.user.id) this.#remove(state, conn);
        if (state.subs.get(conn) !== sub) break;
      }
      if (written > 0) this.#options.onDelivered?.(written);
      if (events.length === 0) break; // the store has nothing newer: pending events will follow
    }
    const pending = sub.pending ?? [];
    sub.pending = null;
    this.#deliverTo(state, conn, sub, pending);
  }

  #deliverTo(state: RoomState, conn: Connection, sub: Subscription, events: Released[]): void {
    let written = 0;
    for (const event of events) {
      if (state.subs.get(conn) !== sub) break;
      if (event.seq !== sub.delivered + 1) continue;
      if (conn.write(event.framed)) written++;
      sub.delivered = event.seq;
      if (event.kind === 'member_left' && event.userId === conn.user.id) this.#remove(state, conn);
    }
    if (written > 0) this.#options.onDelivered?.(written);
  }

  #remember(state: RoomState, event: Released): void {
    const recent = state.recent;
    const last = recent.at(-1);
    // Only consecutive seqs: a break (which release order rules out) starts the memory afresh.
    if (last !== undefined && event.seq !== last.seq + 1) recent.length = 0;
    recent.push(event);
    // A kept message event carries the text as it was sent. Once it is edited or deleted, no
    // one resuming may be served that text from here: memory is cut after it, so catch-ups
    // from before it read the message as it is now from the store.
    if ((event.kind === 'edit' || event.kind === 'delete') && event.target !== null) {
      state.changes++;
      const first = recent[0] as Released;
      if (event.target >= first.seq) recent.splice(0, event.target - first.seq + 1);
    }
    // Trimmed in steps, not per event.
    if (recent.length > this.#options.recentEvents * 2) recent.splice(0, recent.length - this.#options.recentEvents);
  }

  /** The released events after `after` when memory holds them all; null when it does not reach back that far. */
  #recentAfter(state: RoomState, after: number): Released[] | null {
    const first = state.recent[0];
    if (first === undefined || first.seq > after + 1) return null;
    return state.recent.slice(after + 1 - first.seq);
  }

  /**
   * Events after `after` from the store, framed once. Subscribers resuming from the same seq
   * share one read; a page that ends where memory begins is kept in memory for the next ones.
   */
  #readAfter(state: RoomState, after: number): Promise<Released[]> {
    let read = state.reads.get(after);
    if (read === undefined) {
      const changes = state.changes;
      read = this.#store.readEvents(state.id, after, CATCH_UP_BATCH).then(
        (records) => {
          state.reads.delete(after);
          const events = records.map((e) => this.#released(e));
          const last = events.at(-1);
          const first = state.recent[0];
          const head = state.buffer?.lastReleased;
          // Kept only if no edit or delete was released while it was read: the page may predate it.
          const current = changes === state.changes;
          if (current && last !== undefined && (first === undefined ? last.seq === head : last.seq + 1 === first.seq) && isConsecutive(events)) {
            state.recent = [...events, ...state.recent].slice(-Math.max(this.#options.recentEvents, state.recent.length));
          }
          return events;
        },
        (error: unknown) => {
          state.reads.delete(after);
          throw error;
        },
      );
      state.reads.set(after, read);
    }
    return read;
  }

  #watchGap(state: RoomState): void {
    const buffer = state.buffer;
    if (buffer === null || !buffer.hasGap || state.filling) return;
    if (buffer.isFull) {
      this.#fillGap(state);
      return;
    }
    state.gapTimer ??= setTimeout(() => {
      state.gapTimer = null;
      this.#fillGap(state);
    }, this.#options.gapTimeoutMs);
  }

  /**
   * Catches every open room up with the store: after the bus may have lost messages (a
   * reconnection, a resubscribe) even the newest events may be missing, with no later event to
   * reveal the gap.
   */
  resync(): void {
    for (const state of this.#rooms.values()) {
      if (state.filling) state.resyncAgain = true;
      else this.#fillGap(state, true);
    }
  }

  #fillGap(state: RoomState, force = false): void {
    const buffer = state.buffer;
    if (buffer === null || (!buffer.hasGap && !force) || state.filling) return;
    if (state.gapTimer !== null) {
      clearTimeout(state.gapTimer);
      state.gapTimer = null;
    }
    state.filling = true;
    this.#store
      .readEvents(state.id, buffer.lastReleased, CATCH_UP_BATCH)
      .then((events) => {
        const released = buffer.fill(events.map((e) => ({ seq: e.seq, item: this.#released(e) })));
        this.#options.onGapFill?.(released.length);
        this.#deliver(state, released);
        // A full page means the store may hold more: keep going.
        if (events.length === CATCH_UP_BATCH) state.resyncAgain = true;
      })
      .catch((error: unknown) => {
        this.#options.onError(error, 'gap fill');
        if (force) state.resyncAgain = true;
      })
      .finally(() => {
        state.filling = false;
        if (this.#rooms.get(state.id) !== state) return;
        if (state.resyncAgain) {
          state.resyncAgain = false;
          this.#retryResync(state);
        } else {
          this.#watchGap(state);
        }
      });
  }

  /** Resyncs again at once after a full page, or after a delay when the store failed. */
  #retryResync(state: RoomState): void {
    if (state.gapTimer !== null) clearTimeout(state.gapTimer);
    state.gapTimer = setTimeout(() => {
      state.gapTimer = null;
      this.#fillGap(state, true);
    }, this.#options.gapTimeoutMs);
  }

  #released(e: StreamEventRecord): Released {
    return { seq: e.seq, kind: e.kind, userId: e.user.id, target: e.target ?? null, framed: frameText(JSON.stringify(eventView(e))) };
  }

  #dropSlow(state: RoomState, conn: Connection): void {
    this.#remove(state, conn);
    conn.close(4009, 'slow consumer: resume with since');
  }

  #remove(state: RoomState, conn: Connection): void {
    state.subs.delete(conn);
    conn.rooms.delete(state.id);
    if (state.subs.size === 0 && this.#rooms.get(state.id) === state) this.#teardown(state);
  }

  #teardown(state: RoomState): void {
    if (this.#rooms.get(state.id) === state) this.#rooms.delete(state.id);
    if (state.gapTimer !== null) clearTimeout(state.gapTimer);
    state.gapTimer = null;
    const stop = state.stop;
    state.stop = null;
    if (stop !== null) stop().catch((error: unknown) => this.#options.onError(error, 'room close'));
  }

  /** Frames a non-stream payload to local subscribers; used by tests and by presence. */
  broadcastLocal(roomId: string, payload: string, skipUserId: string | null): void {
    const state = this.#rooms.get(roomId);
    if (state !== undefined) this.#broadcast(state, payload, skipUserId);
  }

  async close(): Promise<void> {
    for (const state of [...this.#rooms.values()]) this.#teardown(state);
  }
}

function isConsecutive(events: Released[]): boolean {
  return events.every((e, i) => i === 0 || e.seq === (events[i - 1] as Released).seq + 1);
}
