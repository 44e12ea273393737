import assert from 'node:assert/strict';
import { after, before, describe, it, test } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { MemoryPresence } from '../../src/adapters/memory/presence.js';
import { RedisPresence } from '../../src/adapters/redis/presence.js';
import { GRACE_MS, type PresenceFixture, presenceContract } from '../contracts/presence.contract.js';
import { REDIS_URL, redisPrefix, requireRedis } from '../support/redis.js';
import { type RedisClusterHandle, startRedisCluster } from '../support/redis-cluster.js';
import { REDIS_SERVER, requireBinary } from '../support/services.js';

presenceContract('in-process', async () => {
  const presence = new MemoryPresence();
  const grace = new MemoryPresence({ graceMs: GRACE_MS });
  return { a: presence, b: presence, graceA: grace, graceB: grace, cleanup: async () => undefined };
});

/** The contract's fixture on two clients (two nodes), with `partitions`; the clients closed by cleanup. */
function redisFixture(ra: Redis | Cluster, rb: Redis | Cluster, partitions: number): PresenceFixture {
  const prefix = redisPrefix();
  const open = (redis: Redis | Cluster, graceMs?: number) => new RedisPresence(redis, { prefix, ttlMs: 60_000, partitions, ...(graceMs === undefined ? {} : { graceMs }) });
  return {
    a: open(ra),
    b: open(rb),
    graceA: open(ra, GRACE_MS),
    graceB: open(rb, GRACE_MS),
    cleanup: async () => {
      ra.disconnect();
      rb.disconnect();
    },
  };
}

if (await requireRedis('Redis presence')) {
  presenceContract('Redis', async () => redisFixture(new Redis(REDIS_URL), new Redis(REDIS_URL), 1));
  presenceContract('Redis, users spread over 4 partitions', async () => redisFixture(new Redis(REDIS_URL), new Redis(REDIS_URL), 4));

  test('Redis presence: one partition keeps the key names presence always had (nodes of an older version agree)', async () => {
    const prefix = redisPrefix();
    const redis = new Redis(REDIS_URL);
    try {
      await new RedisPresence(redis, { prefix, ttlMs: 60_000 }).connect('kept', 'c1');
      assert.equal(await redis.exists(`${prefix}presence:user:kept`), 1);
      assert.equal(await redis.zscore(`${prefix}presence:index`, 'kept') !== null, true);
      assert.deepEqual((await redis.keys(`${prefix}*`)).sort(), [`${prefix}presence:index`, `${prefix}presence:user:kept`]);
    } finally {
      redis.disconnect();
    }
  });

  test('Redis presence: a crashed node’s users expire after the TTL and are swept once', async () => {
    const prefix = redisPrefix();
    const [ra, rb] = [new Redis(REDIS_URL), new Redis(REDIS_URL)];
    try {
      const crashed = new RedisPresence(ra, { prefix, ttlMs: 1_000 });
      const alive = new RedisPresence(rb, { prefix, ttlMs: 1_000 });
      await crashed.connect('gone', 'c1');
      await alive.connect('stays', 'c2');
      // `crashed` stops heartbeating; `alive` keeps on.
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 300));
        await alive.heartbeat();
      }
      assert.deepEqual([...(await alive.online(['gone', 'stays']))], ['stays']);
      const swept = await Promise.all([alive.sweep(), alive.sweep()]);
      assert.deepEqual(swept.flat(), ['gone'], 'swept exactly once');
      assert.deepEqual(await alive.sweep(), []);
    } finally {
      ra.disconnect();
      rb.disconnect();
    }
  });

  test('Redis presence: a grace begun by a node that stopped is ended by the sweep of another', async () => {
    const prefix = redisPrefix();
    const [ra, rb] = [new Redis(REDIS_URL), new Redis(REDIS_URL)];
    try {
      const stopped = new RedisPresence(ra, { prefix, ttlMs: 60_000, graceMs: 200 });
      const alive = new RedisPresence(rb, { prefix, ttlMs: 60_000, graceMs: 200 });
      await stopped.connect('leaver', 'c1');
      assert.equal(await stopped.disconnect('leaver', 'c1'), 'lingering');
      assert.deepEqual(await alive.sweep(), [], 'not while the grace runs');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(await alive.sweep(), ['leaver']);
      assert.equal(await alive.settle('leaver'), false, 'swept once: a late settle finds nothing');
    } finally {
      ra.disconnect();
      rb.disconnect();
    }
  });
}

if (requireBinary(REDIS_SERVER, 'redis-server', 'Redis Cluster presence')) {
  describe('on a Redis Cluster (three masters with replicas), users spread over 16 partitions', () => {
    let cluster: RedisClusterHandle;
    before(async () => {
      cluster = await startRedisCluster();
    });
    after(async () => {
      await cluster?.stop();
    });
    const client = () => new Cluster(cluster.nodes.slice(0, 3).map((node) => ({ host: '127.0.0.1', port: Number(node.split(':')[1]) })));

    presenceContract('Redis Cluster', async () => redisFixture(client(), client(), 16));

    it('spreads presence over every master, and sweeps a crashed node’s users once', async () => {
      const prefix = redisPrefix();
      const [ra, rb] = [client(), client()];
      try {
        const crashed = new RedisPresence(ra, { prefix, ttlMs: 2_000, partitions: 16 });
        const alive = new RedisPresence(rb, { prefix, ttlMs: 2_000, partitions: 16 });
        const gone = Array.from({ length: 40 }, (_, i) => `gone-${i}`);
        for (const user of gone) await crashed.connect(user, `c-${user}`);
        await alive.connect('stays', 'c2');
        // Every master holds some of the keys: the partitions are spread over the slots.
        const masters = await cluster.masters();
        const counts = await Promise.all(
          masters.map(async (port) => {
            const node = new Redis(port, '127.0.0.1');
            try {
              return (await node.keys(`*${prefix}presence*`)).length;
            } finally {
              node.disconnect();
            }
          }),
        );
        assert.ok(
          counts.every((n) => n > 0),
          `keys per master: ${counts.join(', ')}`,
        );
        for (let i = 0; i < 9; i++) {
          await new Promise((r) => setTimeout(r, 300));
          await alive.heartbeat();
        }
        assert.deepEqual([...(await alive.online([...gone, 'stays']))], ['stays']);
        const swept = await Promise.all([alive.sweep(), alive.sweep()]);
        assert.deepEqual(swept.flat().sort(), [...gone].sort(), 'each swept exactly once');
        assert.deepEqual(await alive.sweep(), []);
      } finally {
        ra.disconnect();
        rb.disconnect();
      }
    });
  });
}
