/**
 * Presence across nodes: a user connected to one node is online for users on another; when
 * that node shuts down gracefully, the others hear at once that the user went offline.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type NodePair, startNodePair } from '../support/node-pair.js';
import { requirePostgres } from '../support/postgres.js';
import { requireRedis } from '../support/redis.js';
import { api, createRoom, registerUser, type TestServer } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

if ((await requirePostgres('presence across nodes')) && (await requireRedis('presence across nodes'))) {
  describe('presence across nodes', () => {
    let pair: NodePair;
    let a: TestServer;
    let b: TestServer;

    before(async () => {
      pair = await startNodePair();
      ({ a, b } = pair);
    });
    after(async () => {
      await pair?.stop();
    });

    it('is shared by the nodes, and a graceful shutdown announces its users offline at once', async () => {
      const leaver = await registerUser(a.url, 'leaver');
      const watcher = await registerUser(b.url, 'watcher');
      const roomId = await createRoom(b.url, watcher);
      await api(a.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: leaver.token });

      const watching = await WsTestClient.connect(b.wsUrl, { token: watcher.token });
      await watching.request({ type: 'subscribe', roomId });
      const leaving = await WsTestClient.connect(a.wsUrl, { token: leaver.token });
      await watching.waitFor((f) => f.type === 'presence' && f.userId === leaver.id && f.online === true);
      const members = await api(b.url, 'GET', `/api/v1/rooms/${roomId}/members`, { token: watcher.token });
      assert.equal(members.body.members.find((m: { user: { id: string } }) => m.user.id === leaver.id)?.online, true);

      await a.stop();
      assert.equal(await leaving.closed(), 1012);
      await watching.waitFor((f) => f.type === 'presence' && f.userId === leaver.id && f.online === false, 3_000);
      const after = await api(b.url, 'GET', `/api/v1/rooms/${roomId}/members`, { token: watcher.token });
      assert.equal(after.body.members.find((m: { user: { id: string } }) => m.user.id === leaver.id)?.online, false);
      watching.close();
    });
  });
}
