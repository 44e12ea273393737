/**
 * Threads and reactions over REST and the WebSocket against a real server: replies in the room
 * stream with everything else, root counters, thread pages, follows and unread counts,
 * reactions aggregated per reader and idempotent under racing connections, resume across a
 * drop, refusals of non-members on every new route and op, and bad input.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config.js';
import { responses } from '../../src/protocol/responses.js';
import type { Json } from '../support/json.js';
import { api, createRoom, registerUser, searchFresh, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

export function threadsSuite(label: string, config: () => Promise<Partial<Config>>): void {
  describe(`Threads and reactions (${label})`, () => {
    let server: TestServer;
    let base: string;
    let alice: TestUser;
    let bob: TestUser;
    let eve: TestUser;
    const open: WsTestClient[] = [];
    const connect = async (user: TestUser) => {
      const c = await WsTestClient.connect(server.wsUrl, { token: user.token });
      open.push(c);
      return c;
    };
    const post = async (user: TestUser, roomId: string, body: string, threadRoot?: number): Promise<Json> => {
      const res = await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: user.token, body: { body, ...(threadRoot === undefined ? {} : { threadRoot }) } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.message;
    };
    const get = (user: TestUser, path: string) => api(base, 'GET', path, { token: user.token });
    const reaction = (user: TestUser, method: 'PUT' | 'DELETE', roomId: string, seq: number, emoji: string) =>
      api(base, method, `/api/v1/rooms/${roomId}/messages/${seq}/reactions/${encodeURIComponent(emoji)}`, { token: user.token });
    /** A room of alice's that bob joined. */
    const sharedRoom = async (): Promise<string> => {
      const roomId = await createRoom(base, alice, 'public', 'threads');
      assert.equal((await api(base, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token })).status, 200);
      return roomId;
    };

    before(async () => {
      server = await startTestServer({ ...(await config()), SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000, REACTIONS_PER_MESSAGE_MAX: 3 });
      base = server.url;
      [alice, bob, eve] = await Promise.all([registerUser(base, 'talice'), registerUser(base, 'tbob'), registerUser(base, 'teve')]);
    });
    after(async () => {
      for (const c of open) c.close();
      await server.stop();
    });

    it('replies are message events of the room stream, in one order with top-level messages; the root counts them', async () => {
      const roomId = await sharedRoom();
      const watcher = await connect(bob);
      await watcher.request({ type: 'subscribe', roomId });
      const root = await post(alice, roomId, 'a root');
      const ws = await connect(bob);
      const viaWs = await ws.request({ type: 'send', roomId, body: 'reply over ws', threadRoot: root.seq });
      assert.equal(viaWs.ok, true, JSON.stringify(viaWs));
      assert.equal(viaWs.message.threadRoot, root.seq);
      const top = await post(bob, roomId, 'top level in between');
      const viaRest = await post(alice, roomId, 'reply over rest', root.seq);
      const events = await watcher.waitForEvents(roomId, 4);
      assert.deepEqual(
        events.filter((e) => e.kind === 'message').map((e) => [e.seq, e.message.threadRoot ?? null]),
        [
          [root.seq, null],
          [viaWs.message.seq, root.seq],
          [top.seq, null],
          [viaRest.seq, root.seq],
        ],
      );
      const history = await get(alice, `/api/v1/rooms/${roomId}/messages`);
      responses.MessagePage.parse(history.body);
      const rootNow = history.body.messages.find((m: Json) => m.seq === root.seq);
      assert.equal(rootNow.replyCount, 2);
      assert.equal(rootNow.lastReplyAt, viaRest.createdAt);
      const topLevel = await get(alice, `/api/v1/rooms/${roomId}/messages?topLevel=true`);
      assert.deepEqual(
        topLevel.body.messages.map((m: Json) => m.seq),
        [top.seq, root.seq],
      );
      const page = await get(bob, `/api/v1/rooms/${roomId}/threads/${root.seq}?limit=1`);
      assert.equal(page.status, 200);
      responses.ThreadPage.parse(page.body);
      assert.deepEqual([page.body.root.seq, page.body.replies.map((m: Json) => m.seq), page.body.hasMore], [root.seq, [viaWs.message.seq], true]);
      const rest = await get(bob, `/api/v1/rooms/${roomId}/threads/${root.seq}?after=${viaWs.message.seq}`);
      assert.deepEqual([rest.body.replies.map((m: Json) => m.body), rest.body.hasMore], [['reply over rest'], false]);
      assert.equal((await get(bob, `/api/v1/rooms/${roomId}/threads/${viaRest.seq}`)).status, 404, 'a reply is no thread');
      // Deleting a reply counts it no more.
      assert.equal((await api(base, 'DELETE', `/api/v1/rooms/${roomId}/messages/${viaRest.seq}`, { token: alice.token })).status, 204);
      const after = await get(alice, `/api/v1/rooms/${roomId}/threads/${root.seq}`);
      assert.equal(after.body.root.replyCount, 1);
    });

    it('refuses a threadRoot that is no live top-level message of the room, naming it', async () => {
      const roomId = await sharedRoom();
      const other = await createRoom(base, alice, 'public', 'elsewhere');
      const root = await post(alice, roomId, 'root');
      const reply = await post(bob, roomId, 'reply', root.seq);
      const foreign = await post(alice, other, 'in another room');
      const gone = await post(alice, roomId, 'to be deleted');
      await api(base, 'DELETE', `/api/v1/rooms/${roomId}/messages/${gone.seq}`, { token: alice.token });
      for (const threadRoot of [reply.seq, foreign.seq + 1000, gone.seq]) {
        const res = await api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: bob.token, body: { body: 'x', threadRoot } });
        assert.equal(res.status, 400, `threadRoot ${threadRoot}`);
        assert.equal(res.body.error.code, 'validation_failed');
        assert.equal(res.body.error.details.issues[0].path, 'threadRoot');
      }
      const ws = await connect(bob);
      for (const threadRoot of ['1', 0, 1.5, -1]) {
        const r = await ws.request({ type: 'send', roomId, body: 'x', threadRoot });
        assert.equal(r.ok, false);
        assert.equal(r.error.code, 'validation_failed');
        assert.equal(r.error.details.issues[0].path, 'threadRoot');
      }
      // A seq of another room names nothing here: the reply is refused, not sent across.
      const cross = await ws.request({ type: 'send', roomId: other, body: 'x', threadRoot: reply.seq });
      assert.equal(cross.ok, false);
    });

    it('the root author and repliers follow; unread counts replies by others; read and unfollow', async () => {
      const roomId = await sharedRoom();
      const root = await post(alice, roomId, 'follow me');
      const viewer = async (user: TestUser): Promise<Json> => {
        const page = await get(user, `/api/v1/rooms/${roomId}/threads/${root.seq}`);
        assert.equal(page.status, 200);
        responses.ThreadPage.parse(page.body);
        return { following: page.body.following, lastReadSeq: page.body.lastReadSeq };
      };
      assert.deepEqual(await viewer(bob), { following: false, lastReadSeq: null }, 'no reply yet: nobody follows');
      await post(bob, roomId, 'first', root.seq);
      const second = await post(bob, roomId, 'second', root.seq);
      const mine = await get(alice, '/api/v1/threads');
      assert.equal(mine.status, 200);
      responses.FollowedThreads.parse(mine.body);
      const thread = mine.body.threads.find((t: Json) => t.root.seq === root.seq && t.roomId === roomId);
      assert.equal(thread.unread, 2);
      assert.equal((await get(bob, '/api/v1/threads')).body.threads.find((t: Json) => t.roomId === roomId).unread, 0);
      const read = await api(base, 'POST', `/api/v1/rooms/${roomId}/threads/${root.seq}/read`, { token: alice.token, body: { seq: second.seq } });
      assert.deepEqual([read.status, read.body], [200, { lastReadSeq: second.seq }]);
      assert.deepEqual(await viewer(alice), { following: true, lastReadSeq: second.seq }, 'the thread page says I follow it, and how far I read');
      assert.deepEqual(await viewer(bob), { following: true, lastReadSeq: second.seq }, 'replying follows and reads up to the reply');
      assert.equal((await get(alice, '/api/v1/threads')).body.threads.find((t: Json) => t.roomId === roomId).unread, 0);
      assert.equal((await api(base, 'DELETE', `/api/v1/rooms/${roomId}/threads/${root.seq}/follow`, { token: alice.token })).status, 204);
      await post(bob, roomId, 'third', root.seq);
      assert.equal((await get(alice, '/api/v1/threads')).body.threads.some((t: Json) => t.roomId === roomId), false);
      assert.deepEqual(await viewer(alice), { following: false, lastReadSeq: second.seq }, 'unfollowed, the marker kept');
      assert.equal((await api(base, 'PUT', `/api/v1/rooms/${roomId}/threads/${root.seq}/follow`, { token: alice.token })).status, 204);
      assert.equal((await get(alice, '/api/v1/threads')).body.threads.find((t: Json) => t.roomId === roomId).unread, 0, 'a follow counts only later replies');
      assert.equal((await api(base, 'PUT', `/api/v1/rooms/${roomId}/threads/${second.seq}/follow`, { token: alice.token })).status, 404);
      assert.equal((await get(alice, '/api/v1/threads?cursor=bm9wZQ')).status, 400);
    });

    it('pages followed threads with a cursor', async () => {
      const carol = await registerUser(base, 'tcarol');
      const roomId = await createRoom(base, carol, 'private', 'paging');
      for (let i = 0; i < 3; i++) {
        const root = await post(carol, roomId, `root ${i}`);
        await post(carol, roomId, `reply ${i}`, root.seq);
      }
      const first = await get(carol, '/api/v1/threads?limit=2');
      assert.equal(first.body.threads.length, 2);
      assert.equal(typeof first.body.nextCursor, 'string');
      const second = await get(carol, `/api/v1/threads?limit=2&cursor=${encodeURIComponent(first.body.nextCursor)}`);
      assert.deepEqual([second.body.threads.length, second.body.nextCursor], [1, null]);
      const bodies = [...first.body.threads, ...second.body.threads].map((t: Json) => t.root.body);
      assert.deepEqual(bodies, ['root 2', 'root 1', 'root 0']);
    });

    it('reactions: events with the emoji, aggregated per reader with `me`, idempotent, removed, bounded', async () => {
      const roomId = await sharedRoom();
      const watcher = await connect(alice);
      await watcher.request({ type: 'subscribe', roomId });
      const m = await post(alice, roomId, 'react to me');
      assert.equal((await reaction(bob, 'PUT', roomId, m.seq, '👍')).status, 204);
      assert.equal((await reaction(bob, 'PUT', roomId, m.seq, '👍')).status, 204, 'twice is fine');
      assert.equal((await reaction(alice, 'PUT', roomId, m.seq, '👍')).status, 204);
      const ws = await connect(bob);
      assert.equal((await ws.request({ type: 'react', roomId, seq: m.seq, emoji: ':tada:' })).ok, true);
      const events = await watcher.waitForEvents(roomId, 4);
      assert.deepEqual(
        events.slice(1).map((e) => [e.kind, e.target, e.emoji, e.user.id]),
        [
          ['reaction_added', m.seq, '👍', bob.id],
          ['reaction_added', m.seq, '👍', alice.id],
          ['reaction_added', m.seq, ':tada:', bob.id],
        ],
      );
      const forAlice = (await get(alice, `/api/v1/rooms/${roomId}/messages`)).body.messages.find((x: Json) => x.seq === m.seq);
      assert.deepEqual(forAlice.reactions, [
        { emoji: '👍', count: 2, me: true },
        { emoji: ':tada:', count: 1, me: false },
      ]);
      assert.equal((await ws.request({ type: 'unreact', roomId, seq: m.seq, emoji: ':tada:' })).ok, true);
      assert.equal((await ws.request({ type: 'unreact', roomId, seq: m.seq, emoji: ':tada:' })).ok, true, 'removing what is not there is fine');
      await watcher.waitForEvents(roomId, 5);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(watcher.events(roomId).length, 5, 'an idempotent repeat appends no event');
      const thread = await get(bob, `/api/v1/rooms/${roomId}/threads/${m.seq}`);
      assert.deepEqual(thread.body.root.reactions, [{ emoji: '👍', count: 2, me: true }]);
      // Bounded: three distinct emoji, then a fourth is refused while adding to one there works.
      assert.equal((await reaction(bob, 'PUT', roomId, m.seq, '🎉')).status, 204);
      assert.equal((await reaction(bob, 'PUT', roomId, m.seq, '🇫🇷')).status, 204);
      const flood = await reaction(bob, 'PUT', roomId, m.seq, '🐙');
      assert.deepEqual([flood.status, flood.body.error.code, flood.body.error.details.reason], [409, 'conflict', 'too_many_reactions']);
      assert.equal((await reaction(alice, 'PUT', roomId, m.seq, '🇫🇷')).status, 204);
      // Search hits carry them too.
      const hits = (await searchFresh(base, `/api/v1/search?q=react&roomId=${roomId}`, alice.token)).body.hits as Json[];
      assert.equal(hits[0].message.reactions.length, 3);
      // A deleted message takes no reaction and shows none.
      await api(base, 'DELETE', `/api/v1/rooms/${roomId}/messages/${m.seq}`, { token: alice.token });
      assert.equal((await reaction(bob, 'PUT', roomId, m.seq, '👍')).status, 404);
      const tomb = (await get(alice, `/api/v1/rooms/${roomId}/messages`)).body.messages.find((x: Json) => x.seq === m.seq);
      assert.equal(tomb.reactions, undefined);
      assert.equal((await reaction(bob, 'PUT', roomId, 999_999, '👍')).status, 404);
    });

    it('refuses a bad emoji with validation_failed naming it', async () => {
      const roomId = await sharedRoom();
      const m = await post(alice, roomId, 'emoji');
      for (const bad of ['a', '👍👍', `:${'a'.repeat(33)}:`, ':Upper:', '🏽']) {
        const res = await reaction(bob, 'PUT', roomId, m.seq, bad);
        assert.equal(res.status, 400, bad);
        assert.equal(res.body.error.details.issues[0].path, 'emoji');
      }
      const ws = await connect(bob);
      for (const emoji of ['', 'x'.repeat(40), 7]) {
        const r = await ws.request({ type: 'react', roomId, seq: m.seq, emoji });
        assert.equal(r.ok, false);
        assert.equal(r.error.details.issues[0].path, 'emoji');
      }
    });

    it('two connections racing the same reaction append one event', async () => {
      const roomId = await sharedRoom();
      const m = await post(alice, roomId, 'race');
      const [a, b] = [await connect(bob), await connect(bob)];
      const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).request({ type: 'react', roomId, seq: m.seq, emoji: '🔥' })));
      assert.ok(replies.every((r) => r.ok === true));
      const events = (await get(alice, `/api/v1/rooms/${roomId}/threads/${m.seq}`)).body.root.reactions;
      assert.deepEqual(events, [{ emoji: '🔥', count: 1, me: false }]);
      const watcher = await connect(alice);
      await watcher.request({ type: 'subscribe', roomId, since: m.seq });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(watcher.events(roomId).filter((e) => e.kind === 'reaction_added').length, 1);
    });

    it('resume after a drop replays the replies and reactions missed, in order', async () => {
      const roomId = await sharedRoom();
      const root = await post(alice, roomId, 'before the drop');
      const first = await connect(bob);
      const sub = await first.request({ type: 'subscribe', roomId });
      const seen = sub.lastSeq;
      first.close();
      await first.closed();
      const reply = await post(alice, roomId, 'missed reply', root.seq);
      await reaction(alice, 'PUT', roomId, root.seq, '👀');
      await reaction(alice, 'DELETE', roomId, root.seq, '👀');
      // Replayed from the store or from memory, a root carries no counters: the reply events that follow make them.
      const fromStart = await connect(bob);
      await fromStart.request({ type: 'subscribe', roomId, since: 0 });
      const replayedRoot = (await fromStart.waitForEvents(roomId, reply.seq + 2)).find((e) => e.seq === root.seq);
      assert.deepEqual([replayedRoot?.message.replyCount, replayedRoot?.message.lastReplyAt], [undefined, undefined]);
      const again = await connect(bob);
      const resumed = await again.request({ type: 'subscribe', roomId, since: seen });
      assert.equal(resumed.recovered, true);
      const events = await again.waitForEvents(roomId, 3);
      assert.deepEqual(
        events.map((e) => [e.seq, e.kind, e.message?.threadRoot ?? e.emoji]),
        [
          [reply.seq, 'message', root.seq],
          [reply.seq + 1, 'reaction_added', '👀'],
          [reply.seq + 2, 'reaction_removed', '👀'],
        ],
      );
    });

    it('refuses non-members on every thread and reaction route and op', async () => {
      const privateRoom = await createRoom(base, alice, 'private', 'closed');
      const publicRoom = await createRoom(base, alice, 'public', 'open');
      for (const [roomId, status] of [
        [privateRoom, 404],
        [publicRoom, 403],
      ] as const) {
        const root = await post(alice, roomId, 'root');
        const path = `/api/v1/rooms/${roomId}`;
        const calls: Array<[string, string, Json?]> = [
          ['GET', `${path}/threads/${root.seq}`],
          ['PUT', `${path}/threads/${root.seq}/follow`],
          ['DELETE', `${path}/threads/${root.seq}/follow`],
          ['POST', `${path}/threads/${root.seq}/read`, { seq: root.seq }],
          ['PUT', `${path}/messages/${root.seq}/reactions/${encodeURIComponent('👍')}`],
          ['DELETE', `${path}/messages/${root.seq}/reactions/${encodeURIComponent('👍')}`],
          ['POST', `${path}/messages`, { body: 'sneak', threadRoot: root.seq }],
        ];
        for (const [method, url, body] of calls) {
          const res = await api(base, method, url, { token: eve.token, ...(body === undefined ? {} : { body }) });
          assert.equal(res.status, status, `${method} ${url}`);
        }
        const ws = await connect(eve);
        for (const frame of [
          { type: 'react', roomId, seq: root.seq, emoji: '👍' },
          { type: 'unreact', roomId, seq: root.seq, emoji: '👍' },
          { type: 'send', roomId, body: 'sneak', threadRoot: root.seq },
        ]) {
          const r = await ws.request(frame);
          assert.equal(r.ok, false);
          assert.equal(r.error.code, status === 404 ? 'not_found' : 'forbidden');
        }
        assert.equal((await get(eve, '/api/v1/threads')).body.threads.length, 0);
      }
    });
  });
}
