/**
 * Retention on a running server: once a room's old messages are tombstoned, every node forgets
 * the events it keeps of them in memory (told over the bus), so a subscriber catching up replays
 * tombstones, never the deleted text; history shows tombstones too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PURGE_CHANNEL } from '../../src/domain/publisher.js';
import { encodePurge } from '../../src/protocol/bus-codec.js';
import type { Job } from '../../src/ports.js';
import { Retention } from '../../src/retention/retention.js';
import type { Json } from '../support/json.js';
import { api, startTestServer, type TestServer } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

describe('retention on a running server', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.stop());

  it('a catch-up after a purge replays tombstones, not the text kept in memory', async () => {
    const token = String((await api(server.url, 'POST', '/api/v1/auth/register', { body: { username: 'keeper', password: 'correct horse battery' } })).body.token);
    const roomId = String((await api(server.url, 'POST', '/api/v1/rooms', { token, body: { name: 'Ephemeral', visibility: 'private' } })).body.room.id);
    const live = await WsTestClient.connect(server.wsUrl, { token });
    await live.request({ type: 'subscribe', roomId });
    for (let i = 0; i < 5; i++) assert.equal((await live.request({ type: 'send', roomId, body: `secret ${i}` })).type, 'reply');
    await live.waitForEvents(roomId, 5);

    // A pass as the job runs it, a week from now with a one-day policy, telling the nodes over the bus.
    const { store, access } = server.parley.services;
    const retention = new Retention(store, access, {
      serverDays: 1,
      batch: 100,
      now: () => Date.now() + 7 * 86_400_000,
      onPurged: (room, throughSeq) => void server.parley.bus.publish(PURGE_CHANNEL, encodePurge({ roomId: room, throughSeq })),
    });
    const job: Job = { id: 'j', queue: 'retention', payload: {}, key: null, attempt: 1, attempts: 1, enqueuedAt: Date.now(), signal: new AbortController().signal };
    assert.equal((await retention.run(job)).tombstoned, 5);
    await new Promise((r) => setTimeout(r, 100));

    const late = await WsTestClient.connect(server.wsUrl, { token });
    // From seq 1 (the owner joining, before this node opened the room): seq 2 on is what the node
    // keeps in memory.
    const reply = await late.request({ type: 'subscribe', roomId, since: 1 });
    assert.equal(reply.type, 'reply');
    const replayed = await late.waitForEvents(roomId, 5);
    const messages = replayed.filter((e) => e.kind === 'message').map((e) => e.message as Json);
    assert.equal(messages.length, 5);
    assert.ok(
      messages.every((m) => m.deleted === true && m.body === ''),
      JSON.stringify(messages),
    );
    const history = await api(server.url, 'GET', `/api/v1/rooms/${roomId}/messages`, { token });
    assert.ok((history.body.messages as Json[]).every((m) => m.deleted === true && m.body === ''));
    live.close();
    late.close();
  });
});
