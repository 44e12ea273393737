/** Each node's delivery latency histogram: one count per delivery, sent once per window as one operational event, nothing for an idle window. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeliveryLatency } from '../../src/pipeline/delivery-latency.js';
import type { OpsName } from '../../src/pipeline/records.js';

describe('delivery latency', () => {
  it('sums deliveries into buckets and sends them once per window', () => {
    const sent: Array<{ name: OpsName; fields: Record<string, unknown> }> = [];
    const latency = new DeliveryLatency({ emit: (name, fields) => sent.push({ name, fields }) });
    latency.flush();
    assert.equal(sent.length, 0, 'an idle window sends nothing');
    const now = Date.now();
    latency.observe(now, 10);
    latency.observe(now - 40, 3);
    latency.observe(now - 10 * 60_000, 1);
    latency.observe(now + 5_000, 2); // a clock ahead of ours counts as no delay
    latency.flush();
    assert.equal(sent.length, 1);
    const first = sent[0];
    assert.ok(first !== undefined);
    const { name, fields } = first;
    assert.equal(name, 'delivery.latency');
    assert.equal(fields.deliveries, 16);
    const buckets = fields.buckets as Array<[number, number]>;
    assert.equal(buckets.reduce((n, [, c]) => n + c, 0), 16);
    assert.deepEqual(buckets.at(-1), [60_000, 1], 'ten minutes falls in the last bucket');
    assert.ok(buckets.some(([le, c]) => le === 50 && c === 3), JSON.stringify(buckets));
    latency.close();
    assert.equal(sent.length, 1, 'the next window had nothing to send');
  });
});
