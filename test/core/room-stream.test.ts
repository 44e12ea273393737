/**
 * The room stream state machine against a model of its world: a store of committed events, a bus
 * that loses, duplicates and reorders, store reads that are taken at one moment and answered at a
 * later one (or fail), membership checks that may be stale, and subscribers that come, resume,
 * resubscribe and go. fast-check drives random schedules of all of these; after each schedule the
 * world is drained and every subscription is checked against the guarantees of PROTOCOL.md.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MemoryBudget } from '../../src/core/memory-budget.js';
import { type EndReason, RoomStream, type StreamItem, type SubscribeResult } from '../../src/core/room-stream.js';
import { endsMembership } from '../../src/domain/moderation-rules.js';
import type { EventKind } from '../../src/domain/types.js';

/** The events that end a membership: leaving, being kicked, being banned. */
const REMOVALS: readonly EventKind[] = ['member_left', 'member_kicked', 'member_banned'];

/** What a frame carries in this model: the event, and the version of its message's text it shows. */
interface Payload {
  seq: number;
  /** For message and edit events: how many changes of the message the text includes. */
  textVersion: number | null;
}

interface Committed {
  seq: number;
  kind: EventKind;
  userId: string;
  target: number | null;
}

interface Instance {
  key: string;
  userId: string;
  since: number | undefined;
  headAtSubscribe: number;
  writes: Payload[];
  /** Index into writes where live came. */
  liveAt: number | null;
  result: SubscribeResult | null;
  ended: EndReason | null;
  /** lastReleased of the stream at each write, to know which changes were released by then. */
  releasedAtWrite: number[];
  /** Replaced by a newer subscribe of the same subscriber (the shell answers it with the newer one). */
  superseded: boolean;
}

const USERS = ['u0', 'u1', 'u2', 'u3'];
const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4'];
const userOf = (key: string): string => USERS[Number(key.slice(1)) % 3] as string;

class World {
  readonly events: Committed[] = [];
  /** Changes applied to each message (seq → count). */
  readonly versions = new Map<number, number>();
  readonly deleted = new Set<number>();
  bus: Array<StreamItem<Payload>> = [];
  reads: Array<{ after: number; snapshot: Array<StreamItem<Payload>> | null }> = [];
  verifies: Array<{ key: string; userId: string; ticket: number; member: boolean | null }> = [];
  heads: Array<{ key: string; ticket: number; head: number | null }> = [];
  timerArmed = false;
  readonly current = new Map<string, Instance>();
  readonly all: Instance[] = [];
  readonly stream: RoomStream<string, Payload>;

  constructor(options: { pageSize: number; replayLimit: number; recentEvents: number; recentBytes: number; maxPending: number; budget?: MemoryBudget }) {
    this.stream = new RoomStream<string, Payload>(
      {
        write: (key, item) => {
          const instance = this.current.get(key);
          assert.ok(instance !== undefined && instance.ended === null, `write to ${key}, which has no open subscription`);
          instance.writes.push(item.payload);
          instance.releasedAtWrite.push(this.stream.lastReleased);
        },
        live: (key, result) => {
          const instance = this.current.get(key);
          assert.ok(instance !== undefined && instance.liveAt === null && instance.ended === null, `live twice or after the end for ${key}`);
          instance.liveAt = instance.writes.length;
          instance.result = result;
        },
        ended: (key, reason) => {
          const instance = this.current.get(key);
          assert.ok(instance !== undefined && instance.ended === null, `ended twice for ${key}`);
          instance.ended = reason;
        },
        read: (after) => this.reads.push({ after, snapshot: null }),
        verify: (key, userId, ticket) => this.verifies.push({ key, userId, ticket, member: null }),
        readHead: (key, ticket) => this.heads.push({ key, ticket, head: null }),
        armGapTimer: () => {
          assert.equal(this.timerArmed, false, 'gap timer armed twice');
          this.timerArmed = true;
        },
      },
      { replayLimit: options.replayLimit, recentEvents: options.recentEvents, recentBytes: options.recentBytes, maxPending: options.maxPending, maxPendingBytes: options.maxPending * 10, maxBuffered: 5, pageSize: options.pageSize, ...(options.budget === undefined ? {} : { budget: options.budget }) },
    );
    for (const u of ['u0', 'u1', 'u2']) this.commit('member_joined', u, null, false);
    this.bus = [];
    this.stream.open(this.head);
  }

