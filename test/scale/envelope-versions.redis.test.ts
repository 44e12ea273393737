/**
 * Nodes of two releases on one Redis bus, as during a rolling upgrade: real node processes, one
 * PostgreSQL database.
 *
 * - `old` writes the previous envelope (BUS_ENVELOPE_VERSION=1, what the earlier release writes),
 *   `fresh` the current one; a raw subscriber of the bus checks that each wrote what it was told.
 *   Messages sent on each node reach clients on the other in order, none lost, none doubled, and
 *   over the bus (nothing dropped, nothing read from the store for a gap).
 * - `far` listens on a key prefix of its own, fed by a relay that copies the other nodes' bus
 *   traffic to it and turns some room events (the last one among them) into a future envelope
 *   version, as a node two releases ahead would write them. `far` drops each (counted in
 *   parley_bus_dropped_total{reason="version"}, logged once), resyncs the room from the store,
 *   and its client still receives every event in order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { ParleyClient } from '../../client/index.js';
import { FleetNode } from '../support/fleet.js';
import { total, scrape } from '../support/metrics.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { REDIS_URL, redisPrefix, requireRedis } from '../support/redis.js';
import { api } from '../support/server.js';
import { freePort } from '../support/services.js';

const ready = (await requirePostgres('envelope versions')) && (await requireRedis('envelope versions'));
const DROPPED_LOG = 'envelope version this node does not read';

interface Reader {
  client: ParleyClient;
  seen: number[];
  start: number;
}

/** Every client opened, closed at the end whatever failed. */
const clients: ParleyClient[] = [];

async function reader(base: string, token: string, roomId: string): Promise<Reader> {
  const client = new ParleyClient({ baseUrl: base, token, WebSocket: WebSocket as never });
  clients.push(client);
  const seen: number[] = [];
  client.on('event', (e) => {
    if (e.roomId === roomId) seen.push(e.seq);
  });
  await client.connect();
  const start = (await client.subscribe(roomId)).lastSeq;
  return { client, seen, start };
}

