/**
 * The rules of a room stream, applied to one group-committed batch: who may send, edit, delete,
 * join and leave, which clientMsgId makes a send a duplicate, which seq each event gets. Pure:
 * the store locks the rooms, reads the state these rules need (`BatchState`), and writes what
 * they decide (`BatchPlan`) in the same transaction; it decides nothing itself. Moderation
 * weighs in here too: an archived room refuses sends, edits and joins, a muted member's sends,
 * a banned user's joins; a message is deleted by its author or by a higher rank.
 *
 * Requests are applied in order, each seeing the effect of the ones before it in the batch (a
 * message sent, then edited, in one batch; a leave, then a send that is refused).
 */
import type { AppendOutcome, AppendRequest } from '../ports.js';
import { inForce, outranks } from './moderation-rules.js';
import type { AttachmentRecord, Author, MemberRecord, MessageRecord, Role, StreamEventRecord, UploadRecord } from './types.js';

const key = (...parts: Array<string | number>): string => parts.join('\u0000');
export const memberKey = (roomId: string, userId: string): string => key(roomId, userId);
export const messageKey = (roomId: string, seq: number): string => key(roomId, seq);
export const clientMsgKey = (roomId: string, authorId: string, clientMsgId: string): string => key(roomId, authorId, clientMsgId);
export const restrictionKey = (roomId: string, userId: string, kind: 'ban' | 'mute'): string => key(roomId, userId, kind);
export const reactionKey = (roomId: string, seq: number, emoji: string, userId: string): string => key(roomId, seq, emoji, userId);

/** What the rules read, as it is inside the batch's transaction (the rooms locked). */
export interface BatchState {
  /** The batch's rooms that exist. */
  rooms: Map<string, { lastSeq: number; lastActivityAt: number; archived: boolean }>;
  /** Memberships of the batch's (room, user) pairs, and of the authors of messages others delete, by memberKey. */
  members: Map<string, MemberRecord>;
  /**
   * The bans of the users the batch adds and the mutes of its senders, by restrictionKey: when
   * each ends (null: never). Absent: none.
   */
  restrictions: Map<string, number | null>;
  /** The batch's actors. */
  actors: Map<string, Author>;
  /** Messages already sent with one of the batch's clientMsgIds, by clientMsgKey. */
  earlier: Map<string, MessageRecord>;
  /** Messages the batch's edits, deletes and reactions target, and the roots its replies name, by messageKey. */
  targets: Map<string, MessageRecord>;
  /** The distinct emoji each message of `targets` that the batch reacts to carries, by messageKey. */
  emoji: Map<string, Set<string>>;
  /** The batch's reactions (added or removed) that exist already, by reactionKey. */
  reacted: Set<string>;
  /** The uploads the batch's messages attach, by id (locked with the rooms). */
  uploads: Map<string, UploadRecord>;
}

/**
 * A message row as it must be after the batch. What search indexes is written later, by the
 * search indexer (src/pipeline/); a delete clears it at once.
 */
export interface MessageWrite {
  message: MessageRecord;
}

export interface EventWrite {
  roomId: string;
  seq: number;
  kind: StreamEventRecord['kind'];
  target: number | null;
  userId: string;
  at: number;
  /** Reaction events: the emoji; null for others. */
  emoji: string | null;
}

/** A reaction row to insert or delete. */
export interface ReactionWrite {
  roomId: string;
  seq: number;
  emoji: string;
  userId: string;
  at: number;
}

/**
 * A thread's root counters to move: `delta` replies (negative when replies were deleted);
 * `lastReplyAt` the latest reply the batch sent, or null when it sent none.
 */
export interface ThreadCountWrite {
  roomId: string;
  rootSeq: number;
  delta: number;
  lastReplyAt: number | null;
}

/**
 * An automatic follow. `replier`: the user replied (they follow again, and have read up to
 * `readSeq`); otherwise the root's author, who starts following unless they have a row already
 * (followed, or unfollowed on purpose).
 */
export interface FollowWrite {
  roomId: string;
  rootSeq: number;
  userId: string;
  replier: boolean;
  readSeq: number;
}

export interface BatchPlan {
  /** One per request, in order. */
  outcomes: AppendOutcome[];
  events: EventWrite[];
  inserted: MessageWrite[];
  /** Messages committed before the batch that it edits or deletes. */
  changed: MessageWrite[];
  /** Membership rows to delete (left, or joined again: replaced). */
  membersRemoved: Array<{ roomId: string; userId: string }>;
  membersInserted: MemberRecord[];
  /** The new head and activity of every room the batch appended to. */
  rooms: Array<{ roomId: string; lastSeq: number; lastActivityAt: number }>;
  /** Uploads attached by the batch's messages: each becomes `attached` to its message. */
  attached: Array<{ uploadId: string; roomId: string; seq: number }>;
  /** Messages deleted by the batch that carried attachments: their uploads become `doomed`. */
  doomed: Array<{ roomId: string; seq: number }>;
  reactionsAdded: ReactionWrite[];
  reactionsRemoved: ReactionWrite[];
  /** One per root whose counters move, after the messages are written (a root may be new in the batch). */
  threadCounts: ThreadCountWrite[];
  follows: FollowWrite[];
}

