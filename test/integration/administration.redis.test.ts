/**
 * Server administration across two nodes sharing PostgreSQL and Redis: an action on one node
 * ends the user's sessions at once on the other (its cached session forgotten, its WebSocket
 * closed with 1008), also when taken at the console (`parley admin`, reaching the nodes through
 * the Redis bus); the nodes see each other in the admin view; and deleting a user on PostgreSQL
 * keeps their messages and frees their name.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../../src/observability/log.js';
import { startJobWorker } from '../../src/worker.js';
import { adminConsole, makeAdmin } from '../support/admin.js';
import type { Json } from '../support/json.js';
import { type NodePair, startNodePair } from '../support/node-pair.js';
import { requirePostgres } from '../support/postgres.js';
import { requireRedis } from '../support/redis.js';
import { api, createRoom, registerUser, type TestServer, type TestUser } from '../support/server.js';
import { WsTestClient } from '../support/ws-client.js';

type Body = Record<string, Json>;
const PASSWORD = 'correct horse battery';

if ((await requirePostgres('administration across nodes')) && (await requireRedis('administration across nodes'))) {
  describe('server administration across nodes (PostgreSQL + Redis)', () => {
    let pair: NodePair;
    let admin: TestUser;
    let user: TestUser;
    let room: string;
    const call = (server: TestServer, method: string, route: string, token?: string, body?: unknown) =>
      api<Body>(server.url, method, route, { ...(token === undefined ? {} : { token }), ...(body === undefined ? {} : { body }) });

    /** A session of `user` that node b has cached and holds a WebSocket of. */
    async function liveOnB(token: string): Promise<WsTestClient> {
      assert.equal((await call(pair.b, 'GET', '/api/v1/me', token)).status, 200);
      const ws = await WsTestClient.connect(pair.b.wsUrl, { token });
      ws.ws.send(JSON.stringify({ type: 'ping' }));
      await ws.waitFor((f) => f.type === 'pong');
      return ws;
    }

    before(async () => {
      pair = await startNodePair({ NODE_STATUS_INTERVAL_MS: 500 });
      admin = await registerUser(pair.a.url, 'root');
      user = await registerUser(pair.a.url, 'user');
      await makeAdmin(pair.a, admin.id);
      room = await createRoom(pair.a.url, admin, 'public', 'Hall');
      assert.equal((await call(pair.a, 'POST', `/api/v1/rooms/${room}/join`, user.token)).status, 200);
    });
    after(async () => pair?.stop());

    it('a disable on node a ends the session on node b at once: REST 401 and the WebSocket closed with 1008', async () => {
      const ws = await liveOnB(user.token);
      assert.equal((await call(pair.a, 'POST', `/api/v1/admin/users/${user.id}/disable`, admin.token)).status, 200);
      assert.equal(await ws.closed(5_000), 1008);
      assert.equal((await call(pair.b, 'GET', '/api/v1/me', user.token)).status, 401);
      assert.equal((await call(pair.b, 'POST', '/api/v1/auth/login', undefined, { username: user.username, password: PASSWORD })).status, 403);
      assert.equal((await call(pair.b, 'POST', `/api/v1/admin/users/${user.id}/enable`, admin.token)).status, 200);
      const back = await call(pair.b, 'POST', '/api/v1/auth/login', undefined, { username: user.username, password: PASSWORD });
      assert.equal(back.status, 200);
      user.token = back.body.token as string;
    });

    it("a bot refused with its disabled owner works again on every node as soon as the owner is enabled (its cached refusal forgotten)", async () => {
      const owner = await registerUser(pair.a.url, 'bowner');
      const bot = await call(pair.a, 'POST', '/api/v1/bots', owner.token, { username: `rbot_${Date.now() % 100000}` });
      assert.equal(bot.status, 201);
      const botToken = bot.body.token as string;
      assert.equal((await call(pair.b, 'GET', '/api/v1/me', botToken)).status, 200);
      assert.equal((await call(pair.a, 'POST', `/api/v1/admin/users/${owner.id}/disable`, admin.token)).status, 200);
      // Node b reads the refusal and caches it in Redis with the session.
      for (let i = 0; i < 2; i++) assert.equal((await call(pair.b, 'GET', '/api/v1/me', botToken)).status, 401);
      assert.equal((await call(pair.a, 'POST', `/api/v1/admin/users/${owner.id}/enable`, admin.token)).status, 200);
      assert.equal((await call(pair.b, 'GET', '/api/v1/me', botToken)).status, 200, 'at once, not after the cache entry expires');
    });

    it('a password reset on node b ends the session on node a at once', async () => {
      const ws = await WsTestClient.connect(pair.a.wsUrl, { token: user.token });
      ws.ws.send(JSON.stringify({ type: 'ping' }));
      await ws.waitFor((f) => f.type === 'pong');
      assert.equal((await call(pair.a, 'GET', '/api/v1/me', user.token)).status, 200);
      const reset = await call(pair.b, 'POST', `/api/v1/admin/users/${user.id}/password`, admin.token, { password: 'reset by an admin' });
      assert.deepEqual(reset.body, { password: null, sessionsRevoked: 1 });
      assert.equal(await ws.closed(5_000), 1008);
      assert.equal((await call(pair.a, 'GET', '/api/v1/me', user.token)).status, 401);
      const back = await call(pair.a, 'POST', '/api/v1/auth/login', undefined, { username: user.username, password: 'reset by an admin' });
      assert.equal(back.status, 200);
      user.token = back.body.token as string;
    });

    it('at the console, through the Redis bus: revoking sessions and disabling close the WebSocket on a node at once', async () => {
      let ws = await liveOnB(user.token);
      const revoked = await adminConsole(pair.a, ['user', 'revoke-sessions', user.username]);
      assert.equal(revoked.code, 0, revoked.err);
      assert.equal(revoked.err, '', 'no warning: the bus reaches the nodes');
      assert.equal(await ws.closed(5_000), 1008);
      assert.equal((await call(pair.b, 'GET', '/api/v1/me', user.token)).status, 401);
      user.token = (await call(pair.b, 'POST', '/api/v1/auth/login', undefined, { username: user.username, password: 'reset by an admin' })).body.token as string;
      ws = await liveOnB(user.token);
      assert.equal((await adminConsole(pair.a, ['user', 'disable', user.username])).code, 0);
      assert.equal(await ws.closed(5_000), 1008);
      assert.equal((await call(pair.b, 'GET', '/api/v1/me', user.token)).status, 401);
      assert.equal((await adminConsole(pair.a, ['user', 'enable', user.username])).code, 0);
      user.token = (await call(pair.b, 'POST', '/api/v1/auth/login', undefined, { username: user.username, password: 'reset by an admin' })).body.token as string;
    });

    it('at the console: an archive reaches the room members on a node through the bus', async () => {
      const ws = await WsTestClient.connect(pair.b.wsUrl, { token: user.token });
      assert.equal((await ws.request({ type: 'subscribe', roomId: room })).ok, true);
      assert.equal((await adminConsole(pair.a, ['room', 'archive', room, '--by', admin.username])).code, 0);
      const event = await ws.waitFor((f) => f.type === 'event' && f.kind === 'room_updated');
      assert.deepEqual(event.changes, { archived: true });
      assert.equal((await adminConsole(pair.a, ['room', 'unarchive', room, '--by', admin.username])).code, 0);
      await ws.waitFor((f) => f.type === 'event' && f.kind === 'room_updated' && (f.changes as Body).archived === false);
      ws.close();
    });

    it('each node sees both, and a parley worker, in the admin view; a stopped worker leaves it', async () => {
      const worker = await startJobWorker({ ...pair.a.parley.config, WORKER_PORT: 0 }, createLogger('error', 'json'));
      let workerId = '';
      try {
        for (const server of [pair.a, pair.b]) {
          const deadline = Date.now() + 10_000;
          let nodes: Body[] = [];
          while (Date.now() < deadline) {
            nodes = (await call(server, 'GET', '/api/v1/admin/nodes', admin.token)).body.nodes as Body[];
            if (nodes.length === 3) break;
            await new Promise((r) => setTimeout(r, 100));
          }
          const other = (server === pair.a ? pair.b : pair.a).parley.nodeId;
          const listed = nodes.map((n) => [n.role, n.id]);
          assert.equal(nodes.length, 3, JSON.stringify(listed));
          assert.deepEqual(listed[0], ['node', server.parley.nodeId], 'this node first');
          assert.ok(listed.some(([role, id]) => role === 'node' && id === other), 'then the other');
          const working = nodes.find((n) => n.role === 'worker') as Body;
          assert.equal(working.connections, 0);
          assert.equal(working.ready, true);
          assert.equal(typeof working.jobsPerSecond, 'number');
          workerId = working.id as string;
        }
      } finally {
        await worker.close();
      }
      // Three intervals unheard (500 ms each), and it is gone from the view.
      const deadline = Date.now() + 10_000;
      let ids: string[] = [];
      while (Date.now() < deadline) {
        ids = ((await call(pair.a, 'GET', '/api/v1/admin/nodes', admin.token)).body.nodes as Body[]).map((n) => n.id as string);
        if (!ids.includes(workerId)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(ids, [pair.a.parley.nodeId, pair.b.parley.nodeId]);
    });

    it('deleting a user on PostgreSQL: sessions end on the other node, messages stay, the name is freed', async () => {
      const sent = await call(pair.a, 'POST', `/api/v1/rooms/${room}/messages`, user.token, { body: 'before I go' });
      assert.equal(sent.status, 201);
      const ws = await liveOnB(user.token);
      assert.equal((await call(pair.a, 'DELETE', `/api/v1/admin/users/${user.id}`, admin.token)).status, 204);
      assert.equal(await ws.closed(5_000), 1008);
      assert.equal((await call(pair.b, 'GET', '/api/v1/me', user.token)).status, 401);
      const history = await call(pair.b, 'GET', `/api/v1/rooms/${room}/messages`, admin.token);
      const kept = (history.body.messages as Body[]).find((m) => m.body === 'before I go') as Body;
      assert.equal((kept.author as Body).displayName, 'Deleted user');
      const members = await call(pair.b, 'GET', `/api/v1/rooms/${room}/members`, admin.token);
      assert.ok(!(members.body.members as Body[]).some((m) => (m.user as Body | undefined)?.id === user.id || m.id === user.id), 'no longer a member');
      assert.equal((await call(pair.b, 'POST', '/api/v1/auth/register', undefined, { username: user.username, password: PASSWORD })).status, 201);
      const rooms = await call(pair.b, 'GET', '/api/v1/admin/rooms?q=hall', admin.token);
      assert.deepEqual((rooms.body.rooms as Body[]).map((r) => [r.id, r.members]), [[room, 1]]);
    });
  });
}
