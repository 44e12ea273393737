import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BUCKET_MS, bucketIndex, queuesOf, topologyOf } from '../../../src/adapters/amqp/topology.js';

describe('RabbitMQ topology', () => {
  it('names every queue of a Parley queue under the prefix', () => {
    const t = topologyOf('parley.', 'webhooks');
    assert.equal(t.work, 'parley.webhooks');
    assert.equal(t.dead, 'parley.webhooks.dead');
    assert.equal(t.buckets[0], 'parley.webhooks.delay.16');
    assert.equal(t.buckets.at(-1), `parley.webhooks.delay.${2 ** 24}`);
    assert.equal(queuesOf(t).length, 2 + BUCKET_MS.length);
  });

  it('buckets are the powers of two from 16 ms to 2^24 ms', () => {
    assert.deepEqual(BUCKET_MS, Array.from({ length: 21 }, (_, i) => 2 ** (i + 4)));
  });

  it('a wait rides the longest bucket not longer than it: never early, and at least half of it is done', () => {
    fc.assert(
      fc.property(fc.integer({ min: 16, max: 2 ** 26 }), (wait) => {
        const ms = BUCKET_MS[bucketIndex(wait)] ?? 0;
        assert.ok(ms <= wait, `${wait} rode ${ms}`);
        assert.ok(ms === 2 ** 24 || ms * 2 > wait, `${wait} rode ${ms}: a longer bucket fits`);
      }),
    );
    assert.equal(BUCKET_MS[bucketIndex(1_200)], 1_024);
    assert.equal(BUCKET_MS[bucketIndex(2_048)], 2_048);
    assert.equal(BUCKET_MS[bucketIndex(2_047)], 1_024);
  });

  it('a wait under 16 ms rides the 16 ms bucket; one over the top bucket rides the top one again', () => {
    for (const wait of [0.5, 1, 15]) assert.equal(bucketIndex(wait), 0);
    assert.equal(bucketIndex(86_400_000), BUCKET_MS.length - 1);
  });

  it('a wait takes at most log2(wait / 16) + 1 trips, each shorter than the last', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 24 }), (wait) => {
        const trips: number[] = [];
        let left = wait;
        while (left > 0) {
          const ms = BUCKET_MS[bucketIndex(left)] ?? 0;
          trips.push(ms);
          left -= ms;
        }
        assert.ok(trips.length <= Math.max(1, Math.floor(Math.log2(wait / 16)) + 2), `${wait}: ${trips.join(', ')}`);
        for (let i = 1; i < trips.length; i++) assert.ok((trips[i] ?? 0) < (trips[i - 1] ?? 0) || trips[i] === 16);
        assert.ok(-left < 16, 'late by under the shortest bucket');
      }),
    );
  });
});
