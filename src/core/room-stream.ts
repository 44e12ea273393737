/**
 * One room's stream as one node serves it: which events each local subscriber receives, and when.
 *
 * Pure: no socket, timer or store call happens here. Inputs say what happened (an event arrived
 * on the bus, a page came back from the store, a client subscribed); the decisions leave through
 * `RoomStreamEffects`, which the shell (src/realtime/room-hub.ts) performs: write this event to
 * this subscriber, read the store after this seq, check this membership. The shell calls back
 * with the results (`page`, `verified`, `headRead`, `gapTimeout`). Effects are calls rather than
 * returned lists only so that the hot path (one event, a thousand subscribers) allocates nothing.
 *
 * What holds for every subscriber, whatever the bus loses, duplicates or reorders and however
 * store pages and edits interleave (property-tested in test/core/room-stream.test.ts):
 * - it receives the room's events in seq order, without gap or duplicate, from its start (its
 *   `since`, or the head when it subscribed) until it unsubscribes, ends, or leaves the room;
 * - `live` comes after every replayed event and before any live one;
 * - a replayed message is never older than an edit or delete this node has already released:
 *   memory is cut at a changed message, and a store page read across a change of one of its
 *   messages is read again;
 * - a subscriber receives its own `member_left` (or `member_kicked`, `member_banned`), then
 *   nothing more of the room;
 * - a subscribe whose membership was checked as of seq V never starts past a leave after V
 *   unnoticed: the events between V and its start are checked (from memory, or by asking the
 *   store again), so a leave racing a subscribe cannot leave a live subscription behind.
 */
import { endsMembership } from '../domain/moderation-rules.js';
import type { EventKind } from '../domain/types.js';
import type { MemoryBudget, MemoryHolder } from './memory-budget.js';
import { OrderingBuffer } from './ordering-buffer.js';

/** One stream event as the stream needs it; `payload` is opaque here (the shell's prebuilt frame). */
export interface StreamItem<P> {
  seq: number;
  kind: EventKind;
  /** The member the event is about (joined, left, kicked, banned, …), or its actor. */
  userId: string;
  /** For edit and delete: the seq of the message changed. */
  target: number | null;
  /** Size of the payload in bytes, for the memory bounds. */
  bytes: number;
  payload: P;
  /** When it was committed, epoch ms, where known (delivery latency). */
  at?: number | undefined;
}

export type EndReason =
  /** The subscriber's own member_left was delivered: nothing more follows. */
  | 'left'
  /** Checked after it registered, the subscriber turned out not to be a member. */
  | 'not_member'
  /** Too many events piled up while it caught up. */
  | 'slow'
  /** A store read it needed failed. */
  | 'failed';

export interface SubscribeResult {
  lastSeq: number;
  recovered: boolean;
}

export interface RoomStreamEffects<S, P> {
  write(sub: S, item: StreamItem<P>): void;
  /** The subscription is live: everything replayed was written, nothing live yet. */
  live(sub: S, result: SubscribeResult): void;
  /** The subscription is over (it is already forgotten here). */
  ended(sub: S, reason: EndReason): void;
  /**
   * Read up to a page of the store's events after `after`; answer with page() or pageFailed().
   * `forGap`: asked by the ordering buffer (a gap, a resync), not by subscribers catching up.
   */
  read(after: number, forGap: boolean): void;
  /** Ask the store, not a cache, whether `userId` is a member now; answer with verified(sub, member, ticket). */
  verify(sub: S, userId: string, ticket: number): void;
  /** Read the room's last seq from the store; answer with headRead(sub, head, ticket). */
  readHead(sub: S, ticket: number): void;
  /** Call gapTimeout() after the gap timeout (armed once until it fires). */
  armGapTimer(): void;
  /** An event was released here, once, in order (before it is written to anyone). */
  released?(item: StreamItem<P>): void;
}

