/**
 * Local fan-out of room streams: the I/O shell around src/core/room-stream.ts, which decides
 * everything a subscriber receives. Here: the room's bus subscription (held while the room has a
 * local subscriber), decoding bus messages (src/protocol/bus-codec.ts), store reads, membership
 * checks, the gap timer, and writing prebuilt frames to connections.
 *
 * Presence: each open room keeps who of its members is online (src/core/room-presence.ts),
 * loaded once when the room opens here and then kept from the room's presence messages, so a
 * subscribe reply costs nothing per member; changes are flushed to subscribers once per
 * `presenceBatchMs`, coalesced, as one frame per change (`presence`, the default) or one frame
 * for all of them (`presence_batch`, for subscribers that ask for it), or not at all (`none`).
 */
import { endsMembership } from '../domain/moderation-rules.js';
import { subjectOf } from '../domain/publisher.js';
import { MemoryBudget } from '../core/memory-budget.js';
import { type PresenceChange, RoomPresence } from '../core/room-presence.js';
import { type EndReason, RoomStream, type StreamItem, type SubscribeResult } from '../core/room-stream.js';
import type { StreamEventRecord } from '../domain/types.js';
import { eventView } from '../domain/views.js';
import { AppError, unavailable } from '../errors.js';
import { type Bus, MEMBERS_AMONG_MAX, type Store } from '../ports.js';
import { committedAtOf } from '../pipeline/delivery-latency.js';
import { decodeRoom } from '../protocol/bus-codec.js';
import type { Connection } from './connection.js';
import { type Framed, frameText } from './frame.js';

export type { SubscribeResult };

/** What a subscriber hears of presence in the room (the `presence` field of subscribe). */
export type PresenceMode = 'full' | 'batch' | 'none';

/** A subscription turned live, with the room's presence as the subscriber asked for it. */
export interface LiveResult extends SubscribeResult {
  /**
   * Ids of the members online, as a JSON array (absent for `none`, and for `batch` past
   * `presenceListMax`): serialized once per change of the room's set, shared by every reply.
   */
  onlineJson?: string;
  /** How many members are online (absent for `none`). */
  onlineCount?: number;
}

/** Thrown by subscribe() when the store says the subscriber is no longer a member. */
export class NotAMember extends Error {
  constructor() {
    super('not a member of the room');
    this.name = 'NotAMember';
  }
}

export interface RoomHubOptions {
  replayLimit: number;
  /** Events kept in memory per open room (see ROOM_RECENT_EVENTS). */
  recentEvents: number;
  /** Bytes of events kept in memory per open room (ROOM_RECENT_BYTES). */
  recentBytes: number;
  /** Bytes of events kept in memory by all rooms of this process (RECENT_EVENTS_MAX_BYTES). */
  recentTotalBytes: number;
  gapTimeoutMs: number;
  /** Most events a subscription catching up may hold; past it (or SLOW_CONSUMER_BYTES of them) it is closed as slow. */
  maxPending: number;
  maxPendingBytes: number;
  /** Asks the store, not a cache, which of the users (at most MEMBERS_AMONG_MAX) are members of the room now. */
  membersAmong(roomId: string, userIds: readonly string[]): Promise<ReadonlySet<string>>;
  /** The room's members who are online now (asked once per room opened here). */
  onlineMembers(roomId: string): Promise<Iterable<string>>;
  /** Whether one user is online now (a member who just joined). */
  isOnline(userId: string): Promise<boolean>;
  /** How long presence changes of a room are gathered before they are sent, ms. */
  presenceBatchMs: number;
  /** Largest online list a `batch` subscriber gets in its subscribe reply (past it, the count only). */
  presenceListMax: number;
  /** Most presence changes of a room sent per window; the rest wait for the next one. */
  presenceFlushMax: number;
  onError(error: unknown, context: string): void;
  /** A read from the store released `events` events (gap fill or resync). */
  onGapFill?(events: number): void;
  /** A page of a room's events was read from the store: for the ordering buffer (a gap, a resync), or for catch-ups past the room's memory (one read for all who wait on the same page). */
  onEventsRead?(forGap: boolean): void;
  /** `count` stream events were written to sockets. */
  onDelivered?(count: number): void;
  /** A live event committed at `committedAt` was written to one subscriber's socket (delivery latency; not a catch-up's replay). */
  onLiveWrite?(committedAt: number): void;
  /** `count` other frames (typing, presence) were written to sockets. */
  onOtherFrames?(count: number): void;
  /** Presence frames written: `presence` ones (a frame per change) and `presence_batch` ones. */
  onPresenceFrames?(single: number, batches: number): void;
}