/** An upload as a message carries it. */
export const attachmentOf = (u: UploadRecord): AttachmentRecord => {
  const a: AttachmentRecord = { id: u.id, name: u.name, size: u.size, contentType: u.contentType };
  if (u.width !== null && u.height !== null) [a.width, a.height] = [u.width, u.height];
  if (u.thumbKey !== null && u.thumbWidth !== null && u.thumbHeight !== null) a.thumbnail = { width: u.thumbWidth, height: u.thumbHeight };
  return a;
};

interface MessageState {
  message: MessageRecord;
  /** Committed before this batch (changes are updates) rather than inserted by it. */
  persisted: boolean;
  changed: boolean;
}

interface MemberState {
  roomId: string;
  userId: string;
  /** The membership as it is now; null once left. */
  record: MemberRecord | null;
  existed: boolean;
  /** Joined (again) in this batch: the row is (re)inserted. */
  joined: boolean;
}

/**
 * May `actor` change `target` this way? The author edits and deletes; a member of a higher rank
 * than the author (`authorRole`: null when the author is no member, ranked as a member) deletes too.
 */
export function mayChange(kind: 'edit' | 'delete', actor: MemberRecord | null, target: MessageRecord, authorRole: Role | null): boolean {
  if (actor === null) return false;
  if (target.author.id === actor.userId) return true;
  return kind === 'delete' && outranks(actor.role, authorRole ?? 'member');
}

