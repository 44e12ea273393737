import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { messageLink } from '../../src/notifications/digest.js';
import { defaultLevel } from '../../src/notifications/notifier.js';
import { KIND_RANK } from '../../src/notifications/sources.js';
import { EXCERPT_MAX, excerpt, notificationView } from '../../src/notifications/views.js';

describe('notification views', () => {
  it('cuts an excerpt at EXCERPT_MAX code points, with an ellipsis', () => {
    assert.equal(excerpt('short'), 'short');
    const long = '😀'.repeat(EXCERPT_MAX + 5);
    const cut = excerpt(long);
    assert.equal([...cut].length, EXCERPT_MAX);
    assert.ok(cut.endsWith('…'));
    assert.equal(excerpt('x'.repeat(EXCERPT_MAX)), 'x'.repeat(EXCERPT_MAX));
  });

  it('shows ids as strings and read as at or before the marker', () => {
    const record = { id: 42, roomId: 'r', roomName: 'Room', seq: 7, kind: 'mention' as const, actor: { id: 'u', username: 'alice', displayName: 'Alice' }, createdAt: 0, body: 'hi' };
    const view = notificationView(record, 42);
    assert.deepEqual(view, { id: '42', kind: 'mention', roomId: 'r', roomName: 'Room', seq: 7, author: { id: 'u', username: 'alice', displayName: 'Alice' }, excerpt: 'hi', createdAt: '1970-01-01T00:00:00.000Z', read: true });
    assert.equal(notificationView(record, 41).read, false);
  });

  it('defaults to every message in a DM and to mentions elsewhere', () => {
    assert.equal(defaultLevel({ visibility: 'dm' }), 'all');
    assert.equal(defaultLevel({ visibility: 'public' }), 'mentions');
    assert.equal(defaultLevel({ visibility: 'private' }), 'mentions');
  });

  it('ranks a direct mention over @room over a thread reply over a plain message', () => {
    assert.ok(KIND_RANK.mention > KIND_RANK.room_mention && KIND_RANK.room_mention > KIND_RANK.thread_reply && KIND_RANK.thread_reply > KIND_RANK.message);
  });

  it('links a mention into the web app, room id escaped', () => {
    assert.equal(messageLink('https://chat.example.com/', 'a b', 3), 'https://chat.example.com/#/rooms/a%20b/3');
  });
});
