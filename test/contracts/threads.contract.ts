/**
 * The Store's threads and reactions, against each adapter: replies move their root's counters
 * in the append's transaction (and a deleted reply moves them back), a thread pages like
 * history, follows and unread counts, and reactions aggregated per reader.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newId } from '../../src/domain/ids.js';
import type { UserRecord } from '../../src/domain/types.js';
import type { AppendOutcome, AppendRequest, Store } from '../../src/ports.js';
import type { StoreFixture } from './store.contract.js';

const tag = (): string => newId().slice(0, 8).toLowerCase().replace(/[^a-z0-9]/g, 'x');

export function threadsContract(name: string, open: () => Promise<StoreFixture>): void {
  describe(`Store contract, threads and reactions: ${name}`, () => {
    let fx: StoreFixture;
    let store: Store;

    before(async () => {
      fx = await open();
      store = fx.store;
      await store.migrate();
    });
    after(async () => fx.cleanup());

    async function person(): Promise<UserRecord> {
      const u: UserRecord = { id: newId(), username: `p_${tag()}`, displayName: 'Person', passwordHash: 'scrypt$x', createdAt: Date.now() };
      await store.createUser(u);
      return u;
    }
    /** A room of `owner` with `others` as members. */
    async function room(owner: UserRecord, ...others: UserRecord[]): Promise<string> {
      const { room: r } = await store.createRoom({ id: newId(), name: `r ${tag()}`, visibility: 'public', topic: '', createdAt: Date.now() }, owner.id);
      for (const o of others) await store.append([{ kind: 'member_joined', roomId: r.id, userId: o.id, role: 'member', addedBy: null, at: Date.now() }]);
      return r.id;
    }
    const one = async (request: AppendRequest): Promise<AppendOutcome> => (await store.append([request]))[0] as AppendOutcome;
    const send = async (roomId: string, userId: string, body: string, threadRoot?: number, at = Date.now()): Promise<number> => {
      const outcome = await one({ kind: 'message', roomId, userId, id: newId(), body, clientMsgId: null, at, ...(threadRoot === undefined ? {} : { threadRoot }) });
      assert.equal(outcome.status, 'appended');
      return (outcome as Extract<AppendOutcome, { status: 'appended' }>).event.seq;
    };

    it('replies count on their root in the same transaction; a deleted reply counts no more; a thread pages its replies', async () => {
      const [alice, bob] = [await person(), await person()];
      const roomId = await room(alice, bob);
      const root = await send(roomId, alice.id, 'root', undefined, 1_000);
      const r1 = await send(roomId, bob.id, 'one', root, 2_000);
      const r2 = await send(roomId, alice.id, 'two', root, 3_000);
      await send(roomId, bob.id, 'top');
      const rootNow = await store.findMessage(roomId, root);
      assert.equal(rootNow?.replyCount, 2);
      assert.equal(rootNow?.lastReplyAt, 3_000);
      assert.equal((await store.findMessage(roomId, r1))?.threadRoot, root);
      assert.equal((await one({ kind: 'delete', roomId, userId: bob.id, target: r1, at: 4_000 })).status, 'appended');
      assert.equal((await store.findMessage(roomId, root))?.replyCount, 1);
      const page = await store.readThread(roomId, root, 0, 1);
      assert.deepEqual([page?.root.seq, page?.replies.map((m) => m.seq), page?.hasMore], [root, [r1], true]);
      const rest = await store.readThread(roomId, root, r1, 10);
      assert.deepEqual([rest?.replies.map((m) => m.seq), rest?.hasMore], [[r2], false]);
      assert.equal(await store.readThread(roomId, r2, 0, 10), undefined, 'a reply is no thread');
      const top = await store.readHistory({ roomId, limit: 50, topLevel: true });
      assert.ok(top.messages.every((m) => m.threadRoot === undefined));
      assert.equal(top.messages.length, 2);
      const replyEvent = (await store.readEvents(roomId, r2 - 1, 1))[0];
      assert.equal(replyEvent?.message?.threadRoot, root);
    });

    it('the root\'s author and repliers follow; unread counts replies by others after the marker; unfollow sticks', async () => {
      const [alice, bob, carol] = [await person(), await person(), await person()];
      const roomId = await room(alice, bob, carol);
      const root = await send(roomId, alice.id, 'root');
      await send(roomId, bob.id, 'b1', root);
      assert.deepEqual(await store.listThreadFollowers(roomId, root), [alice.id, bob.id].sort());
      const r2 = await send(roomId, carol.id, 'c1', root);
      const mine = await store.listFollowedThreads(alice.id, null, 10, 100);
      assert.deepEqual(mine.threads.map((t) => [t.root.seq, t.unread]), [[root, 2]]);
      assert.deepEqual((await store.listFollowedThreads(bob.id, null, 10, 100)).threads.map((t) => t.unread), [1]);
      assert.equal(await store.markThreadRead(roomId, root, alice.id, r2), r2);
      assert.deepEqual((await store.listFollowedThreads(alice.id, null, 10, 100)).threads.map((t) => t.unread), [0]);
      assert.deepEqual(await store.threadFollowOf(roomId, root, alice.id), { following: true, lastReadSeq: r2 });
      assert.deepEqual(await store.threadFollowOf(roomId, root, carol.id), { following: true, lastReadSeq: r2 }, 'a replier reads up to their reply');
      assert.equal(await store.setThreadFollow(roomId, root, alice.id, false), true);
      assert.deepEqual(await store.threadFollowOf(roomId, root, alice.id), { following: false, lastReadSeq: r2 }, 'unfollowing keeps the marker');
      await send(roomId, bob.id, 'b2', root);
      assert.deepEqual(await store.listThreadFollowers(roomId, root), [bob.id, carol.id].sort());
      assert.equal(await store.setThreadFollow(roomId, r2, alice.id, true), false, 'a reply cannot be followed');
      assert.equal(await store.markThreadRead(roomId, r2, alice.id, r2), null);
      const dave = await person();
      assert.deepEqual(await store.threadFollowOf(roomId, root, dave.id), { following: false, lastReadSeq: null }, 'never followed nor marked');
    });

    it('pages followed threads by latest activity with a cursor', async () => {
      const [alice, bob] = [await person(), await person()];
      const roomId = await room(alice, bob);
      const roots: number[] = [];
      for (let i = 0; i < 3; i++) roots.push(await send(roomId, alice.id, `root ${i}`, undefined, 10_000 + i));
      for (const [i, root] of roots.entries()) await send(roomId, bob.id, 'reply', root, 20_000 + i);
      const first = await store.listFollowedThreads(bob.id, null, 2, 100);
      assert.deepEqual(first.threads.map((t) => t.root.seq), [roots[2], roots[1]]);
      assert.notEqual(first.next, null);
      const second = await store.listFollowedThreads(bob.id, first.next, 2, 100);
      assert.deepEqual([second.threads.map((t) => t.root.seq), second.next], [[roots[0]], null]);
    });

    it('reactions aggregate per emoji with `me` for the reader; adding twice writes once; concurrent batches agree', async () => {
      const [alice, bob] = [await person(), await person()];
      const roomId = await room(alice, bob);
      const seq = await send(roomId, alice.id, 'react to me');
      const react = (userId: string, emoji: string): AppendRequest => ({ kind: 'reaction_added', roomId, userId, target: seq, emoji, maxPerMessage: 2, at: Date.now() });
      const outcomes = await Promise.all([store.append([react(alice.id, '👍')]), store.append([react(alice.id, '👍')]), store.append([react(bob.id, '👍')])]);
      assert.deepEqual(outcomes.flat().map((o) => o.status).sort(), ['appended', 'appended', 'noop']);
      assert.equal((await one(react(bob.id, ':tada:'))).status, 'appended');
      assert.deepEqual(await one(react(bob.id, ':x:')), { status: 'rejected', code: 'too_many_reactions' });
      assert.deepEqual(await store.reactionsOf(roomId, [seq, seq + 100], bob.id), [
        {
          seq,
          reactions: [
            { emoji: '👍', count: 2, me: true },
            { emoji: ':tada:', count: 1, me: true },
          ],
        },
      ]);
      const removed = await one({ kind: 'reaction_removed', roomId, userId: bob.id, target: seq, emoji: ':tada:', at: Date.now() });
      assert.equal(removed.status === 'appended' && removed.event.emoji, ':tada:');
      assert.deepEqual((await store.reactionsOf(roomId, [seq], alice.id))[0]?.reactions, [{ emoji: '👍', count: 2, me: true }]);
      const events = await store.readEvents(roomId, seq, 10);
      assert.deepEqual(
        events.map((e) => [e.kind, e.target, e.emoji]),
        [
          ['reaction_added', seq, '👍'],
          ['reaction_added', seq, '👍'],
          ['reaction_added', seq, ':tada:'],
          ['reaction_removed', seq, ':tada:'],
        ],
      );
    });
  });
}