  get head(): number {
    return this.events.length;
  }

  member(userId: string, uptoSeq: number): boolean {
    let m = false;
    for (const e of this.events) {
      if (e.seq > uptoSeq) break;
      if (e.userId !== userId) continue;
      if (e.kind === 'member_joined') m = true;
      if (endsMembership(e.kind)) m = false;
    }
    return m;
  }

  everLeft(userId: string): boolean {
    return this.events.some((e) => endsMembership(e.kind) && e.userId === userId);
  }

  /** The item as the store would give it now. */
  stored(e: Committed): StreamItem<Payload> {
    const messageSeq = e.kind === 'message' ? e.seq : e.kind === 'edit' ? e.target : null;
    const textVersion = messageSeq === null ? null : this.deleted.has(messageSeq) ? Number.MAX_SAFE_INTEGER : (this.versions.get(messageSeq) ?? 0);
    return { seq: e.seq, kind: e.kind, userId: e.userId, target: e.target, bytes: 10, payload: { seq: e.seq, textVersion } };
  }

  commit(kind: EventKind, userId: string, target: number | null, publish = true): void {
    const e: Committed = { seq: this.head + 1, kind, userId, target };
    this.events.push(e);
    if (target !== null && (kind === 'edit' || kind === 'delete')) {
      this.versions.set(target, (this.versions.get(target) ?? 0) + 1);
      if (kind === 'delete') this.deleted.add(target);
    }
    // The bus carries the event as committed: its text is the current one at commit.
    if (publish) this.bus.push(this.stored(e));
  }

  page(after: number): Array<StreamItem<Payload>> {
    return this.events.filter((e) => e.seq > after).slice(0, 3).map((e) => this.stored(e));
  }

  subscribe(key: string, since: number | undefined, authorizedAt: number): void {
    const previous = this.current.get(key);
    if (previous !== undefined) previous.superseded = true;
    const instance: Instance = { key, userId: userOf(key), since, headAtSubscribe: this.stream.lastReleased, writes: [], liveAt: null, result: null, ended: null, releasedAtWrite: [], superseded: false };
    this.current.set(key, instance);
    this.all.push(instance);
    this.stream.subscribe(key, instance.userId, since, authorizedAt);
  }

  unsubscribe(key: string): void {
    const instance = this.current.get(key);
    this.stream.unsubscribe(key);
    if (instance !== undefined && instance.ended === null) instance.ended = 'left';
    this.current.delete(key);
  }

