/**
 * The web app's pure parts, without a browser: the timeline's ordering and pending rows, the
 * unread rules of my rooms, mention suggestions, the tab title, room labels, and the search highlight parser (the
 * one piece of server markup the page reads).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Message, StreamEvent, User } from '../../client/index.js';
import { highlightParts, roomLabel, typingText } from '../../web/src/format.js';
import { announcement, pageTitle } from '../../web/src/state/attention.js';
import { insertMention, mentionCandidates, mentionQuery } from '../../web/src/state/mentions.js';
import { RoomsStore } from '../../web/src/state/rooms.js';
import { Timeline } from '../../web/src/state/timeline.js';

const me: User = { id: 'u-me', username: 'me', displayName: 'Me' };
const bob: User = { id: 'u-bob', username: 'bob', displayName: 'Bob' };

function msg(seq: number, author: User = bob, body = `m${seq}`): Message {
  return { roomId: 'r', seq, id: `id${seq}`, author, body, createdAt: '2026-01-01T00:00:00.000Z', editedAt: null, deleted: false, clientMsgId: null };
}

function event(kind: StreamEvent['kind'], seq: number, extra: Partial<StreamEvent> = {}): StreamEvent {
  return { type: 'event', roomId: 'r', seq, kind, user: bob, createdAt: '2026-01-01T00:00:00.000Z', ...extra };
}

const keys = (t: Timeline) => t.rows.value.map((r) => r.key);

describe('Timeline', () => {
  it('keeps rows in seq order whatever order they arrive in, each seq once', () => {
    const t = new Timeline(me);
    t.upsert(msg(5), msg(3));
    t.apply(event('member_joined', 4));
    t.apply(event('message', 6, { message: msg(6) }));
    t.upsert(msg(3, bob, 'again'));
    assert.deepEqual(keys(t), ['m3', 'n4', 'm5', 'm6']);
    assert.equal(t.message(3)?.body, 'again');
    assert.equal(t.oldestMessageSeq, 3);
    assert.equal(t.newestSeq, 6);
  });

  it('shows an edit in place, a delete as a tombstone, and ignores both for messages not loaded', () => {
    const t = new Timeline(me);
    t.upsert({ ...msg(2), attachments: [{ id: 'f', name: 'a.txt', size: 1, contentType: 'text/plain' }] });
    t.apply(event('edit', 3, { target: 2, message: { ...msg(2, bob, 'edited'), editedAt: '2026-01-01T00:01:00.000Z' } }));
    assert.equal(t.message(2)?.body, 'edited');
    t.apply(event('delete', 4, { target: 2 }));
    const gone = t.message(2);
    assert.deepEqual([gone?.deleted, gone?.body, gone?.editedAt, gone?.attachments], [true, '', null, undefined]);
    t.apply(event('edit', 5, { target: 1, message: msg(1, bob, 'not loaded') }));
    t.apply(event('delete', 6, { target: 1 }));
    assert.deepEqual(keys(t), ['m2']);
  });

  it('keeps my pending messages below, settles them by the stream or the acknowledgement, and marks refusals', () => {
    const t = new Timeline(me);
    t.upsert(msg(1));
    const first = t.addPending(me, 'hello');
    const second = t.addPending(me, 'again');
    t.upsert(msg(2));
    assert.deepEqual(keys(t), ['m1', 'm2', first, second]);
    // The stream brings my first message before its acknowledgement: its pending row goes.
    t.apply(event('message', 3, { user: me, message: msg(3, me, 'hello') }));
    assert.deepEqual(keys(t), ['m1', 'm2', 'm3', second]);
    t.acknowledge(first, msg(3, me, 'hello'));
    assert.deepEqual(keys(t), ['m1', 'm2', 'm3', second]);
    t.fail(second);
    const failed = t.rows.value.at(-1);
    assert.equal(failed?.type === 'pending' && failed.failed, true);
    assert.equal(t.lastOwnMessage()?.seq, 3, 'the Up arrow edits my last stored message');
  });
});

describe('RoomsStore', () => {
  const room = { id: 'a', name: 'alpha', visibility: 'public' as const, topic: '', createdAt: '', lastSeq: 5, lastReadSeq: 5, unread: 0 };

  it('counts messages by others in rooms not open, and the total for the title', () => {
    const rooms = new RoomsStore(me.id);
    rooms.load([room, { ...room, id: 'b', name: 'beta', unread: 998, unreadCapped: true }]);
    rooms.onEvent(event('message', 6, { roomId: 'a', message: msg(6) }));
    rooms.onEvent(event('message', 7, { roomId: 'a', user: me, message: msg(7, me) }));
    rooms.onEvent(event('member_joined', 8, { roomId: 'a' }));
    assert.equal(rooms.get('a')?.unread, 1);
    assert.equal(rooms.get('a')?.lastSeq, 8);
    assert.deepEqual(rooms.totalUnread.value, { count: 999, capped: true });
    rooms.open('a');
    assert.equal(rooms.get('a')?.unread, 0);
    rooms.onEvent(event('message', 9, { roomId: 'a', message: msg(9) }));
    assert.equal(rooms.get('a')?.unread, 0, 'the open room has nothing unread');
  });

  it('clears a room read to its newest event, and keeps the count of one read part-way', () => {
    const rooms = new RoomsStore(me.id);
    rooms.load([{ ...room, lastSeq: 10, lastReadSeq: 5, unread: 3 }]);
    rooms.markedRead('a', 8);
    assert.equal(rooms.get('a')?.unread, 3);
    rooms.markedRead('a', 10);
    assert.equal(rooms.get('a')?.unread, 0);
    rooms.remove('a');
    assert.equal(rooms.has('a'), false);
  });
});

describe('mentions', () => {
  const member = (user: User) => ({ user, role: 'member' as const, online: true });
  const ada: User = { id: 'u-ada', username: 'ada', displayName: 'Bobby Tables' };

  it('finds the @partial before the caret, only after a space or at the start', () => {
    assert.deepEqual(mentionQuery('hi @bo', 6), { start: 3, query: 'bo' });
    assert.deepEqual(mentionQuery('@', 1), { start: 0, query: '' });
    assert.equal(mentionQuery('mail a@bo', 9), null);
    assert.equal(mentionQuery('hi @bo there', 12), null);
  });

  it('suggests members by username, then by display name, never me', () => {
    const members = [member(me), member(ada), member(bob)];
    assert.deepEqual(
      mentionCandidates(members, 'bo', me.id).map((m) => m.user.username),
      ['bob', 'ada'],
    );
    assert.deepEqual(mentionCandidates(members, 'm', me.id), []);
    assert.deepEqual(mentionCandidates([member(me), member(bob)], 'BOB', me.id), [], 'a whole username needs no suggestion');
  });

  it('puts the username in place of the partial, the caret after it', () => {
    assert.deepEqual(insertMention('hi @bo!', 3, 6, 'bob'), { text: 'hi @bob !', caret: 8 });
  });
});

describe('words', () => {
  it('titles the tab with the unread count first', () => {
    assert.equal(pageTitle({ count: 0, capped: false }, null), 'Parley');
    assert.equal(pageTitle({ count: 3, capped: false }, '# garden'), '(3) # garden · Parley');
    assert.equal(pageTitle({ count: 999, capped: true }, null), '(999+) Parley');
  });

  it('names a DM by the other person, and announces messages briefly', () => {
    assert.equal(roomLabel({ name: 'bob, me', visibility: 'dm' }, me), '@ bob');
    assert.equal(roomLabel({ name: 'secret', visibility: 'private' }, me), '🔒 secret');
    assert.equal(typingText(['Bob', 'Ada', 'Cy']), 'Several people are typing…');
    assert.equal(announcement(msg(1, bob, 'x'.repeat(200))).length, 'Bob: '.length + 141);
  });

  it('reads the search highlight as text and marks only, whatever the text holds', () => {
    assert.deepEqual(highlightParts('a &lt;b&gt; <mark>pine&amp;apple</mark> &amp;lt;script&amp;gt;'), [
      { text: 'a <b> ', marked: false },
      { text: 'pine&apple', marked: true },
      { text: ' &lt;script&gt;', marked: false },
    ]);
  });
});
