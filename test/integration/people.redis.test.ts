/**
 * `user_updated` across nodes: a profile changed through one node reaches the subscribers of
 * the user's rooms on another, through the bus (PostgreSQL and Redis, two nodes).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Json } from '../support/json.js';
import { type NodePair, startNodePair } from '../support/node-pair.js';
import { requirePostgres } from '../support/postgres.js';
import { requireRedis } from '../support/redis.js';
import { api, createRoom, registerUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

if ((await requirePostgres('People across nodes')) && (await requireRedis('People across nodes'))) {
  describe('people across nodes', () => {
    let pair: NodePair;
    before(async () => {
      pair = await startNodePair({ AUTH_RATE_PER_MIN: 10_000 });
    });
    after(async () => pair?.stop());

    it('a profile changed on node A reaches a subscriber on node B; the member list on B shows it', async () => {
      const { a, b } = pair;
      const alice = await registerUser(a.url, 'xalice');
      const bob = await registerUser(b.url, 'xbob');
      const room = await createRoom(a.url, alice, 'public', 'across');
      assert.equal((await api(b.url, 'POST', `/api/v1/rooms/${room}/join`, { token: bob.token })).status, 200);
      const ws = await WsTestClient.connect(b.wsUrl, { token: bob.token });
      try {
        assert.equal((await ws.request({ type: 'subscribe', roomId: room })).ok, true);
        const res = await api(a.url, 'PATCH', '/api/v1/me', { token: alice.token, body: { displayName: 'Alice Across', statusText: 'On node A' } });
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const update = await ws.waitFor((f: Json) => f.type === 'user_updated');
        assert.deepEqual(update, { type: 'user_updated', roomId: room, user: res.body.user });
        const members = await api(b.url, 'GET', `/api/v1/rooms/${room}/members`, { token: bob.token });
        assert.deepEqual(
          members.body.members.find((m: Json) => m.user.id === alice.id)?.user,
          res.body.user,
        );
      } finally {
        ws.close();
      }
    });
  });
}
