/**
 * Per-room position in the room streams: the seq of the last event delivered to the
 * application, and whether a subscribe for the room is in flight.
 *
 * The server promises each connection a gapless, ordered, duplicate-free stream per room
 * (PROTOCOL.md guarantee 1), but across reconnects the client sees replays: a resubscribe with
 * `since` may repeat events already delivered, and a connection may die between two events.
 * This is where the client enforces the guarantee end to end: an event is delivered only if its
 * seq is exactly the next one; an older one is a duplicate and dropped; a newer one is a gap,
 * dropped as well, and repaired by resubscribing with `since` = the last delivered seq, so the
 * server replays everything after it in order.
 *
 * Pure: no I/O, no timers. The realtime session drives it.
 */

/**
 * What to do with an incoming stream event:
 * - `deliver`: the next event of the room; pass it to the application.
 * - `duplicate`: already delivered (seq <= last); drop it.
 * - `gap`: events are missing before it; drop it and resubscribe with `since` = lastSeq
 *   (unless a subscribe is already in flight, which repairs the gap by itself).
 * - `unsubscribed`: the room is not tracked (a late event after unsubscribe); drop it.
 */
export type Verdict = 'deliver' | 'duplicate' | 'gap' | 'unsubscribed';

/** The outcome of a subscribe reply for one room. */
export interface SubscribeOutcome {
  roomId: string;
  /** The `since` the subscribe was sent with, if any. */
  since: number | undefined;
  /** Where the room's stream continues: the last seq now counted as delivered. */
  lastSeq: number;
  /**
   * False when events between `since` and `lastSeq` were not replayed (the server said
   * `recovered: false`, or its `lastSeq` is beyond the events received): the application must
   * page them from REST history.
   */
  recovered: boolean;
}

interface RoomPosition {
  last: number | undefined;
  subscribing: boolean;
  since: number | undefined;
}

export class StreamTracker {
  readonly #rooms = new Map<string, RoomPosition>();

  /** Rooms tracked, in the order they were first tracked. */
  rooms(): string[] {
    return [...this.#rooms.keys()];
  }

  has(roomId: string): boolean {
    return this.#rooms.has(roomId);
  }

  /** The seq of the last event delivered in the room, or undefined before the first. */
  lastSeq(roomId: string): number | undefined {
    return this.#rooms.get(roomId)?.last;
  }

  /** Starts tracking a room; `since` seeds its position when the application already holds history up to it. */
  track(roomId: string, since?: number): void {
    const room = this.#rooms.get(roomId);
    if (room === undefined) {
      this.#rooms.set(roomId, { last: since, subscribing: false, since: undefined });
    } else if (room.last === undefined && since !== undefined) {
      room.last = since;
    }
  }

  /** Stops tracking a room; later events for it are `unsubscribed`. */
  remove(roomId: string): void {
    this.#rooms.delete(roomId);
  }

  /** Marks a subscribe as sent for the room (tracking it if new) and returns the `since` to send. */
  beginSubscribe(roomId: string): number | undefined {
    this.track(roomId);
    const room = this.#rooms.get(roomId) as RoomPosition;
    room.subscribing = true;
    room.since = room.last;
    return room.last;
  }

  isSubscribing(roomId: string): boolean {
    return this.#rooms.get(roomId)?.subscribing ?? false;
  }

  /** The subscribe failed or timed out: the room keeps its position and is no longer subscribing. */
  subscribeFailed(roomId: string): void {
    const room = this.#rooms.get(roomId);
    if (room !== undefined) room.subscribing = false;
  }

  /** The connection closed: every room must be subscribed again on the next one. */
  connectionLost(): void {
    for (const room of this.#rooms.values()) room.subscribing = false;
  }

  /** Judges one stream event, and counts it as delivered when the verdict is `deliver`. */
  accept(event: { roomId: string; seq: number }): Verdict {
    const room = this.#rooms.get(event.roomId);
    if (room === undefined) return 'unsubscribed';
    if (room.last === undefined) {
      // A first subscribe without since: the stream starts wherever the server starts it.
      room.last = event.seq;
      return 'deliver';
    }
    if (event.seq <= room.last) return 'duplicate';
    if (event.seq !== room.last + 1) return 'gap';
    room.last = event.seq;
    return 'deliver';
  }

  /**
   * Applies a subscribe reply. The server sends the replayed events before the reply, so by now
   * `last` has advanced through them; the reply's `lastSeq` says where the live stream continues.
   * Returns undefined when the room is no longer tracked (unsubscribed meanwhile).
   */
  subscribed(roomId: string, reply: { lastSeq: number; recovered: boolean }): SubscribeOutcome | undefined {
    const room = this.#rooms.get(roomId);
    if (room === undefined) return undefined;
    const since = room.since;
    room.subscribing = false;
    room.since = undefined;
    let recovered = reply.recovered;
    if (since === undefined || room.last === undefined) {
      // A fresh subscription: nothing was promised before lastSeq.
      room.last = Math.max(room.last ?? reply.lastSeq, reply.lastSeq);
    } else if (!reply.recovered) {
      // The server could not replay: continue from where it is, even if that is behind us.
      room.last = reply.lastSeq;
    } else if (reply.lastSeq > room.last) {
      // The server claims events were replayed that never arrived: do not resubscribe in a
      // loop against it; hand the hole to the application, as for recovered: false.
      room.last = reply.lastSeq;
      recovered = false;
    }
    return { roomId, since, lastSeq: room.last, recovered };
  }
}
