import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  decodeCacheKeys,
  decodeMembership,
  decodeProbe,
  decodeRoom,
  decodeUser,
  encodeCacheKeys,
  encodeMembership,
  encodeProbe,
  encodeRoom,
  encodeUser,
  type RoomMessage,
  type UserMessage,
} from '../../src/protocol/bus-codec.js';

const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,22}$/);
const frame = fc.json().map((j) => JSON.stringify({ type: 'x', data: j }));
const kind = fc.constantFrom('message', 'edit', 'delete', 'member_joined', 'member_left') as fc.Arbitrary<'message'>;

describe('bus codec', () => {
  it('property: every room message decodes to what was encoded, frame byte for byte', () => {
    const message: fc.Arbitrary<RoomMessage> = fc.oneof(
      fc.record({ type: fc.constant('event' as const), seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), kind, userId: id, target: fc.option(fc.integer({ min: 1, max: 1e12 }), { nil: null }), frame }),
      fc.record({ type: fc.constant('typing' as const), userId: id, frame }),
      fc.record({ type: fc.constant('user_updated' as const), userId: id, frame }),
      fc.record({ type: fc.constant('presence' as const), roomId: id, userId: id, online: fc.boolean() }),
    );
    fc.assert(fc.property(message, (m) => assert.deepEqual(decodeRoom(encodeRoom(m)), { ...m })));
  });

  it('property: every user message, membership change, cache invalidation and probe round-trips', () => {
    const user: fc.Arbitrary<UserMessage> = fc.oneof(
      fc.record({ type: fc.constant('frame' as const), frame, removedRoomId: fc.option(id, { nil: null }) }),
      fc.record({ type: fc.constant('revoke' as const), tokenHash: fc.stringMatching(/^[0-9a-f]{64}$/) }),
    );
    fc.assert(fc.property(user, (m) => assert.deepEqual(decodeUser(encodeUser(m)), { ...m })));
    const change = fc.option(fc.record({ joined: fc.boolean(), seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }) }), { nil: null });
    fc.assert(
      fc.property(id, id, change, (roomId, userId, c) => assert.deepEqual(decodeMembership(encodeMembership({ roomId, userId, change: c === null ? null : { ...c } })), { roomId, userId, change: c === null ? null : { ...c } })),
    );
    fc.assert(fc.property(fc.array(fc.string()), (keys) => assert.deepEqual(decodeCacheKeys(encodeCacheKeys(keys)), keys)));
    fc.assert(fc.property(fc.nat(), (n) => assert.equal(decodeProbe(encodeProbe(n)), n)));
  });

  it('property: nothing malformed throws; it decodes to null or a well-typed message', () => {
    fc.assert(
      fc.property(fc.string(), (junk) => {
        const room = decodeRoom(junk);
        if (room !== null) assert.ok(['event', 'typing', 'presence'].includes(room.type));
        const user = decodeUser(junk);
        if (user !== null) assert.ok(['frame', 'revoke'].includes(user.type));
        decodeMembership(junk);
        decodeCacheKeys(junk);
        decodeProbe(junk);
      }),
    );
    assert.equal(decodeRoom('E 12 message'), null);
    assert.equal(decodeRoom('E x message u -\n{}'), null);
    assert.equal(decodeRoom('E 1 shout u -\n{}'), null);
    assert.equal(decodeRoom('E 1 edit u 3'), null, 'an event without its frame');
    assert.equal(decodeUser('R'), null);
    assert.equal(decodeProbe('N -1'), null);
  });

  it('refuses to encode an id that would break the header', () => {
    assert.throws(() => encodeRoom({ type: 'typing', userId: 'a b', frame: '{}' }), /cannot be encoded/);
    assert.throws(() => encodeMembership({ roomId: 'r\n', userId: 'u', change: null }), /cannot be encoded/);
  });

  it('decodes the earlier all-JSON messages, for a rolling upgrade', () => {
    const event = JSON.stringify({ type: 'event', roomId: 'r', seq: 7, kind: 'edit', target: 3, user: { id: 'u1' } });
    assert.deepEqual(decodeRoom(event), { type: 'event', seq: 7, kind: 'edit', userId: 'u1', target: 3, frame: event });
    const typing = JSON.stringify({ type: 'typing', roomId: 'r', user: { id: 'u2' } });
    assert.deepEqual(decodeRoom(typing), { type: 'typing', userId: 'u2', frame: typing });
    assert.deepEqual(decodeUser(JSON.stringify({ type: '_revoke', tokenHash: 'abc' })), { type: 'revoke', tokenHash: 'abc' });
    const removed = JSON.stringify({ type: 'room_removed', roomId: 'r9' });
    assert.deepEqual(decodeUser(removed), { type: 'frame', frame: removed, removedRoomId: 'r9' });
    assert.deepEqual(decodeMembership('{"roomId":"r","userId":"u"}'), { roomId: 'r', userId: 'u', change: null });
    assert.deepEqual(decodeMembership('M r u'), { roomId: 'r', userId: 'u', change: null });
    const presence = JSON.stringify({ type: 'presence', roomId: 'r', userId: 'u3', online: false });
    assert.deepEqual(decodeRoom(presence), { type: 'presence', roomId: 'r', userId: 'u3', online: false });
    assert.deepEqual(decodeRoom(`P\n${presence}`), { type: 'presence', roomId: 'r', userId: 'u3', online: false });
  });

  it('writes presence and membership changes in forms the previous release reads', () => {
    // The previous release forwarded the frame after `P\n` to its sockets, and read a JSON
    // membership message as {roomId, userId} (dropping what it cached).
    const presence = encodeRoom({ type: 'presence', roomId: 'r', userId: 'u', online: true });
    assert.deepEqual(JSON.parse(presence.slice(presence.indexOf('\n') + 1)), { type: 'presence', roomId: 'r', userId: 'u', online: true });
    assert.ok(presence.startsWith('P\n'));
    const membership = JSON.parse(encodeMembership({ roomId: 'r', userId: 'u', change: { joined: false, seq: 7 } }));
    assert.equal(membership.roomId, 'r');
    assert.equal(membership.userId, 'u');
    assert.deepEqual(decodeMembership('{"roomId":"r","userId":"u","joined":"yes","seq":7}'), { roomId: 'r', userId: 'u', change: null }, 'a malformed change is an unknown one');
    assert.deepEqual(decodeCacheKeys('["a","b"]'), ['a', 'b']);
    assert.equal(decodeProbe('42'), 42);
  });
});
