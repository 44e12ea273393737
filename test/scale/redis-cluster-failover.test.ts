/**
 * Two Parley nodes on a real Redis Cluster (three masters, a replica each; REDIS_CLUSTER=true)
 * and one PostgreSQL. A reader's WebSocket is on one node; a sender sends into six rooms through
 * the other, so every event crosses the cluster's sharded pub/sub. Mid-traffic the master owning
 * a room's channel is killed (SIGKILL): its replica takes over after the node timeout.
 *
 * What must hold: every send is acknowledged in the end (a refused one is retried with its
 * clientMsgId, as a client does), nothing acknowledged is lost or stored twice, and the reader
 * receives every event of every room, in seq order, without a gap or a duplicate: what the
 * failover dropped from pub/sub is resynced from the store once the subscribers are back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { ParleyClient } from '../../client/index.js';
import { scrape, total } from '../support/metrics.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { type RedisClusterHandle, startRedisCluster } from '../support/redis-cluster.js';
import { until } from '../support/files.js';
import { api, createRoom, registerUser, startTestServer, type TestServer } from '../support/server.js';
import { REDIS_SERVER, requireBinary } from '../support/services.js';

const ROOMS = 6;
const PREFIX = 'parley:';

const ready = (await requirePostgres('Redis Cluster failover')) && requireBinary(REDIS_SERVER, 'redis-server', 'Redis Cluster failover');


/** The port of the master that owns `key`'s slot now. */
async function ownerOf(cluster: RedisClusterHandle, key: string): Promise<number> {
  const port = Number(cluster.nodes[0]?.split(':')[1]);
  const admin = new Redis(port, '127.0.0.1');
  try {
    const slot = Number(await admin.cluster('KEYSLOT', key));
    const ranges = (await admin.cluster('SLOTS')) as unknown as Array<[number, number, [string, number, ...unknown[]]]>;
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    if (range === undefined) throw new Error(`no master owns slot ${slot}`);
    return Number(range[2][1]);
  } finally {
    admin.disconnect();
  }
}

if (ready) {
  describe('a Redis Cluster master fails over under traffic', { concurrency: false }, () => {
    let db: TestDatabase;
    let cluster: RedisClusterHandle;
    let sending: TestServer;
    let reading: TestServer;

    before(async () => {
      db = await createTestDatabase();
      cluster = await startRedisCluster({ nodeTimeoutMs: 2_000 });
      const common = {
        DATABASE_URL: db.url,
        REDIS_URL: cluster.url,
        REDIS_CLUSTER: true,
        // Every node, so either node reaches the cluster whichever master dies.
        REDIS_CLUSTER_NODES: cluster.nodes.map((node) => ({ host: '127.0.0.1', port: Number(node.split(':')[1]) })),
        REDIS_PREFIX: PREFIX,
        REDIS_COMMAND_TIMEOUT_MS: 1_000,
        BUS_PROBE_INTERVAL_MS: 250,
        SEND_RATE_PER_SEC: 10_000,
        SEND_BURST: 10_000,
      };
      sending = await startTestServer(common);
      reading = await startTestServer(common);
    });
    after(async () => {
      await sending?.stop();
      await reading?.stop();
      await cluster?.stop();
      await db?.drop();
    });

    it('loses nothing acknowledged, and the reader gets every event in order', async () => {
      const sender = await registerUser(sending.url, 'rcsend');
      const reader = await registerUser(sending.url, 'rcread');
      const rooms: string[] = [];
      for (let i = 0; i < ROOMS; i++) {
        const room = await createRoom(sending.url, sender, 'public', `cluster ${i}`);
        assert.equal((await api(sending.url, 'POST', `/api/v1/rooms/${room}/join`, { token: reader.token })).status, 200);
        rooms.push(room);
      }

      const client = new ParleyClient({ baseUrl: reading.url, token: reader.token, WebSocket: WebSocket as never });
      const seen = new Map<string, number[]>(rooms.map((r): [string, number[]] => [r, []]));
      client.on('event', (e) => seen.get(e.roomId)?.push(e.seq));
      await client.connect();
      const start = new Map<string, number>();
      for (const room of rooms) start.set(room, (await client.subscribe(room)).lastSeq);

      const acked = new Map<string, number[]>(rooms.map((r): [string, number[]] => [r, []]));
      let refused = 0;
      let n = 0;
      const send = async () => {
        const room = rooms[n % ROOMS] as string;
        const clientMsgId = `cluster-${n}`;
        n += 1;
        for (let attempt = 0; attempt < 100; attempt++) {
          const res = await api(sending.url, 'POST', `/api/v1/rooms/${room}/messages`, { token: sender.token, body: { body: `failover ${clientMsgId}`, clientMsgId } });
          if (res.status === 201) {
            acked.get(room)?.push((res.body.message as { seq: number }).seq);
            return;
          }
          assert.equal(res.status, 503, `a send answered ${res.status}: ${JSON.stringify(res.body)}`);
          refused += 1;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`send ${clientMsgId} never acknowledged`);
      };

      for (let i = 0; i < 30; i++) await send();
      // The master owning the first room's channel: its events cross the failover.
      const victim = await ownerOf(cluster, `${PREFIX}room:${rooms[0]}`);
      const before = await cluster.masters();
      assert.ok(before.includes(victim));
      await cluster.kill(victim);
      // Sends go on through the failover and after it.
      const failedOver = until(
        'a replica takes over',
        async () => {
          const masters = await cluster.masters().catch((): number[] => []);
          return masters.length === 3 && !masters.includes(victim);
        },
        30_000,
      );
      let done = false;
      void failedOver.then(
        () => {
          done = true;
        },
        () => {
          done = true;
        },
      );
      while (!done) {
        await send();
        await new Promise((r) => setTimeout(r, 20));
      }
      await failedOver;
      for (let i = 0; i < 30; i++) await send();

      // Every acknowledged message once, in the store.
      for (const room of rooms) {
        const seqs = acked.get(room) as number[];
        assert.equal(new Set(seqs).size, seqs.length, 'no send stored twice');
        const history = await api(sending.url, 'GET', `/api/v1/rooms/${room}/messages?after=${start.get(room)}&limit=100`, { token: sender.token });
        const stored: number[] = (history.body.messages as Array<{ seq: number }>).map((m) => m.seq);
        for (const seq of seqs) assert.ok(stored.includes(seq), `acknowledged seq ${seq} of room ${room} is stored`);
      }
      // The reader, on the other node, has every event of every room, in order, once.
      await until(
        'the reader has every event',
        () => rooms.every((room) => (seen.get(room)?.at(-1) ?? 0) >= Math.max(...(acked.get(room) as number[]))),
        30_000,
      );
      for (const room of rooms) {
        const first = (start.get(room) as number) + 1;
        const got = seen.get(room) as number[];
        assert.deepEqual(
          got,
          Array.from({ length: got.length }, (_, i) => first + i),
          `room ${room}: gapless, ordered, no duplicate`,
        );
      }
      assert.ok(n > 60, `${n} sends`);
      // The reading node lost a shard's subscriber and recovered through a reset (a resync from the store).
      assert.ok(total(await scrape(reading.url), 'parley_bus_resets_total') > 0, 'the reading node reset its bus after the failover');
      console.log(`# ${n} sends, ${refused} refused during the failover and retried`);
      await client.close();
    });
  });
}