const PAGE_SIZE = 1000;
/** Events waiting in a room's ordering buffer for a missing one; past it the gap is read from the store at once. */
const MAX_BUFFERED = 1024;

interface Waiter {
  mode: PresenceMode;
  onLive(result: LiveResult): void;
  resolve(): void;
  reject(error: unknown): void;
}

interface Room {
  readonly id: string;
  readonly stream: RoomStream<Connection, Framed>;
  ready: Promise<void>;
  stop: (() => Promise<void>) | null;
  gapTimer: NodeJS.Timeout | null;
  /** Subscribes of each connection waiting for their subscription to turn live (a newer one answers the older ones too). */
  readonly waiting: Map<Connection, Waiter[]>;
  /** The claim (see RoomHub.claim) of each connection's registered subscription. */
  readonly attempts: Map<Connection, number>;
  /** What each subscriber hears of presence. */
  readonly modes: Map<Connection, PresenceMode>;
  readonly presence: RoomPresence;
  /** The load of the online members in flight, if any. */
  presenceLoad: Promise<void> | null;
  presenceTimer: NodeJS.Timeout | null;
  closed: boolean;
}

export class RoomHub {
  readonly #bus: Bus;
  readonly #store: Store;
  readonly #options: RoomHubOptions;
  readonly #rooms = new Map<string, Room>();
  readonly #budget: MemoryBudget;
  #claims = 0;

  constructor(bus: Bus, store: Store, options: RoomHubOptions) {
    this.#bus = bus;
    this.#store = store;
    this.#options = options;
    this.#budget = new MemoryBudget(options.recentTotalBytes);
  }

  get roomCount(): number {
    return this.#rooms.size;
  }

  /** Bytes of recent events held in memory by every open room. */
  get memoryBytes(): number {
    return this.#budget.totalBytes;
  }

  /**
   * Claims the room for a subscribe of `conn`, synchronously, before anything is awaited: an
   * unsubscribe, a newer subscribe or the connection's close from now on is seen by the
   * subscribe when it resumes. Returns the claim, to pass to subscribe() and release().
   */
  claim(conn: Connection, roomId: string): number {
    const attempt = ++this.#claims;
    conn.rooms.set(roomId, attempt);
    return attempt;
  }

  /**
   * Gives back a claim whose subscribe failed before it registered (a newer claim stays). Older
   * subscribes that were waiting for this one to turn live fail with it.
   */
  release(conn: Connection, roomId: string, attempt: number, error: unknown): void {
    if (conn.rooms.get(roomId) !== attempt) return;
    conn.rooms.delete(roomId);
    const room = this.#rooms.get(roomId);
    if (room === undefined || room.attempts.has(conn)) return;
    const list = room.waiting.get(conn);
    room.waiting.delete(conn);
    for (const waiter of list ?? []) waiter.reject(error);
    this.#closeIfIdle(room);
  }

