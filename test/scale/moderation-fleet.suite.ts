/**
 * Moderation across a fleet: three Parley nodes sharing one PostgreSQL database and a bus (Redis
 * or NATS). A user banned or kicked through one node stops receiving the room at once on every
 * other node (their subscriptions there end at the event, no later event reaches them) and is
 * refused on every node, although each node had their membership cached.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Config } from '../../src/config.js';
import { settled } from '../integration/moderation.suite.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { REDIS_URL, redisPrefix, requireRedis } from '../support/redis.js';
import { api, registerUser, startTestServer, type TestServer, type TestUser } from '../support/server.js';
import { NATS_SERVER, requireBinary, type ServerHandle, startNats } from '../support/services.js';
import { type Frame, WsTestClient } from '../support/ws-client.js';

export async function moderationFleetSuite(busName: 'redis' | 'nats'): Promise<void> {
  const suite = `moderation across a fleet (${busName})`;
  if (!(await requirePostgres(suite))) return;
  if (busName === 'redis' && !(await requireRedis(suite))) return;
  if (busName === 'nats' && !requireBinary(NATS_SERVER, 'nats-server', suite)) return;

  describe(suite, () => {
    let db: TestDatabase;
    let nats: ServerHandle | null = null;
    let nodes: TestServer[] = [];
    let owner: TestUser;
    let admin: TestUser;
    let watcher: TestUser;
    let room: string;
    const open: WsTestClient[] = [];

    const node = (i: number): TestServer => nodes[i] as TestServer;
    const call = (i: number, user: TestUser, method: string, path: string, body?: unknown) => api(node(i).url, method, path, { token: user.token, ...(body === undefined ? {} : { body }) });
    const subscribe = async (i: number, user: TestUser): Promise<WsTestClient> => {
      const client = await WsTestClient.connect(node(i).wsUrl, { token: user.token });
      open.push(client);
      const reply = await client.request({ type: 'subscribe', roomId: room });
      assert.equal(reply.ok, true, JSON.stringify(reply));
      return client;
    };
    /** A member of the room, with their membership cached on every node (each node served them once). */
    const warmMember = async (user: TestUser): Promise<void> => {
      assert.equal((await call(0, user, 'POST', `/api/v1/rooms/${room}/join`)).status, 200);
      for (let i = 0; i < nodes.length; i++) assert.equal((await call(i, user, 'GET', `/api/v1/rooms/${room}/messages?limit=1`)).status, 200);
    };
    /** Removed through node 0; followed on the other nodes by `user`'s connections there. */
    const expectRemoved = async (user: TestUser, kind: string, act: () => Promise<number>): Promise<void> => {
      await warmMember(user);
      const clients = [await subscribe(1, user), await subscribe(2, user)];
      const watching = await subscribe(2, watcher);
      assert.equal(await act(), 204);
      for (const c of clients) {
        const event = await c.waitFor((f) => f.type === 'event' && f.kind === kind);
        assert.equal((event.member as Frame).id, user.id);
        await c.waitFor((f) => f.type === 'room_removed' && f.roomId === room);
      }
      // A message after the removal reaches the room's members on every node, and not them.
      assert.equal((await call(1, owner, 'POST', `/api/v1/rooms/${room}/messages`, { body: `after ${kind}` })).status, 201);
      await watching.waitFor((f) => f.type === 'event' && f.kind === 'message' && (f.message as Frame).body === `after ${kind}`);
      for (const c of clients) {
        await settled(c);
        assert.equal(c.events(room).at(-1)?.kind, kind, 'nothing after the removal');
      }
      // Refused on every node, whatever it had cached.
      for (let i = 0; i < nodes.length; i++) {
        const read = await call(i, user, 'GET', `/api/v1/rooms/${room}/messages`);
        assert.equal(read.status, 403, `node ${i} read`);
        assert.equal(read.body.error.details.reason, 'not_member');
        const post = await call(i, user, 'POST', `/api/v1/rooms/${room}/messages`, { body: 'still here?' });
        assert.equal(post.status, 403, `node ${i} send`);
        const ws = await WsTestClient.connect(node(i).wsUrl, { token: user.token });
        open.push(ws);
        const reply = await ws.request({ type: 'subscribe', roomId: room });
        assert.equal(reply.ok, false, `node ${i} subscribe`);
      }
    };

    before(async () => {
      db = await createTestDatabase();
      const common: Partial<Config> = { DATABASE_URL: db.url, SEND_RATE_PER_SEC: 1000, SEND_BURST: 1000, AUTH_RATE_PER_MIN: 10_000 };
      if (busName === 'nats') nats = await startNats();
      const bus: Partial<Config> = busName === 'nats' ? { NATS_URL: (nats as ServerHandle).url, BUS: 'nats' } : { REDIS_URL, REDIS_PREFIX: redisPrefix(), BUS: 'redis' };
      for (let i = 0; i < 3; i++) nodes.push(await startTestServer({ ...common, ...bus }));
      [owner, admin, watcher] = [await registerUser(node(0).url, 'fowner'), await registerUser(node(1).url, 'fadmin'), await registerUser(node(2).url, 'fwatch')];
      room = (await call(0, owner, 'POST', '/api/v1/rooms', { name: 'Fleet', visibility: 'public' })).body.room.id;
      for (const u of [admin, watcher]) assert.equal((await call(1, u, 'POST', `/api/v1/rooms/${room}/join`)).status, 200);
      assert.equal((await call(2, owner, 'PUT', `/api/v1/rooms/${room}/members/${admin.id}/role`, { role: 'admin' })).status, 204);
    });
    after(async () => {
      for (const c of open) c.close();
      for (const n of nodes) await n.stop();
      nodes = [];
      await nats?.stop();
      await db?.drop();
    });

    it('a user banned on one node stops receiving on the others at once, is refused on every node, and cannot rejoin on any', async () => {
      const victim = await registerUser(node(0).url, 'fban');
      await expectRemoved(victim, 'member_banned', async () => (await call(0, admin, 'PUT', `/api/v1/rooms/${room}/bans/${victim.id}`, { reason: 'spam' })).status);
      for (let i = 0; i < nodes.length; i++) {
        const join = await call(i, victim, 'POST', `/api/v1/rooms/${room}/join`);
        assert.equal(join.status, 403, `node ${i} join`);
        assert.equal(join.body.error.details.reason, 'banned');
      }
      assert.equal((await call(2, admin, 'DELETE', `/api/v1/rooms/${room}/bans/${victim.id}`)).status, 204);
      assert.equal((await call(1, victim, 'POST', `/api/v1/rooms/${room}/join`)).status, 200);
    });

    it('a user kicked on one node likewise stops receiving everywhere and is refused everywhere until they join again', async () => {
      const victim = await registerUser(node(0).url, 'fkick');
      await expectRemoved(victim, 'member_kicked', async () => (await call(0, admin, 'POST', `/api/v1/rooms/${room}/members/${victim.id}/kick`)).status);
      assert.equal((await call(2, victim, 'POST', `/api/v1/rooms/${room}/join`)).status, 200);
    });

    it('a role given on one node is in force on the others at once', async () => {
      const member = await registerUser(node(0).url, 'frole');
      await warmMember(member);
      assert.equal((await call(1, member, 'PATCH', `/api/v1/rooms/${room}`, { topic: 'not yet' })).status, 403);
      const watching = await subscribe(2, watcher);
      assert.equal((await call(0, owner, 'PUT', `/api/v1/rooms/${room}/members/${member.id}/role`, { role: 'admin' })).status, 204);
      await watching.waitFor((f) => f.type === 'event' && f.kind === 'member_role_changed' && (f.member as Frame).id === member.id);
      for (let i = 1; i < nodes.length; i++) {
        const res = await call(i, member, 'PATCH', `/api/v1/rooms/${room}`, { topic: `set on node ${i}` });
        assert.equal(res.status, 200, `node ${i}: ${JSON.stringify(res.body)}`);
      }
    });
  });
}
