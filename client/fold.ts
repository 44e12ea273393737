/**
 * Folding the room stream into the messages a client shows: what REST reads give as fields
 * (`replyCount`, `lastReplyAt`, `reactions`), live clients derive from the events. Pure: it
 * takes the messages known by seq and answers the ones an event changes, as new objects.
 */
import type { Message, Reaction, StreamEvent } from '../src/protocol/wire.js';

/**
 * The messages of `known` (one room's, by seq) that `event` changes, by seq, as they are after
 * it; `me` is the reader's user id (for `reactions[].me`). Events must come in seq order, each
 * once (as a subscription delivers them). Messages not in `known` are left alone, except a new
 * message, which is answered itself.
 */
export function applyEvent(known: ReadonlyMap<number, Message>, event: StreamEvent, me: string): Map<number, Message> {
  const changed = new Map<number, Message>();
  const current = (seq: number): Message | undefined => changed.get(seq) ?? known.get(seq);
  const moveRoot = (reply: Message, delta: number, at: string | null) => {
    if (reply.threadRoot === undefined) return;
    const root = current(reply.threadRoot);
    if (root === undefined) return;
    const replyCount = Math.max(0, (root.replyCount ?? 0) + delta);
    const lastReplyAt = at ?? root.lastReplyAt ?? reply.createdAt;
    changed.set(root.seq, { ...root, replyCount, lastReplyAt });
  };
  switch (event.kind) {
    case 'message':
      if (event.message !== undefined) {
        changed.set(event.seq, event.message);
        // A replayed reply deleted since comes as a tombstone (and its delete event then changes
        // nothing): it never counted, though it was the latest reply when sent.
        moveRoot(event.message, event.message.deleted ? 0 : 1, event.message.createdAt);
      }
      break;
    case 'edit': {
      const before = event.target === undefined ? undefined : current(event.target);
      if (event.message !== undefined && event.target !== undefined) {
        // Events carry no thread counters nor reactions: what the reader derived stays.
        const derived = {
          ...(before?.replyCount === undefined ? {} : { replyCount: before.replyCount }),
          ...(before?.lastReplyAt === undefined ? {} : { lastReplyAt: before.lastReplyAt }),
          ...(before?.reactions === undefined ? {} : { reactions: before.reactions }),
        };
        changed.set(event.target, { ...event.message, ...derived });
      }
      break;
    }
    case 'delete': {
      const before = event.target === undefined ? undefined : current(event.target);
      if (before === undefined || before.deleted) break;
      const { attachments: _files, reactions: _reactions, ...rest } = before;
      changed.set(before.seq, { ...rest, body: '', deleted: true });
      moveRoot(before, -1, null);
      break;
    }
    case 'reaction_added':
    case 'reaction_removed': {
      const before = event.target === undefined ? undefined : current(event.target);
      // A tombstone shows no reactions (one replayed as deleted gets its reactions' events still).
      if (before === undefined || before.deleted || event.emoji === undefined) break;
      const reactions = fold(before.reactions ?? [], event.emoji, event.kind === 'reaction_added' ? 1 : -1, event.user.id === me);
      const { reactions: _old, ...rest } = before;
      changed.set(before.seq, reactions.length === 0 ? rest : { ...rest, reactions });
      break;
    }
    default:
      break;
  }
  return changed;
}

function fold(reactions: readonly Reaction[], emoji: string, delta: 1 | -1, mine: boolean): Reaction[] {
  const at = reactions.findIndex((r) => r.emoji === emoji);
  if (at === -1) return delta === 1 ? [...reactions, { emoji, count: 1, me: mine }] : [...reactions];
  const r = reactions[at] as Reaction;
  const next = { emoji, count: r.count + delta, me: mine ? delta === 1 : r.me };
  return next.count <= 0 ? reactions.filter((_, i) => i !== at) : reactions.map((x, i) => (i === at ? next : x));
}
