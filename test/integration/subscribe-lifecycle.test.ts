/**
 * A subscribe is a few awaits long (membership, presence, opening the room on the node): a
 * close or an unsubscribe that comes meanwhile must win. Raced many times against a real server.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { api, createRoom, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

const TRIALS = 30;

describe('subscribe lifecycle', () => {
  let server: TestServer;
  let user: TestUser;
  before(async () => {
    server = await startTestServer({ SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000 });
    user = await registerUser(server.url, 'lifecycle');
  });
  after(async () => {
    await server.stop();
  });

  it(`regression: a connection closed while its subscribes were in flight leaves no room open on the node (${TRIALS} trials)`, async () => {
    for (let trial = 0; trial < TRIALS; trial++) {
      const roomId = await createRoom(server.url, user, 'public', `closed ${trial}`);
      const client = await WsTestClient.connect(server.wsUrl, { token: user.token });
      client.sendRaw(JSON.stringify({ id: 1, type: 'subscribe', roomId }));
      if (trial % 2 === 1) await sleep(trial % 5);
      client.ws.terminate();
    }
    const deadline = Date.now() + 10_000;
    while (server.parley.hub.roomCount > 0 || server.parley.gateway.connectionCount > 0) {
      if (Date.now() > deadline) throw new Error(`${server.parley.hub.roomCount} rooms still open for ${server.parley.gateway.connectionCount} connections`);
      await sleep(20);
    }
  });

  it(`regression: an unsubscribe sent right after a subscribe wins: both are answered, nothing live follows (${TRIALS} trials)`, async () => {
    const client = await WsTestClient.connect(server.wsUrl, { token: user.token });
    const watcher = await WsTestClient.connect(server.wsUrl, { token: user.token });
    const leaks: string[] = [];
    for (let trial = 0; trial < TRIALS; trial++) {
      const roomId = await createRoom(server.url, user, 'public', `unsubscribed ${trial}`);
      assert.equal((await watcher.request({ type: 'subscribe', roomId })).ok, true);
      const [subscribed, unsubscribed] = await Promise.all([client.request({ type: 'subscribe', roomId }), sleep(trial % 3).then(() => client.request({ type: 'unsubscribe', roomId }))]);
      assert.equal(subscribed.ok, true, JSON.stringify(subscribed));
      assert.equal(unsubscribed.ok, true);
      assert.equal((await api(server.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: user.token, body: { body: 'after' } })).status, 201);
      await watcher.waitFor((f) => f.type === 'event' && f.roomId === roomId && f.kind === 'message');
      client.sendRaw(JSON.stringify({ type: 'ping' }));
      const pongs = client.frames.filter((f) => f.type === 'pong').length;
      while (client.frames.filter((f) => f.type === 'pong').length === pongs) await sleep(2);
      if (client.events(roomId).some((f) => f.kind === 'message')) leaks.push(`trial ${trial}`);
    }
    assert.deepEqual(leaks, [], 'live events after an answered unsubscribe');
    client.close();
    watcher.close();
  });
});
