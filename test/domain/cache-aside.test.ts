import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryCache } from '../../src/adapters/memory/cache.js';
import { CacheAside } from '../../src/domain/cache-aside.js';
import type { Cache } from '../../src/ports.js';

const options = (errors: unknown[] = []) => ({ ttlMs: 60_000, encode: JSON.stringify, decode: JSON.parse, onError: (e: unknown) => errors.push(e) });

describe('CacheAside', () => {
  it('loads once for concurrent misses, then serves from the cache', async () => {
    const aside = new CacheAside<{ n: number }>(new MemoryCache(), options());
    let loads = 0;
    const load = async () => {
      loads++;
      await new Promise((r) => setTimeout(r, 20));
      return { n: 42 };
    };
    const results = await Promise.all(Array.from({ length: 10 }, () => aside.get('k', load)));
    assert.deepEqual(results, Array(10).fill({ n: 42 }));
    assert.equal(loads, 1);
    assert.deepEqual(await aside.get('k', load), { n: 42 });
    assert.equal(loads, 1);
    assert.equal(aside.hits, 1);
  });

  it('a load that straddles an invalidation does not fill the cache', async () => {
    const aside = new CacheAside<string>(new MemoryCache(), options());
    let release: () => void = () => undefined;
    const slow = aside.get('k', () => new Promise((r) => (release = () => r('old'))));
    await new Promise((r) => setImmediate(r));
    await aside.invalidate(['k']);
    release();
    assert.equal(await slow, 'old');
    assert.equal(await aside.get('k', async () => 'new'), 'new');
    assert.equal(await aside.get('k', async () => 'newer'), 'new');
  });

  it('does not cache absence, and reads the store when the cache fails', async () => {
    const errors: unknown[] = [];
    const broken: Cache = {
      get: async () => {
        throw new Error('cache down');
      },
      set: async () => {
        throw new Error('cache down');
      },
      delete: async () => undefined,
    };
    const aside = new CacheAside<string>(broken, options(errors));
    assert.equal(await aside.get('k', async () => 'from store'), 'from store');
    assert.equal(errors.length, 2);
    const healthy = new CacheAside<string>(new MemoryCache(), options());
    let loads = 0;
    await healthy.get('missing', async () => {
      loads++;
      return undefined;
    });
    await healthy.get('missing', async () => {
      loads++;
      return undefined;
    });
    assert.equal(loads, 2);
  });
});