  /**
   * Subscribes `conn` to the room under its claim. `authorizedAt`: the seq as of which the
   * caller checked the membership (a cache may be behind: the stream checks what happened
   * since). `onLive` runs at the moment the subscription turns live, after every replayed event
   * was queued and before any live one: the subscribe reply is written there, so it sits exactly
   * between the two. Rejects with NotAMember when the user turned out not to be a member,
   * `unavailable` when the store failed. A subscribe whose claim was taken back meanwhile
   * (unsubscribed, replaced by a newer subscribe) is answered without registering anything; one
   * whose connection closed is not answered at all.
   */
  async subscribe(
    conn: Connection,
    roomId: string,
    since: number | undefined,
    authorizedAt: number,
    attempt: number,
    mode: PresenceMode,
    onLive: (result: LiveResult) => void,
  ): Promise<void> {
    for (;;) {
      if (!conn.isOpen) return;
      if (conn.rooms.get(roomId) !== attempt) return this.#withdrawn(conn, roomId, since, mode, onLive);
      const room = this.#room(roomId);
      await room.ready;
      // The online members, once per room opened here (not per subscriber).
      if (mode !== 'none' && !room.closed && room.stream.opened) {
        try {
          await this.#presenceLoaded(room);
        } catch (error) {
          this.#closeIfIdle(room);
          throw error;
        }
      }
      if (!conn.isOpen || conn.rooms.get(roomId) !== attempt) {
        this.#closeIfIdle(room);
        if (!conn.isOpen) return;
        return this.#withdrawn(conn, roomId, since, mode, onLive);
      }
      // The room was closed while it opened (its last subscriber left, or it failed): start again.
      if (room.closed) {
        if (!room.stream.opened) throw unavailable('The room could not be opened; retry.');
        continue;
      }
      return new Promise<void>((resolve, reject) => {
        const list = room.waiting.get(conn) ?? [];
        list.push({ mode, onLive, resolve, reject });
        room.waiting.set(conn, list);
        room.attempts.set(conn, attempt);
        room.modes.set(conn, mode);
        room.stream.subscribe(conn, conn.user.id, since, authorizedAt);
      });
    }
  }