  /** One step of the schedule. */
  step(op: number, a: number, b: number): void {
    const pick = <T>(list: T[]): T | undefined => (list.length === 0 ? undefined : list[a % list.length]);
    switch (op % 14) {
      case 0:
      case 1: {
        // A message from a member.
        const author = USERS.filter((u) => this.member(u, this.head));
        const userId = pick(author);
        if (userId !== undefined) this.commit('message', userId, null);
        return;
      }
      case 2: {
        const live = this.events.filter((e) => e.kind === 'message' && !this.deleted.has(e.seq));
        const target = pick(live);
        if (target !== undefined) this.commit(b % 3 === 0 ? 'delete' : 'edit', target.userId, target.seq);
        return;
      }
      case 3: {
        // A leave, a kick or a ban (the member's id is the item's user, as the bus header names
        // it; users removed never come back in this model), or u3 joining.
        if (b % 2 === 0 && !this.member('u3', this.head) && !this.everLeft('u3')) {
          this.commit('member_joined', 'u3', null);
          return;
        }
        const members = USERS.filter((u) => this.member(u, this.head));
        const userId = pick(members);
        if (userId !== undefined && members.length > 1) this.commit(REMOVALS[b % REMOVALS.length] as EventKind, userId, null);
        return;
      }
      case 4:
      case 5: {
        // The bus delivers one waiting event, maybe out of order, maybe keeping a duplicate.
        if (this.bus.length === 0) return;
        const i = a % this.bus.length;
        const item = this.bus[i] as StreamItem<Payload>;
        if (b % 4 !== 0) this.bus.splice(i, 1);
        this.stream.busItem(item);
        return;
      }
      case 6: {
        if (this.bus.length > 0 && b % 3 === 0) this.bus.splice(a % this.bus.length, 1); // lost
        return;
      }
      case 7: {
        // A read is taken now (answered later), or answered, or fails.
        const read = pick(this.reads);
        if (read === undefined) return;
        if (read.snapshot === null && b % 2 === 0) {
          read.snapshot = this.page(read.after);
          return;
        }
        this.reads.splice(this.reads.indexOf(read), 1);
        if (b % 7 === 3) this.stream.pageFailed(read.after);
        else this.stream.page(read.after, read.snapshot ?? this.page(read.after));
        return;
      }
      case 8: {
        const check = pick(this.verifies);
        if (check === undefined) return;
        if (check.member === null && b % 2 === 0) {
          check.member = this.member(check.userId, this.head);
          return;
        }
        this.verifies.splice(this.verifies.indexOf(check), 1);
        this.stream.verified(check.key, check.member ?? this.member(check.userId, this.head), check.ticket);
        return;
      }
      case 9: {
        const h = pick(this.heads);
        if (h === undefined) return;
        this.heads.splice(this.heads.indexOf(h), 1);
        this.stream.headRead(h.key, b % 9 === 0 ? null : this.head, h.ticket);
        return;
      }
      case 10: {
        if (!this.timerArmed) return;
        this.timerArmed = false;
        this.stream.gapTimeout();
        return;
      }
      case 11: {
        if (b % 3 === 0) this.stream.resync();
        return;
      }
      case 12: {
        // Subscribe (or subscribe again), with a membership checked as of some seq: maybe stale.
        const key = KEYS[a % KEYS.length] as string;
        const userId = userOf(key);
        const memberAt: number[] = [];
        for (let seq = 1; seq <= this.head; seq++) if (this.member(userId, seq)) memberAt.push(seq);
        if (memberAt.length === 0) return;
        // A fresh check most of the time; else a stale cache entry from when they were a member.
        const authorizedAt = b % 3 === 0 ? (memberAt[b % memberAt.length] as number) : this.member(userId, this.head) ? this.head : (memberAt.at(-1) as number);
        const sinceChoice = b % 5;
        const since = sinceChoice === 0 ? undefined : sinceChoice === 4 ? this.head + 1 + (b % 3) : Math.max(0, this.head - (b % 9));
        this.subscribe(key, since, authorizedAt);
        return;
      }
      case 13: {
        const key = KEYS[a % KEYS.length] as string;
        if (this.current.has(key) && b % 2 === 0) this.unsubscribe(key);
        return;
      }
    }
  }

  /** Lets everything in flight finish: bus drained, reads, checks and timers answered. */
  drain(): void {
    // A bus that lost messages says so (a reconnection, a failed probe): the node resyncs.
    this.stream.resync();
    for (let rounds = 0; rounds < 10_000; rounds++) {
      if (this.bus.length > 0) {
        this.stream.busItem(this.bus.shift() as StreamItem<Payload>);
        continue;
      }
      const read = this.reads.shift();
      if (read !== undefined) {
        this.stream.page(read.after, read.snapshot ?? this.page(read.after));
        continue;
      }
      const check = this.verifies.shift();
      if (check !== undefined) {
        this.stream.verified(check.key, check.member ?? this.member(check.userId, this.head), check.ticket);
        continue;
      }
      const h = this.heads.shift();
      if (h !== undefined) {
        this.stream.headRead(h.key, this.head, h.ticket);
        continue;
      }
      if (this.timerArmed) {
        this.timerArmed = false;
        this.stream.gapTimeout();
        continue;
      }
      return;
    }
    assert.fail('the stream did not settle');
  }

