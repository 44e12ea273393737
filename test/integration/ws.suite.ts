/**
 * Every WebSocket row of the protocol against a real server with real sockets: upgrade
 * checks, each op and its errors, bad frames, ordering under concurrency, replay, and the
 * limits (frame size, frame rate, slow consumers, dead peers).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config.js';
import { api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';
import type { Json } from '../support/json.js';

export function wsSuite(label: string, config: () => Promise<Partial<Config>>): void {
  describe(`WebSocket (${label})`, () => {
    let server: TestServer;
    let base: string;
    let alice: TestUser;
    let bob: TestUser;
    let eve: TestUser;
    const open: WsTestClient[] = [];
    const connect = async (user: TestUser, headers?: Record<string, string>) => {
      const c = await WsTestClient.connect(server.wsUrl, { token: user.token, ...(headers ? { headers } : {}) });
      open.push(c);
      return c;
    };
    const send = (user: TestUser, roomId: string, body: string) => api(base, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: user.token, body: { body } });

    before(async () => {
      server = await startTestServer({ ...(await config()), SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000, FRAME_RATE_PER_SEC: 10_000, FRAME_BURST: 10_000, REPLAY_LIMIT: 50 });
      base = server.url;
      [alice, bob, eve] = await Promise.all([registerUser(base, 'walice'), registerUser(base, 'wbob'), registerUser(base, 'weve')]);
    });
    after(async () => {
      for (const c of open) c.close();
      await server.stop();
    });

    describe('upgrade', () => {
      it('refuses a missing or bad token with 401 before the 101', async () => {
        await assert.rejects(WsTestClient.connect(server.wsUrl), (e: Json) => e.status === 401 && JSON.parse(e.body).error.code === 'unauthorized');
        await assert.rejects(WsTestClient.connect(server.wsUrl, { token: 'nope' }), (e: Json) => e.status === 401);
      });

      it('accepts the token in the Authorization header or the cookie', async () => {
        const viaHeader = await WsTestClient.connect(server.wsUrl, { headers: { authorization: `Bearer ${alice.token}` } });
        const viaCookie = await WsTestClient.connect(server.wsUrl, { headers: { cookie: `other=1; parley_session=${alice.token}` } });
        viaCookie.sendRaw(JSON.stringify({ type: 'ping' }));
        await viaCookie.waitFor((f) => f.type === 'pong');
        viaHeader.sendRaw(JSON.stringify({ type: 'ping' }));
        await viaHeader.waitFor((f) => f.type === 'pong');
        viaHeader.close();
        viaCookie.close();
      });

      it('refuses a foreign Origin with 403 and accepts the same origin', async () => {
        await assert.rejects(connect(alice, { origin: 'https://evil.example' }), (e: Json) => e.status === 403 && JSON.parse(e.body).error.code === 'forbidden');
        const same = await connect(alice, { origin: server.url });
        same.close();
      });

      it('refuses other paths', async () => {
        await assert.rejects(WsTestClient.connect(`${server.url.replace('http', 'ws')}/other`, { token: alice.token }), (e: Json) => e.status === 404);
      });
    });

    describe('ops', () => {
      it('subscribe: members only (403 public, 404 private), with lastSeq and online users', async () => {
        const pub = await createRoom(base, alice, 'public');
        const priv = await createRoom(base, alice, 'private');
        const a = await connect(alice);
        const e = await connect(eve);
        const ok = await a.request({ type: 'subscribe', roomId: pub });
        assert.equal(ok.ok, true);
        assert.equal(ok.lastSeq, 1);
        assert.equal(ok.recovered, true);
        assert.ok(ok.online.includes(alice.id));
        assert.equal((await e.request({ type: 'subscribe', roomId: pub })).error.code, 'forbidden');
        assert.equal((await e.request({ type: 'subscribe', roomId: priv })).error.code, 'not_found');
        assert.equal((await e.request({ type: 'subscribe', roomId: 'no-such-room' })).error.code, 'not_found');
      });

      it('send: replied after storing; every subscriber gets the event once', async () => {
        const roomId = await createRoom(base, alice);
        await api(base, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token });
        const a = await connect(alice);
        const b = await connect(bob);
        await a.request({ type: 'subscribe', roomId });
        await b.request({ type: 'subscribe', roomId });
        const reply = await a.request({ type: 'send', roomId, body: 'hello <b>bob</b>', clientMsgId: 'k1' });
        assert.equal(reply.ok, true);
        assert.equal(reply.message.seq, 3);
        assert.equal(reply.message.body, 'hello <b>bob</b>');
        const stored = await api(base, 'GET', `/api/v1/rooms/${roomId}/messages?limit=1`, { token: bob.token });
        assert.equal(stored.body.messages[0].id, reply.message.id, 'durable before the reply');
        const event = await b.waitFor((f) => f.type === 'event' && f.seq === 3);
        assert.equal(event.kind, 'message');
        assert.deepEqual(event.message, reply.message);
        assert.equal(event.user.id, alice.id);
        // A retry with the same clientMsgId gets the first message and no new event.
        const retry = await a.request({ type: 'send', roomId, body: 'hello <b>bob</b>', clientMsgId: 'k1' });
        assert.equal(retry.message.id, reply.message.id);
        await a.request({ type: 'send', roomId, body: 'next' });
        await b.waitFor((f) => f.type === 'event' && f.seq === 4);
        assert.deepEqual(b.events(roomId).map((f) => f.seq), [3, 4]);
      });

      it('edit and delete: stream events naming the target; errors exact', async () => {
        const roomId = await createRoom(base, alice);
        await api(base, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token });
        const a = await connect(alice);
        const b = await connect(bob);
        await b.request({ type: 'subscribe', roomId });
        const sent = await a.request({ type: 'send', roomId, body: 'first' });
        const edited = await a.request({ type: 'edit', roomId, seq: sent.message.seq, body: 'second' });
        assert.equal(edited.message.body, 'second');
        assert.equal((await b.request({ type: 'edit', roomId, seq: sent.message.seq, body: 'x' })).error.code, 'forbidden');
        assert.equal((await b.request({ type: 'delete', roomId, seq: sent.message.seq })).error.code, 'forbidden');
        assert.equal((await a.request({ type: 'delete', roomId, seq: sent.message.seq })).ok, true);
        assert.equal((await a.request({ type: 'delete', roomId, seq: 999 })).error.code, 'not_found');
        const events = await b.waitForEvents(roomId, 3);
        assert.deepEqual(events.map((f) => [f.kind, f.target ?? null]), [['message', null], ['edit', sent.message.seq], ['delete', sent.message.seq]]);
        assert.equal(events[1]?.message.body, 'second');
      });

      it('read: moves the marker and tells my other connections', async () => {
        const roomId = await createRoom(base, alice);
        const a1 = await connect(alice);
        const a2 = await connect(alice);
        await a1.request({ type: 'send', roomId, body: 'x' });
        assert.equal((await a1.request({ type: 'read', roomId, seq: 2 })).ok, true);
        const read = await a2.waitFor((f) => f.type === 'read');
        assert.deepEqual(read, { type: 'read', roomId, seq: 2 });
      });

      it('typing: others subscribed get it, the typist does not', async () => {
        const roomId = await createRoom(base, alice);
        await api(base, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token });
        const a = await connect(alice);
        const b = await connect(bob);
        await a.request({ type: 'subscribe', roomId });
        await b.request({ type: 'subscribe', roomId });
        a.sendRaw(JSON.stringify({ type: 'typing', roomId }));
        const typing = await b.waitFor((f) => f.type === 'typing');
        assert.deepEqual(typing, { type: 'typing', roomId, user: { id: alice.id, username: alice.username, displayName: alice.username } });
        await a.request({ type: 'send', roomId, body: 'after typing' }); // a barrier: the typing frame has been handled
        assert.equal(a.frames.some((f) => f.type === 'typing'), false);
      });

      it('presence: members see a user come online and go offline', async () => {
        const roomId = await createRoom(base, alice);
        const carol = await registerUser(base, 'carol');
        await api(base, 'POST', `/api/v1/rooms/${roomId}/join`, { token: carol.token });
        const a = await connect(alice);
        await a.request({ type: 'subscribe', roomId });
        const c = await connect(carol);
        assert.deepEqual(await a.waitFor((f) => f.type === 'presence' && f.userId === carol.id && f.online === true), { type: 'presence', roomId, userId: carol.id, online: true });
        const members = await api(base, 'GET', `/api/v1/rooms/${roomId}/members`, { token: alice.token });
        assert.equal(members.body.members.find((m: Json) => m.user.id === carol.id).online, true);
        c.close();
        await a.waitFor((f) => f.type === 'presence' && f.userId === carol.id && f.online === false);
      });

      it('room_added and room_removed reach every connection of mine; after leaving no more events', async () => {
        const roomId = await createRoom(base, alice, 'private');
        const b1 = await connect(bob);
        const b2 = await connect(bob);
        await api(base, 'POST', `/api/v1/rooms/${roomId}/members`, { token: alice.token, body: { username: bob.username } });
        for (const b of [b1, b2]) assert.equal((await b.waitFor((f) => f.type === 'room_added')).room.id, roomId);
        await b1.request({ type: 'subscribe', roomId });
        await api(base, 'POST', `/api/v1/rooms/${roomId}/leave`, { token: bob.token });
        for (const b of [b1, b2]) await b.waitFor((f) => f.type === 'room_removed' && f.roomId === roomId);
        await b1.waitFor((f) => f.type === 'event' && f.kind === 'member_left');
        await send(alice, roomId, 'secret after bob left');
        await b1.request({ type: 'unsubscribe', roomId }); // a barrier
        assert.equal(b1.events(roomId).some((f) => f.kind === 'message'), false);
      });

      it('ping → pong; unsubscribe stops events', async () => {
        const roomId = await createRoom(base, alice);
        const a = await connect(alice);
        a.sendRaw(JSON.stringify({ type: 'ping' }));
        await a.waitFor((f) => f.type === 'pong');
        await a.request({ type: 'subscribe', roomId });
        assert.equal((await a.request({ type: 'unsubscribe', roomId })).ok, true);
        await send(alice, roomId, 'unseen');
        await a.request({ type: 'subscribe', roomId: await createRoom(base, alice) }); // a barrier
        assert.equal(a.events(roomId).length, 0);
      });
    });

    describe('bad frames', () => {
      it('malformed JSON, binary frames, unknown ops, wrong types, unknown fields: validation_failed, and the connection lives on', async () => {
        const a = await connect(alice);
        a.sendRaw('{"id":1,"type":');
        assert.deepEqual((await a.waitFor((f) => f.type === 'reply' && f.id === null)).error.code, 'validation_failed');
        a.sendRaw(Buffer.from('{"id":2,"type":"ping"}'), true);
        await a.waitFor((f) => f.type === 'reply' && f.id === null && /text/.test(f.error.message));
        for (const [frame, what] of [
          [{ type: 'explode' }, 'unknown op'],
          [{ type: 'send', roomId: 5, body: 'x' }, 'wrong type'],
          [{ type: 'send', roomId: 'r', body: 'x', extra: true }, 'unknown field'],
          [{ type: 'subscribe', roomId: 'r', since: -1 }, 'negative since'],
          [{ type: 'send', roomId: 'r', body: 'x'.repeat(4001) }, 'body too long'],
          [{ type: 'send', roomId: 'r', body: '' }, 'empty body'],
        ] as Array<[Record<string, unknown>, string]>) {
          const reply = await a.request(frame);
          assert.equal(reply.ok, false, what);
          assert.equal(reply.error.code, 'validation_failed', what);
        }
        a.sendRaw(JSON.stringify({ id: 'x', type: 'ping' }));
        await a.waitFor((f) => f.type === 'reply' && f.id === null && f.ok === false);
        a.sendRaw('[]');
        a.sendRaw('null');
        a.sendRaw('"str"');
        const pong = a.waitNext((f) => f.type === 'pong');
        a.sendRaw(JSON.stringify({ type: 'ping' }));
        await pong;
      });

      it('a frame over 64 KiB closes the connection with 1009', async () => {
        const a = await connect(alice);
        a.sendRaw(JSON.stringify({ id: 1, type: 'send', roomId: 'r', body: 'x'.repeat(70_000) }));
        assert.equal(await a.closed(), 1009);
      });

      it('invalid UTF-8 in a text frame closes with 1007', async () => {
        const a = await connect(alice);
        // ws refuses to send invalid UTF-8, so the masked frame is written to the socket by hand.
        const payload = Buffer.from([0x22, 0xc3, 0x28, 0x22]);
        const mask = Buffer.from([1, 2, 3, 4]);
        const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)));
        (a.ws as unknown as { _socket: import('node:net').Socket })._socket.write(Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]));
        assert.equal(await a.closed(), 1007);
      });
    });

    describe('guarantees', () => {
      it('concurrent senders: every subscriber sees 1..N in order, no gaps, no duplicates', async () => {
        const roomId = await createRoom(base, alice);
        const senders = await Promise.all([0, 1, 2, 3].map((i) => registerUser(base, `snd${i}`)));
        for (const s of senders) await api(base, 'POST', `/api/v1/rooms/${roomId}/join`, { token: s.token });
        const head = 1 + senders.length;
        const watchers = [await connect(alice), await connect(bob)];
        await api(base, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token });
        for (const w of watchers) await w.request({ type: 'subscribe', roomId, since: head });
        const conns = await Promise.all(senders.map((s) => connect(s)));
        const perSender = 50;
        await Promise.all(conns.map((c, i) => Promise.all(Array.from({ length: perSender }, (_, k) => c.request({ type: 'send', roomId, body: `s${i} m${k}` }, 20_000)))));
        const total = perSender * senders.length + 1; // + bob's join
        for (const w of watchers) {
          const events = await w.waitForEvents(roomId, total, 20_000);
          assert.deepEqual(events.map((f) => f.seq), Array.from({ length: total }, (_, k) => head + 1 + k));
        }
        // Each sender's own messages are stored in the order it sent them.
        const history = watchers[0]?.events(roomId).filter((f) => f.kind === 'message') ?? [];
        for (let i = 0; i < senders.length; i++) {
          const mine = history.filter((f) => f.message.body.startsWith(`s${i} `)).map((f) => Number(f.message.body.split(' m')[1]));
          assert.deepEqual(mine, Array.from({ length: perSender }, (_, k) => k));
        }
      });

      it('subscribe with since replays the missed events in order, then the reply, then live ones', async () => {
        const roomId = await createRoom(base, alice);
        for (let i = 0; i < 5; i++) await send(alice, roomId, `missed ${i}`);
        const a = await connect(alice);
        const reply = await a.request({ type: 'subscribe', roomId, since: 2 });
        assert.equal(reply.recovered, true);
        assert.equal(reply.lastSeq, 6);
        const replyIndex = a.frames.indexOf(reply);
        assert.deepEqual(a.frames.slice(0, replyIndex).filter((f) => f.type === 'event').map((f) => f.seq), [3, 4, 5, 6]);
        await send(alice, roomId, 'live');
        await a.waitFor((f) => f.type === 'event' && f.seq === 7);
        assert.deepEqual(a.events(roomId).map((f) => f.seq), [3, 4, 5, 6, 7]);
      });

      it('subscribing again while a replay runs delivers each missed event once, in order', async () => {
        const roomId = await createRoom(base, alice);
        for (let i = 0; i < 5; i++) await send(alice, roomId, `missed ${i}`);
        const a = await connect(alice);
        const replies = await Promise.all([a.request({ type: 'subscribe', roomId, since: 2 }), a.request({ type: 'subscribe', roomId, since: 2 })]);
        assert.ok(replies.every((r) => r.ok === true));
        await send(alice, roomId, 'live');
        await a.waitFor((f) => f.type === 'event' && f.seq === 7);
        assert.deepEqual(a.events(roomId).map((f) => f.seq), [3, 4, 5, 6, 7]);
      });

      it('past the replay limit: recovered false, live from the head', async () => {
        const roomId = await createRoom(base, alice);
        for (let i = 0; i < 60; i++) await send(alice, roomId, `old ${i}`);
        const a = await connect(alice);
        const reply = await a.request({ type: 'subscribe', roomId, since: 1 });
        assert.equal(reply.recovered, false);
        assert.equal(reply.lastSeq, 61);
        assert.equal(a.events(roomId).length, 0);
        await send(alice, roomId, 'new');
        assert.equal((await a.waitFor((f) => f.type === 'event')).seq, 62);
      });

      it('a since ahead of the stream is not believed', async () => {
        const roomId = await createRoom(base, alice);
        const a = await connect(alice);
        const reply = await a.request({ type: 'subscribe', roomId, since: 500 });
        assert.deepEqual([reply.recovered, reply.lastSeq], [false, 1]);
      });

      it('logout closes that session\'s sockets with 1008, not the others', async () => {
        const login = await api(base, 'POST', '/api/v1/auth/login', { body: { username: bob.username, password: 'correct horse battery' } });
        const other = await connect(bob);
        const doomed = await WsTestClient.connect(server.wsUrl, { token: login.body.token });
        await api(base, 'POST', '/api/v1/auth/logout', { token: login.body.token });
        assert.equal(await doomed.closed(), 1008);
        other.sendRaw(JSON.stringify({ type: 'ping' }));
        await other.waitFor((f) => f.type === 'pong');
      });
    });

    describe('limits', () => {
      it('a connection flooding frames is closed with 4008', async () => {
        const strict = await startTestServer({ ...(await config()), FRAME_RATE_PER_SEC: 5, FRAME_BURST: 10 });
        try {
          const user = await registerUser(strict.url, 'flood');
          const c = await WsTestClient.connect(strict.wsUrl, { token: user.token });
          for (let i = 0; i < 30; i++) c.sendRaw(JSON.stringify({ type: 'ping' }));
          assert.equal(await c.closed(), 4008);
        } finally {
          await strict.stop();
        }
      });

      it('a send past the rate limit gets rate_limited with retryAfterMs', async () => {
        const strict = await startTestServer({ ...(await config()), SEND_RATE_PER_SEC: 1, SEND_BURST: 2 });
        try {
          const user = await registerUser(strict.url, 'rl');
          const roomId = await createRoom(strict.url, user);
          const c = await WsTestClient.connect(strict.wsUrl, { token: user.token });
          const replies = [];
          for (let i = 0; i < 3; i++) replies.push(await c.request({ type: 'send', roomId, body: `m${i}` }));
          assert.deepEqual(replies.map((r) => r.ok), [true, true, false]);
          assert.equal(replies[2]?.error.code, 'rate_limited');
          assert.ok(replies[2]?.error.details.retryAfterMs > 0);
          c.close();
        } finally {
          await strict.stop();
        }
      });

      it('a client that stops reading is closed with 4009 once its backlog passes the limit', async () => {
        const strict = await startTestServer({
          ...(await config()),
          SLOW_CONSUMER_BYTES: 64 * 1024,
          SEND_RATE_PER_SEC: 100_000,
          SEND_BURST: 100_000,
          FRAME_RATE_PER_SEC: 100_000,
          FRAME_BURST: 100_000,
        });
        try {
          const user = await registerUser(strict.url, 'slow');
          const roomId = await createRoom(strict.url, user);
          const reader = await WsTestClient.connect(strict.wsUrl, { token: user.token });
          await reader.request({ type: 'subscribe', roomId });
          (reader.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
          const writer = await WsTestClient.connect(strict.wsUrl, { token: user.token });
          // The kernel buffers a few MB for a reader that stopped before the server's socket
          // refuses bytes; only then is the reader slow.
          const body = 'y'.repeat(4000);
          const closed = new Promise<void>((resolve) => {
            const check = setInterval(() => {
              if (strict.parley.gateway.slowConsumerCloses > 0) {
                clearInterval(check);
                resolve();
              }
            }, 20);
          });
          let sent = 0;
          while (strict.parley.gateway.slowConsumerCloses === 0 && sent < 10_000) {
            await Promise.all(Array.from({ length: 20 }, () => writer.request({ type: 'send', roomId, body })));
            sent += 20;
          }
          await closed;
          assert.equal(strict.parley.gateway.slowConsumerCloses, 1);
          (reader.ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
          assert.equal(await reader.closed(10_000), 4009);
          writer.close();
        } finally {
          await strict.stop();
        }
      });

      it('a burst past the limit to a client that keeps reading is not a slow consumer', async () => {
        const strict = await startTestServer({ ...(await config()), SLOW_CONSUMER_BYTES: 64 * 1024, SEND_RATE_PER_SEC: 100_000, SEND_BURST: 100_000 });
        try {
          const user = await registerUser(strict.url, 'bursty');
          const roomId = await createRoom(strict.url, user);
          const c = await WsTestClient.connect(strict.wsUrl, { token: user.token });
          await c.request({ type: 'subscribe', roomId });
          // 40 replies and 40 events of ~4 KB: ~320 KB in a few turns, five times the limit.
          const replies = await Promise.all(Array.from({ length: 40 }, () => c.request({ type: 'send', roomId, body: 'z'.repeat(4000) })));
          assert.ok(replies.every((r) => r.ok));
          await c.waitForEvents(roomId, 40);
          assert.equal(strict.parley.gateway.slowConsumerCloses, 0);
          c.close();
        } finally {
          await strict.stop();
        }
      });

      it('a peer that stops answering pings is dropped', async () => {
        const strict = await startTestServer({ ...(await config()), HEARTBEAT_INTERVAL_MS: 100 });
        try {
          const user = await registerUser(strict.url, 'dead');
          const c = await WsTestClient.connect(strict.wsUrl, { token: user.token });
          assert.equal(strict.parley.gateway.connectionCount, 1);
          (c.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
          const deadline = Date.now() + 5000;
          while (strict.parley.gateway.connectionCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
          assert.equal(strict.parley.gateway.connectionCount, 0);
        } finally {
          await strict.stop();
        }
      });

      it('at most MAX_SUBSCRIPTIONS rooms per connection', async () => {
        const strict = await startTestServer({ ...(await config()), MAX_SUBSCRIPTIONS: 2 });
        try {
          const user = await registerUser(strict.url, 'subs');
          const rooms = [await createRoom(strict.url, user), await createRoom(strict.url, user), await createRoom(strict.url, user)];
          const c = await WsTestClient.connect(strict.wsUrl, { token: user.token });
          assert.equal((await c.request({ type: 'subscribe', roomId: rooms[0] })).ok, true);
          assert.equal((await c.request({ type: 'subscribe', roomId: rooms[1] })).ok, true);
          const third = await c.request({ type: 'subscribe', roomId: rooms[2] });
          assert.equal(third.error.code, 'validation_failed');
          assert.equal(third.error.details.limit, 2);
          c.close();
        } finally {
          await strict.stop();
        }
      });
    });
  });
}
