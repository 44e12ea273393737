import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fullBucket, isRefilled, take } from '../../src/core/token-bucket.js';

const rule = { ratePerSec: 10, burst: 3 };

describe('token bucket', () => {
  it('allows the burst, then refuses with the wait until the next token', () => {
    const b = fullBucket(rule, 0);
    for (let i = 0; i < 3; i++) assert.deepEqual(take(b, rule, 0), { allowed: true });
    assert.deepEqual(take(b, rule, 0), { allowed: false, retryAfterMs: 100 });
  });

  it('refills at the rate, never above the burst', () => {
    const b = fullBucket(rule, 0);
    for (let i = 0; i < 3; i++) take(b, rule, 0);
    assert.deepEqual(take(b, rule, 100), { allowed: true });
    assert.equal(take(b, rule, 100).allowed, false);
    take(b, rule, 10_000);
    assert.ok(b.tokens <= rule.burst);
  });

  it('knows when a bucket is full again', () => {
    const b = fullBucket(rule, 0);
    take(b, rule, 0);
    assert.equal(isRefilled(b, rule, 50), false);
    assert.equal(isRefilled(b, rule, 100), true);
  });
});
