import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyEvent } from '../../client/fold.js';
import type { Message, StreamEvent } from '../../src/protocol/wire.js';

const user = (id: string) => ({ id, username: id, displayName: id });
const message = (seq: number, extra: Partial<Message> = {}): Message => ({
  roomId: 'r',
  seq,
  id: `m${seq}`,
  author: user('ada'),
  body: `body ${seq}`,
  createdAt: `2026-01-01T00:00:0${seq}.000Z`,
  editedAt: null,
  deleted: false,
  clientMsgId: null,
  ...extra,
});
const event = (seq: number, kind: StreamEvent['kind'], extra: Partial<StreamEvent> = {}): StreamEvent => ({ type: 'event', roomId: 'r', seq, kind, user: user('ada'), createdAt: '2026-01-01T00:00:09.000Z', ...extra });

/** Folds the events in order from nothing. */
function foldAll(events: StreamEvent[], me: string): Map<number, Message> {
  const known = new Map<number, Message>();
  for (const e of events) for (const [seq, m] of applyEvent(known, e, me)) known.set(seq, m);
  return known;
}

describe('folding the stream into messages', () => {
  it('a reply counts on its root; a deleted reply counts no more', () => {
    const reply = message(2, { threadRoot: 1 });
    const known = foldAll([event(1, 'message', { message: message(1) }), event(2, 'message', { message: reply }), event(3, 'delete', { target: 2 })], 'bob');
    assert.deepEqual([known.get(1)?.replyCount, known.get(1)?.lastReplyAt], [0, reply.createdAt]);
    assert.equal(known.get(2)?.deleted, true);
    // Replayed after the delete: the reply comes as a tombstone, then its delete.
    const replayed = foldAll([event(1, 'message', { message: message(1) }), event(2, 'message', { message: { ...reply, body: '', deleted: true } }), event(3, 'delete', { target: 2 })], 'bob');
    assert.deepEqual([replayed.get(1)?.replyCount, replayed.get(1)?.lastReplyAt], [0, reply.createdAt]);
  });

  it('reactions aggregate per emoji in first-reacted order, `me` for the reader, gone at zero', () => {
    const react = (seq: number, who: string, emoji: string, kind: 'reaction_added' | 'reaction_removed' = 'reaction_added') => event(seq, kind, { target: 1, emoji, user: user(who) });
    const known = foldAll([event(1, 'message', { message: message(1) }), react(2, 'ada', '👍'), react(3, 'bob', ':tada:'), react(4, 'bob', '👍'), react(5, 'bob', ':tada:', 'reaction_removed'), react(6, 'ada', '👍', 'reaction_removed')], 'bob');
    assert.deepEqual(known.get(1)?.reactions, [{ emoji: '👍', count: 1, me: true }]);
    const none = foldAll([event(1, 'message', { message: message(1) }), react(2, 'ada', '👍'), react(3, 'ada', '👍', 'reaction_removed')], 'bob');
    assert.equal('reactions' in (none.get(1) as Message), false);
  });

  it('an edit keeps the reactions; a delete drops them; events about unknown messages change nothing', () => {
    const known = foldAll(
      [event(1, 'message', { message: message(1) }), event(2, 'reaction_added', { target: 1, emoji: '👍' }), event(3, 'edit', { target: 1, message: message(1, { body: 'edited', editedAt: '2026-01-01T00:00:03.000Z' }) })],
      'ada',
    );
    assert.deepEqual([known.get(1)?.body, known.get(1)?.reactions], ['edited', [{ emoji: '👍', count: 1, me: true }]]);
    const deleted = applyEvent(known, event(4, 'delete', { target: 1 }), 'ada').get(1);
    assert.equal(deleted?.reactions, undefined);
    assert.equal(applyEvent(known, event(5, 'reaction_added', { target: 99, emoji: '👍' }), 'ada').size, 0);
    const tomb = new Map([[1, message(1, { deleted: true, body: '' })]]);
    assert.equal(applyEvent(tomb, event(6, 'reaction_added', { target: 1, emoji: '👍' }), 'ada').size, 0, 'a replayed tombstone takes no reaction');
  });
});
