/**
 * Threads and reactions across two nodes (PostgreSQL + Redis): replies and reactions made on
 * one node reach a subscriber on the other in stream order, and the same reaction raced from
 * both nodes is stored and announced once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Json } from '../support/json.js';
import { type NodePair, startNodePair } from '../support/node-pair.js';
import { requirePostgres } from '../support/postgres.js';
import { requireRedis } from '../support/redis.js';
import { api, createRoom, registerUser, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

if ((await requirePostgres('threads across nodes')) && (await requireRedis('threads across nodes'))) {
  describe('Threads and reactions across two nodes', () => {
    let pair: NodePair;
    let alice: TestUser;
    let bob: TestUser;
    const open: WsTestClient[] = [];

    before(async () => {
      pair = await startNodePair({ SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000 });
      [alice, bob] = await Promise.all([registerUser(pair.a.url, 'xalice'), registerUser(pair.a.url, 'xbob')]);
    });
    after(async () => {
      for (const c of open) c.close();
      await pair.stop();
    });

    it('a reply and reactions made on one node reach the other in order; a reaction raced from both is one event', async () => {
      const roomId = await createRoom(pair.a.url, alice, 'public', 'two nodes');
      await api(pair.b.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: bob.token });
      const onB = await WsTestClient.connect(pair.b.wsUrl, { token: bob.token });
      const onA = await WsTestClient.connect(pair.a.wsUrl, { token: alice.token });
      open.push(onA, onB);
      await onB.request({ type: 'subscribe', roomId });
      const root = await onA.request({ type: 'send', roomId, body: 'root' });
      const reply = await onA.request({ type: 'send', roomId, body: 'reply', threadRoot: root.message.seq });
      assert.equal(reply.ok, true);
      const racers = [onA, await WsTestClient.connect(pair.b.wsUrl, { token: alice.token })];
      open.push(racers[1] as WsTestClient);
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => (racers[i % 2] as WsTestClient).request({ type: 'react', roomId, seq: root.message.seq, emoji: '🚀' })));
      assert.ok(answers.every((a) => a.ok === true));
      const events = await onB.waitForEvents(roomId, 3);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(
        onB.events(roomId).map((e: Json) => [e.kind, e.message?.threadRoot ?? e.emoji ?? null]),
        [
          ['message', null],
          ['message', root.message.seq],
          ['reaction_added', '🚀'],
        ],
      );
      assert.deepEqual(
        events.map((e: Json) => e.seq),
        [root.message.seq, reply.message.seq, reply.message.seq + 1],
      );
      const page = await api(pair.b.url, 'GET', `/api/v1/rooms/${roomId}/threads/${root.message.seq}`, { token: bob.token });
      assert.deepEqual([page.body.root.replyCount, page.body.root.reactions], [1, [{ emoji: '🚀', count: 1, me: false }]]);
    });
  });
}
