/**
 * Bots and incoming webhooks across two nodes sharing PostgreSQL and Redis: a new token made on
 * one node revokes the old one on the other at once (its cached session forgotten, its WebSocket
 * closed with 1008), a webhook's post reaches a subscriber on the other node with `bot: true`,
 * and a webhook's rate limit holds across nodes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Json } from '../support/json.js';
import { type NodePair, startNodePair } from '../support/node-pair.js';
import { requirePostgres } from '../support/postgres.js';
import { requireRedis } from '../support/redis.js';
import { api, createRoom, registerUser, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

const BURST = 4;

if ((await requirePostgres('bots across nodes')) && (await requireRedis('bots across nodes'))) {
  describe('bots and incoming webhooks across nodes (PostgreSQL + Redis)', () => {
    let pair: NodePair;
    let alice: TestUser;
    let room: string;

    before(async () => {
      pair = await startNodePair({ SEND_RATE_PER_SEC: 1, SEND_BURST: BURST });
      alice = await registerUser(pair.a.url, 'alice');
      room = await createRoom(pair.a.url, alice, 'private', 'Ops');
    });
    after(async () => pair?.stop());

    it('a new token made on one node revokes the old one on the other at once, its WebSocket too', async () => {
      const created = await api<Json>(pair.a.url, 'POST', '/api/v1/bots', { token: alice.token, body: { username: 'fleet_bot' } });
      assert.equal(created.status, 201);
      const old = String(created.body.token);
      // Node b has the session in the shared cache, and a WebSocket of it.
      assert.equal((await api(pair.b.url, 'GET', '/api/v1/me', { token: old })).status, 200);
      const ws = await WsTestClient.connect(pair.b.wsUrl, { token: old });
      ws.ws.send(JSON.stringify({ type: 'ping' }));
      await ws.waitFor((f) => f.type === 'pong');

      const rotated = await api<Json>(pair.a.url, 'POST', `/api/v1/bots/${created.body.bot.id}/token`, { token: alice.token });
      assert.equal(rotated.status, 200);
      assert.equal((await api(pair.b.url, 'GET', '/api/v1/me', { token: old })).status, 401, 'refused on the other node as soon as the rotation is answered');
      assert.equal(await ws.closed(), 1008);
      assert.equal((await api(pair.b.url, 'GET', '/api/v1/me', { token: rotated.body.token })).status, 200);
    });

    it("a webhook's post on one node is live on the other with bot: true; its rate limit holds across nodes", async () => {
      const ws = await WsTestClient.connect(pair.b.wsUrl, { token: alice.token });
      try {
        assert.equal((await ws.request({ type: 'subscribe', roomId: room })).ok, true);
        const made = await api<Json>(pair.a.url, 'POST', `/api/v1/rooms/${room}/incoming-webhooks`, { token: alice.token, body: { name: 'Pager' } });
        assert.equal(made.status, 201);
        const url = String(made.body.url);
        const posted = await api<Json>(pair.a.url, 'POST', url, { body: { text: 'disk full on db-3' } });
        assert.equal(posted.status, 201);
        const live = await ws.waitFor((f) => f.type === 'event' && (f.message as Json | undefined)?.id === posted.body.message.id);
        assert.deepEqual((live.message as Json).author, made.body.webhook.bot);
        assert.equal((live.message as Json).author.bot, true);

        // One bucket per webhook, shared by the nodes: alternating between them does not double it.
        const statuses: number[] = [];
        for (let i = 0; i < BURST * 2; i++) statuses.push((await api(i % 2 ? pair.a.url : pair.b.url, 'POST', url, { body: { text: `alert ${i}` } })).status);
        assert.ok(statuses.includes(429), `statuses: ${statuses.join(' ')}`);
        assert.ok(statuses.filter((s) => s === 201).length <= BURST + 1, `statuses: ${statuses.join(' ')}`);
      } finally {
        ws.close();
      }
    });
  });
}
