import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type BatchState, clientMsgKey, mayChange, memberKey, messageKey, planBatch, reactionKey, restrictionKey } from '../../src/domain/stream-rules.js';
import type { MemberRecord, MessageRecord, UploadRecord } from '../../src/domain/types.js';
import type { AppendRequest } from '../../src/ports.js';

const author = (id: string) => ({ id, username: id, displayName: id });
const member = (roomId: string, userId: string, role: 'owner' | 'admin' | 'member' = 'member'): MemberRecord => ({ roomId, userId, role, joinedAt: 0, lastReadSeq: 0 });
const message = (roomId: string, seq: number, by: string, extra: Partial<MessageRecord> = {}): MessageRecord => ({
  roomId,
  seq,
  id: `m${seq}`,
  author: author(by),
  body: 'text',
  createdAt: 0,
  editedAt: null,
  deleted: false,
  clientMsgId: null,
  ...extra,
});

const upload = (id: string, userId: string, extra: Partial<UploadRecord> = {}): UploadRecord => ({
  id,
  kind: 'attachment',
  roomId: 'r',
  userId,
  state: 'ready',
  name: `${id}.png`,
  size: 100,
  received: 100,
  contentType: 'image/png',
  width: 800,
  height: 600,
  objectKey: `files/r/${id}`,
  thumbKey: `files/r/${id}.thumb`,
  thumbWidth: 480,
  thumbHeight: 360,
  messageSeq: null,
  createdAt: 0,
  ...extra,
});

function state(): BatchState {
  return {
    emoji: new Map(),
    reacted: new Set(),
    uploads: new Map(
      [upload('u1', 'alice'), upload('u2', 'alice', { thumbKey: null, thumbWidth: null, thumbHeight: null, width: null, height: null, contentType: 'application/pdf', name: 'a.pdf' }), upload('u3', 'bob'), upload('u4', 'alice', { state: 'attached', messageSeq: 7 }), upload('u5', 'alice', { roomId: 'other' })].map((u) => [u.id, u]),
    ),
    rooms: new Map([['r', { lastSeq: 10, lastActivityAt: 0, archived: false }]]),
    restrictions: new Map(),
    members: new Map([
      [memberKey('r', 'owner'), member('r', 'owner', 'owner')],
      [memberKey('r', 'alice'), member('r', 'alice')],
      [memberKey('r', 'bob'), member('r', 'bob')],
    ]),
    actors: new Map(['owner', 'alice', 'bob', 'eve'].map((id) => [id, author(id)])),
    earlier: new Map([[clientMsgKey('r', 'alice', 'c1'), message('r', 5, 'alice', { clientMsgId: 'c1' })]]),
    targets: new Map([
      [messageKey('r', 7), message('r', 7, 'alice')],
      [messageKey('r', 8), message('r', 8, 'alice', { deleted: true, body: '' })],
    ]),
  };
}

const send = (userId: string, body = 'hi', clientMsgId: string | null = null): AppendRequest => ({ kind: 'message', roomId: 'r', userId, id: `id-${body}`, body, clientMsgId, at: 1 });

