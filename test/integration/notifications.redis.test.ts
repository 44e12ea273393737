/**
 * Notifications across a fleet: two nodes sharing PostgreSQL and Redis (bus, rate limits,
 * presence). A notification and the moved read marker reach every connection of the user,
 * whichever node holds it and whichever node the message was sent to; @room is limited per
 * author and room across the nodes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startNodePair, type NodePair } from '../support/node-pair.js';
import { requirePostgres } from '../support/postgres.js';
import { requireRedis } from '../support/redis.js';
import { api, createRoom, registerUser, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

if ((await requirePostgres('notifications across nodes')) && (await requireRedis('notifications across nodes'))) {
  describe('notifications across nodes (PostgreSQL + Redis)', () => {
    let pair: NodePair;
    let alice: TestUser;
    let bob: TestUser;
    let room: string;
    const clients: WsTestClient[] = [];

    before(async () => {
      pair = await startNodePair({ JOBS_POLL_MS: 20, NOTIFY_ROOM_MENTIONS_PER_HOUR: 1 });
      alice = await registerUser(pair.a.url, 'alice');
      bob = await registerUser(pair.a.url, 'bob');
      room = await createRoom(pair.a.url, alice, 'public', 'Fleet');
      assert.equal((await api(pair.b.url, 'POST', `/api/v1/rooms/${room}/join`, { token: bob.token })).status, 200);
    });
    after(async () => {
      for (const c of clients) c.close();
      await pair?.stop();
    });

    it('pushes a notification to the user on every node, and the read marker too', async () => {
      const onA = await WsTestClient.connect(pair.a.wsUrl, { token: bob.token });
      const onB = await WsTestClient.connect(pair.b.wsUrl, { token: bob.token });
      clients.push(onA, onB);
      for (const [from, node] of [
        [pair.a, 'a'],
        [pair.b, 'b'],
      ] as const) {
        const sent = await api(from.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: alice.token, body: { body: `@${bob.username} from node ${node}` } });
        assert.equal(sent.status, 201);
        const seq = sent.body.message.seq;
        const frames = await Promise.all([onA, onB].map((c) => c.waitFor((f) => f.type === 'notification' && f.notification.seq === seq, 15_000)));
        assert.equal(frames[0]?.notification.id, frames[1]?.notification.id, 'the same notification, once written');
      }
      const listed = await api(pair.b.url, 'GET', '/api/v1/notifications', { token: bob.token });
      assert.equal(listed.body.notifications.length, 2, 'one row per message, whichever node ran the notifier');
      const newest = listed.body.notifications[0].id;
      assert.equal((await api(pair.a.url, 'POST', '/api/v1/notifications/read', { token: bob.token, body: { upTo: newest } })).status, 204);
      const moved = await onB.waitFor((f) => f.type === 'notifications_read');
      assert.equal(moved.upTo, newest);
      assert.deepEqual((await api(pair.b.url, 'GET', '/api/v1/notifications/unread-count', { token: bob.token })).body, { unread: 0 });
    });

    it('limits @room per author and room across the nodes', async () => {
      const first = await api(pair.a.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: alice.token, body: { body: 'all hands @room' } });
      const second = await api(pair.b.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: alice.token, body: { body: 'again @room' } });
      const marker = await api(pair.b.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: alice.token, body: { body: `@${bob.username} done` } });
      const deadline = Date.now() + 15_000;
      let seqs: number[] = [];
      while (Date.now() < deadline && !seqs.includes(marker.body.message.seq)) {
        seqs = (await api(pair.a.url, 'GET', '/api/v1/notifications', { token: bob.token })).body.notifications.map((n: { seq: number }) => n.seq);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(seqs.includes(first.body.message.seq), 'the first @room notifies');
      assert.ok(!seqs.includes(second.body.message.seq), 'the second, on the other node, is over the limit');
    });
  });
}
