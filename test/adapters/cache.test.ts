import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { MemoryCache } from '../../src/adapters/memory/cache.js';
import { RedisCache } from '../../src/adapters/redis/cache.js';
import type { Cache } from '../../src/ports.js';
import { REDIS_URL, redisPrefix, requireRedis } from '../support/redis.js';

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