export function planBatch(state: BatchState, requests: AppendRequest[]): BatchPlan {
  const lastSeq = new Map([...state.rooms].map(([id, r]) => [id, r.lastSeq]));
  const activity = new Map([...state.rooms].map(([id, r]) => [id, r.lastActivityAt]));
  const archived = (roomId: string): boolean => state.rooms.get(roomId)?.archived === true;
  const restricted = (roomId: string, userId: string, kind: 'ban' | 'mute', at: number): boolean => {
    const until = state.restrictions.get(restrictionKey(roomId, userId, kind));
    return until !== undefined && inForce(until, at);
  };
  const members = new Map<string, MemberState>(
    [...state.members].map(([k, m]) => [k, { roomId: m.roomId, userId: m.userId, record: m, existed: true, joined: false }]),
  );
  const earlier = new Map(state.earlier);
  const messages = new Map<string, MessageState>([...state.targets].map(([k, m]) => [k, { message: m, persisted: true, changed: false }]));
  const plan: BatchPlan = {
    outcomes: [],
    events: [],
    inserted: [],
    changed: [],
    membersRemoved: [],
    membersInserted: [],
    rooms: [],
    attached: [],
    doomed: [],
    reactionsAdded: [],
    reactionsRemoved: [],
    threadCounts: [],
    follows: [],
  };
  const emoji = new Map([...state.emoji].map(([k, set]) => [k, new Set(set)]));
  const reacted = new Set(state.reacted);
  /** The reactions the batch added or removed, by reactionKey. */
  const touched = new Map<string, ReactionWrite>();
  const threadCounts = new Map<string, ThreadCountWrite>();
  const countReply = (roomId: string, rootSeq: number, delta: number, at: number | null): void => {
    const k = messageKey(roomId, rootSeq);
    const c = threadCounts.get(k) ?? { roomId, rootSeq, delta: 0, lastReplyAt: null };
    c.delta += delta;
    if (at !== null) c.lastReplyAt = Math.max(c.lastReplyAt ?? at, at);
    threadCounts.set(k, c);
  };
  /** Uploads claimed by earlier messages of the batch. */
  const claimed = new Set<string>();
  const inserted: MessageState[] = [];

  const memberOf = (roomId: string, userId: string): MemberState | undefined => {
    const m = members.get(memberKey(roomId, userId));
    return m?.record === null ? undefined : m;
  };
  const append = (r: AppendRequest, kind: EventWrite['kind'], target: number | null, emojiOf: string | null = null): EventWrite => {
    const seq = (lastSeq.get(r.roomId) as number) + 1;
    lastSeq.set(r.roomId, seq);
    activity.set(r.roomId, Math.max(activity.get(r.roomId) ?? 0, r.at));
    const event: EventWrite = { roomId: r.roomId, seq, kind, target, userId: r.userId, at: r.at, emoji: emojiOf };
    plan.events.push(event);
    return event;
  };
  const appended = (e: EventWrite, actor: Author, message: MessageRecord | null): AppendOutcome => ({
    status: 'appended',
    event: { roomId: e.roomId, seq: e.seq, kind: e.kind, target: e.target, user: actor, createdAt: e.at, message, ...(e.emoji === null ? {} : { emoji: e.emoji }) },
  });

  for (const r of requests) {
    const actor = state.actors.get(r.userId);
    if (!lastSeq.has(r.roomId) || actor === undefined) {
      plan.outcomes.push({ status: 'rejected', code: 'not_found' });
      continue;
    }
    switch (r.kind) {
      case 'message': {
        // A resend is answered with the first message, even if the author left since.
        const dedupe = r.clientMsgId === null ? null : clientMsgKey(r.roomId, r.userId, r.clientMsgId);
        const first = dedupe === null ? undefined : earlier.get(dedupe);
        if (first !== undefined) {
          plan.outcomes.push({ status: 'duplicate', message: first });
          break;
        }
        if (memberOf(r.roomId, r.userId) === undefined) {
          plan.outcomes.push({ status: 'rejected', code: 'forbidden', reason: 'not_member' });
          break;
        }
        if (archived(r.roomId) || restricted(r.roomId, r.userId, 'mute', r.at)) {
          plan.outcomes.push({ status: 'rejected', code: 'forbidden', reason: archived(r.roomId) ? 'archived' : 'muted' });
          break;
        }
        // Each attachment must be the author's own upload to this room, ready, and attached to
        // nothing else: not before the batch (its state) nor earlier in it (claimed).
        const ids = r.attachments ?? [];
        const uploads = ids.map((id) => state.uploads.get(id));
        const usable = (u: UploadRecord | undefined): u is UploadRecord =>
          u !== undefined && u.kind === 'attachment' && u.state === 'ready' && u.roomId === r.roomId && u.userId === r.userId && !claimed.has(u.id);
        if (new Set(ids).size !== ids.length || !uploads.every(usable)) {
          plan.outcomes.push({ status: 'rejected', code: 'attachment' });
          break;
        }
        // A reply answers a live top-level message of the same room: threads are one level deep.
        const root = r.threadRoot === undefined ? undefined : messages.get(messageKey(r.roomId, r.threadRoot))?.message;
        if (r.threadRoot !== undefined && (root === undefined || root.deleted || root.threadRoot !== undefined)) {
          plan.outcomes.push({ status: 'rejected', code: 'thread_root' });
          break;
        }
        const event = append(r, 'message', null);
        const message: MessageRecord = { roomId: r.roomId, seq: event.seq, id: r.id, author: actor, body: r.body, createdAt: r.at, editedAt: null, deleted: false, clientMsgId: r.clientMsgId };
        if (uploads.length > 0) message.attachments = uploads.map(attachmentOf);
        if (root !== undefined) {
          message.threadRoot = root.seq;
          countReply(r.roomId, root.seq, 1, r.at);
          plan.follows.push({ roomId: r.roomId, rootSeq: root.seq, userId: root.author.id, replier: false, readSeq: root.seq });
          plan.follows.push({ roomId: r.roomId, rootSeq: root.seq, userId: r.userId, replier: true, readSeq: event.seq });
        }
        for (const u of uploads) {
          claimed.add(u.id);
          plan.attached.push({ uploadId: u.id, roomId: r.roomId, seq: event.seq });
        }
        const m: MessageState = { message, persisted: false, changed: false };
        messages.set(messageKey(r.roomId, event.seq), m);
        inserted.push(m);
        if (dedupe !== null) earlier.set(dedupe, message);
        plan.outcomes.push(appended(event, actor, message));
        break;
      }
      case 'edit':
      case 'delete': {
        const target = messages.get(messageKey(r.roomId, r.target));
        if (target === undefined || target.message.deleted) {
          plan.outcomes.push({ status: 'rejected', code: 'not_found' });
          break;
        }
        const authorRole = memberOf(r.roomId, target.message.author.id)?.record?.role ?? null;
        if (!mayChange(r.kind, memberOf(r.roomId, r.userId)?.record ?? null, target.message, authorRole)) {
          plan.outcomes.push({ status: 'rejected', code: 'forbidden' });
          break;
        }
        if (r.kind === 'edit' && archived(r.roomId)) {
          plan.outcomes.push({ status: 'rejected', code: 'forbidden', reason: 'archived' });
          break;
        }
        const event = append(r, r.kind, r.target);
        if (r.kind === 'delete' && (target.message.attachments?.length ?? 0) > 0) plan.doomed.push({ roomId: r.roomId, seq: r.target });
        if (r.kind === 'delete' && target.message.threadRoot !== undefined) countReply(r.roomId, target.message.threadRoot, -1, null);
        if (r.kind === 'edit') target.message = { ...target.message, body: r.body, editedAt: r.at };
        else {
          const { attachments: _gone, ...rest } = target.message;
          target.message = { ...rest, body: '', deleted: true };
        }
        target.changed = true;
        plan.outcomes.push(appended(event, actor, r.kind === 'edit' ? target.message : null));
        break;
      }
      case 'member_joined': {
        // Whoever adds a member must still be one: a leave racing an add wins.
        if (r.addedBy !== null && memberOf(r.roomId, r.addedBy) === undefined) {
          plan.outcomes.push({ status: 'rejected', code: 'forbidden' });
          break;
        }
        if (memberOf(r.roomId, r.userId) !== undefined) {
          plan.outcomes.push({ status: 'noop' });
          break;
        }
        if (archived(r.roomId) || restricted(r.roomId, r.userId, 'ban', r.at)) {
          plan.outcomes.push({ status: 'rejected', code: 'forbidden', reason: archived(r.roomId) ? 'archived' : 'banned' });
          break;
        }
        const event = append(r, 'member_joined', null);
        const k = memberKey(r.roomId, r.userId);
        members.set(k, {
          roomId: r.roomId,
          userId: r.userId,
          // The read marker starts at one's own join.
          record: { roomId: r.roomId, userId: r.userId, role: r.role, joinedAt: r.at, lastReadSeq: event.seq },
          existed: members.get(k)?.existed ?? false,
          joined: true,
        });
        plan.outcomes.push(appended(event, actor, null));
        break;
      }
      case 'member_left': {
        const member = memberOf(r.roomId, r.userId);
        if (member === undefined) {
          plan.outcomes.push({ status: 'noop' });
          break;
        }
        const event = append(r, 'member_left', null);
        member.record = null;
        member.joined = false;
        plan.outcomes.push(appended(event, actor, null));
        break;
      }
      case 'reaction_added':
      case 'reaction_removed': {
        if (memberOf(r.roomId, r.userId) === undefined) {
          plan.outcomes.push({ status: 'rejected', code: 'forbidden', reason: 'not_member' });
          break;
        }
        // An archived room's reactions are frozen; a muted member adds none (taking one back is allowed).
        if (archived(r.roomId) || (r.kind === 'reaction_added' && restricted(r.roomId, r.userId, 'mute', r.at))) {
          plan.outcomes.push({ status: 'rejected', code: 'forbidden', reason: archived(r.roomId) ? 'archived' : 'muted' });
          break;
        }
        const mk = messageKey(r.roomId, r.target);
        const target = messages.get(mk);
        if (target === undefined || target.message.deleted) {
          plan.outcomes.push({ status: 'rejected', code: 'not_found' });
          break;
        }
        // Idempotent per (user, emoji, message): a reaction made already, or one not made, appends nothing.
        const rk = reactionKey(r.roomId, r.target, r.emoji, r.userId);
        const adding = r.kind === 'reaction_added';
        if (reacted.has(rk) === adding) {
          plan.outcomes.push({ status: 'noop' });
          break;
        }
        const carried = emoji.get(mk) ?? new Set<string>();
        if (adding && !carried.has(r.emoji) && carried.size >= r.maxPerMessage) {
          plan.outcomes.push({ status: 'rejected', code: 'too_many_reactions' });
          break;
        }
        const event = append(r, r.kind, r.target, r.emoji);
        touched.set(rk, { roomId: r.roomId, seq: r.target, emoji: r.emoji, userId: r.userId, at: r.at });
        if (adding) {
          reacted.add(rk);
          carried.add(r.emoji);
          emoji.set(mk, carried);
        } else {
          // The emoji stays counted as carried until the batch ends: others may hold it still.
          reacted.delete(rk);
        }
        plan.outcomes.push(appended(event, actor, null));
        break;
      }
    }
  }
  plan.threadCounts = [...threadCounts.values()];
  // Only the net change of each reaction is written: added then removed in one batch is nothing.
  for (const [rk, row] of touched) {
    if (reacted.has(rk) && !state.reacted.has(rk)) plan.reactionsAdded.push(row);
    if (!reacted.has(rk) && state.reacted.has(rk)) plan.reactionsRemoved.push(row);
  }

  const write = (m: MessageState): MessageWrite => ({ message: m.message });
  plan.inserted = inserted.map(write);
  for (const m of messages.values()) if (m.persisted && m.changed) plan.changed.push(write(m));
  for (const m of members.values()) {
    if (m.existed && (m.record === null || m.joined)) plan.membersRemoved.push({ roomId: m.roomId, userId: m.userId });
    if (m.joined && m.record !== null) plan.membersInserted.push(m.record);
  }
  for (const roomId of new Set(plan.events.map((e) => e.roomId))) {
    plan.rooms.push({ roomId, lastSeq: lastSeq.get(roomId) as number, lastActivityAt: activity.get(roomId) as number });
  }
  return plan;
}