export interface RoomStreamOptions {
  /** Most events replayed to one subscriber; past it the subscription starts at the head. */
  replayLimit: number;
  /** Events kept in memory (up to twice this between trims). */
  recentEvents: number;
  /** Bytes of events kept in memory for this room. */
  recentBytes: number;
  /** Most events, and bytes, waiting per subscriber while it catches up; past either it ends as slow. */
  maxPending: number;
  maxPendingBytes: number;
  /** Most events waiting in the ordering buffer for a missing one; past it the gap is read at once. */
  maxBuffered: number;
  /** Events per store page: a full page means the store may hold more. */
  pageSize: number;
  /** Bytes of memory shared by every room of the node. */
  budget?: MemoryBudget;
}

interface Sub<P> {
  readonly userId: string;
  /** Names this subscription in the answers to verify() and readHead(): an answer for a replaced one is ignored. */
  readonly ticket: number;
  delivered: number;
  /** Events released while it catches up; null once live. */
  pending: Array<StreamItem<P>> | null;
  pendingBytes: number;
  recovered: boolean;
  /** Whether `live` is still due (a repair of a live subscription replies nothing). */
  replyDue: boolean;
  /** Membership was checked as of this seq; events after it up to `delivered` need a look. */
  authorizedAt: number;
  /** The user is known to be a member as of this seq: an own leave replayed from before it was followed by a rejoin. */
  memberAt: number;
  /** A `since` ahead of this node, waiting for the store's head to be believed. */
  aheadSince: number | null;
  verifying: boolean;
  /** The store read (its `after`) it waits for. */
  reading: number | null;
  /** The store had nothing after `delivered` when last asked: go live with what is pending. */
  exhausted: boolean;
}

interface Read {
  /** Count of changes (edits, deletes) released when the read was asked. */
  changesAt: number;
  /** The ordering buffer waits for this page (a gap fill or a resync). */
  forGap: boolean;
}

/** Most recent changes remembered to decide whether a store page is stale. */
const CHANGE_LOG = 1024;

/**
 * Tickets name subscriptions in the answers to verify() and readHead(); unique in the process,
 * so an answer meant for a room's previous stream can never match a subscription of the next.
 */
let tickets = 0;

export class RoomStream<S, P> implements MemoryHolder {
  readonly #effects: RoomStreamEffects<S, P>;
  readonly #options: RoomStreamOptions;
  #buffer: OrderingBuffer<StreamItem<P>> | null = null;
  /** Bus events that came before open(). */
  #early: Array<StreamItem<P>> = [];
  readonly #subs = new Map<S, Sub<P>>();
  /** The newest released events, consecutive seqs, oldest first. */
  #recent: Array<StreamItem<P>> = [];
  #recentBytes = 0;
  /** Edits and deletes released so far, and the targets of the latest ones. */
  #changes = 0;
  #changeLog: Array<{ n: number; target: number }> = [];
  readonly #reads = new Map<number, Read>();
  #gapReadAt: number | null = null;
  #fillAgain = false;
  #timerArmed = false;
  #disposed = false;
  #handed = 0;

  constructor(effects: RoomStreamEffects<S, P>, options: RoomStreamOptions) {
    this.#effects = effects;
    this.#options = options;
  }

  get opened(): boolean {
    return this.#buffer !== null;
  }

  /** The seq of the last event handed to subscribers and memory (the buffer may be releasing a batch past it). */
  get lastReleased(): number {
    return this.#handed;
  }

  get subscriberCount(): number {
    return this.#subs.size;
  }

  get memoryBytes(): number {
    return this.#recentBytes;
  }

