import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SingleFlightCache } from '../../src/domain/single-flight-cache.js';

/** A load that resolves when told to, counting its calls. */
function gate<V>() {
  let calls = 0;
  let release: (v: V) => void = () => undefined;
  const load = () => {
    calls++;
    return new Promise<V>((resolve) => {
      release = resolve;
    });
  };
  return { load, release: (v: V) => release(v), calls: () => calls };
}

describe('SingleFlightCache', () => {
  it('shares one load between concurrent misses, then answers from memory', async () => {
    const cache = new SingleFlightCache<number>({ ttlMs: 60_000, maxEntries: 10 });
    const g = gate<number>();
    const both = Promise.all([cache.get('k', g.load), cache.get('k', g.load)]);
    g.release(7);
    assert.deepEqual(await both, [7, 7]);
    assert.equal(await cache.get('k', g.load), 7);
    assert.equal(g.calls(), 1);
    assert.deepEqual(cache.counts, { hits: 1, misses: 2 });
  });

  it('does not store a load that an invalidation overtook, and other keys are unaffected', async () => {
    const cache = new SingleFlightCache<string>({ ttlMs: 60_000, maxEntries: 10 });
    const stale = gate<string>();
    const other = gate<string>();
    const first = cache.get('room', stale.load);
    const unrelated = cache.get('other', other.load);
    cache.invalidate('room');
    stale.release('before the change');
    other.release('fine');
    assert.equal(await first, 'before the change');
    assert.equal(await unrelated, 'fine');
    const fresh = gate<string>();
    const again = cache.get('room', fresh.load);
    fresh.release('after the change');
    assert.equal(await again, 'after the change');
    assert.equal(fresh.calls(), 1, 'the stale answer was not kept');
    assert.equal(await cache.get('other', other.load), 'fine');
    assert.equal(other.calls(), 1);
  });

  it('expires entries, keeps at most maxEntries, and never caches a failure', async () => {
    const cache = new SingleFlightCache<number>({ ttlMs: 20, maxEntries: 2 });
    let n = 0;
    const load = async () => ++n;
    assert.equal(await cache.get('a', load), 1);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(await cache.get('a', load), 2, 'expired');
    await cache.get('b', load);
    await cache.get('c', load); // evicts a, the oldest
    assert.equal(await cache.get('a', load), 5);
    await assert.rejects(cache.get('x', () => Promise.reject(new Error('down'))), /down/);
    assert.equal(await cache.get('x', async () => 42), 42);
  });

  it('keeps the sum of the weights under maxWeight, the oldest going first; a value over it is served, not kept', async () => {
    const cache = new SingleFlightCache<string[]>({ ttlMs: 60_000, maxEntries: 100, maxWeight: 5, weigh: (ids) => ids.length });
    let loads = 0;
    const list = (n: number) => async () => {
      loads++;
      return Array.from({ length: n }, (_, i) => `u${i}`);
    };
    await cache.get('a', list(2));
    await cache.get('b', list(2));
    assert.equal(cache.weight, 4);
    await cache.get('c', list(3)); // 7 > 5: a, the oldest, goes
    assert.equal(cache.weight, 5);
    await cache.get('b', list(2));
    await cache.get('c', list(3));
    assert.equal(loads, 3, 'b and c are kept');
    await cache.get('huge', list(6));
    await cache.get('huge', list(6));
    assert.equal(loads, 5, 'a value heavier than the bound is not kept');
    assert.equal(cache.weight, 5);
  });
});