  /** Every guarantee, for every subscription that ever was. */
  check(): void {
    assert.equal(this.stream.lastReleased, this.head, 'the stream released every committed event');
    for (const instance of this.all) {
      const seqs = instance.writes.map((w) => w.seq);
      for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], (seqs[i - 1] as number) + 1, `${instance.key}: gapless and in order: ${seqs.join(',')}`);
      if (instance.result !== null && instance.liveAt !== null) {
        const { lastSeq, recovered } = instance.result;
        for (const [i, w] of instance.writes.entries()) {
          if (i < instance.liveAt) assert.ok(w.seq <= lastSeq, `${instance.key}: replayed ${w.seq} past lastSeq ${lastSeq}`);
          else assert.ok(w.seq > lastSeq, `${instance.key}: live ${w.seq} not after lastSeq ${lastSeq}`);
        }
        if (recovered && instance.since !== undefined && seqs.length > 0) assert.equal(seqs[0], instance.since + 1, `${instance.key}: replay starts after since`);
        if (!recovered) assert.ok(seqs.length === 0 || (seqs[0] as number) > instance.headAtSubscribe, `${instance.key}: not recovered yet replayed`);
      } else {
        assert.ok(instance.ended !== null || instance.superseded, `${instance.key}: neither live nor ended`);
        if (instance.ended === 'not_member') assert.equal(instance.writes.length, 0, `${instance.key}: refused after writes`);
      }
      // Guarantee 4: one's own leave (or kick, or ban) is the last event one gets (users never come back in this model).
      const leftAt = this.events.find((e) => endsMembership(e.kind) && e.userId === instance.userId)?.seq;
      if (leftAt !== undefined) {
        for (const w of instance.writes) assert.ok(w.seq <= leftAt, `${instance.key}: got ${w.seq} after leaving at ${leftAt}`);
        if (seqs.includes(leftAt)) assert.equal(instance.ended, 'left');
      }
      // A replayed event (before live) never carries text older than a change this node had
      // released when it wrote it; live events carry the text of their commit, and the change
      // follows them in the stream.
      instance.writes.forEach((w, i) => {
        if (w.textVersion === null || (instance.liveAt !== null && i >= instance.liveAt)) return;
        const e = this.events[w.seq - 1] as Committed;
        const messageSeq = e.kind === 'message' ? e.seq : (e.target as number);
        const released = instance.releasedAtWrite[i] as number;
        const changes = this.events.filter((c) => c.seq <= released && c.target === messageSeq && (c.kind === 'edit' || c.kind === 'delete'));
        const deletedBy = changes.some((c) => c.kind === 'delete');
        if (deletedBy) assert.equal(w.textVersion, Number.MAX_SAFE_INTEGER, `${instance.key}: text of deleted message ${messageSeq} sent again at ${w.seq}`);
        else assert.ok(w.textVersion >= changes.length, `${instance.key}: stale text of ${messageSeq} at ${w.seq}`);
      });
    }
    // Whoever is still subscribed, and a member, has everything.
    for (const instance of this.current.values()) {
      if (instance.ended !== null) continue;
      assert.ok(instance.result !== null, `${instance.key}: still not live after draining`);
      const last = instance.writes.at(-1)?.seq ?? instance.result.lastSeq;
      assert.equal(last, this.head, `${instance.key}: stopped at ${last} of ${this.head}`);
    }
  }
}

export function runSchedule(ops: Array<[number, number, number]>, budget?: number): void {
  const world = new World({ pageSize: 3, replayLimit: 6, recentEvents: budget === undefined ? 4 : 8, recentBytes: budget === undefined ? 70 : 1000, maxPending: 8, ...(budget === undefined ? {} : { budget: new MemoryBudget(budget) }) });
  for (const [op, a, b] of ops) world.step(op, a, b);
  world.drain();
  world.check();
}

const schedule = fc.array(fc.tuple(fc.nat(100), fc.nat(1000), fc.nat(1000)), { minLength: 1, maxLength: 160 });

