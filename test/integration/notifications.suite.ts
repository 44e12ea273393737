/**
 * Mentions, notifications, preferences and blocks over REST and WebSocket, against a real
 * server (run on SQLite and on PostgreSQL). The notifier works off the send path, so a test
 * that expects no notification for a message sends a notifying one after it and waits for that:
 * the notifier reads a room's messages in order, so the first was decided by then.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config.js';
import { views } from '../../src/protocol/responses.js';
import type { Json } from '../support/json.js';
import { api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

type Notification = { id: string; kind: string; roomId: string; seq: number; author: { username: string }; excerpt: string; read: boolean };

export function notificationsSuite(name: string, config: () => Promise<Partial<Config>>): void {
  describe(`notifications (${name})`, () => {
    let server: TestServer;
    let alice: TestUser;
    let bob: TestUser;
    let carol: TestUser;
    let outsider: TestUser;
    let room: string;

    const send = async (user: TestUser, roomId: string, body: string) => {
      const res = await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: user.token, body: { body } });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.message.seq as number;
    };
    const list = async (user: TestUser, query = ''): Promise<{ notifications: Notification[]; hasMore: boolean }> => {
      const res = await api<Json>(server.url, 'GET', `/api/v1/notifications${query}`, { token: user.token });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(views.Notification.array().safeParse(res.body.notifications).success, 'notifications in their documented shape');
      return res.body;
    };
    /** Waits until the user has a notification of `seq` in `roomId`. */
    const waitFor = async (user: TestUser, roomId: string, seq: number): Promise<Notification> => {
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        const found = (await list(user, '?limit=100')).notifications.find((n) => n.roomId === roomId && n.seq === seq);
        if (found !== undefined) return found;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no notification of ${roomId}#${seq} for ${user.username}`);
    };
    const seqsOf = async (user: TestUser, roomId: string) => (await list(user, '?limit=100')).notifications.filter((n) => n.roomId === roomId).map((n) => n.seq);
    const unread = async (user: TestUser) => (await api<Json>(server.url, 'GET', '/api/v1/notifications/unread-count', { token: user.token })).body.unread as number;

    before(async () => {
      server = await startTestServer({ ...(await config()), JOBS_POLL_MS: 20, NOTIFY_ROOM_MENTIONS_PER_HOUR: 1, SEND_BURST: 1000, SEND_RATE_PER_SEC: 1000 });
      [alice, bob, carol, outsider] = [await registerUser(server.url, 'alice'), await registerUser(server.url, 'bob'), await registerUser(server.url, 'carol'), await registerUser(server.url, 'out')];
      room = await createRoom(server.url, alice, 'public', 'Team');
      for (const u of [bob, carol]) assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${room}/join`, { token: u.token })).status, 200);
    });
    after(async () => server?.stop());

    it('notifies a mentioned member on every connection of theirs, and nobody else', async () => {
      const phone = await WsTestClient.connect(server.wsUrl, { token: bob.token });
      const laptop = await WsTestClient.connect(server.wsUrl, { token: bob.token });
      try {
        const seq = await send(alice, room, `hey @${bob.username.toUpperCase()} and @${outsider.username}, see \`@${carol.username}\` and @alice`);
        const pushed = await Promise.all([phone, laptop].map((c) => c.waitFor((f) => f.type === 'notification' && f.notification.seq === seq, 15_000)));
        for (const frame of pushed) {
          assert.equal(frame.notification.kind, 'mention');
          assert.equal(frame.notification.roomId, room);
          assert.equal(frame.notification.roomName, 'Team');
          assert.equal(frame.notification.author.username, alice.username);
          assert.equal(frame.notification.read, false);
          assert.ok(views.Notification.safeParse(frame.notification).success);
        }
        const listed = await waitFor(bob, room, seq);
        assert.equal(listed.id, pushed[0]?.notification.id);
        assert.match(listed.excerpt, /^hey @/);
        // Mentioned in code, not a member, or the author: nothing.
        const marker = await send(alice, room, `@${carol.username} now`);
        await waitFor(carol, room, marker);
        assert.deepEqual(await seqsOf(carol, room), [marker]);
        assert.deepEqual(await seqsOf(outsider, room), []);
        assert.deepEqual(await seqsOf(alice, room), []);
      } finally {
        phone.close();
        laptop.close();
      }
    });

    it('a reply in a thread notifies its followers (the root\'s author and repliers), not those who unfollowed', async () => {
      const threads = await createRoom(server.url, alice, 'public', 'Threads');
      for (const u of [bob, carol]) assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${threads}/join`, { token: u.token })).status, 200);
      const reply = async (user: TestUser, root: number, body: string) => {
        const res = await api(server.url, 'POST', `/api/v1/rooms/${threads}/messages`, { token: user.token, body: { body, threadRoot: root } });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        return res.body.message.seq as number;
      };
      const root = await send(alice, threads, 'a question');
      const fromBob = await reply(bob, root, 'an answer');
      assert.equal((await waitFor(alice, threads, fromBob)).kind, 'thread_reply');
      const fromCarol = await reply(carol, root, 'another answer');
      for (const user of [alice, bob]) assert.equal((await waitFor(user, threads, fromCarol)).kind, 'thread_reply');
      assert.equal((await api(server.url, 'DELETE', `/api/v1/rooms/${threads}/threads/${root}/follow`, { token: bob.token })).status, 204);
      const fromAlice = await reply(alice, root, 'thanks');
      await waitFor(carol, threads, fromAlice);
      // A mention of bob after it: once it is there, the notifier has decided the reply too.
      const marker = await send(alice, threads, `@${bob.username} ping`);
      await waitFor(bob, threads, marker);
      assert.deepEqual(await seqsOf(bob, threads), [marker, fromCarol]);
      assert.deepEqual(await seqsOf(carol, threads), [fromAlice]);
    });

    it('@room notifies every member but the author, within the rate limit', async () => {
      const first = await send(bob, room, 'standup in 5 @room');
      await waitFor(alice, room, first);
      const n = await waitFor(carol, room, first);
      assert.equal(n.kind, 'room_mention');
      assert.ok(!(await seqsOf(bob, room)).includes(first), 'not the author');
      // One @room per hour in this server: the second notifies nobody.
      const second = await send(bob, room, 'again @room');
      const marker = await send(bob, room, `@${carol.username} ping`);
      await waitFor(carol, room, marker);
      assert.ok(!(await seqsOf(carol, room)).includes(second), 'over the @room limit');
      assert.ok(!(await seqsOf(alice, room)).includes(second));
    });

    it('pages newest first or oldest first, counts unread and moves the read marker', async () => {
      const r = await createRoom(server.url, bob, 'public', 'Paging');
      await api(server.url, 'POST', `/api/v1/rooms/${r}/join`, { token: carol.token });
      const seqs: number[] = [];
      for (let i = 0; i < 5; i++) seqs.push(await send(bob, r, `@${carol.username} number ${i}`));
      await waitFor(carol, r, seqs.at(-1) as number);
      const all = (await list(carol, '?limit=100')).notifications.filter((n) => n.roomId === r);
      assert.deepEqual(all.map((n) => n.seq), [...seqs].reverse(), 'newest first');
      const page1 = await list(carol, '?limit=2');
      assert.equal(page1.notifications.length, 2);
      assert.equal(page1.hasMore, true);
      const page2 = await list(carol, `?limit=2&before=${page1.notifications[1]?.id}`);
      assert.ok(Number(page2.notifications[0]?.id) < Number(page1.notifications[1]?.id));
      const oldest = all.at(-1) as Notification;
      const forward = await list(carol, `?after=${oldest.id}&limit=100`);
      assert.deepEqual(forward.notifications.map((n) => n.seq).filter((s) => seqs.includes(s)), seqs.slice(1), 'oldest first after a cursor');
      const before = await unread(carol);
      assert.ok(before >= 5);
      const ws = await WsTestClient.connect(server.wsUrl, { token: carol.token });
      try {
        const third = all[2] as Notification;
        assert.equal((await api(server.url, 'POST', '/api/v1/notifications/read', { token: carol.token, body: { upTo: third.id } })).status, 204);
        const moved = await ws.waitFor((f) => f.type === 'notifications_read');
        assert.equal(moved.upTo, third.id);
        assert.equal(await unread(carol), 2);
        const after = (await list(carol, '?limit=100')).notifications;
        assert.ok(after.every((n) => n.read === Number(n.id) <= Number(third.id)));
        // Never backwards, never past the newest.
        await api(server.url, 'POST', '/api/v1/notifications/read', { token: carol.token, body: { upTo: '1' } });
        assert.equal(await unread(carol), 2);
        await api(server.url, 'POST', '/api/v1/notifications/read', { token: carol.token, body: { upTo: '9999999999' } });
        assert.equal(await unread(carol), 0);
        const next = await send(bob, r, `@${carol.username} after reading`);
        await waitFor(carol, r, next);
        assert.equal(await unread(carol), 1, 'a later notification is unread');
      } finally {
        ws.close();
      }
      for (const bad of ['?limit=0', '?before=x', '?before=1&after=2', '?extra=1']) {
        assert.equal((await api(server.url, 'GET', `/api/v1/notifications${bad}`, { token: carol.token })).status, 400, bad);
      }
      assert.equal((await api(server.url, 'POST', '/api/v1/notifications/read', { token: carol.token, body: { upTo: -1 } })).status, 400);
      assert.equal((await api(server.url, 'GET', '/api/v1/notifications')).status, 401);
    });

    it('follows each member\'s level and mute for the room', async () => {
      const r = await createRoom(server.url, alice, 'private', 'Levels');
      // The rules apply when the notifier reads a message: a witness's notification shows it has.
      const witness = await registerUser(server.url, 'wit');
      for (const u of [bob, carol, witness]) await api(server.url, 'POST', `/api/v1/rooms/${r}/members`, { token: alice.token, body: { username: u.username } });
      const prefs = (u: TestUser) => api<Json>(server.url, 'GET', `/api/v1/rooms/${r}/notifications`, { token: u.token });
      assert.deepEqual((await prefs(bob)).body, { level: 'mentions', mutedUntil: null });
      const put = (u: TestUser, body: unknown) => api<Json>(server.url, 'PUT', `/api/v1/rooms/${r}/notifications`, { token: u.token, body });
      assert.deepEqual((await put(bob, { level: 'all' })).body, { level: 'all', mutedUntil: null });
      const until = new Date(Date.now() + 3_600_000).toISOString();
      assert.deepEqual((await put(carol, { level: 'all', mutedUntil: until })).body, { level: 'all', mutedUntil: until });
      assert.deepEqual((await prefs(carol)).body, { level: 'all', mutedUntil: until });
      const plain = await send(alice, r, 'no mention at all');
      const n = await waitFor(bob, r, plain);
      assert.equal(n.kind, 'message');
      // Carol muted the room; with none, even a mention notifies nothing.
      await put(bob, { level: 'none' });
      const mention = await send(alice, r, `@${carol.username} @${bob.username} @${witness.username}`);
      await waitFor(witness, r, mention);
      await put(carol, { level: 'mentions', mutedUntil: null });
      const marker = await send(alice, r, `@${carol.username} unmuted`);
      await waitFor(carol, r, marker);
      assert.deepEqual(await seqsOf(carol, r), [marker], 'muted, then mentions only');
      assert.deepEqual(await seqsOf(bob, r), [plain], 'level none');
      // Members only; bad input.
      assert.equal((await prefs(outsider)).status, 404, 'a private room is not found');
      assert.equal((await api(server.url, 'GET', `/api/v1/rooms/${room}/notifications`, { token: outsider.token })).status, 403, 'a public room not joined');
      assert.equal((await put(outsider, { level: 'all' })).status, 404);
      assert.equal((await put(bob, { level: 'loud' })).status, 400);
      assert.equal((await put(bob, { level: 'all', mutedUntil: 'tomorrow' })).status, 400);
      assert.equal((await put(bob, { level: 'all', extra: true })).status, 400);
      assert.ok(mention > plain);
    });

    it('a DM notifies its other member of every message by default', async () => {
      const dm = (await api<Json>(server.url, 'POST', '/api/v1/dms', { token: alice.token, body: { username: carol.username } })).body.room.id as string;
      const seq = await send(alice, dm, 'just between us');
      assert.equal((await waitFor(carol, dm, seq)).kind, 'message');
      assert.deepEqual((await api(server.url, 'GET', `/api/v1/rooms/${dm}/notifications`, { token: carol.token })).body, { level: 'all', mutedUntil: null });
    });

    it('blocks: no notifications from the blocked, no direct messages either way', async () => {
      const dave = await registerUser(server.url, 'dave');
      const erin = await registerUser(server.url, 'erin');
      const r = await createRoom(server.url, dave, 'public', 'Blocks');
      await api(server.url, 'POST', `/api/v1/rooms/${r}/join`, { token: erin.token });
      const dm = (await api<Json>(server.url, 'POST', '/api/v1/dms', { token: dave.token, body: { username: erin.username } })).body.room.id as string;
      assert.equal((await api(server.url, 'PUT', `/api/v1/me/blocks/${dave.id}`, { token: erin.token })).status, 204);
      assert.equal((await api(server.url, 'PUT', `/api/v1/me/blocks/${dave.id}`, { token: erin.token })).status, 204, 'again: no change');
      const listed = await api<Json>(server.url, 'GET', '/api/v1/me/blocks', { token: erin.token });
      assert.deepEqual(listed.body.blocks.map((b: Json) => b.user.username), [dave.username]);
      assert.ok(views.BlockedUser.array().safeParse(listed.body.blocks).success);
      const blocked = await send(dave, r, `@${erin.username} hello? @room`);
      const marker = await send(alice, room, `@${erin.username} are you there`);
      await api(server.url, 'POST', `/api/v1/rooms/${room}/join`, { token: erin.token });
      const marker2 = await send(alice, room, `@${erin.username} now you are in`);
      await waitFor(erin, room, marker2);
      assert.deepEqual(await seqsOf(erin, r), [], 'nothing from the blocked user');
      assert.ok(marker < marker2 && blocked > 0);
      for (const [from, to] of [
        [dave, erin],
        [erin, dave],
      ] as const) {
        const open = await api<Json>(server.url, 'POST', '/api/v1/dms', { token: from.token, body: { username: to.username } });
        assert.equal(open.status, 403);
        assert.equal(open.body.error.code, 'forbidden');
        assert.equal(open.body.error.details.reason, 'blocked');
        const sent = await api<Json>(server.url, 'POST', `/api/v1/rooms/${dm}/messages`, { token: from.token, body: { body: 'hi' } });
        assert.equal(sent.status, 403);
        assert.equal(sent.body.error.details.reason, 'blocked');
      }
      // Over WebSocket too.
      const ws = await WsTestClient.connect(server.wsUrl, { token: dave.token });
      try {
        const reply = await ws.request({ id: 1, type: 'send', roomId: dm, body: 'hi' });
        assert.equal(reply.ok, false);
        assert.equal(reply.error.details.reason, 'blocked');
      } finally {
        ws.close();
      }
      assert.equal((await api(server.url, 'DELETE', `/api/v1/me/blocks/${dave.id}`, { token: erin.token })).status, 204);
      assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${dm}/messages`, { token: dave.token, body: { body: 'hi again' } })).status, 201);
      assert.equal((await api(server.url, 'POST', '/api/v1/dms', { token: erin.token, body: { username: dave.username } })).status, 200);
      assert.equal((await api(server.url, 'PUT', `/api/v1/me/blocks/${erin.id}`, { token: erin.token })).status, 400, 'not oneself');
      assert.equal((await api(server.url, 'PUT', '/api/v1/me/blocks/no-such-user', { token: erin.token })).status, 404);
      assert.equal((await api(server.url, 'GET', '/api/v1/me/blocks')).status, 401);
    });

    it('keeps an e-mail address and the digest setting', async () => {
      const get = (path: string) => api<Json>(server.url, 'GET', path, { token: bob.token });
      const put = (path: string, body: unknown) => api<Json>(server.url, 'PUT', path, { token: bob.token, body });
      assert.deepEqual((await get('/api/v1/me/email')).body, { email: null });
      assert.deepEqual((await put('/api/v1/me/email', { email: 'bob@example.com' })).body, { email: 'bob@example.com' });
      assert.deepEqual((await get('/api/v1/me/email')).body, { email: 'bob@example.com' });
      assert.deepEqual((await get('/api/v1/me/notification-settings')).body, { emailDigest: true });
      assert.deepEqual((await put('/api/v1/me/notification-settings', { emailDigest: false })).body, { emailDigest: false });
      assert.deepEqual((await get('/api/v1/me/notification-settings')).body, { emailDigest: false });
      assert.deepEqual((await get('/api/v1/me/email')).body, { email: 'bob@example.com' }, 'one setting leaves the other');
      assert.deepEqual((await put('/api/v1/me/email', { email: null })).body, { email: null });
      for (const bad of [{ email: 'not an address' }, { email: 'a@b' }, { email: 5 }, {}]) assert.equal((await put('/api/v1/me/email', bad)).status, 400, JSON.stringify(bad));
      assert.equal((await put('/api/v1/me/notification-settings', { emailDigest: 'yes' })).status, 400);
    });
  });
}