  /** The room's head when the node began listening to the bus; events from the bus before it are replayed now. */
  open(head: number): void {
    if (this.#buffer !== null) return;
    this.#buffer = new OrderingBuffer<StreamItem<P>>(head, this.#options.maxBuffered);
    this.#handed = head;
    const early = this.#early;
    this.#early = [];
    for (const item of early) this.busItem(item);
  }

  /** An event from the bus: released in seq order, gaps waited for, then read from the store. */
  busItem(item: StreamItem<P>): void {
    const buffer = this.#buffer;
    if (buffer === null) {
      if (this.#early.length < this.#options.maxBuffered) this.#early.push(item);
      return;
    }
    this.#release(buffer.push(item.seq, item));
    this.#watchGap();
  }

  /**
   * Registers a subscriber (replacing its previous subscription of this room). `authorizedAt`:
   * the seq as of which its membership was checked. Ends with `live` or `ended`.
   */
  subscribe(sub: S, userId: string, since: number | undefined, authorizedAt: number): void {
    const head = this.lastReleased;
    const s: Sub<P> = {
      userId,
      ticket: ++tickets,
      delivered: head,
      pending: [],
      pendingBytes: 0,
      recovered: true,
      replyDue: true,
      authorizedAt,
      memberAt: authorizedAt,
      aheadSince: null,
      verifying: false,
      reading: null,
      exhausted: false,
    };
    this.#subs.set(sub, s);
    if (since !== undefined && since !== head) {
      if (since > head) s.aheadSince = since;
      else if (head - since > this.#options.replayLimit) s.recovered = false;
      else s.delivered = since;
    }
    if (s.aheadSince !== null) this.#effects.readHead(sub, s.ticket);
    else this.#advance(sub, s);
  }

  /** Where a live subscriber stands, or null when it is not subscribed or still catching up. */
  position(sub: S): SubscribeResult | null {
    const s = this.#subs.get(sub);
    return s === undefined || s.pending !== null ? null : { lastSeq: s.delivered, recovered: s.recovered };
  }

  /** Forgets a subscriber without effects; returns where it stood, or null if it had none. */
  unsubscribe(sub: S): SubscribeResult | null {
    const s = this.#subs.get(sub);
    if (s === undefined) return null;
    this.#subs.delete(sub);
    return { lastSeq: s.delivered, recovered: s.recovered };
  }

  /** The store's answer to read(after). */
  page(after: number, items: Array<StreamItem<P>>): void {
    const read = this.#reads.get(after);
    if (read === undefined || this.#disposed) return;
    this.#reads.delete(after);
    if (this.#isStale(read, items)) {
      // A message of this page changed while it was read: read it again, or a subscriber could be
      // sent text an edit or delete already replaced.
      this.#request(after, read.forGap);
      return;
    }
    if (read.changesAt === this.#changes) this.#keepPage(items);
    if (read.forGap) {
      this.#gapReadAt = null;
      const buffer = this.#buffer as OrderingBuffer<StreamItem<P>>;
      this.#release(buffer.fill(items.map((item) => ({ seq: item.seq, item }))));
      // A full page: the store may hold more than one page of what this node missed.
      if (items.length >= this.#options.pageSize) this.#fillAgain = true;
    }
    for (const [sub, s] of this.#subs) {
      if (s.reading !== after) continue;
      s.reading = null;
      const before = s.delivered;
      this.#replay(sub, s, items);
      if (this.#subs.get(sub) !== s) continue;
      if (s.delivered === before) s.exhausted = true;
      this.#advance(sub, s);
    }
    if (read.forGap) this.#afterFill();
  }

  /** read(after) failed. */
  pageFailed(after: number): void {
    const read = this.#reads.get(after);
    if (read === undefined || this.#disposed) return;
    this.#reads.delete(after);
    for (const [sub, s] of this.#subs) {
      if (s.reading !== after) continue;
      this.#end(sub, 'failed');
    }
    if (read.forGap) {
      this.#gapReadAt = null;
      // Try again after the gap timeout: the store may be restarting.
      this.#fillAgain = true;
      this.#arm();
    }
  }

  /** The answer to verify(): whether the subscriber's user is a member now. */
  verified(sub: S, member: boolean, ticket: number): void {
    const s = this.#subs.get(sub);
    if (s === undefined || s.ticket !== ticket || !s.verifying) return;
    s.verifying = false;
    if (!member) {
      this.#end(sub, 'not_member');
      return;
    }
    // A leave after this check has a seq above everything committed before it, so above
    // `delivered`: the stream itself carries it to the subscriber.
    s.authorizedAt = Number.MAX_SAFE_INTEGER;
    s.memberAt = Math.max(s.memberAt, s.delivered);
    this.#advance(sub, s);
  }

  /** verify() could not be answered (the store failed): the subscription it was for ends as failed. */
  verifyFailed(sub: S, ticket: number): void {
    const s = this.#subs.get(sub);
    if (s === undefined || s.ticket !== ticket || !s.verifying) return;
    this.#end(sub, 'failed');
  }

  /** The answer to readHead(): the store's last seq, to believe a `since` ahead of this node up to it. */
  headRead(sub: S, storeHead: number | null, ticket: number): void {
    const s = this.#subs.get(sub);
    if (s === undefined || s.ticket !== ticket || s.aheadSince === null) return;
    const since = s.aheadSince;
    s.aheadSince = null;
    if (storeHead === null) {
      this.#end(sub, 'failed');
      return;
    }
    if (since <= storeHead) s.delivered = since;
    else s.recovered = false;
    this.#advance(sub, s);
  }

  gapTimeout(): void {
    this.#timerArmed = false;
    if (this.#disposed) return;
    if (this.#fillAgain || this.#buffer?.hasGap === true) this.#fill();
  }

  /** The bus may have lost events, even the newest (no later one would reveal the gap): read the store. */
  resync(): void {
    if (this.#gapReadAt !== null) this.#fillAgain = true;
    else this.#fill();
  }

  /** Live subscribers, for frames outside the stream (typing, presence). */
  forEachLive(fn: (sub: S, userId: string) => void): void {
    for (const [sub, s] of this.#subs) if (s.pending === null) fn(sub, s.userId);
  }

  /** Drops memory (the node-wide budget asks, and settles its own count). */
  shed(): void {
    this.#recent = [];
    this.#recentBytes = 0;
  }

  /**
   * Messages up to `seq` were tombstoned outside the stream (retention): the events kept of
   * them are dropped, so no catch-up replays their text; catch-ups that far back read the store.
   */
  forgetThrough(seq: number): void {
    const count = this.#recent.findIndex((item) => item.seq > seq);
    this.#dropOldest(count === -1 ? this.#recent.length : count);
  }

  /** The room is closed on this node: forget everything, ignore late answers. */
  dispose(): void {
    this.#disposed = true;
    this.#subs.clear();
    this.#options.budget?.forget(this);
    this.#recent = [];
    this.#recentBytes = 0;
  }

  // Subscribers

  /** Moves a subscription forward as far as it can go without waiting; turns it live at the end. */
  #advance(sub: S, s: Sub<P>): void {
    if (s.aheadSince !== null || s.verifying || s.reading !== null || s.pending === null) return;
    // Once, where the subscription starts: later leaves reach it through the stream itself.
    if (s.authorizedAt !== Number.MAX_SAFE_INTEGER && s.authorizedAt < s.delivered) {
      const verdict = this.#membershipBetween(s.userId, s.authorizedAt, s.delivered);
      if (verdict === 'left') {
        this.#end(sub, 'not_member');
        return;
      }
      if (verdict === 'unknown') {
        s.verifying = true;
        this.#effects.verify(sub, s.userId, s.ticket);
        return;
      }
      s.memberAt = s.delivered;
    }
    s.authorizedAt = Number.MAX_SAFE_INTEGER;
    for (;;) {
      const pending = s.pending;
      const next = pending.find((item) => item.seq > s.delivered);
      if (next !== undefined && next.seq === s.delivered + 1) break;
      if (next === undefined && s.delivered >= this.lastReleased) break;
      if (s.exhausted) break;
      const remembered = this.#recentAfter(s.delivered);
      if (remembered === null || remembered.length === 0) {
        s.reading = s.delivered;
        this.#request(s.delivered, false);
        return;
      }
      this.#replay(sub, s, remembered);
      if (this.#subs.get(sub) !== s) return;
    }
    const pending = s.pending;
    s.pending = null;
    s.pendingBytes = 0;
    s.exhausted = false;
    if (s.replyDue) {
      s.replyDue = false;
      this.#effects.live(sub, { lastSeq: s.delivered, recovered: s.recovered });
    }
    this.#replay(sub, s, pending);
  }

  /** Writes the items that continue the subscriber's stream, in order; stops at its own leave. */
  #replay(sub: S, s: Sub<P>, items: Array<StreamItem<P>>): void {
    for (const item of items) {
      if (item.seq <= s.delivered) continue;
      if (item.seq !== s.delivered + 1) break;
      this.#effects.write(sub, item);
      s.delivered = item.seq;
      // A leave the user came back from (they were a member again later) does not end it.
      if (endsMembership(item.kind) && item.userId === s.userId && item.seq > s.memberAt) {
        // Met while catching up: the subscribe succeeded, up to and including the leave.
        if (s.replyDue) {
          s.replyDue = false;
          this.#effects.live(sub, { lastSeq: s.delivered, recovered: s.recovered });
        }
        this.#end(sub, 'left');
        return;
      }
    }
  }

  /**
   * Whether `userId` left between `after` (exclusive) and `upTo`, by the events in memory: the
   * last membership event of theirs decides. 'unknown' when memory does not reach back.
   */
  #membershipBetween(userId: string, after: number, upTo: number): 'left' | 'member' | 'unknown' {
    const first = this.#recent[0];
    const last = this.#recent.at(-1);
    if (first === undefined || last === undefined || first.seq > after + 1 || last.seq < upTo) return 'unknown';
    let verdict: 'left' | 'member' = 'member';
    for (let i = after + 1 - first.seq; i < this.#recent.length; i++) {
      const item = this.#recent[i] as StreamItem<P>;
      if (item.seq > upTo) break;
      if (item.userId !== userId) continue;
      if (endsMembership(item.kind)) verdict = 'left';
      else if (item.kind === 'member_joined') verdict = 'member';
    }
    return verdict;
  }

  #end(sub: S, reason: EndReason): void {
    if (!this.#subs.delete(sub)) return;
    this.#effects.ended(sub, reason);
  }

  // Release and memory

  /** Hands released events (consecutive, in order) to memory and to every subscriber. */
  #release(items: Array<StreamItem<P>>): void {
    for (const item of items) {
      this.#handed = item.seq;
      this.#effects.released?.(item);
      this.#remember(item);
      for (const [sub, s] of this.#subs) {
        if (s.pending !== null) {
          if (item.seq <= s.delivered) continue;
          s.pending.push(item);
          s.pendingBytes += item.bytes;
          if (s.pending.length > this.#options.maxPending || s.pendingBytes > this.#options.maxPendingBytes) this.#end(sub, 'slow');
          continue;
        }
        if (item.seq <= s.delivered) continue;
        if (item.seq !== s.delivered + 1) {
          // Cannot happen with releases in order; repair rather than skip: catch it up again.
          s.pending = [item];
          s.pendingBytes = item.bytes;
          this.#advance(sub, s);
          continue;
        }
        this.#effects.write(sub, item);
        s.delivered = item.seq;
        if (endsMembership(item.kind) && item.userId === s.userId && item.seq > s.memberAt) this.#end(sub, 'left');
      }
    }
  }

  #remember(item: StreamItem<P>): void {
    const last = this.#recent.at(-1);
    if (last !== undefined && item.seq <= last.seq) return;
    // Only consecutive seqs: a break starts the memory afresh.
    if (last !== undefined && item.seq !== last.seq + 1) this.#dropOldest(this.#recent.length);
    this.#recent.push(item);
    this.#recentBytes += item.bytes;
    this.#options.budget?.charge(this, item.bytes);
    if ((item.kind === 'edit' || item.kind === 'delete') && item.target !== null) {
      this.#changes++;
      this.#changeLog.push({ n: this.#changes, target: item.target });
      if (this.#changeLog.length > CHANGE_LOG * 2) this.#changeLog = this.#changeLog.slice(-CHANGE_LOG);
      // A remembered message, and every earlier edit of it, carries its text as it was then:
      // nobody may be served that from here once it changed, so memory is cut after the last of
      // them (this change itself carries the text as it is now).
      this.#dropOldest(this.#carriersOf(item.target, item.seq));
    }
    // Trimmed in steps, not per event: to the count, then to half the byte bound.
    if (this.#recent.length > this.#options.recentEvents * 2) this.#dropOldest(this.#recent.length - this.#options.recentEvents);
    if (this.#recentBytes > this.#options.recentBytes) {
      let drop = 0;
      let bytes = this.#recentBytes;
      while (drop < this.#recent.length && bytes > this.#options.recentBytes / 2) bytes -= (this.#recent[drop++] as StreamItem<P>).bytes;
      this.#dropOldest(drop);
    }
  }

  /** How many of the oldest remembered events to drop so none before `changeSeq` carries `target`'s text. */
  #carriersOf(target: number, changeSeq: number): number {
    const first = this.#recent[0];
    if (first === undefined) return 0;
    let cut = target >= first.seq ? Math.min(this.#recent.length, target - first.seq + 1) : 0;
    for (let i = this.#recent.length - 1; i >= cut; i--) {
      const e = this.#recent[i] as StreamItem<P>;
      if (e.seq < changeSeq && e.kind === 'edit' && e.target === target) {
        cut = i + 1;
        break;
      }
    }
    return cut;
  }

  #dropOldest(count: number): void {
    if (count <= 0) return;
    let bytes = 0;
    for (let i = 0; i < count; i++) bytes += (this.#recent[i] as StreamItem<P>).bytes;
    this.#recent.splice(0, count);
    this.#recentBytes -= bytes;
    this.#options.budget?.charge(this, -bytes);
  }

  /** The remembered events after `after`, or null when memory does not reach back that far. */
  #recentAfter(after: number): Array<StreamItem<P>> | null {
    const first = this.#recent[0];
    if (first === undefined || first.seq > after + 1) return null;
    return this.#recent.slice(after + 1 - first.seq);
  }

  /** A page that ends where memory begins (or at the head) joins memory, newest kept first. */
  #keepPage(items: Array<StreamItem<P>>): void {
    const last = items.at(-1);
    if (last === undefined || !consecutive(items)) return;
    const first = this.#recent[0];
    const joins = first === undefined ? last.seq === this.lastReleased : last.seq + 1 === first.seq;
    if (!joins) return;
    const room = Math.max(0, this.#options.recentEvents - this.#recent.length);
    let kept = items.slice(-room);
    let bytes = kept.reduce((n, item) => n + item.bytes, 0);
    while (kept.length > 0 && this.#recentBytes + bytes > this.#options.recentBytes) {
      bytes -= (kept[0] as StreamItem<P>).bytes;
      kept = kept.slice(1);
    }
    if (kept.length === 0) return;
    this.#recent = [...kept, ...this.#recent];
    this.#recentBytes += bytes;
    this.#options.budget?.charge(this, bytes);
  }

  /** Whether a message of the page changed after the read was asked. */
  #isStale(read: Read, items: Array<StreamItem<P>>): boolean {
    if (read.changesAt === this.#changes) return false;
    const oldest = this.#changeLog[0];
    // The log no longer reaches back to the read: assume the worst.
    if (oldest === undefined || oldest.n > read.changesAt + 1) return true;
    const changed = new Set<number>();
    for (const entry of this.#changeLog) if (entry.n > read.changesAt) changed.add(entry.target);
    return items.some((item) => (item.kind === 'message' && changed.has(item.seq)) || (item.kind === 'edit' && item.target !== null && changed.has(item.target)));
  }

  // Store reads and gaps

  /** Asks the store for the events after `after`; concurrent askers share one read. */
  #request(after: number, forGap: boolean): void {
    const existing = this.#reads.get(after);
    if (existing !== undefined) {
      existing.forGap ||= forGap;
      return;
    }
    this.#reads.set(after, { changesAt: this.#changes, forGap });
    this.#effects.read(after, forGap);
  }

  #watchGap(): void {
    const buffer = this.#buffer;
    if (buffer === null || !buffer.hasGap || this.#gapReadAt !== null) return;
    if (buffer.isFull) this.#fill();
    else this.#arm();
  }

  #arm(): void {
    if (this.#timerArmed || this.#disposed) return;
    this.#timerArmed = true;
    this.#effects.armGapTimer();
  }

  #fill(): void {
    const buffer = this.#buffer;
    if (buffer === null || this.#gapReadAt !== null) return;
    this.#fillAgain = false;
    this.#gapReadAt = buffer.lastReleased;
    this.#request(buffer.lastReleased, true);
  }

  #afterFill(): void {
    if (this.#fillAgain) this.#fill();
    else this.#watchGap();
  }
}

function consecutive<P>(items: Array<StreamItem<P>>): boolean {
  for (let i = 1; i < items.length; i++) if ((items[i] as StreamItem<P>).seq !== (items[i - 1] as StreamItem<P>).seq + 1) return false;
  return true;
}