describe('RoomStream', () => {
  it('property: every subscriber gets a gapless, duplicate-free stream, never stale text, never past its leave', () => {
    fc.assert(
      fc.property(schedule, (ops) => runSchedule(ops)),
      { numRuns: 1500 },
    );
  });

  it('property: the same holds when a node-wide memory budget keeps shedding the memory', () => {
    fc.assert(
      fc.property(schedule, (ops) => runSchedule(ops, 30)),
      { numRuns: 500 },
    );
  });

  it('regression: a leave committed before a subscribe registers, checked against a stale membership, refuses the subscribe', () => {
    const world = new World({ pageSize: 3, replayLimit: 6, recentEvents: 16, recentBytes: 1000, maxPending: 8 });
    world.commit('message', 'u0', null);
    world.stream.busItem(world.bus.shift() as StreamItem<Payload>); // seq 4 released
    world.commit('member_left', 'u1', null);
    world.stream.busItem(world.bus.shift() as StreamItem<Payload>); // seq 5: u1 left, released
    // u1's membership was cached as of seq 4, before the leave; k1 belongs to u1.
    world.subscribe('k1', undefined, 4);
    const instance = world.current.get('k1') as Instance;
    assert.equal(instance.ended, 'not_member');
    assert.equal(instance.writes.length, 0);
  });

  it('regression: the same race with memory that does not reach back asks the store', () => {
    const world = new World({ pageSize: 3, replayLimit: 6, recentEvents: 1, recentBytes: 1000, maxPending: 8 });
    for (let i = 0; i < 4; i++) world.commit('message', 'u0', null);
    world.commit('member_left', 'u1', null);
    for (let i = 0; i < 4; i++) world.commit('message', 'u0', null);
    while (world.bus.length > 0) world.stream.busItem(world.bus.shift() as StreamItem<Payload>);
    world.subscribe('k1', undefined, 4);
    assert.equal(world.verifies.length, 1, 'the membership is checked in the store');
    world.drain();
    assert.equal((world.current.get('k1') as Instance).ended, 'not_member');
  });

  it('an edit cuts memory at every event carrying the old text, earlier edits included', () => {
    const world = new World({ pageSize: 3, replayLimit: 20, recentEvents: 16, recentBytes: 1000, maxPending: 8 });
    world.commit('message', 'u0', null); // 4
    world.commit('edit', 'u0', 4); // 5: first edit, carries version 1
    world.commit('message', 'u1', null); // 6
    world.commit('delete', 'u0', 4); // 7
    while (world.bus.length > 0) world.stream.busItem(world.bus.shift() as StreamItem<Payload>);
    world.subscribe('k0', 4, 10);
    assert.equal(world.reads.length, 1, 'the edit at 5 carries deleted text: not served from memory');
    const instance = world.current.get('k0') as Instance;
    world.drain();
    assert.deepEqual(instance.writes.map((w) => w.seq), [5, 6, 7]);
    assert.equal(instance.writes[0]?.textVersion, Number.MAX_SAFE_INTEGER, 'the first edit is replayed as the message is now: deleted');
  });

  it('a store page read across an edit of one of its messages is read again', () => {
    const world = new World({ pageSize: 3, replayLimit: 20, recentEvents: 16, recentBytes: 1000, maxPending: 8 });
    world.commit('message', 'u0', null); // 4
    world.stream.busItem(world.bus.shift() as StreamItem<Payload>);
    world.subscribe('k0', 2, 10);
    const read = world.reads.shift();
    assert.ok(read !== undefined);
    const stale = world.page(read.after); // taken now: message 4 as first sent
    world.commit('edit', 'u0', 4); // 5
    world.stream.busItem(world.bus.shift() as StreamItem<Payload>);
    world.stream.page(read.after, stale);
    assert.equal(world.reads.length, 1, 'asked again');
    world.drain();
    const instance = world.current.get('k0') as Instance;
    assert.deepEqual(instance.writes.map((w) => [w.seq, w.textVersion]), [[3, null], [4, 1], [5, 1]]);
  });

  it('a subscriber that falls too far behind while it catches up ends as slow', () => {
    const world = new World({ pageSize: 3, replayLimit: 20, recentEvents: 1, recentBytes: 1000, maxPending: 4 });
    for (let i = 0; i < 3; i++) world.commit('message', 'u0', null);
    while (world.bus.length > 0) world.stream.busItem(world.bus.shift() as StreamItem<Payload>);
    world.subscribe('k0', 1, 10);
    for (let i = 0; i < 5; i++) {
      world.commit('message', 'u0', null);
      world.stream.busItem(world.bus.shift() as StreamItem<Payload>);
    }
    assert.equal((world.current.get('k0') as Instance).ended, 'slow');
  });
});