/** Waits (up to a deadline) for `r` to have seen `last`, then checks it saw every seq after its start exactly once, in order. */
async function sawEverything(r: Reader, last: number, who: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (r.seen.at(-1) !== last && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(r.seen, Array.from({ length: last - r.start }, (_, i) => r.start + 1 + i), `${who} missed, doubled or reordered events`);
}

if (ready) {
  describe('bus envelopes of two versions on one Redis bus', { concurrency: false }, () => {
    let db: TestDatabase;
    const shared = redisPrefix();
    const farPrefix = redisPrefix();
    let old: FleetNode;
    let fresh: FleetNode;
    let far: FleetNode;
    let spy: Redis;
    let relay: Redis;
    let relayOut: Redis;
    const raw: string[] = [];
    let rewritten = 0;
    let owner = '';
    let member = '';
    let roomId = '';

    before(async () => {
      db = await createTestDatabase();
      const env = {
        DATABASE_URL: db.url,
        REDIS_URL,
        LOG_LEVEL: 'warn',
        SCRYPT_COST: '10',
        SEND_RATE_PER_SEC: '100',
        SEND_BURST: '100',
        ORDERING_GAP_TIMEOUT_MS: '100',
      };
      // What the nodes sharing the prefix publish on rooms, as it crosses Redis.
      spy = new Redis(REDIS_URL);
      spy.on('pmessage', (_pattern, _channel, message) => raw.push(message));
      await spy.psubscribe(`${shared}room:*`);
      // `far` hears the others through this relay only; room events whose text says so come in a future envelope.
      relayOut = new Redis(REDIS_URL);
      relay = new Redis(REDIS_URL);
      relay.on('pmessage', (_pattern, channel, message) => {
        const name = farPrefix + channel.slice(shared.length);
        let out = message;
        if (channel.startsWith(`${shared}room:`) && message.includes('[future]')) {
          rewritten++;
          out = `~3:${Date.now()} some-header-of-later\n${message.slice(message.indexOf('\n') + 1)}`;
        }
        relayOut.publish(name, out).catch(() => undefined);
      });
      await relay.psubscribe(`${shared}*`);
      const [a, b, c] = await Promise.all([freePort(), freePort(), freePort()]);
      old = new FleetNode(a, { ...env, REDIS_PREFIX: shared, BUS_ENVELOPE_VERSION: '1' }, 1);
      fresh = new FleetNode(b, { ...env, REDIS_PREFIX: shared }, 1);
      far = new FleetNode(c, { ...env, REDIS_PREFIX: farPrefix }, 1);
      await Promise.all([old.start(), fresh.start(), far.start()]);

      owner = (await api(fresh.url, 'POST', '/api/v1/auth/register', { body: { username: 'env_owner', password: 'correct horse battery' } })).body.token as string;
      member = (await api(old.url, 'POST', '/api/v1/auth/register', { body: { username: 'env_member', password: 'correct horse battery' } })).body.token as string;
      roomId = (await api(fresh.url, 'POST', '/api/v1/rooms', { token: owner, body: { name: 'upgrade', visibility: 'public' } })).body.room.id as string;
      assert.equal((await api(old.url, 'POST', `/api/v1/rooms/${roomId}/join`, { token: member })).status, 200);
    });

    after(async () => {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await Promise.all([old, fresh, far].map((n) => n?.stop().catch(() => n.stop('SIGKILL'))));
      for (const r of [spy, relay, relayOut]) r?.disconnect();
      await db?.drop();
    });

    it('each node reads the other\'s envelope: every message reaches the clients of both, in order, over the bus', async () => {
      const onFresh = await reader(fresh.url, member, roomId);
      const onOld = await reader(old.url, owner, roomId);
      let last = 0;
      for (let i = 0; i < 12; i++) {
        const node = i % 2 === 0 ? old : fresh;
        const res = await api(node.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: owner, body: { body: `from ${node === old ? 'old' : 'fresh'} ${i}` } });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        last = res.body.message.seq as number;
      }
      await sawEverything(onFresh, last, 'the client on the current-version node');
      await sawEverything(onOld, last, 'the client on the previous-version node');

      // Each node wrote the version it was told to.
      const fromOld = raw.filter((m) => m.includes('from old'));
      const fromFresh = raw.filter((m) => m.includes('from fresh'));
      assert.equal(fromOld.length, 6);
      assert.equal(fromFresh.length, 6);
      for (const m of fromOld) assert.match(m, /^~\d+[ \n]/, 'the node told BUS_ENVELOPE_VERSION=1 wrote the previous envelope');
      for (const m of fromFresh) assert.match(m, /^~2:\d+[ \n]/, 'the node of this release wrote the current envelope');
      // Delivered as received: nothing dropped, no gap read from the store.
      for (const node of [old, fresh]) {
        const samples = await scrape(node.url);
        assert.equal(total(samples, 'parley_bus_dropped_total'), 0, `node ${node.port} dropped bus messages`);
        assert.equal(total(samples, 'parley_room_hub_event_reads_total', { reason: 'gap' }), 0, `node ${node.port} read events from the store for a gap`);
      }
      await onFresh.client.close();
      await onOld.client.close();
    });

    it('a future version is dropped, counted and logged once, and its room is caught up from the store', async () => {
      const onFar = await reader(far.url, member, roomId);
      let last = 0;
      for (let i = 0; i < 10; i++) {
        const node = i % 2 === 0 ? old : fresh;
        // Every other event, the last one among them, arrives at `far` in an envelope it does not read.
        const future = i % 2 === 1;
        const res = await api(node.url, 'POST', `/api/v1/rooms/${roomId}/messages`, { token: owner, body: { body: `to far ${i}${future ? ' [future]' : ''}` } });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        last = res.body.message.seq as number;
      }
      await sawEverything(onFar, last, 'the client on the node fed a future version');
      assert.equal(rewritten, 5);
      const samples = await scrape(far.url);
      assert.equal(total(samples, 'parley_bus_dropped_total', { reason: 'version' }), rewritten);
      assert.ok(total(samples, 'parley_room_hub_event_reads_total', { reason: 'gap' }) >= 1, 'the room was read from the store');
      const logged = far.output.split('\n').filter((line) => line.includes(DROPPED_LOG));
      assert.ok(logged.length >= 1 && logged.length < rewritten, `logged ${logged.length} times for ${rewritten} drops`);
      assert.match(logged[0] ?? '', /"version":3/);
      await onFar.client.close();
    });
  });
}
