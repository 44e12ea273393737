import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { MemoryRateLimiter } from '../../src/adapters/memory/rate-limiter.js';
import { RedisRateLimiter } from '../../src/adapters/redis/rate-limiter.js';
import type { RateLimiter } from '../../src/ports.js';
import { REDIS_URL, redisPrefix, requireRedis } from '../support/redis.js';
import { type RedisClusterHandle, startRedisCluster } from '../support/redis-cluster.js';
import { REDIS_SERVER, requireBinary } from '../support/services.js';

function contract(name: string, make: (rule: { ratePerSec: number; burst: number }) => Promise<{ a: RateLimiter; b: RateLimiter; close(): void }>) {
  describe(`RateLimiter contract: ${name}`, () => {
    it('allows the burst at once, then refuses with a retry delay; keys are independent', async () => {
      const { a, close } = await make({ ratePerSec: 1, burst: 3 });
      try {
        const key = randomBytes(6).toString('hex');
        const results = [];
        for (let i = 0; i < 5; i++) results.push(await a.consume(key));
        assert.deepEqual(results.map((r) => r.allowed), [true, true, true, false, false]);
        const refused = results[4] as { allowed: false; retryAfterMs: number };
        assert.ok(refused.retryAfterMs > 0 && refused.retryAfterMs <= 3_000, `retryAfterMs ${refused.retryAfterMs}`);
        assert.equal((await a.consume(`${key}-other`)).allowed, true);
      } finally {
        close();
      }
    });

    it('two instances share one allowance when the store is shared', async () => {
      const { a, b, close } = await make({ ratePerSec: 1, burst: 4 });
      try {
        const key = randomBytes(6).toString('hex');
        const results = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).consume(key)));
        assert.equal(results.filter((r) => r.allowed).length, 4);
      } finally {
        close();
      }
    });
  });
}

contract('in-process', async (rule) => {
  const limiter = new MemoryRateLimiter(rule);
  return { a: limiter, b: limiter, close: () => undefined };
});

if (await requireRedis('Redis rate limiter')) {
  contract('Redis', async (rule) => {
    const prefix = redisPrefix();
    const redis = new Redis(REDIS_URL, { lazyConnect: true });
    // Until the connection is ready each instance would fall back to its own in-memory limiter.
    await redis.connect();
    const options = { prefix };
    return { a: new RedisRateLimiter(redis, 'test', rule, options), b: new RedisRateLimiter(redis, 'test', rule, options), close: () => redis.disconnect() };
  });
}

if (requireBinary(REDIS_SERVER, 'redis-server', 'Redis Cluster rate limiter')) {
  describe('on a Redis Cluster', () => {
    let cluster: RedisClusterHandle;
    const opened: Cluster[] = [];
    after(async () => {
      for (const c of opened) c.disconnect();
      await cluster?.stop();
    });
    // Two clients, as two nodes would have: one allowance between them (a fallback to each
    // process's own limiter would allow twice the burst, and fail the contract).
    contract('Redis Cluster', async (rule) => {
      cluster ??= await startRedisCluster();
      const seeds = cluster.nodes.slice(0, 3).map((node) => ({ host: '127.0.0.1', port: Number(node.split(':')[1]) }));
      const [ra, rb] = [new Cluster(seeds, { lazyConnect: true }), new Cluster(seeds, { lazyConnect: true })];
      opened.push(ra, rb);
      await Promise.all([ra.connect(), rb.connect()]);
      const prefix = redisPrefix();
      return { a: new RedisRateLimiter(ra, 'test', rule, { prefix }), b: new RedisRateLimiter(rb, 'test', rule, { prefix }), close: () => undefined };
    });
  });
}
