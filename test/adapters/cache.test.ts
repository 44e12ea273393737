import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import memjs from 'memjs';
import { boundRequestCounter, MemcachedCache } from '../../src/adapters/memcached/cache.js';
import { MemoryCache } from '../../src/adapters/memory/cache.js';
import { RedisCache } from '../../src/adapters/redis/cache.js';
import { memcachedServers } from '../../src/config.js';
import { AppError } from '../../src/errors.js';
import type { Cache } from '../../src/ports.js';
import { REDIS_URL, redisPrefix, requireRedis } from '../support/redis.js';
import { MEMCACHED, REDIS_SERVER, requireBinary, type ServerHandle, startMemcached } from '../support/services.js';
import { type RedisClusterHandle, startRedisCluster } from '../support/redis-cluster.js';

function cacheContract(name: string, open: () => Promise<{ a: Cache; b: Cache; close(): void }>) {
  describe(`Cache contract: ${name}`, () => {
    it('keeps values until they expire or are deleted, for every instance sharing it', async () => {
      const { a, b, close } = await open();
      try {
        const key = randomBytes(6).toString('hex');
        assert.equal(await a.get(key), undefined);
        await a.set(key, 'v1 ✓', 60_000);
        assert.equal(await b.get(key), 'v1 ✓');
        await a.set(`${key}-short`, 'x', 50);
        await new Promise((r) => setTimeout(r, 120));
        assert.equal(await b.get(`${key}-short`), undefined);
        await b.delete([key, 'absent']);
        assert.equal(await a.get(key), undefined);
        await a.delete([]);
        // Any key and value: long, with spaces and non-ASCII, and values with the separator.
        const odd = `${key} room:é ${'k'.repeat(300)}`;
        await a.set(odd, 'a:b:c', 60_000);
        await a.set(`${odd}!`, 'other', 60_000);
        assert.equal(await b.get(odd), 'a:b:c');
        assert.equal(await b.get(`${odd}!`), 'other', 'long keys that share a start stay apart');
        const big = 'x'.repeat(200_000);
        await a.set(`${key}-big`, big, 60_000);
        assert.equal(await b.get(`${key}-big`), big);
        await b.delete([odd, `${odd}!`, `${key}-big`]);
        assert.equal(await a.get(odd), undefined);
      } finally {
        close();
      }
    });
  });
}

cacheContract('in-process', async () => {
  const cache = new MemoryCache();
  return { a: cache, b: cache, close: () => undefined };
});

if (await requireRedis('Redis cache')) {
  cacheContract('Redis', async () => {
    const prefix = redisPrefix();
    const [ra, rb] = [new Redis(REDIS_URL), new Redis(REDIS_URL)];
    return {
      a: new RedisCache(ra, { prefix }),
      b: new RedisCache(rb, { prefix }),
      close: () => {
        ra.disconnect();
        rb.disconnect();
      },
    };
  });
}

describe('memcached URLs (CACHE_URL)', () => {
  it('names one or more servers, 11211 by default, and nothing else', () => {
    assert.deepEqual(memcachedServers('memcached://127.0.0.1:11311'), ['127.0.0.1:11311']);
    assert.deepEqual(memcachedServers('memcached://cache-a,cache-b:11212/'), ['cache-a:11211', 'cache-b:11212']);
    assert.deepEqual(memcachedServers('memcached://cache-b:11212,cache-a,cache-a:11211'), ['cache-a:11211', 'cache-b:11212'], 'the same list on every node, whatever the order');
    for (const bad of ['redis://127.0.0.1:6379', 'memcached://', 'memcached://a b', 'memcached://a:1/path', 'memcached://a,,b', 'memcached://user@a', 'memcached://[::1]:11211', 'memcached://a:0', 'memcached://a:65536']) {
      assert.equal(memcachedServers(bad), null, bad);
    }
  });
});

