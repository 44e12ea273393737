/**
 * Memory an attacker could make grow, bounded: per connection (typing notices), per user
 * (connections), per room and per process (recent events), and the presence frames a flapping
 * user makes others receive. Real server, real sockets.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { typingRoomsRemembered } from '../../src/realtime/handlers.js';
import { api, createRoom, registerUser, startTestServer, type TestServer } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

const generous = { SEND_RATE_PER_SEC: 100_000, SEND_BURST: 100_000, FRAME_RATE_PER_SEC: 100_000, FRAME_BURST: 100_000, AUTH_RATE_PER_MIN: 100_000 };

describe('bounds', () => {
  const servers: TestServer[] = [];
  const clients: WsTestClient[] = [];
  const start = async (overrides: Parameters<typeof startTestServer>[0]) => {
    const server = await startTestServer({ ...generous, ...overrides });
    servers.push(server);
    return server;
  };
  const connect = async (server: TestServer, token: string) => {
    const c = await WsTestClient.connect(server.wsUrl, { token });
    clients.push(c);
    return c;
  };
  after(async () => {
    for (const c of clients) c.close();
    for (const s of servers) await s.stop();
  });

  it('regression: typing for rooms one is not in is refused and remembers nothing; what is remembered is bounded', async () => {
    const server = await start({ MAX_SUBSCRIPTIONS: 5 });
    const user = await registerUser(server.url, 'typist');
    const rooms = await Promise.all(Array.from({ length: 8 }, (_, i) => createRoom(server.url, user, 'public', `typing ${i}`)));
    const c = await connect(server, user.token);
    for (let i = 0; i < 300; i++) c.sendRaw(JSON.stringify({ type: 'typing', roomId: randomBytes(16).toString('base64url') }));
    const deadline = Date.now() + 10_000;
    while (c.frames.filter((f) => f.type === 'reply' && f.id === null).length < 300) {
      if (Date.now() > deadline) throw new Error(`only ${c.frames.length} replies`);
      await sleep(5);
    }
    assert.ok(c.frames.every((f) => f.type === 'reply' && f.ok === false && f.error.code === 'not_found'));
    const [conn] = server.parley.gateway.connectionsOf(user.id);
    assert.ok(conn !== undefined);
    assert.equal(typingRoomsRemembered(conn), 0, 'typing for unknown rooms was remembered');
    for (const roomId of rooms) c.sendRaw(JSON.stringify({ type: 'typing', roomId }));
    c.sendRaw(JSON.stringify({ type: 'ping' }));
    await c.waitFor((f) => f.type === 'pong');
    await sleep(50);
    assert.ok(typingRoomsRemembered(conn) <= 5, `${typingRoomsRemembered(conn)} rooms remembered, MAX_SUBSCRIPTIONS is 5`);
  });

  it('regression: connections per user are bounded (429 with Retry-After past MAX_CONNECTIONS_PER_USER)', async () => {
    const server = await start({ MAX_CONNECTIONS_PER_USER: 3 });
    const user = await registerUser(server.url, 'hoarder');
    const held = await Promise.all([0, 1, 2].map(() => connect(server, user.token)));
    const refused = await WsTestClient.connect(server.wsUrl, { token: user.token }).then(
      () => assert.fail('a fourth connection was accepted'),
      (error: { status?: number; body?: string }) => error,
    );
    assert.equal(refused.status, 429);
    assert.equal(JSON.parse(refused.body ?? '{}').error.code, 'rate_limited');
    // Another user is not affected, and closing one makes room again.
    const other = await registerUser(server.url, 'bystander');
    await connect(server, other.token);
    held[0]?.close();
    await held[0]?.closed();
    const deadline = Date.now() + 5_000;
    while (server.parley.gateway.connectionsOf(user.id).length > 2) {
      if (Date.now() > deadline) throw new Error('the closed connection is still counted');
      await sleep(5);
    }
    await connect(server, user.token);
  });

  it('regression: recent events are bounded in bytes per room and per process, and resuming still gets everything', async () => {
    const perRoom = 64 * 1024;
    const total = 256 * 1024;
    const server = await start({ ROOM_RECENT_BYTES: perRoom, RECENT_EVENTS_TOTAL_BYTES: total, MESSAGE_MAX_CHARS: 4000 });
    const user = await registerUser(server.url, 'emoji');
    const c = await connect(server, user.token);
    const rooms = await Promise.all(Array.from({ length: 10 }, (_, i) => createRoom(server.url, user, 'public', `big ${i}`)));
    for (const roomId of rooms) assert.equal((await c.request({ type: 'subscribe', roomId })).ok, true);
    const body = '😀'.repeat(4000);
    for (let i = 0; i < 20; i++) {
      await Promise.all(rooms.map((roomId) => c.request({ type: 'send', roomId, body, clientMsgId: `m${i}` })));
      assert.ok(server.parley.hub.memoryBytes <= total, `${server.parley.hub.memoryBytes} bytes of recent events, the bound is ${total}`);
    }
    // A client resuming from the start of a room still gets every event (from the store).
    const late = await connect(server, user.token);
    const reply = await late.request({ type: 'subscribe', roomId: rooms[0], since: 1 });
    assert.equal(reply.ok, true);
    assert.equal(reply.recovered, true);
    assert.deepEqual(late.events(rooms[0] as string).map((f) => f.seq), Array.from({ length: 20 }, (_, i) => i + 2));
  });

  it('regression: a user reconnecting in a loop costs the others a bounded number of presence frames, and ends announced offline', async () => {
    const interval = 400;
    const server = await start({ PRESENCE_ANNOUNCE_INTERVAL_MS: interval });
    const victim = await registerUser(server.url, 'victim');
    const flapper = await registerUser(server.url, 'flapper');
    const rooms = await Promise.all(Array.from({ length: 5 }, (_, i) => createRoom(server.url, victim, 'public', `presence ${i}`)));
    for (const roomId of rooms) assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: flapper.token })).status, 200);
    const watching = await connect(server, victim.token);
    for (const roomId of rooms) assert.equal((await watching.request({ type: 'subscribe', roomId })).ok, true);
    const started = Date.now();
    for (let i = 0; i < 40; i++) {
      const c = await WsTestClient.connect(server.wsUrl, { token: flapper.token });
      c.sendRaw(JSON.stringify({ type: 'ping' }));
      await c.waitFor((f) => f.type === 'pong');
      c.close();
      await c.closed();
    }
    const elapsed = Date.now() - started;
    const windows = Math.ceil(elapsed / interval) + 2;
    // After the loop, the last word about the flapper in each room must be "offline".
    const deadline = Date.now() + 10 * interval;
    const last = () => rooms.map((roomId) => watching.frames.filter((f) => f.type === 'presence' && f.roomId === roomId && f.userId === flapper.id).at(-1)?.online);
    while (!last().every((online) => online === false)) {
      if (Date.now() > deadline) throw new Error(`not announced offline at the end: ${JSON.stringify(last())}`);
      await sleep(20);
    }
    const perRoom = watching.frames.filter((f) => f.type === 'presence' && f.userId === flapper.id).length / rooms.length;
    assert.ok(perRoom <= 2 * windows, `${perRoom} presence frames per room for 40 reconnections in ${elapsed} ms (at most ${2 * windows} expected)`);
  });
});
