/**
 * The Store contract: what every Store adapter must do, run against each of them.
 * Each test makes its own users and rooms, so tests share one database and can run in any order.
 */
import { searchIndexed } from '../support/search-index.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../../src/errors.js';
import { newId } from '../../src/domain/ids.js';
import { searchText } from '../../src/domain/search.js';
import type { ServerRole, StreamEventRecord, UploadRecord, UserRecord } from '../../src/domain/types.js';
import type { AppendOutcome, AppendRequest, ModerationAction, ModerationOutcome, Store } from '../../src/ports.js';
import { MEMBERS_AMONG_MAX } from '../../src/ports.js';
import { SCOPED_ROOMS_MAX } from '../../src/adapters/sql/search-scope.js';

export interface StoreFixture {
  store: Store;
  /**
   * A second, independent instance over the same database, as another process would have.
   * Absent where two instances cannot share one process (SQLite's locks are per process and
   * blocking; its multi-process case has its own test): the concurrent tests then run on one
   * instance.
   */
  another?(): Promise<Store>;
  /**
   * Rooms are spread over several databases (sharded): a search across rooms walks each
   * database's matches, each up to the cap, and merges them.
   */
  spread?: boolean;
  cleanup(): Promise<void>;
}

const at = (): number => Date.now();

export function storeContract(name: string, open: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fx: StoreFixture;
    let store: Store;

    before(async () => {
      fx = await open();
      store = fx.store;
      await store.migrate();
    });
    after(async () => {
      await fx.cleanup();
    });

    /** Runs `fn` with a peer instance, closed afterwards when it is not `store` itself. */
    async function withPeer(fn: (peer: Store) => Promise<void>): Promise<void> {
      const peer = fx.another === undefined ? store : await fx.another();
      try {
        await fn(peer);
      } finally {
        if (peer !== store) await peer.close();
      }
    }

    let counter = 0;
    async function user(prefix = 'u', displayName?: string): Promise<UserRecord> {
      counter += 1;
      const u: UserRecord = {
        id: newId(),
        username: `${prefix}${counter}_${newId().slice(0, 6)}`.toLowerCase(),
        displayName: displayName ?? `${prefix} ${counter}`,
        passwordHash: 'scrypt$x',
        createdAt: at(),
      };
      await store.createUser(u);
      return u;
    }
    async function room(owner: UserRecord, visibility: 'public' | 'private' = 'public', name = `room ${newId().slice(0, 8)}`) {
      return (await store.createRoom({ id: newId(), name, visibility, topic: '', createdAt: at() }, owner.id)).room;
    }
    const msg = (roomId: string, u: UserRecord, body: string, clientMsgId: string | null = null): AppendRequest => ({
      kind: 'message',
      roomId,
      userId: u.id,
      id: newId(),
      body,
      clientMsgId,
      at: at(),
    });
    const msgWith = (roomId: string, u: UserRecord, body: string, attachments: string[]): AppendRequest => ({ kind: 'message', roomId, userId: u.id, id: newId(), body, clientMsgId: null, at: at(), attachments });
    const join = (roomId: string, u: UserRecord): AppendRequest => ({ kind: 'member_joined', roomId, userId: u.id, role: 'member', addedBy: null, at: at() });
    function event(outcome: AppendOutcome | undefined): StreamEventRecord {
      assert.equal(outcome?.status, 'appended', `expected appended, got ${JSON.stringify(outcome)}`);
      return (outcome as Extract<AppendOutcome, { status: 'appended' }>).event;
    }

    describe('migrations', () => {
      it('are idempotent and safe to run concurrently', async () => {
        await withPeer((other) => Promise.all([store.migrate(), other.migrate(), store.migrate()]).then(() => undefined));
      });
      it('ping answers', async () => {
        await store.ping();
      });
    });

    describe('users and sessions', () => {
      it('creates and finds users; usernames are unique case-insensitively', async () => {
        const u = await user('Alice');
        assert.deepEqual(await store.findUserById(u.id), u);
        assert.deepEqual(await store.findUserByUsername(u.username.toUpperCase()), u);
        await assert.rejects(store.createUser({ ...u, id: newId(), username: u.username.toUpperCase() }), (e: unknown) => e instanceof AppError && e.code === 'conflict');
        assert.equal(await store.findUserById('nope'), undefined);
        assert.equal(await store.findUserByUsername('nobody-here'), undefined);
      });

      it('keeps sessions by token hash, deletes them once, and sweeps expired ones', async () => {
        const u = await user();
        const live = { tokenHash: newId(), userId: u.id, createdAt: at(), expiresAt: at() + 60_000 };
        const expired = { tokenHash: newId(), userId: u.id, createdAt: at() - 10, expiresAt: at() - 1 };
        await store.createSession(live);
        await store.createSession(expired);
        assert.deepEqual(await store.findSession(live.tokenHash), live);
        // One read gives the session with its user, expired or not (expiry is the caller's).
        assert.deepEqual(await store.findSessionUser(live.tokenHash), { session: live, user: u });
        assert.deepEqual(await store.findSessionUser(expired.tokenHash), { session: expired, user: u });
        assert.equal(await store.findSessionUser(newId()), undefined);
        assert.ok((await store.deleteExpiredSessions(at())) >= 1);
        assert.equal(await store.findSession(expired.tokenHash), undefined);
        assert.equal(await store.deleteSession(live.tokenHash), true);
        assert.equal(await store.deleteSession(live.tokenHash), false);
        assert.equal(await store.findSession(live.tokenHash), undefined);
        assert.equal(await store.findSessionUser(live.tokenHash), undefined);
      });

      it('a session read with its user carries the profile fields as the user read does', async () => {
        const profiled = await user();
        await store.updateProfile(profiled.id, { status: { text: 'away', expiresAt: at() + 60_000 } });
        const s = { tokenHash: newId(), userId: profiled.id, createdAt: at(), expiresAt: at() + 60_000 };
        await store.createSession(s);
        const withProfile = await store.findUserById(profiled.id);
        assert.equal(withProfile?.statusText, 'away');
        assert.deepEqual(await store.findSessionUser(s.tokenHash), { session: s, user: withProfile });
      });
    });

    describe('names that read as another user\'s', () => {
      const record = (username: string, displayName: string): UserRecord => ({ id: newId(), username, displayName, passwordHash: 'scrypt$x', createdAt: at() });
      const tag = () => newId().slice(0, 8).toLowerCase().replace(/[^a-z0-9]/g, 'x');
      const conflictOn = (field: string, reason: string) => (e: unknown) =>
        e instanceof AppError && e.code === 'conflict' && e.details?.field === field && e.details?.reason === reason;

      it('a display name folding to another user\'s username is a conflict on displayName; nothing is written', async () => {
        const victim = await user('victim');
        const impostor = record(`imp_${tag()}`, victim.username.toUpperCase());
        await assert.rejects(store.createUser(impostor, { displayNameFolded: victim.username }), conflictOn('displayName', 'resembles_username'));
        assert.equal(await store.findUserById(impostor.id), undefined);
        assert.equal(await store.findUserByUsername(impostor.username), undefined);
        assert.equal(await store.findNameConflict(impostor.username, victim.username), 'display_name_resembles_username');
      });

      it('a username that another user\'s folded display name is, is a conflict on username', async () => {
        const t = tag();
        await store.createUser(record(`early_${t}`, `LATER_${t}`), { displayNameFolded: `later_${t}` });
        const later = record(`later_${t}`, 'Someone');
        await assert.rejects(store.createUser(later, { displayNameFolded: 'someone' }), conflictOn('username', 'resembles_display_name'));
        assert.equal(await store.findUserById(later.id), undefined);
        assert.equal(await store.findNameConflict(`LATER_${t}`, 'someone'), 'username_resembles_display_name');
      });

      it('a taken username comes first; free names and one\'s own username as display name pass', async () => {
        const owner = await user('owner');
        await assert.rejects(store.createUser(record(owner.username, 'x'), { displayNameFolded: 'x' }), conflictOn('username', 'taken'));
        assert.equal(await store.findNameConflict(owner.username.toUpperCase(), owner.username), 'username_taken');
        const t = tag();
        assert.equal(await store.findNameConflict(`free_${t}`, `free_${t}`), null);
        const self = record(`self_${t}`, `Self_${t}`);
        await store.createUser(self, { displayNameFolded: `self_${t}` });
        assert.equal((await store.findUserById(self.id))?.displayName, `Self_${t}`);
      });

      it('an account made with the server role has it from its first read; refused for its name, it leaves no role behind', async () => {
        const t = tag();
        const admin = record(`adm_${t}`, `Adm_${t}`);
        await store.createUser(admin, { displayNameFolded: `adm_${t}`, serverRole: 'admin' });
        assert.equal(await store.serverRole(admin.id), 'admin');
        const clash = record(admin.username, 'other');
        await assert.rejects(store.createUser(clash, { displayNameFolded: 'other', serverRole: 'admin' }), conflictOn('username', 'taken'));
        assert.equal(await store.serverRole(clash.id), null);
        assert.deepEqual((await store.listServerRoles()).filter((h) => h.userId === clash.id), []);
        // A role the store refuses (its CHECK) takes the account with it: one transaction.
        const refused = record(`refused_${t}`, `Refused_${t}`);
        await assert.rejects(store.createUser(refused, { displayNameFolded: `refused_${t}`, serverRole: 'root' as ServerRole }));
        assert.equal(await store.findUserById(refused.id), undefined, 'no account without its role');
        assert.equal(await store.findNameConflict(refused.username, 'free'), null, 'its name is still free');
      });

      it('regression: registrations that clash, made at once from two instances: never both a username and a display name reading as it', async () => {
        // Rounds run side by side so that each check and insert interleave with others'.
        await withPeer(async (peer) => {
          const rounds = Array.from({ length: 40 }, async (_, i) => {
            const name = `race_${tag()}`;
            const plain = record(name, 'Plain');
            const impostors = [record(`imp_${tag()}`, name.toUpperCase()), record(`imp_${tag()}`, `${name} `)];
            const results = await Promise.allSettled([
              (i % 2 === 0 ? store : peer).createUser(plain, { displayNameFolded: 'plain' }),
              ...impostors.map((u, j) => ((i + j) % 2 === 0 ? peer : store).createUser(u, { displayNameFolded: name })),
            ]);
            for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof AppError && r.reason.code === 'conflict', String(r.reason));
            const [plainCreated, ...impostorsCreated] = results.map((r) => r.status === 'fulfilled');
            assert.ok(!(plainCreated && impostorsCreated.some(Boolean)), `round ${i}: ${JSON.stringify(results.map((r) => r.status))}`);
            assert.ok(plainCreated || impostorsCreated.some(Boolean), `round ${i}: one of them is created`);
          });
          await Promise.all(rounds);
        });
      });
    });

    describe('rooms and membership', () => {
      it('a new room starts with its owner joined at seq 1, marker at 1', async () => {
        const owner = await user();
        const { room: r, event: e } = await store.createRoom({ id: newId(), name: 'General', visibility: 'public', topic: 'hi', createdAt: 1_700_000_000_000 }, owner.id);
        assert.equal(r.lastSeq, 1);
        assert.equal(e.seq, 1);
        assert.equal(e.kind, 'member_joined');
        assert.equal(e.user.id, owner.id);
        assert.equal(e.user.username, owner.username);
        assert.deepEqual(await store.findRoom(r.id), { ...r, dmKey: null });
        const m = await store.findMember(r.id, owner.id);
        assert.equal(m?.role, 'owner');
        assert.equal(m?.lastReadSeq, 1);
        assert.deepEqual(await store.listMemberRoomIds(owner.id), [r.id]);
        const members = await store.listMembers(r.id);
        assert.deepEqual(members.map((x) => [x.user.id, x.member.role]), [[owner.id, 'owner']]);
      });

      it('a DM is created once, with both members, also under concurrent calls', async () => {
        const [a, b] = [await user(), await user()];
        await withPeer(async (other) => {
          const results = await Promise.all(
            Array.from({ length: 8 }, (_, i) =>
              (i % 2 === 0 ? store : other).getOrCreateDm({ id: newId(), name: 'a, b', topic: '', createdAt: at() }, i % 3 === 0 ? a.id : b.id, i % 3 === 0 ? b.id : a.id),
            ),
          );
          assert.equal(new Set(results.map((r) => r.room.id)).size, 1);
          assert.equal(results.filter((r) => r.created).length, 1);
          const created = results.find((r) => r.created);
          assert.deepEqual(created?.events.map((e) => [e.seq, e.kind]), [[1, 'member_joined'], [2, 'member_joined']]);
          const dm = results[0]?.room;
          assert.equal(dm?.visibility, 'dm');
          assert.equal(dm?.dmKey, [a.id, b.id].sort().join(':'));
          assert.equal(dm?.lastSeq, 2);
          assert.deepEqual((await store.listMembers(dm?.id as string)).map((x) => x.member.role), ['member', 'member']);
        });
      });

      it('lists public rooms by name, matching literally and case-insensitively', async () => {
        const owner = await user();
        const tag = newId().replace(/[^a-z]/gi, '').slice(0, 6).toLowerCase();
        await room(owner, 'public', `Zeta ${tag}`);
        await room(owner, 'public', `alpha ${tag}`);
        await room(owner, 'public', `100% ${tag}_x`);
        await room(owner, 'private', `secret ${tag}`);
        const names = (await store.listPublicRooms(tag.toUpperCase(), 50)).map((r) => r.name);
        assert.deepEqual(names, [`100% ${tag}_x`, `alpha ${tag}`, `Zeta ${tag}`]);
        assert.deepEqual((await store.listPublicRooms(`% ${tag}_`, 50)).map((r) => r.name), [`100% ${tag}_x`]);
        assert.deepEqual(await store.listPublicRooms(`_${tag}`, 50), []);
        assert.equal((await store.listPublicRooms(tag, 2)).length, 2);
      });

      it('a query of 3 characters or more matches anywhere in the name, quotes and accents included (issue 10: through a trigram index)', async () => {
        const owner = await user();
        const tag = newId().replace(/[^a-z]/gi, '').slice(0, 6).toLowerCase();
        await room(owner, 'public', `say "hi" ${tag}`);
        await room(owner, 'public', `Café ${tag}`);
        await room(owner, 'public', `cafeteria ${tag}`);
        const names = async (q: string) => (await store.listPublicRooms(q, 50)).map((r) => r.name).filter((n) => n.includes(tag));
        assert.deepEqual(await names('"hi"'), [`say "hi" ${tag}`]);
        assert.deepEqual(await names('y "h'), [`say "hi" ${tag}`]);
        assert.deepEqual(await names('afé'), [`Café ${tag}`]);
        // (In name order, which is the database's collation: compared here as sets.)
        assert.deepEqual((await names('CAF')).sort(), [`Café ${tag}`, `cafeteria ${tag}`]);
        assert.deepEqual((await names(`${tag.slice(1)}`)).sort(), [`Café ${tag}`, `cafeteria ${tag}`, `say "hi" ${tag}`]);
        assert.deepEqual(await names('zzq'), []);
      });

      it('a query of 1 or 2 characters matches the start of the name, literally (issue 10: one range of an index)', async () => {
        const owner = await user();
        const tag = newId().replace(/[^a-z]/gi, '').slice(0, 6).toLowerCase();
        await room(owner, 'public', `~Quiz ${tag}`);
        await room(owner, 'public', `~qa ${tag}`);
        await room(owner, 'public', `x ~q ${tag}`);
        await room(owner, 'private', `~q secret ${tag}`);
        await room(owner, 'public', `_~ ${tag}`);
        const names = async (q: string) => (await store.listPublicRooms(q, 100)).map((r) => r.name).filter((n) => n.includes(tag));
        assert.deepEqual(await names('~Q'), [`~qa ${tag}`, `~Quiz ${tag}`]);
        assert.deepEqual(await names('~'), [`~qa ${tag}`, `~Quiz ${tag}`]);
        assert.deepEqual(await names('_'), [`_~ ${tag}`]);
        assert.deepEqual(await names('x '), [`x ~q ${tag}`]);
        assert.equal((await store.listPublicRooms('~', 1)).length, 1);
      });

      it('lists my rooms with unread counts of live messages by others, most active first', async () => {
        const [me, other] = [await user(), await user()];
        const quiet = (await store.createRoom({ id: newId(), name: 'quiet', visibility: 'public', topic: '', createdAt: at() - 60_000 }, me.id)).room;
        const busy = await room(other);
        event((await store.append([join(busy.id, me)]))[0]);
        const sent = await store.append([msg(busy.id, other, 'one'), msg(busy.id, other, 'two'), msg(busy.id, me, 'mine'), msg(busy.id, other, 'three')]);
        const three = event(sent[3]);
        event((await store.append([{ kind: 'delete', roomId: busy.id, userId: other.id, target: three.seq, at: at() }]))[0]);
        const rooms = await store.listMemberRooms(me.id, 999);
        assert.deepEqual(rooms.map((r) => r.room.id), [busy.id, quiet.id]);
        assert.equal(rooms[0]?.unread, 2);
        assert.equal(rooms[1]?.unread, 0);
        assert.equal(rooms[0]?.lastReadSeq, 2);
        assert.deepEqual(rooms.map((r) => r.unreadCapped), [false, false]);
      });

      it('counts unread exactly up to the cap; past it the room is capped (issue 10: bounded by the cap, not the backlog)', async () => {
        const [me, other] = [await user(), await user()];
        const r = await room(other);
        event((await store.append([join(r.id, me)]))[0]);
        const unreadAt = async (cap: number, roomId = r.id) => {
          const row = (await store.listMemberRooms(me.id, cap)).find((x) => x.room.id === roomId);
          return { unread: row?.unread, capped: row?.unreadCapped };
        };
        await store.append([msg(r.id, other, 'a'), msg(r.id, other, 'b'), msg(r.id, other, 'c')]);
        // Three unread: exact at a cap of 3 or more, the cap below.
        assert.deepEqual(await unreadAt(3), { unread: 3, capped: false });
        assert.deepEqual(await unreadAt(999), { unread: 3, capped: false });
        assert.deepEqual(await unreadAt(2), { unread: 2, capped: true });
        assert.deepEqual(await unreadAt(1), { unread: 1, capped: true });
        // My own and deleted messages are not unread, as before.
        const sent = await store.append([msg(r.id, me, 'mine'), msg(r.id, other, 'doomed')]);
        event((await store.append([{ kind: 'delete', roomId: r.id, userId: other.id, target: event(sent[1]).seq, at: at() }]))[0]);
        assert.deepEqual(await unreadAt(3), { unread: 3, capped: false });
        assert.deepEqual(await unreadAt(2), { unread: 2, capped: true });
        await store.advanceReadMarker(r.id, me.id, Number.MAX_SAFE_INTEGER);
        assert.deepEqual(await unreadAt(1), { unread: 0, capped: false });

        // A cap of 1 reads 4 messages after the marker: when they are all mine, the one unread
        // after them is not reached, and the count says so (a lower bound).
        const mine = await room(me);
        event((await store.append([join(mine.id, other)]))[0]);
        await store.advanceReadMarker(mine.id, me.id, Number.MAX_SAFE_INTEGER);
        await store.append([1, 2, 3, 4].map((i) => msg(mine.id, me, `m${i}`)));
        await store.append([msg(mine.id, other, 'reply')]);
        assert.deepEqual(await unreadAt(1, mine.id), { unread: 0, capped: true });
        assert.deepEqual(await unreadAt(2, mine.id), { unread: 1, capped: false });
      });

      it('read markers only move forward and never past the stream', async () => {
        const [me, stranger] = [await user(), await user()];
        const r = await room(me);
        await store.append([msg(r.id, me, 'a'), msg(r.id, me, 'b')]);
        assert.equal(await store.advanceReadMarker(r.id, me.id, 2), 2);
        assert.equal(await store.advanceReadMarker(r.id, me.id, 1), 2);
        assert.equal(await store.advanceReadMarker(r.id, me.id, 999), 3);
        assert.equal((await store.findMember(r.id, me.id))?.lastReadSeq, 3);
        await assert.rejects(store.advanceReadMarker(r.id, stranger.id, 1), (e: unknown) => e instanceof AppError && e.code === 'not_found');
      });
    });

    describe('append', () => {
      it('assigns consecutive seqs and returns the events with their messages', async () => {
        const u = await user('author', 'The Author');
        const r = await room(u);
        const outcomes = await store.append([msg(r.id, u, 'first'), msg(r.id, u, 'second', 'c-2')]);
        const [e1, e2] = [event(outcomes[0]), event(outcomes[1])];
        assert.deepEqual([e1.seq, e2.seq], [2, 3]);
        assert.equal(e2.kind, 'message');
        assert.equal(e2.message?.body, 'second');
        assert.equal(e2.message?.seq, 3);
        assert.equal(e2.message?.clientMsgId, 'c-2');
        assert.deepEqual(e2.message?.author, { id: u.id, username: u.username, displayName: 'The Author' });
        assert.equal((await store.findRoom(r.id))?.lastSeq, 3);
        assert.deepEqual(await store.findMessage(r.id, 3), e2.message);
      });

      it('a repeated clientMsgId is a duplicate, within a batch and across batches, per author', async () => {
        const [u, v] = [await user(), await user()];
        const r = await room(u);
        await store.append([join(r.id, v)]);
        const first = await store.append([msg(r.id, u, 'x', 'same'), msg(r.id, u, 'y', 'same'), msg(r.id, v, 'z', 'same')]);
        const original = event(first[0]).message;
        assert.deepEqual(first[1], { status: 'duplicate', message: original });
        assert.equal(event(first[2]).message?.body, 'z');
        const again = await store.append([msg(r.id, u, 'retry', 'same')]);
        assert.deepEqual(again[0], { status: 'duplicate', message: original });
        assert.equal((await store.findRoom(r.id))?.lastSeq, 4);
      });

      it('edits and deletes: by the author, deletes also by the room owner, never twice', async () => {
        const [owner, author, other] = [await user(), await user(), await user()];
        const r = await room(owner);
        await store.append([join(r.id, author), join(r.id, other)]);
        const m = event((await store.append([msg(r.id, author, 'original words')]))[0]);
        const outcomes = await store.append([
          { kind: 'edit', roomId: r.id, userId: other.id, target: m.seq, body: 'hijack', at: at() },
          { kind: 'edit', roomId: r.id, userId: author.id, target: m.seq, body: 'edited words', at: at() },
          { kind: 'edit', roomId: r.id, userId: author.id, target: 999, body: 'nothing', at: at() },
          { kind: 'delete', roomId: r.id, userId: other.id, target: m.seq, at: at() },
        ]);
        assert.deepEqual(outcomes[0], { status: 'rejected', code: 'forbidden' });
        const edit = event(outcomes[1]);
        assert.equal(edit.kind, 'edit');
        assert.equal(edit.target, m.seq);
        assert.equal(edit.message?.body, 'edited words');
        assert.notEqual(edit.message?.editedAt, null);
        assert.deepEqual(outcomes[2], { status: 'rejected', code: 'not_found' });
        assert.deepEqual(outcomes[3], { status: 'rejected', code: 'forbidden' });
        const deleted = await store.append([
          { kind: 'delete', roomId: r.id, userId: owner.id, target: m.seq, at: at() },
          { kind: 'delete', roomId: r.id, userId: author.id, target: m.seq, at: at() },
          { kind: 'edit', roomId: r.id, userId: author.id, target: m.seq, body: 'back', at: at() },
        ]);
        const del = event(deleted[0]);
        assert.equal(del.kind, 'delete');
        assert.equal(del.target, m.seq);
        assert.equal(del.message, null);
        assert.deepEqual(deleted[1], { status: 'rejected', code: 'not_found' });
        assert.deepEqual(deleted[2], { status: 'rejected', code: 'not_found' });
        const tomb = await store.findMessage(r.id, m.seq);
        assert.equal(tomb?.deleted, true);
        assert.equal(tomb?.body, '');
        assert.equal((await store.findRoom(r.id))?.lastSeq, edit.seq + 1);
      });

      it('edits and deletes of a message sent in the same batch', async () => {
        const u = await user();
        const r = await room(u);
        const outcomes = await store.append([
          msg(r.id, u, 'draft'),
          { kind: 'edit', roomId: r.id, userId: u.id, target: 2, body: 'final', at: at() },
          msg(r.id, u, 'oops'),
          { kind: 'delete', roomId: r.id, userId: u.id, target: 4, at: at() },
        ]);
        assert.equal(event(outcomes[0]).message?.body, 'draft', 'each event carries the message as it was then');
        assert.equal(event(outcomes[1]).message?.body, 'final');
        event(outcomes[3]);
        assert.equal((await store.findMessage(r.id, 2))?.body, 'final');
        assert.equal((await store.findMessage(r.id, 4))?.deleted, true);
      });

      it('rejects messages from non-members and to unknown rooms; joins and leaves are idempotent', async () => {
        const [owner, stranger] = [await user(), await user()];
        const r = await room(owner);
        const outcomes = await store.append([
          msg(r.id, stranger, 'let me in'),
          msg('no-such-room', owner, 'hello'),
          join(r.id, owner),
          { kind: 'member_left', roomId: r.id, userId: stranger.id, at: at() },
          join(r.id, stranger),
          msg(r.id, stranger, 'in now'),
          { kind: 'member_left', roomId: r.id, userId: stranger.id, at: at() },
          msg(r.id, stranger, 'gone'),
          join(r.id, stranger),
        ]);
        assert.deepEqual(outcomes.slice(0, 4), [{ status: 'rejected', code: 'forbidden', reason: 'not_member' }, { status: 'rejected', code: 'not_found' }, { status: 'noop' }, { status: 'noop' }]);
        assert.deepEqual(outcomes.slice(4).map((o) => o.status), ['appended', 'appended', 'appended', 'rejected', 'appended']);
        const rejoined = event(outcomes[8]);
        assert.equal(rejoined.seq, 5);
        const member = await store.findMember(r.id, stranger.id);
        assert.equal(member?.role, 'member');
        assert.equal(member?.lastReadSeq, 5, 'a member has read everything before joining');
        assert.deepEqual(
          (await store.readEvents(r.id, 0, 100)).map((e) => [e.seq, e.kind]),
          [[1, 'member_joined'], [2, 'member_joined'], [3, 'message'], [4, 'member_left'], [5, 'member_joined']],
        );
      });

      it('regression: a member is added only by someone who is still a member when it commits', async () => {
        const [owner, adder, newcomer, other] = [await user(), await user(), await user(), await user()];
        const r = await room(owner);
        await store.append([join(r.id, adder)]);
        // The adder's leave commits first (an earlier batch): the add that raced it is refused.
        await store.append([{ kind: 'member_left', roomId: r.id, userId: adder.id, at: at() }]);
        const refused = await store.append([{ kind: 'member_joined', roomId: r.id, userId: newcomer.id, role: 'member', addedBy: adder.id, at: at() }]);
        assert.deepEqual(refused, [{ status: 'rejected', code: 'forbidden' }]);
        assert.equal(await store.findMember(r.id, newcomer.id), undefined);
        const added = await store.append([{ kind: 'member_joined', roomId: r.id, userId: other.id, role: 'member', addedBy: owner.id, at: at() }]);
        assert.equal(event(added[0]).kind, 'member_joined');
      });

      it('keeps one room gapless under concurrent appends from two instances', async () => {
        const u = await user();
        const r = await room(u);
        await withPeer(async (other) => {
          const outcomes = await Promise.all(
            Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? store : other).append([msg(r.id, u, `m${i}`), msg(r.id, u, `n${i}`)])),
          );
          const seqs = outcomes.flat().map((o) => event(o).seq).sort((x, y) => x - y);
          assert.deepEqual(seqs, Array.from({ length: 40 }, (_, i) => i + 2));
          const events = await store.readEvents(r.id, 0, 1000);
          assert.deepEqual(events.map((e) => e.seq), Array.from({ length: 41 }, (_, i) => i + 1));
        });
      });

      it('a large batch across rooms commits in one call', async () => {
        const u = await user();
        const rooms = [await room(u), await room(u), await room(u)];
        const requests = Array.from({ length: 900 }, (_, i) => msg((rooms[i % 3] as { id: string }).id, u, `bulk ${i}`, `bulk-${i}`));
        const outcomes = await store.append(requests);
        assert.equal(outcomes.filter((o) => o.status === 'appended').length, 900);
        for (const r of rooms) assert.equal((await store.findRoom(r.id))?.lastSeq, 301);
      });
    });

    describe('moderation', () => {
      const mod = (roomId: string, actor: UserRecord, action: ModerationAction) => store.moderate({ roomId, actorId: actor.id, at: at(), action });

      it('applies an action with its event, its change and its audit entry, in one transaction; refusals write nothing', async () => {
        const [owner, member, outsider] = [await user(), await user(), await user()];
        const r = await room(owner);
        event((await store.append([join(r.id, member)]))[0]);
        const refused = await mod(r.id, member, { kind: 'member_kicked', memberId: owner.id, reason: null });
        assert.deepEqual(refused, { status: 'refused', code: 'forbidden', reason: 'role' });
        assert.deepEqual(await mod(r.id, outsider, { kind: 'room_updated', topic: 'x' }), { status: 'refused', code: 'forbidden', reason: 'not_member' });
        assert.deepEqual(await mod('no-such-room', owner, { kind: 'room_updated', topic: 'x' }), { status: 'refused', code: 'not_found' });
        const banned = await mod(r.id, owner, { kind: 'member_banned', memberId: member.id, until: null, reason: 'spam' });
        assert.equal(banned.status, 'appended');
        const e = (banned as Extract<ModerationOutcome, { status: 'appended' }>).event;
        assert.deepEqual(
          { seq: e.seq, kind: e.kind, user: e.user.id, member: e.member?.id, details: e.details },
          { seq: 3, kind: 'member_banned', user: owner.id, member: member.id, details: { until: null, reason: 'spam' } },
        );
        assert.equal((await store.membership(r.id, member.id)).role, null);
        // Many checks in one read, as of the room's seq: the banned member is out, the owner in,
        // an outsider never was; no ids, or a room that does not exist, answer accordingly.
        assert.deepEqual(await store.membersAmong(r.id, [owner.id, member.id, outsider.id]), { ids: [owner.id], asOfSeq: 3 });
        assert.deepEqual(await store.membersAmong(r.id, []), { ids: [], asOfSeq: 3 });
        assert.deepEqual(await store.membersAmong('no-such-room', [owner.id]), { ids: [], asOfSeq: 0 });
        await assert.rejects(store.membersAmong(r.id, Array.from({ length: MEMBERS_AMONG_MAX + 1 }, (_, i) => `u${i}`)), { name: 'RangeError' });
        assert.deepEqual((await store.readEvents(r.id, 2, 10)).map((x) => ({ kind: x.kind, member: x.member?.id, details: x.details })), [{ kind: 'member_banned', member: member.id, details: { until: null, reason: 'spam' } }]);
        const [restriction] = await store.listRestrictions(r.id, at());
        assert.deepEqual({ user: restriction?.user.id, kind: restriction?.kind, until: restriction?.until, by: restriction?.createdBy.id }, { user: member.id, kind: 'ban', until: null, by: owner.id });
        const rejoin = await store.append([join(r.id, member)]);
        assert.deepEqual(rejoin, [{ status: 'rejected', code: 'forbidden', reason: 'banned' }]);
        const [entry] = await store.listAudit(r.id, undefined, 10);
        assert.deepEqual({ seq: entry?.seq, action: entry?.action, actor: entry?.actor.id, member: entry?.member?.id }, { seq: 3, action: 'member_banned', actor: owner.id, member: member.id });
        assert.equal((await store.findRoom(r.id))?.lastSeq, 3);
        assert.equal(e.wasNotMember, undefined);
        // A ban of someone who is not a member ends no membership: the writer tells nobody.
        const before = await mod(r.id, owner, { kind: 'member_banned', memberId: outsider.id, until: null, reason: null });
        assert.equal((before as Extract<ModerationOutcome, { status: 'appended' }>).event.wasNotMember, true);
        // mutesOf answers mutes only, in force, of the users asked about.
        assert.deepEqual([...(await store.mutesOf(r.id, [member.id, owner.id], at()))], [], 'a ban is no mute');
        const until = at() + 60_000;
        assert.equal((await mod(r.id, owner, { kind: 'member_muted', memberId: outsider.id, until, reason: null })).status, 'refused', 'members only');
        const [quiet, silent] = [await user(), await user()];
        await store.append([join(r.id, quiet), join(r.id, silent)]);
        assert.equal((await mod(r.id, owner, { kind: 'member_muted', memberId: quiet.id, until, reason: null })).status, 'appended');
        assert.equal((await mod(r.id, owner, { kind: 'member_muted', memberId: silent.id, until: null, reason: null })).status, 'appended');
        const mutes = await store.mutesOf(r.id, [quiet.id, silent.id, outsider.id, member.id], at());
        assert.deepEqual([...mutes].sort(), [[quiet.id, until], [silent.id, null]].sort());
        assert.deepEqual([...(await store.mutesOf(r.id, [quiet.id, silent.id], until + 1))], [[silent.id, null]], 'a timed mute ends by itself');
        assert.deepEqual([...(await store.mutesOf(r.id, [], at()))], []);
      });

      it('keeps the room gapless when actions race appends from two instances', async () => {
        const owner = await user();
        const members = [await user(), await user(), await user(), await user()];
        const r = await room(owner);
        await store.append(members.map((m) => join(r.id, m)));
        await withPeer(async (other) => {
          const outcomes = await Promise.all([
            ...Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? store : other).append([msg(r.id, owner, `m${i}`)]).then((o) => event(o[0]).seq)),
            ...members.map((m, i) =>
              (i % 2 === 0 ? store : other).moderate({ roomId: r.id, actorId: owner.id, at: at(), action: { kind: 'member_muted', memberId: m.id, until: null, reason: null } }).then((o) => {
                assert.equal(o.status, 'appended');
                return (o as Extract<ModerationOutcome, { status: 'appended' }>).event.seq;
              }),
            ),
          ]);
          assert.deepEqual(outcomes.sort((x, y) => x - y), Array.from({ length: 14 }, (_, i) => i + 6));
          assert.deepEqual((await store.readEvents(r.id, 0, 100)).map((e) => e.seq), Array.from({ length: 19 }, (_, i) => i + 1));
          assert.equal((await store.listAudit(r.id, undefined, 100)).length, 4);
        });
      });
    });

    describe('uploads', () => {
      const newUpload = (u: UserRecord, roomId: string | null, size: number, extra: Partial<UploadRecord> = {}): UploadRecord => {
        const id = newId();
        return {
          id,
          kind: 'attachment',
          roomId,
          userId: u.id,
          state: 'receiving',
          name: 'a.txt',
          size,
          received: size,
          contentType: 'application/octet-stream',
          width: null,
          height: null,
          objectKey: `files/${roomId}/${id}`,
          thumbKey: null,
          thumbWidth: null,
          thumbHeight: null,
          messageSeq: null,
          createdAt: at(),
          ...extra,
        };
      };
      const ready = async (u: UserRecord, roomId: string, size = 10): Promise<UploadRecord> => {
        const upload = newUpload(u, roomId, size);
        assert.equal((await store.reserveUpload(upload, 0, 0)).reserved, true);
        assert.equal(await store.updateUpload(upload.id, 'receiving', { state: 'ready', contentType: 'text/plain' }), true);
        return { ...upload, state: 'ready', contentType: 'text/plain' };
      };

      it('reserves against the daily quota, concurrent reservations of one user included (also from another process)', async () => {
        const u = await user('quota');
        const r = await room(u);
        await withPeer(async (peer) => {
          const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? store : peer).reserveUpload(newUpload(u, r.id, 300), 1_000, at() - 86_400_000)));
          assert.equal(results.filter((x) => x.reserved).length, 3);
        });
        // Another user's quota is their own; uploads before the window do not count.
        const other = await user('quota');
        assert.equal((await store.reserveUpload(newUpload(other, r.id, 900), 1_000, at() - 86_400_000)).reserved, true);
        const old = newUpload(other, r.id, 900, { createdAt: at() - 2 * 86_400_000 });
        assert.equal((await store.reserveUpload(old, 0, 0)).reserved, true);
        const check = await store.reserveUpload(newUpload(other, r.id, 50), 1_000, at() - 86_400_000);
        assert.deepEqual(check, { reserved: true, used: 900 });
        // A forgotten reservation gives its bytes back.
        const last = newUpload(other, r.id, 50);
        assert.equal((await store.reserveUpload(last, 1_000, at() - 86_400_000)).reserved, true);
        await store.deleteUpload(last.id);
        assert.equal((await store.reserveUpload(newUpload(other, r.id, 50), 1_000, at() - 86_400_000)).reserved, true);
      });

      it('moves an upload only from the state it is in', async () => {
        const u = await user('state');
        const r = await room(u);
        const upload = newUpload(u, r.id, 10);
        await store.reserveUpload(upload, 0, 0);
        assert.equal(await store.updateUpload(upload.id, 'direct', { state: 'ready' }), false);
        assert.equal(await store.updateUpload(upload.id, 'receiving', { state: 'ready', size: 7, width: 3, height: 2, thumbKey: 't', thumbWidth: 1, thumbHeight: 1 }), true);
        assert.equal(await store.updateUpload(upload.id, 'receiving', { state: 'doomed' }), false);
        const found = await store.findUpload(upload.id);
        assert.deepEqual([found?.state, found?.size, found?.width, found?.height, found?.thumbKey], ['ready', 7, 3, 2, 't']);
        assert.equal(await store.findUpload(newId()), undefined);
      });

      it('a message attaches ready uploads of its author in its room, once, even when sends race; deleting it dooms them', async () => {
        const u = await user('att');
        const v = await user('att');
        const r = await room(u);
        await store.append([join(r.id, v)]);
        const [a, b, theirs] = await Promise.all([ready(u, r.id), ready(u, r.id), ready(v, r.id)]);
        const sent = event((await store.append([msgWith(r.id, u, 'files', [a.id, b.id])]))[0]);
        assert.deepEqual(sent.message?.attachments?.map((x) => x.id), [a.id, b.id]);
        assert.equal((await store.findUpload(a.id))?.state, 'attached');
        assert.equal((await store.findUpload(a.id))?.messageSeq, sent.seq);
        assert.deepEqual((await store.findMessage(r.id, sent.seq))?.attachments?.map((x) => x.id), [a.id, b.id]);
        assert.deepEqual((await store.readEvents(r.id, sent.seq - 1, 1))[0]?.message?.attachments?.map((x) => x.id), [a.id, b.id]);
        const refused = await store.append([msgWith(r.id, u, 'again', [a.id]), msgWith(r.id, u, 'not mine', [theirs.id])]);
        assert.deepEqual(refused, [{ status: 'rejected', code: 'attachment' }, { status: 'rejected', code: 'attachment' }]);

        // Racing from two processes: one wins.
        const contested = await ready(u, r.id);
        await withPeer(async (peer) => {
          const outcomes = (await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? store : peer).append([msgWith(r.id, u, `race ${i}`, [contested.id])])))).flat();
          assert.equal(outcomes.filter((o) => o.status === 'appended').length, 1);
        });

        event((await store.append([{ kind: 'delete', roomId: r.id, userId: u.id, target: sent.seq, at: at() }]))[0]);
        assert.equal((await store.findUpload(a.id))?.state, 'doomed');
        assert.equal((await store.findMessage(r.id, sent.seq))?.attachments, undefined);
        const doomed = await store.listDoomedUploads(1_000);
        assert.ok([a.id, b.id].every((id) => doomed.some((d) => d.id === id)));
        await store.markUploadsDeleted([a.id, b.id]);
        assert.equal((await store.findUpload(a.id))?.state, 'deleted');
        assert.equal(await store.forgetDeletedUploads(at() + 1, 1_000) >= 2, true);
        assert.equal(await store.findUpload(a.id), undefined);
      });

      it('a retention purge dooms the files of what it tombstones', async () => {
        const u = await user('purge');
        const r = await room(u);
        const a = await ready(u, r.id);
        const sent = event((await store.append([msgWith(r.id, u, 'old file', [a.id])]))[0]);
        await store.purgeMessagesBefore(r.id, at() + 1, 100);
        assert.equal((await store.findUpload(a.id))?.state, 'doomed');
        assert.equal((await store.findMessage(r.id, sent.seq))?.attachments, undefined);
      });

      it('dooms uploads never attached in time, and not attached ones', async () => {
        const u = await user('late');
        const r = await room(u);
        const a = await ready(u, r.id);
        const kept = await ready(u, r.id);
        event((await store.append([msgWith(r.id, u, 'kept', [kept.id])]))[0]);
        assert.ok((await store.doomUnattachedUploads(at() + 1, at() + 1, 1_000)) >= 1);
        assert.equal((await store.findUpload(a.id))?.state, 'doomed');
        assert.equal((await store.findUpload(kept.id))?.state, 'attached');
      });

      it('avatars: one in use per user or room, the one replaced doomed', async () => {
        const u = await user('face');
        const r = await room(u);
        const first = newUpload(u, null, 10, { kind: 'user_avatar' });
        const second = newUpload(u, null, 10, { kind: 'user_avatar' });
        for (const x of [first, second]) {
          await store.reserveUpload(x, 0, 0);
          await store.updateUpload(x.id, 'receiving', { state: 'ready' });
        }
        assert.equal(await store.setAvatar({ userId: u.id }, first.id), true);
        assert.equal((await store.avatarOf({ userId: u.id }))?.id, first.id);
        assert.equal(await store.setAvatar({ userId: u.id }, second.id), true);
        assert.equal((await store.avatarOf({ userId: u.id }))?.id, second.id);
        assert.equal((await store.findUpload(first.id))?.state, 'doomed');
        assert.equal(await store.setAvatar({ userId: u.id }, first.id), false, 'a doomed upload cannot be an avatar');
        assert.equal(await store.setAvatar({ userId: u.id }, null), true);
        assert.equal(await store.avatarOf({ userId: u.id }), undefined);
        assert.equal((await store.findUpload(second.id))?.state, 'doomed');
        assert.equal(await store.setAvatar({ roomId: newId() }, null), false);
        assert.equal(await store.avatarOf({ roomId: r.id }), undefined);
      });
    });

    describe('notifications and blocks', () => {
      it('writes a notification once per user, room and seq, and answers only what it wrote', async () => {
        const [a, b] = [await user('na'), await user('nb')];
        const r = await room(a);
        await store.append([join(r.id, b)]);
        const seq = event((await store.append([msg(r.id, a, `@${b.username}`)]))[0]).seq;
        const row = { userId: b.id, roomId: r.id, seq, kind: 'mention' as const, actorId: a.id, createdAt: at() };
        const first = await store.insertNotifications([row]);
        assert.equal(first.length, 1);
        assert.deepEqual(await store.insertNotifications([row, { ...row, kind: 'room_mention' }]), []);
        const [listed] = await store.listNotifications(b.id, { limit: 10 });
        assert.deepEqual(
          { id: listed?.id, seq: listed?.seq, kind: listed?.kind, actor: listed?.actor.username, body: listed?.body, room: listed?.roomName },
          { id: first[0]?.id, seq, kind: 'mention', actor: a.username, body: `@${b.username}`, room: r.name },
        );
        // Once the user has left, the room's notifications are neither listed nor counted.
        assert.equal(await store.countUnreadNotifications(b.id, 0, 10), 1);
        await store.append([{ kind: 'member_left', roomId: r.id, userId: b.id, at: at() }]);
        assert.deepEqual(await store.listNotifications(b.id, { limit: 10 }), []);
        assert.equal(await store.countUnreadNotifications(b.id, 0, 10), 0);
      });

      it('moves cursors and markers forward only, and keeps settings apart', async () => {
        const [a] = [await user('nc')];
        const r = await room(a);
        assert.equal(await store.notificationCursor(r.id), 0);
        await store.advanceNotificationCursor(r.id, 5);
        await store.advanceNotificationCursor(r.id, 3);
        assert.equal(await store.notificationCursor(r.id), 5);
        assert.deepEqual(await store.notificationSettings(a.id), { readUpTo: 0, email: null, emailDigest: true, digestSentUpTo: 0 });
        assert.equal(await store.advanceNotificationsRead(a.id, 9), 9);
        assert.equal(await store.advanceNotificationsRead(a.id, 4), 9);
        await store.updateNotificationSettings(a.id, { email: 'a@example.com' });
        await store.updateNotificationSettings(a.id, { emailDigest: false });
        await store.markDigestSent(a.id, 7);
        await store.markDigestSent(a.id, 2);
        assert.deepEqual(await store.notificationSettings(a.id), { readUpTo: 9, email: 'a@example.com', emailDigest: false, digestSentUpTo: 7 });
        await store.setNotifyPref(r.id, { userId: a.id, level: 'none', mutedUntil: 123 });
        await store.setNotifyPref(r.id, { userId: a.id, level: 'all', mutedUntil: null });
        assert.deepEqual(await store.findNotifyPref(r.id, a.id), { userId: a.id, level: 'all', mutedUntil: null });
        assert.deepEqual(await store.listNotifyPrefs(r.id), [{ userId: a.id, level: 'all', mutedUntil: null }]);
      });

      it('finds users owed a digest: an address, digests on, mentions unread and unmailed, old enough', async () => {
        const [a, b] = [await user('nd'), await user('ne')];
        const r = await room(a);
        await store.append([join(r.id, b)]);
        const seqs = [];
        for (let i = 0; i < 3; i++) seqs.push(event((await store.append([msg(r.id, a, `m${i}`)]))[0]).seq);
        const rows = await store.insertNotifications(seqs.map((seq, i) => ({ userId: b.id, roomId: r.id, seq, kind: i === 2 ? ('message' as const) : ('mention' as const), actorId: a.id, createdAt: 1_000 + i })));
        const mine = async (olderThan: number) => (await store.digestCandidates(olderThan, 1_000)).filter((c) => c.userId === b.id);
        assert.deepEqual(await mine(5_000), [], 'no address yet');
        await store.updateNotificationSettings(b.id, { email: 'b@example.com' });
        assert.deepEqual(await mine(5_000), [{ userId: b.id, email: 'b@example.com', upTo: rows[1]?.id }], 'mentions only');
        assert.deepEqual(await mine(1_000), [{ userId: b.id, email: 'b@example.com', upTo: rows[0]?.id }], 'old enough only');
        await store.markDigestSent(b.id, rows[1]?.id as number);
        assert.deepEqual(await mine(5_000), [], 'mailed');
      });

      it('blocks, one way, listed newest first', async () => {
        const [a, b, c] = [await user('nf'), await user('ng'), await user('nh')];
        await store.block(a.id, b.id, 1);
        await store.block(a.id, b.id, 2);
        await store.block(a.id, c.id, 3);
        assert.deepEqual((await store.listBlocks(a.id)).map((x) => [x.user.id, x.createdAt]), [[c.id, 3], [b.id, 1]]);
        assert.equal(await store.blockedEitherWay(a.id, b.id), true);
        assert.equal(await store.blockedEitherWay(b.id, a.id), true);
        assert.equal(await store.blockedEitherWay(b.id, c.id), false);
        assert.deepEqual(await store.blockersOf(b.id), [a.id]);
        await store.unblock(a.id, b.id);
        await store.unblock(a.id, b.id);
        assert.equal(await store.blockedEitherWay(a.id, b.id), false);
      });
    });

    describe('reading streams', () => {
      it('readEvents pages from a seq with the messages as they are now', async () => {
        const u = await user();
        const r = await room(u);
        await store.append([msg(r.id, u, 'a'), msg(r.id, u, 'b'), msg(r.id, u, 'c')]);
        await store.append([
          { kind: 'edit', roomId: r.id, userId: u.id, target: 2, body: 'A!', at: at() },
          { kind: 'delete', roomId: r.id, userId: u.id, target: 3, at: at() },
        ]);
        const all = await store.readEvents(r.id, 0, 100);
        assert.deepEqual(all.map((e) => [e.seq, e.kind, e.target]), [[1, 'member_joined', null], [2, 'message', null], [3, 'message', null], [4, 'message', null], [5, 'edit', 2], [6, 'delete', 3]]);
        assert.equal(all[1]?.message?.body, 'A!');
        assert.equal(all[2]?.message?.deleted, true);
        assert.equal(all[2]?.message?.body, '');
        assert.equal(all[4]?.message?.seq, 2);
        assert.equal(all[4]?.message?.body, 'A!');
        assert.equal(all[5]?.message, null);
        assert.equal(all[0]?.message, null);
        assert.equal(all[0]?.user.username, u.username);
        assert.deepEqual((await store.readEvents(r.id, 2, 2)).map((e) => e.seq), [3, 4]);
        assert.deepEqual(await store.readEvents(r.id, 6, 10), []);
      });

      it('readHistory pages by seq both ways with hasMore', async () => {
        const u = await user();
        const r = await room(u);
        await store.append(Array.from({ length: 7 }, (_, i) => msg(r.id, u, `h${i}`)));
        const newest = await store.readHistory({ roomId: r.id, limit: 3 });
        assert.deepEqual(newest.messages.map((m) => m.seq), [8, 7, 6]);
        assert.equal(newest.hasMore, true);
        const older = await store.readHistory({ roomId: r.id, before: 6, limit: 3 });
        assert.deepEqual(older.messages.map((m) => m.seq), [5, 4, 3]);
        const oldest = await store.readHistory({ roomId: r.id, before: 3, limit: 3 });
        assert.deepEqual(oldest.messages.map((m) => m.seq), [2]);
        assert.equal(oldest.hasMore, false);
        const after = await store.readHistory({ roomId: r.id, after: 5, limit: 2 });
        assert.deepEqual(after.messages.map((m) => m.seq), [6, 7]);
        assert.equal(after.hasMore, true);
        assert.equal((await store.readHistory({ roomId: r.id, after: 6, limit: 2 })).hasMore, false);
      });
    });

    describe('search', () => {
      /** A search with room to spare: no cap or deadline reached. */
      const find = async (userId: string, terms: string[], roomId: string | undefined, limit: number) => {
        const page = await searchIndexed(store, { userId, terms, roomId, limit, maxCandidates: 1_000_000, deadlineAt: Date.now() + 30_000 });
        assert.equal(page.truncated, false);
        return page.hits;
      };

      it('matches word prefixes, all terms, newest first, only in my rooms, never deleted text', async () => {
        const [me, other] = [await user(), await user()];
        const mine = await room(me);
        const theirs = await room(other, 'private');
        const tag = `zq${newId().replace(/[^a-z]/gi, '').slice(0, 6).toLowerCase()}`;
        await store.append([
          msg(mine.id, me, `${tag} alpha bravo`),
          msg(mine.id, me, `${tag} alphabet soup`),
          msg(mine.id, me, `${tag} charlie`),
          msg(theirs.id, other, `${tag} alpha secret`),
          msg(mine.id, me, `${tag} alpha doomed`),
        ]);
        await store.append([{ kind: 'delete', roomId: mine.id, userId: me.id, target: 5, at: at() }]);
        const hits = await find(me.id, [tag, 'alph'], undefined, 10);
        assert.deepEqual(hits.map((h) => h.message.body), [`${tag} alphabet soup`, `${tag} alpha bravo`]);
        assert.deepEqual((await find(me.id, [tag, 'alpha', 'bravo'], mine.id, 10)).map((h) => h.message.seq), [2]);
        assert.deepEqual(await find(me.id, [tag, 'secret'], undefined, 10), []);
        assert.deepEqual(await find(me.id, [tag, 'doomed'], undefined, 10), []);
        assert.deepEqual(await find(me.id, [tag, 'alpha'], theirs.id, 10), []);
        assert.equal((await find(me.id, [tag], undefined, 2)).length, 2);
      });

      it('search indexing: nothing is searchable until indexed (pending says how much); a later event\'s text is never replaced by an earlier one; a deleted message stays out', async () => {
        const u = await user();
        const r = await room(u);
        const tag = `zx${newId().replace(/[^a-z]/gi, '').slice(0, 6).toLowerCase()}`;
        await searchIndexed(store, { userId: u.id, terms: ['x'], limit: 1, maxCandidates: 10, deadlineAt: Date.now() + 30_000 });
        const [sent] = await store.append([msg(r.id, u, `${tag} first words`)]);
        const m = event(sent).seq;
        const raw = () => store.search({ userId: u.id, terms: [tag], roomId: r.id, limit: 10, maxCandidates: 1_000, deadlineAt: Date.now() + 30_000 });
        const before = await raw();
        assert.deepEqual(before.hits, []);
        assert.equal(before.pending, 1, 'the message is not indexed yet');
        const [edited] = await store.append([{ kind: 'edit', roomId: r.id, userId: u.id, target: m, body: `${tag} second words`, at: at() }]);
        const e = event(edited).seq;
        assert.equal((await raw()).pending, 2);
        // The edit's text first, then the message's own (taken late, out of order): the edit's stays.
        // The edit's text first: its event does not run on from the cursor (the message's is not
        // taken yet), so the cursor stays; then the message's own, late: the edit's text stays.
        await store.applySearchIndex(r.id, [{ messageSeq: m, eventSeq: e, text: searchText(`${tag} second words`) }], e - 1, e);
        assert.equal(await store.streamCursor(r.id, 'search'), m - 1, 'the cursor does not pass an event nobody indexed');
        await store.applySearchIndex(r.id, [{ messageSeq: m, eventSeq: m, text: searchText(`${tag} first words`) }], m - 1, m);
        assert.equal(await store.streamCursor(r.id, 'search'), m);
        assert.equal((await raw()).pending, 1);
        await store.applySearchIndex(r.id, [{ messageSeq: m, eventSeq: e, text: searchText(`${tag} second words`) }], m, e);
        assert.equal(await store.streamCursor(r.id, 'search'), e);
        await store.applySearchIndex(r.id, [], 0, m);
        assert.equal(await store.streamCursor(r.id, 'search'), e, 'the cursor never moves back');
        const after = await raw();
        assert.equal(after.pending, 0);
        assert.deepEqual(after.hits.map((h) => h.message.body), [`${tag} second words`]);
        assert.deepEqual((await store.search({ userId: u.id, terms: [tag, 'first'], limit: 10, maxCandidates: 1_000, deadlineAt: Date.now() + 30_000 })).hits, []);
        // Deleted: out of search at once, and an index write of any event after it puts nothing back.
        const [deleted] = await store.append([{ kind: 'delete', roomId: r.id, userId: u.id, target: m, at: at() }]);
        assert.deepEqual((await raw()).hits, []);
        await store.applySearchIndex(r.id, [{ messageSeq: m, eventSeq: event(deleted).seq + 5, text: searchText(`${tag} back again`) }], e, event(deleted).seq);
        assert.deepEqual((await raw()).hits, []);
        assert.ok((await store.roomsBehindCursor('search', 100_000)).every((id) => id !== r.id));
      });

      it('finds the edited text, not the old one, and folds case and accents', async () => {
        const u = await user();
        const r = await room(u);
        const tag = `zk${newId().replace(/[^a-z]/gi, '').slice(0, 6).toLowerCase()}`;
        await store.append([msg(r.id, u, `${tag} Crème Brûlée at the CAFÉ`)]);
        assert.equal((await find(u.id, searchText(`${tag} creme cafe`).split(' '), undefined, 10)).length, 1);
        await store.append([{ kind: 'edit', roomId: r.id, userId: u.id, target: 2, body: `${tag} tea instead`, at: at() }]);
        assert.deepEqual(await find(u.id, [tag, 'creme'], undefined, 10), []);
        assert.equal((await find(u.id, [tag, 'tea'], undefined, 10)).length, 1);
      });

      it('treats query syntax as plain text', async () => {
        const u = await user();
        const r = await room(u);
        await store.append([msg(r.id, u, 'plain words here')]);
        for (const nasty of ['"', "'", 'a"b', "x':*|y", 'NEAR(a b)', '*', 'OR', '\\', '!', '&', ') OR 1=1 --']) {
          assert.deepEqual(await find(u.id, [nasty], r.id, 10), [], `query ${JSON.stringify(nasty)}`);
        }
        assert.deepEqual(await find(u.id, [], r.id, 10), []);
      });

      describe('bounded work', () => {
        // Newest first: mine-new, six of theirs, mine-old. Each message a millisecond after
        // the one before, so time order and commit order agree on every store. `me` is in more
        // rooms than a search is narrowed to (SCOPED_ROOMS_MAX), so my searches walk the newest
        // matches of every room; `few` is in `mine` alone, and is searched in it.
        let me: UserRecord;
        let few: UserRecord;
        let mine: string;
        let theirs: string;
        let tag: string;
        before(async () => {
          me = await user();
          few = await user();
          const other = await user();
          mine = (await room(me, 'private')).id;
          theirs = (await room(other, 'public')).id;
          // Sharded, each database narrows by the rooms it holds: enough rooms that every
          // one of the two holds more than the bound (each gets about half of them).
          const filler = fx.spread === true ? 3 * SCOPED_ROOMS_MAX : SCOPED_ROOMS_MAX;
          for (let i = 0; i < filler; i += 50) await Promise.all(Array.from({ length: Math.min(50, filler - i) }, () => room(me, 'private')));
          await store.append([join(mine, few)]);
          tag = `zb${newId().replace(/[^a-z]/gi, '').slice(0, 6).toLowerCase()}`;
          const t0 = at();
          const bodies: Array<[string, UserRecord, string]> = [
            [mine, me, `${tag} old`],
            ...Array.from({ length: 6 }, (_, i): [string, UserRecord, string] => [theirs, other, `${tag} theirs ${i}`]),
            [mine, me, `${tag} new`],
          ];
          await store.append(bodies.map(([roomId, u, body], i) => ({ ...msg(roomId, u, body), at: t0 + i })));
        });
        const page = (maxCandidates: number, limit = 10, roomId?: string) =>
          searchIndexed(store, { userId: me.id, terms: [tag], roomId, limit, maxCandidates, deadlineAt: Date.now() + 30_000 });
        const bodies = (p: { hits: Array<{ message: { body: string } }> }) => p.hits.map((h) => h.message.body);

        it('stops at maxCandidates, hits or not, and answers the hits found so far as truncated', async () => {
          if (fx.spread === true) {
            // Each database walks its own matches up to the cap: the room with the hits may be
            // walked whole elsewhere, so older hits can come too; the newest leads, and the
            // walk that stopped at the cap says so (at 3 the other room's six matches always
            // stop one; at 7 only one walk of all eight, when both rooms share a database).
            for (const cap of [3, 7]) {
              const p = await page(cap);
              assert.equal(bodies(p)[0], `${tag} new`);
              assert.ok(bodies(p).every((b) => b === `${tag} new` || b === `${tag} old`));
              if (cap === 3) assert.equal(p.truncated, true);
            }
            return;
          }
          const three = await page(3);
          assert.deepEqual(bodies(three), [`${tag} new`]);
          assert.equal(three.truncated, true);
          const seven = await page(7);
          assert.deepEqual(bodies(seven), [`${tag} new`]);
          assert.equal(seven.truncated, true);
        });

        it('is not truncated when every match was examined, or when the page filled first', async () => {
          const all = await page(8);
          assert.deepEqual(bodies(all), [`${tag} new`, `${tag} old`]);
          assert.equal(all.truncated, false);
          const one = await page(1, 1);
          assert.deepEqual(bodies(one), [`${tag} new`]);
          // Spread: the other room's walk, on another database, may stop at the cap of 1.
          if (fx.spread !== true) assert.equal(one.truncated, false);
        });

        it('a caller in few rooms is searched in them: the other rooms cost no candidate', async () => {
          const scoped = (maxCandidates: number) => searchIndexed(store, { userId: few.id, terms: [tag], limit: 10, maxCandidates, deadlineAt: Date.now() + 30_000 });
          // Walking every room's matches, a cap of 2 stops after mine-new and one of theirs.
          const two = await scoped(2);
          assert.deepEqual(bodies(two), [`${tag} new`, `${tag} old`]);
          assert.equal(two.truncated, false);
          // In no room: nothing, and no work.
          const nobody = await user();
          assert.deepEqual(await searchIndexed(store, { userId: nobody.id, terms: [tag], limit: 10, maxCandidates: 1, deadlineAt: Date.now() + 30_000 }), { hits: [], truncated: false, pending: 0, pendingRooms: [] });
        });

        it('a caller in few rooms finds an old, rare match behind a thousand newer messages of a busy room, newest first across rooms', async () => {
          const u = await user();
          const busy = (await room(u, 'private')).id;
          const quiet = (await room(u, 'private')).id;
          const rare = `zr${newId().replace(/[^a-z]/gi, '').slice(0, 6).toLowerCase()}`;
          const t0 = at();
          await store.append([{ ...msg(busy, u, `${rare} oldest`), at: t0 }, { ...msg(quiet, u, `${rare} quiet`), at: t0 + 1 }]);
          for (let b = 0; b < 3; b++) await store.append(Array.from({ length: 500 }, (_, i) => ({ ...msg(busy, u, `filler ${b} ${i}`), at: t0 + 2 + b * 500 + i })));
          await store.append([{ ...msg(busy, u, `${rare} newest`), at: t0 + 2_000 }]);
          const found = await searchIndexed(store, { userId: u.id, terms: [rare], limit: 10, maxCandidates: 1_000, deadlineAt: Date.now() + 30_000 });
          assert.deepEqual(bodies(found), [`${rare} newest`, `${rare} quiet`, `${rare} oldest`]);
          assert.equal(found.truncated, false);
          // A word in every message of the busy room: its newest hits, from the walk alone.
          const common = await searchIndexed(store, { userId: u.id, terms: ['filler', '2'], limit: 3, maxCandidates: 1_000, deadlineAt: Date.now() + 30_000 });
          assert.deepEqual(bodies(common), ['filler 2 499', 'filler 2 498', 'filler 2 497']);
        });

        it('a room narrows the walk itself: the other rooms cost no candidate', async () => {
          const quiet = await page(2, 10, mine);
          assert.deepEqual(bodies(quiet), [`${tag} new`, `${tag} old`]);
          assert.equal(quiet.truncated, false);
          const capped = await page(1, 10, mine);
          assert.deepEqual(bodies(capped), [`${tag} new`]);
          assert.equal(capped.truncated, true);
          // A room one is not in still answers nothing, whatever it holds.
          assert.deepEqual(bodies(await page(100, 10, theirs)), []);
        });

        it('a search asked past its deadline is answered unavailable and does nothing', async () => {
          await assert.rejects(
            searchIndexed(store, { userId: me.id, terms: [tag], limit: 10, maxCandidates: 100, deadlineAt: Date.now() - 1 }),
            (e: unknown) => e instanceof AppError && e.code === 'unavailable',
          );
        });

        it('a search still running at its deadline is stopped inside the database and answered unavailable', async () => {
          // 40,000 matches in a room the searcher is not in: far more than a few milliseconds of work.
          const other = await user();
          const big = (await room(other, 'public')).id;
          const word = `zd${newId().replace(/[^a-z]/gi, '').slice(0, 6).toLowerCase()}`;
          for (let b = 0; b < 8; b++) await store.append(Array.from({ length: 5_000 }, (_, i) => msg(big, other, `${word} ${b} ${i}`)));
          await assert.rejects(
            searchIndexed(store, { userId: me.id, terms: [word], limit: 10, maxCandidates: 1_000_000, deadlineAt: Date.now() + 2 }),
            (e: unknown) => e instanceof AppError && e.code === 'unavailable',
          );
          // The store goes on answering.
          assert.deepEqual(bodies(await page(8)), [`${tag} new`, `${tag} old`]);
        });
      });
    });
  });
}