  /** Loads the room's online members once; a failed load is tried again by the next subscriber. */
  #presenceLoaded(room: Room): Promise<void> {
    if (room.presence.loaded) return Promise.resolve();
    room.presenceLoad ??= this.#options.onlineMembers(room.id).then(
      (online) => {
        room.presenceLoad = null;
        if (room.closed) return;
        // Changes heard while it loaded are applied over it, and announced; members who joined
        // meanwhile are looked up.
        room.presence.load(online);
        for (const userId of room.presence.takeJoinedEarly()) this.#lookUpMember(room, userId);
        this.#armPresence(room);
      },
      (error: unknown) => {
        room.presenceLoad = null;
        // Changes heard for this load may be older than what the next one reads.
        room.presence.unload();
        throw error;
      },
    );
    return room.presenceLoad;
  }

  /** The presence part of a subscribe reply, as the subscriber asked for it. */
  #livePresence(room: Room, mode: PresenceMode, result: SubscribeResult): LiveResult {
    if (mode === 'none') return result;
    const online = room.presence.online;
    if (mode === 'batch' && online.size > this.#options.presenceListMax) return { ...result, onlineCount: online.size };
    return { ...result, onlineJson: room.presence.onlineJson, onlineCount: online.size };
  }

  /** A member who joined: online now? */
  #lookUpMember(room: Room, userId: string): void {
    this.#options.isOnline(userId).then(
      (online) => {
        if (online && !room.closed) this.#presenceChanged(room, { userId, online: true });
      },
      (error: unknown) => this.#options.onError(error, 'presence of a new member'),
    );
  }

  #presenceChanged(room: Room, change: PresenceChange): void {
    // Before the set is loaded, changes matter only while a load is in flight (they may be newer
    // than what it reads); a later load reads them anyway.
    if (!room.presence.loaded && room.presenceLoad === null) return;
    room.presence.change(change.userId, change.online);
    this.#armPresence(room);
  }

  /** Flushes the room's presence changes at the end of the window, if any are pending. */
  #armPresence(room: Room): void {
    if (room.presenceTimer !== null || room.closed || !room.presence.pending) return;
    room.presenceTimer = setTimeout(() => {
      room.presenceTimer = null;
      if (!room.closed) this.#flushPresence(room);
    }, this.#options.presenceBatchMs);
  }

  /**
   * Sends the room's coalesced presence changes, at most `presenceFlushMax` per window: a frame
   * per change, or one frame in all, or none. Each subscriber's presence frames per second are
   * bounded whatever the room's size or churn.
   */
  #flushPresence(room: Room): void {
    const changes = room.presence.flush(this.#options.presenceFlushMax);
    // What the cap left waits for the next window.
    this.#armPresence(room);
    if (changes.length === 0) return;
    let perChange: Framed[] | null = null;
    let batch: Framed | null = null;
    let single = 0;
    let batches = 0;
    room.stream.forEachLive((conn) => {
      const mode = room.modes.get(conn) ?? 'full';
      if (mode === 'none') return;
      if (mode === 'full') {
        perChange ??= changes.map((c) => frameText(JSON.stringify({ type: 'presence', roomId: room.id, userId: c.userId, online: c.online })));
        for (const framed of perChange) if (conn.write(framed)) single++;
        return;
      }
      batch ??= frameText(
        JSON.stringify({
          type: 'presence_batch',
          roomId: room.id,
          online: changes.filter((c) => c.online).map((c) => c.userId),
          offline: changes.filter((c) => !c.online).map((c) => c.userId),
          onlineCount: room.presence.online.size,
        }),
      );
      if (conn.write(batch)) batches++;
    });
    if (single + batches > 0) {
      this.#options.onOtherFrames?.(single + batches);
      this.#options.onPresenceFrames?.(single, batches);
    }
  }

  /**
   * Answers a subscribe whose claim was taken back before it registered: replaced by a newer
   * subscribe of the same room, it is answered with that one (now if it is live, else when it
   * turns live); unsubscribed, it is answered where it stood, and nothing live follows.
   */
  #withdrawn(conn: Connection, roomId: string, since: number | undefined, mode: PresenceMode, onLive: (result: LiveResult) => void): Promise<void> {
    const room = this.#rooms.get(roomId);
    if (conn.rooms.has(roomId) && room !== undefined && !room.closed) {
      const position = room.stream.position(conn);
      if (position !== null) {
        onLive(this.#livePresence(room, mode, position));
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => {
        const list = room.waiting.get(conn) ?? [];
        list.push({ mode, onLive, resolve, reject });
        room.waiting.set(conn, list);
      });
    }
    const where = { lastSeq: since ?? (room?.stream.lastReleased ?? 0), recovered: true };
    onLive(room === undefined || room.closed || !room.presence.loaded ? where : this.#livePresence(room, mode, where));
    return Promise.resolve();
  }

  async unsubscribe(conn: Connection, roomId: string): Promise<void> {
    conn.rooms.delete(roomId);
    const room = this.#rooms.get(roomId);
    if (room === undefined) return;
    const where = room.stream.unsubscribe(conn);
    room.attempts.delete(conn);
    room.modes.delete(conn);
    // A subscribe still catching up is answered as of where it stood: nothing live follows.
    this.#settle(room, conn, where === null ? null : { lastSeq: where.lastSeq, recovered: where.recovered });
    this.#closeIfIdle(room);
  }

  /** Drops every subscription of a closed connection. */
  disconnect(conn: Connection): void {
    for (const roomId of conn.rooms.keys()) {
      const room = this.#rooms.get(roomId);
      if (room === undefined) continue;
      room.stream.unsubscribe(conn);
      room.attempts.delete(conn);
      room.modes.delete(conn);
      this.#settle(room, conn, null);
      this.#closeIfIdle(room);
    }
    conn.rooms.clear();
  }

  /**
   * Catches every open room up with the store, and its online members with the presence store:
   * the bus may have lost messages, even the newest.
   */
  resync(): void {
    for (const room of this.#rooms.values()) this.#resync(room);
  }

  /**
   * Catches one open room up with the store, and its online members: a message of its channel
   * was dropped unread (src/realtime/bus-drops.ts), and it may have been the newest event, which
   * no later one would reveal as a gap.
   */
  resyncRoom(roomId: string): void {
    const room = this.#rooms.get(roomId);
    if (room !== undefined && !room.closed) this.#resync(room);
  }

  #resync(room: Room): void {
    if (!room.stream.opened) return;
    room.stream.resync();
    if (room.presence.loaded) this.#refreshPresence(room);
  }

  /** Retention tombstoned the room's messages up to `seq`: what this node keeps of them goes. */
  forgetThrough(roomId: string, seq: number): void {
    this.#rooms.get(roomId)?.stream.forgetThrough(seq);
  }

  /** Reads every open room's online members again (presence announcements may have been skipped). */
  refreshPresence(): void {
    for (const room of this.#rooms.values()) if (!room.closed && room.presence.loaded) this.#refreshPresence(room);
  }

  /** Reads the room's online members again; the differences are announced as changes. */
  #refreshPresence(room: Room): void {
    this.#options.onlineMembers(room.id).then(
      (online) => {
        if (room.closed || !room.presence.loaded) return;
        const now = new Set(online);
        for (const userId of [...room.presence.online]) if (!now.has(userId)) this.#presenceChanged(room, { userId, online: false });
        for (const userId of now) if (!room.presence.online.has(userId)) this.#presenceChanged(room, { userId, online: true });
      },
      (error: unknown) => this.#options.onError(error, 'presence refresh'),
    );
  }

  /** Frames a non-stream payload to local live subscribers; used by tests. */
  broadcastLocal(roomId: string, payload: string, skipUserId: string | null): void {
    const room = this.#rooms.get(roomId);
    if (room !== undefined) this.#broadcast(room, frameText(payload), skipUserId);
  }

  async close(): Promise<void> {
    for (const room of [...this.#rooms.values()]) this.#teardown(room);
  }

  // Rooms

  #room(roomId: string): Room {
    const existing = this.#rooms.get(roomId);
    if (existing !== undefined) return existing;
    // The effects answer this Room object only: a late answer for a room closed since never
    // reaches the one opened after it under the same id.
    let self: Room | null = null;
    const room: Room = {
      id: roomId,
      stream: new RoomStream<Connection, Framed>(this.#effects(roomId, () => (self === null || self.closed ? undefined : self)), {
        replayLimit: this.#options.replayLimit,
        recentEvents: this.#options.recentEvents,
        recentBytes: this.#options.recentBytes,
        maxPending: this.#options.maxPending,
        maxPendingBytes: this.#options.maxPendingBytes,
        maxBuffered: MAX_BUFFERED,
        pageSize: PAGE_SIZE,
        budget: this.#budget,
      }),
      ready: Promise.resolve(),
      stop: null,
      gapTimer: null,
      waiting: new Map(),
      attempts: new Map(),
      modes: new Map(),
      presence: new RoomPresence(),
      presenceLoad: null,
      presenceTimer: null,
      closed: false,
    };
    self = room;
    room.ready = this.#open(room);
    this.#rooms.set(roomId, room);
    return room;
  }

  async #open(room: Room): Promise<void> {
    try {
      // Subscribe first, then read the head: an event committed after the read is published
      // after the subscription, so none falls between the two.
      const stop = await this.#bus.subscribe(`room:${room.id}`, (payload) => this.#onPayload(room, payload));
      if (room.closed) {
        // Closed while it subscribed (at shutdown): nobody else will stop this subscription.
        await stop();
        return;
      }
      room.stop = stop;
      const head = await this.#store.findRoom(room.id);
      if (room.closed) return;
      room.stream.open(head?.lastSeq ?? 0);
    } catch (error) {
      this.#options.onError(error, 'room open');
      this.#teardown(room);
    }
  }

  #onPayload(room: Room, payload: string): void {
    if (room.closed) return;
    const message = decodeRoom(payload);
    if (message === null) {
      this.#options.onError(new Error('undecodable room bus message'), 'bus payload');
      return;
    }
    if (message.type === 'event') {
      const framed = frameText(message.frame);
      const at = this.#options.onLiveWrite === undefined ? undefined : committedAtOf(message.frame);
      room.stream.busItem({ seq: message.seq, kind: message.kind, userId: message.userId, target: message.target, bytes: framed.size, payload: framed, at });
      return;
    }
    if (message.type === 'presence') {
      this.#presenceChanged(room, { userId: message.userId, online: message.online });
      return;
    }
    // Typing is not echoed to the typist; a profile change reaches its own user's other tabs too.
    this.#broadcast(room, frameText(message.frame), message.type === 'typing' ? message.userId : null);
  }

  #broadcast(room: Room, framed: Framed, skipUserId: string | null): void {
    let count = 0;
    room.stream.forEachLive((conn, userId) => {
      if (userId !== skipUserId && conn.write(framed)) count++;
    });
    if (count > 0) this.#options.onOtherFrames?.(count);
  }

  /** What the room's stream asks for, performed. */
  #effects(roomId: string, current: () => Room | undefined) {
    // Deliveries are counted per turn, not per write.
    let delivered = 0;
    const count = () => {
      if (delivered === 0) queueMicrotask(() => {
        this.#options.onDelivered?.(delivered);
        delivered = 0;
      });
    };
    const room = current;
    // Membership checks: one store read in flight per room; the checks asked meanwhile wait for
    // it and go together in the next, which starts after each was asked (so each is answered by
    // the store as of after its asking). A storm of resumes costs a few reads per room, not one
    // per client; a lone check waits for nothing.
    const checks: Array<{ conn: Connection; userId: string; ticket: number }> = [];
    let checking = false;
    const check = (): void => {
      if (checking || checks.length === 0) return;
      const batch = checks.splice(0, MEMBERS_AMONG_MAX);
      checking = true;
      // Each check of the batch is answered on its own: one that throws leaves the others answered.
      const answerEach = (answer: (c: (typeof batch)[number]) => void) => {
        for (const c of batch) {
          try {
            answer(c);
          } catch (error) {
            this.#options.onError(error, 'membership check');
          }
        }
      };
      Promise.resolve()
        .then(() => this.#options.membersAmong(roomId, [...new Set(batch.map((c) => c.userId))]))
        .then(
          (members) => answerEach((c) => room()?.stream.verified(c.conn, members.has(c.userId), c.ticket)),
          (error: unknown) => {
            this.#options.onError(error, 'membership check');
            // Ends those subscriptions only (the stream ignores a ticket of a replaced one).
            answerEach((c) => room()?.stream.verifyFailed(c.conn, c.ticket));
          },
        )
        .catch((error: unknown) => this.#options.onError(error, 'membership check'))
        .finally(() => {
          checking = false;
          check();
        });
    };
    // The event being released now: its writes in this turn are live deliveries (a catch-up
    // writes older events, or this one later, and is not counted as delivery latency).
    let live: StreamItem<Framed> | undefined;
    return {
      write: (conn: Connection, item: StreamItem<Framed>) => {
        if (!conn.write(item.payload)) return;
        count();
        delivered++;
        if (item === live && item.at !== undefined) this.#options.onLiveWrite?.(item.at);
      },
      live: (conn: Connection, result: SubscribeResult) => {
        const r = room();
        if (r !== undefined) this.#settle(r, conn, result);
      },
      ended: (conn: Connection, reason: EndReason) => {
        const r = room();
        if (r === undefined) return;
        this.#forget(r, conn);
        this.#fail(r, conn, reason);
        this.#closeIfIdle(r);
      },
      read: (after: number, forGap: boolean) => {
        this.#options.onEventsRead?.(forGap);
        this.#store.readEvents(roomId, after, PAGE_SIZE).then(
          (records) => {
            const r = room();
            if (r === undefined) return;
            const items = records.map((e) => this.#item(e));
            const before = r.stream.lastReleased;
            r.stream.page(after, items);
            const released = r.stream.lastReleased - before;
            if (released > 0) this.#options.onGapFill?.(released);
          },
          (error: unknown) => {
            this.#options.onError(error, 'store read');
            room()?.stream.pageFailed(after);
          },
        );
      },
      verify: (conn: Connection, userId: string, ticket: number) => {
        checks.push({ conn, userId, ticket });
        check();
      },
      readHead: (conn: Connection, ticket: number) => {
        this.#store.findRoom(roomId).then(
          (found) => room()?.stream.headRead(conn, found?.lastSeq ?? 0, ticket),
          (error: unknown) => {
            this.#options.onError(error, 'room head');
            room()?.stream.headRead(conn, null, ticket);
          },
        );
      },
      released: (item: StreamItem<Framed>) => {
        const r = room();
        if (r === undefined) return;
        if (item.at !== undefined && this.#options.onLiveWrite !== undefined) {
          if (live === undefined) queueMicrotask(() => (live = undefined));
          live = item;
        }
        // Presence follows membership: one who left is no longer counted; one who joined is, if online.
        if (endsMembership(item.kind)) r.presence.remove(item.userId);
        else if (item.kind === 'member_joined') {
          r.presence.joined(item.userId);
          if (r.presence.loaded) this.#lookUpMember(r, item.userId);
        }
      },
      armGapTimer: () => {
        const r = room();
        if (r === undefined) return;
        r.gapTimer = setTimeout(() => {
          r.gapTimer = null;
          if (!r.closed) r.stream.gapTimeout();
        }, this.#options.gapTimeoutMs);
      },
    };
  }

  #item(e: StreamEventRecord): StreamItem<Framed> {
    const framed = frameText(JSON.stringify(eventView(e)));
    return { seq: e.seq, kind: e.kind, userId: subjectOf(e), target: e.target ?? null, bytes: framed.size, payload: framed, at: e.createdAt };
  }

  /** The connection's registered subscription of the room is over: its claim goes with it (a newer claim stays). */
  #forget(room: Room, conn: Connection): void {
    const attempt = room.attempts.get(conn);
    room.attempts.delete(conn);
    room.modes.delete(conn);
    if (attempt !== undefined && conn.rooms.get(room.id) === attempt) conn.rooms.delete(room.id);
  }

  /** Answers the subscribes of `conn` waiting in the room: live at `result`, or (null) dropped unanswered. */
  #settle(room: Room, conn: Connection, result: SubscribeResult | null): void {
    const list = room.waiting.get(conn);
    if (list === undefined) return;
    room.waiting.delete(conn);
    for (const waiter of list) {
      if (result !== null) waiter.onLive(this.#livePresence(room, waiter.mode, result));
      waiter.resolve();
    }
  }

  /** A subscription ended: its waiting subscribes fail; a live one that fell behind or lost its store closes the connection to resume. */
  #fail(room: Room, conn: Connection, reason: EndReason): void {
    const list = room.waiting.get(conn);
    room.waiting.delete(conn);
    if (list !== undefined) {
      const error = reason === 'not_member' || reason === 'left' ? new NotAMember() : reason === 'slow' ? new AppError('unavailable', 'Too many events arrived while catching up; subscribe again.', undefined, 1) : unavailable('The room history could not be read; retry.');
      for (const waiter of list) waiter.reject(error);
    }
    // The client resumes with `since` after reconnecting; a live subscription cannot just go silent.
    if (reason === 'slow') conn.close(4009, 'slow consumer: resume with since');
    else if (reason === 'failed' && list === undefined) conn.close(1013, 'room history unavailable: resume with since');
  }

  #closeIfIdle(room: Room): void {
    if (room.stream.subscriberCount === 0 && room.waiting.size === 0 && this.#rooms.get(room.id) === room && room.stream.opened) this.#teardown(room);
  }

  #teardown(room: Room): void {
    if (room.closed) return;
    room.closed = true;
    if (this.#rooms.get(room.id) === room) this.#rooms.delete(room.id);
    if (room.gapTimer !== null) clearTimeout(room.gapTimer);
    room.gapTimer = null;
    if (room.presenceTimer !== null) clearTimeout(room.presenceTimer);
    room.presenceTimer = null;
    for (const [conn, list] of room.waiting) {
      this.#forget(room, conn);
      for (const waiter of list) waiter.reject(unavailable('The room was closed on this server; retry.'));
    }
    room.waiting.clear();
    for (const conn of [...room.attempts.keys()]) this.#forget(room, conn);
    room.stream.dispose();
    const stop = room.stop;
    room.stop = null;
    if (stop !== null) stop().catch((error: unknown) => this.#options.onError(error, 'room close'));
  }
}