describe('stream rules', () => {
  it('a message attaches its author\'s ready uploads of its room, once; anything else refuses it whole', () => {
    const withFiles = (userId: string, attachments: string[], body = 'files'): AppendRequest => ({ kind: 'message', roomId: 'r', userId, id: `id-${body}`, body, clientMsgId: null, at: 1, attachments });
    const plan = planBatch(state(), [withFiles('alice', ['u1', 'u2'], 'a'), withFiles('alice', ['u1'], 'again'), withFiles('alice', ['u3'], 'bobs'), withFiles('alice', ['u4'], 'attached'), withFiles('alice', ['u5'], 'elsewhere'), withFiles('alice', ['nope'], 'missing'), withFiles('alice', ['u2', 'u2'], 'twice')]);
    assert.deepEqual(plan.outcomes.map((o) => (o.status === 'rejected' ? o.code : o.status)), ['appended', 'attachment', 'attachment', 'attachment', 'attachment', 'attachment', 'attachment']);
    const first = plan.outcomes[0];
    assert.ok(first?.status === 'appended');
    assert.deepEqual(first.event.message?.attachments, [
      { id: 'u1', name: 'u1.png', size: 100, contentType: 'image/png', width: 800, height: 600, thumbnail: { width: 480, height: 360 } },
      { id: 'u2', name: 'a.pdf', size: 100, contentType: 'application/pdf' },
    ]);
    assert.deepEqual(plan.attached, [
      { uploadId: 'u1', roomId: 'r', seq: 11 },
      { uploadId: 'u2', roomId: 'r', seq: 11 },
    ]);
    assert.equal(plan.events.length, 1);
  });

  it('deleting a message with attachments dooms them and clears them from the tombstone, also in the batch that sent it', () => {
    const plan = planBatch(state(), [{ kind: 'message', roomId: 'r', userId: 'alice', id: 'x', body: 'x', clientMsgId: null, at: 1, attachments: ['u1'] }, { kind: 'delete', roomId: 'r', userId: 'alice', target: 11, at: 2 }]);
    assert.deepEqual(plan.doomed, [{ roomId: 'r', seq: 11 }]);
    assert.equal(plan.inserted[0]?.message.deleted, true);
    assert.equal(plan.inserted[0]?.message.attachments, undefined);
    const none = planBatch(state(), [{ kind: 'delete', roomId: 'r', userId: 'alice', target: 7, at: 2 }]);
    assert.deepEqual(none.doomed, []);
  });

  it('who may change a message: the author edits and deletes; the owner deletes, never edits; nobody else', () => {
    const m = message('r', 7, 'alice');
    assert.equal(mayChange('edit', member('r', 'alice'), m, 'member'), true);
    assert.equal(mayChange('delete', member('r', 'alice'), m, 'member'), true);
    assert.equal(mayChange('delete', member('r', 'owner', 'owner'), m, 'member'), true);
    assert.equal(mayChange('edit', member('r', 'owner', 'owner'), m, 'member'), false);
    assert.equal(mayChange('delete', member('r', 'bob'), m, 'member'), false);
    assert.equal(mayChange('edit', null, m, 'member'), false);
  });

  it('an admin deletes messages of lower ranks (and of former members), never of an admin or the owner', () => {
    const m = message('r', 7, 'alice');
    const admin = member('r', 'admin', 'admin');
    assert.equal(mayChange('delete', admin, m, 'member'), true);
    assert.equal(mayChange('delete', admin, m, null), true);
    assert.equal(mayChange('delete', admin, m, 'admin'), false);
    assert.equal(mayChange('delete', admin, m, 'owner'), false);
    assert.equal(mayChange('edit', admin, m, 'member'), false);
    assert.equal(mayChange('delete', member('r', 'owner', 'owner'), m, 'admin'), true);
  });

  it('an archived room refuses sends, edits and joins (deletes still apply); a mute refuses sends; a ban refuses joins, until they end', () => {
    const archived = state();
    archived.rooms.set('r', { lastSeq: 10, lastActivityAt: 0, archived: true });
    const reasons = (plan: ReturnType<typeof planBatch>) => plan.outcomes.map((o) => (o.status === 'rejected' ? `${o.code}:${o.reason ?? ''}` : o.status));
    assert.deepEqual(
      reasons(
        planBatch(archived, [
          send('alice'),
          { kind: 'edit', roomId: 'r', userId: 'alice', target: 7, body: 'x', at: 1 },
          { kind: 'member_joined', roomId: 'r', userId: 'eve', role: 'member', addedBy: null, at: 1 },
          { kind: 'delete', roomId: 'r', userId: 'alice', target: 7, at: 1 },
        ]),
      ),
      ['forbidden:archived', 'forbidden:archived', 'forbidden:archived', 'appended'],
    );
    const restricted = state();
    restricted.restrictions.set(restrictionKey('r', 'alice', 'mute'), 5);
    restricted.restrictions.set(restrictionKey('r', 'bob', 'mute'), null);
    restricted.restrictions.set(restrictionKey('r', 'eve', 'ban'), null);
    const at = (r: AppendRequest, t: number): AppendRequest => ({ ...r, at: t });
    assert.deepEqual(
      reasons(
        planBatch(restricted, [
          at(send('alice'), 4),
          at(send('alice'), 5),
          send('bob'),
          { kind: 'edit', roomId: 'r', userId: 'alice', target: 7, body: 'muted may edit', at: 1 },
          { kind: 'member_joined', roomId: 'r', userId: 'eve', role: 'member', addedBy: 'alice', at: 1 },
        ]),
      ),
      ['forbidden:muted', 'appended', 'forbidden:muted', 'appended', 'forbidden:banned'],
    );
  });

  it('applies a batch in order: sends, duplicates, edits, deletes, leaves and what they forbid after them', () => {
    const plan = planBatch(state(), [
      send('alice', 'one'),
      send('alice', 'again', 'c1'),
      send('eve', 'intruder'),
      { kind: 'edit', roomId: 'r', userId: 'bob', target: 7, body: 'hijack', at: 2 },
      { kind: 'edit', roomId: 'r', userId: 'alice', target: 7, body: 'better', at: 2 },
      { kind: 'delete', roomId: 'r', userId: 'owner', target: 7, at: 3 },
      { kind: 'edit', roomId: 'r', userId: 'alice', target: 8, body: 'ghost', at: 3 },
      { kind: 'member_left', roomId: 'r', userId: 'bob', at: 4 },
      send('bob', 'after leaving'),
      { kind: 'member_joined', roomId: 'r', userId: 'alice', role: 'member', addedBy: null, at: 5 },
      send('alice', 'x', null),
      { kind: 'member_left', roomId: 'nowhere', userId: 'alice', at: 6 },
    ]);
    assert.deepEqual(
      plan.outcomes.map((o) => (o.status === 'appended' ? `${o.event.kind}@${o.event.seq}` : o.status === 'rejected' ? o.code : o.status)),
      ['message@11', 'duplicate', 'forbidden', 'forbidden', 'edit@12', 'delete@13', 'not_found', 'member_left@14', 'forbidden', 'noop', 'message@15', 'not_found'],
    );
    assert.deepEqual(plan.rooms, [{ roomId: 'r', lastSeq: 15, lastActivityAt: 4 }]);
    assert.deepEqual(plan.changed.map((c) => [c.message.seq, c.message.deleted, c.message.body]), [[7, true, '']]);
    assert.deepEqual(plan.membersRemoved, [{ roomId: 'r', userId: 'bob' }]);
    assert.deepEqual(plan.inserted.map((m) => m.message.body), ['one', 'x']);
  });

  it('regression: whoever adds a member must still be one when it commits (a leave racing an add wins)', () => {
    const plan = planBatch(state(), [
      { kind: 'member_left', roomId: 'r', userId: 'bob', at: 1 },
      { kind: 'member_joined', roomId: 'r', userId: 'eve', role: 'member', addedBy: 'bob', at: 2 },
      { kind: 'member_joined', roomId: 'r', userId: 'eve', role: 'member', addedBy: 'alice', at: 3 },
    ]);
    assert.deepEqual(plan.outcomes.map((o) => (o.status === 'appended' ? o.event.kind : o.status === 'rejected' ? o.code : o.status)), ['member_left', 'forbidden', 'member_joined']);
  });

  it('a reply names a live top-level message of its room; its root counts it, its author and the replier follow', () => {
    const reply = (root: number, body: string, userId = 'bob'): AppendRequest => ({ kind: 'message', roomId: 'r', userId, id: `id-${body}`, body, clientMsgId: null, at: 5, threadRoot: root });
    const plan = planBatch(state(), [reply(7, 'ok'), reply(8, 'to a tombstone'), reply(99, 'to nothing'), reply(11, 'to a reply'), send('alice', 'root'), reply(12, 'to a root of the batch', 'alice')]);
    assert.deepEqual(plan.outcomes.map((o) => (o.status === 'appended' ? `${o.event.seq}:${o.event.message?.threadRoot ?? '-'}` : o.status === 'rejected' ? o.code : o.status)), [
      '11:7',
      'thread_root',
      'thread_root',
      'thread_root',
      '12:-',
      '13:12',
    ]);
    assert.deepEqual(plan.threadCounts, [
      { roomId: 'r', rootSeq: 7, delta: 1, lastReplyAt: 5 },
      { roomId: 'r', rootSeq: 12, delta: 1, lastReplyAt: 5 },
    ]);
    assert.deepEqual(
      plan.follows.map((f) => [f.rootSeq, f.userId, f.replier, f.readSeq]),
      [
        [7, 'alice', false, 7],
        [7, 'bob', true, 11],
        [12, 'alice', false, 12],
        [12, 'alice', true, 13],
      ],
    );
    const deleted = planBatch(state(), [reply(7, 'oops'), { kind: 'delete', roomId: 'r', userId: 'bob', target: 11, at: 6 }]);
    assert.deepEqual(deleted.threadCounts, [{ roomId: 'r', rootSeq: 7, delta: 0, lastReplyAt: 5 }]);
  });

  it('reactions: idempotent per user, emoji and message; members only; live messages only; bounded distinct emoji', () => {
    const react = (userId: string, emoji: string, target = 7, add = true, maxPerMessage = 2): AppendRequest =>
      add ? { kind: 'reaction_added', roomId: 'r', userId, target, emoji, maxPerMessage, at: 1 } : { kind: 'reaction_removed', roomId: 'r', userId, target, emoji, at: 1 };
    const s = state();
    s.emoji.set(messageKey('r', 7), new Set(['👍']));
    s.reacted.add(reactionKey('r', 7, '👍', 'bob'));
    const plan = planBatch(s, [
      react('alice', '👍'),
      react('alice', '👍'),
      react('bob', '👍'),
      react('alice', ':tada:'),
      react('bob', ':heart:'),
      react('bob', ':tada:'),
      react('eve', '👍'),
      react('alice', '👍', 8),
      react('alice', '👍', 99),
      react('bob', '👍', 7, false),
      react('bob', '👍', 7, false),
      react('owner', ':x:', 7, true),
      react('owner', ':x:', 7, false),
    ]);
    assert.deepEqual(plan.outcomes.map((o) => (o.status === 'appended' ? `${o.event.kind}:${o.event.emoji}` : o.status === 'rejected' ? o.code : o.status)), [
      'reaction_added:👍',
      'noop',
      'noop',
      'reaction_added::tada:',
      'too_many_reactions',
      'reaction_added::tada:',
      'forbidden',
      'not_found',
      'not_found',
      'reaction_removed:👍',
      'noop',
      'too_many_reactions',
      'noop',
    ]);
    assert.deepEqual(
      plan.reactionsAdded.map((r) => `${r.userId}:${r.emoji}`),
      ['alice:👍', 'alice::tada:', 'bob::tada:'],
    );
    assert.deepEqual(plan.reactionsRemoved.map((r) => `${r.userId}:${r.emoji}`), ['bob:👍']);
    // Added then removed in one batch: two events, no row written.
    const both = planBatch(state(), [react('alice', ':a:'), react('alice', ':a:', 7, false)]);
    assert.equal(both.events.length, 2);
    assert.deepEqual([both.reactionsAdded, both.reactionsRemoved], [[], []]);
  });

  it('regression: an edit of a thread reply leaves the thread\'s count alone (the property once counted it as a reply)', () => {
    const plan = planBatch(state(), [
      { kind: 'message', roomId: 'r', userId: 'alice', id: 'n0', body: 'r0', clientMsgId: null, at: 0, threadRoot: 7 },
      { kind: 'edit', roomId: 'r', userId: 'alice', target: 11, body: 'e1', at: 1 },
    ]);
    // Both outcomes carry the reply (the edit's, as edited), so the property must tell them apart by request.
    assert.deepEqual(
      plan.outcomes.map((o) => (o.status === 'appended' ? [o.event.seq, o.event.kind, o.event.message?.threadRoot] : o.status)),
      [
        [11, 'message', 7],
        [12, 'edit', 7],
      ],
    );
    assert.deepEqual(plan.threadCounts, [{ roomId: 'r', rootSeq: 7, delta: 1, lastReplyAt: 0 }]);
  });

  it('property: events are numbered from the head without gaps, one outcome per request', () => {
    const request = fc.oneof(
      fc.record({ kind: fc.constant('message' as const), userId: fc.constantFrom('alice', 'bob', 'eve'), clientMsgId: fc.option(fc.constantFrom('c1', 'c2'), { nil: null }) }),
      fc.record({ kind: fc.constantFrom('edit' as const, 'delete' as const), userId: fc.constantFrom('alice', 'owner', 'bob'), target: fc.integer({ min: 1, max: 14 }) }),
      fc.record({ kind: fc.constantFrom('member_joined' as const, 'member_left' as const), userId: fc.constantFrom('alice', 'bob', 'eve') }),
      fc.record({ kind: fc.constant('reply' as const), userId: fc.constantFrom('alice', 'bob', 'eve'), target: fc.integer({ min: 1, max: 14 }) }),
      fc.record({ kind: fc.constantFrom('reaction_added' as const, 'reaction_removed' as const), userId: fc.constantFrom('alice', 'bob', 'eve'), target: fc.integer({ min: 6, max: 14 }), emoji: fc.constantFrom('a', 'b', 'c') }),
    );
    fc.assert(
      fc.property(fc.array(request, { maxLength: 40 }), (spec) => {
        const requests: AppendRequest[] = spec.map((s, i) => {
          if (s.kind === 'message') return { kind: 'message', roomId: 'r', userId: s.userId, id: `n${i}`, body: `b${i}`, clientMsgId: s.clientMsgId, at: i };
          if (s.kind === 'edit') return { kind: 'edit', roomId: 'r', userId: s.userId, target: s.target, body: `e${i}`, at: i };
          if (s.kind === 'delete') return { kind: 'delete', roomId: 'r', userId: s.userId, target: s.target, at: i };
          if (s.kind === 'member_joined') return { kind: 'member_joined', roomId: 'r', userId: s.userId, role: 'member', addedBy: i % 2 === 0 ? null : 'bob', at: i };
          if (s.kind === 'reply') return { kind: 'message', roomId: 'r', userId: s.userId, id: `n${i}`, body: `r${i}`, clientMsgId: null, at: i, threadRoot: s.target };
          if (s.kind === 'reaction_added') return { kind: 'reaction_added', roomId: 'r', userId: s.userId, target: s.target, emoji: s.emoji, maxPerMessage: 2, at: i };
          if (s.kind === 'reaction_removed') return { kind: 'reaction_removed', roomId: 'r', userId: s.userId, target: s.target, emoji: s.emoji, at: i };
          return { kind: 'member_left', roomId: 'r', userId: s.userId, at: i };
        });
        const plan = planBatch(state(), requests);
        assert.equal(plan.outcomes.length, requests.length);
        assert.deepEqual(plan.events.map((e) => e.seq), plan.events.map((_, i) => 11 + i));
        const appended = plan.outcomes.filter((o) => o.status === 'appended').length;
        assert.equal(appended, plan.events.length);
        // A message never carries more distinct emoji than the bound, and no reaction row is written twice.
        const added = plan.reactionsAdded.map((r) => `${r.seq}:${r.emoji}:${r.userId}`);
        assert.equal(new Set(added).size, added.length);
        const perMessage = new Map<number, Set<string>>();
        for (const r of plan.reactionsAdded) perMessage.set(r.seq, new Set([...(perMessage.get(r.seq) ?? []), r.emoji]));
        for (const emoji of perMessage.values()) assert.ok(emoji.size <= 2);
        // Every reply appended counts once on its root (an edit of a reply carries the reply too, and counts nothing).
        const replies = plan.outcomes.filter((o, i) => o.status === 'appended' && requests[i]?.kind === 'message' && o.event.message?.threadRoot !== undefined).length;
        assert.equal(
          plan.threadCounts.reduce((n, c) => n + c.delta, 0),
          replies - plan.outcomes.filter((o, i) => o.status === 'appended' && requests[i]?.kind === 'delete' && plan.inserted.some((m) => m.message.seq === (requests[i] as { target: number }).target && m.message.threadRoot !== undefined)).length,
        );
      }),
    );
  });
});