if (requireBinary(MEMCACHED, 'memcached', 'memcached cache')) {
  const servers: ServerHandle[] = [];
  const serverList = async (): Promise<string[]> => {
    if (servers.length === 0) servers.push(await startMemcached(), await startMemcached());
    return servers.map((s) => `127.0.0.1:${s.port}`);
  };
  cacheContract('memcached, two servers', async () => {
    const list = await serverList();
    const prefix = redisPrefix();
    const [a, b] = [new MemcachedCache(list, { prefix, timeoutMs: 1_000 }), new MemcachedCache(list, { prefix, timeoutMs: 1_000 })];
    return {
      a,
      b,
      close: () => {
        a.close();
        b.close();
      },
    };
  });

  describe('memcached cache outages', () => {
    it('answers unavailable within its timeout while the server is down, and works again when it is back', async () => {
      const server = await startMemcached();
      const cache = new MemcachedCache([`127.0.0.1:${server.port}`], { prefix: redisPrefix(), timeoutMs: 300 });
      try {
        await cache.set('k', 'before', 60_000);
        assert.equal(await cache.get('k'), 'before');
        await server.halt({ hard: true });
        for (const call of [() => cache.get('k'), () => cache.set('k', 'v', 1_000), () => cache.delete(['k'])]) {
          const started = Date.now();
          await assert.rejects(call(), (error: unknown) => error instanceof AppError && error.code === 'unavailable');
          assert.ok(Date.now() - started < 5_000, 'bounded by the timeout, not hanging');
        }
        await server.start();
        let back: string | undefined | Error = new Error('never answered');
        for (let i = 0; i < 50; i++) {
          try {
            await cache.set('k', 'after', 60_000);
            back = await cache.get('k');
            break;
          } catch (error) {
            back = error as Error;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        assert.equal(back, 'after', 'the restarted server is used again (an emptied cache is only a miss)');
      } finally {
        cache.close();
        await server.stop();
      }
    });

    it('does not cache a value larger than an item may be, nor keep an older one under its key', async () => {
      const list = await serverList();
      const cache = new MemcachedCache(list, { prefix: redisPrefix(), timeoutMs: 1_000 });
      try {
        await cache.set('page', 'small', 60_000);
        await cache.set('page', 'x'.repeat(1_100_000), 60_000);
        assert.equal(await cache.get('page'), undefined);
      } finally {
        cache.close();
      }
    });

    it("keeps memjs' request counter within the 31 bits its header takes", () => {
      const client = boundRequestCounter(memjs.Client.create('127.0.0.1:1'));
      const counted = client as unknown as { seq: number; incrSeq(): void };
      counted.seq = 0x7ffffffe;
      counted.incrSeq();
      assert.equal(counted.seq, 0x7fffffff);
      counted.incrSeq();
      assert.equal(counted.seq, 0, 'wraps to 0, never negative');
      client.close();
    });

    it('reads a value it did not write, or one past its time, as absent', async () => {
      const list = await serverList();
      const prefix = redisPrefix();
      const cache = new MemcachedCache(list, { prefix, timeoutMs: 1_000 });
      try {
        await cache.set('soon', 'gone', 1);
        await new Promise((r) => setTimeout(r, 20));
        assert.equal(await cache.get('soon'), undefined, 'milliseconds are kept, though memcached counts seconds');
      } finally {
        cache.close();
      }
    });

    after(async () => {
      for (const s of servers) await s.stop();
    });
  });
}

if (requireBinary(REDIS_SERVER, 'redis-server', 'Redis Cluster cache')) {
  describe('on a Redis Cluster', () => {
    let cluster: RedisClusterHandle;
    const seeds = () => cluster.nodes.slice(0, 3).map((node) => ({ host: '127.0.0.1', port: Number(node.split(':')[1]) }));
    const opened: Cluster[] = [];
    after(async () => {
      for (const c of opened) c.disconnect();
      await cluster?.stop();
    });
    cacheContract('Redis Cluster', async () => {
      cluster ??= await startRedisCluster();
      const prefix = redisPrefix();
      const [ra, rb] = [new Cluster(seeds()), new Cluster(seeds())];
      opened.push(ra, rb);
      return { a: new RedisCache(ra, { prefix }), b: new RedisCache(rb, { prefix }), close: () => undefined };
    });
  });
}
