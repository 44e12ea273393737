/** The shedding decision, with the lag given to it: no timers, no real lag. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ShedPolicy } from '../../src/resilience/load-shedder.js';

/** Feeds `lags` one per 100 ms from `start`; returns the decisions. */
function feed(policy: ShedPolicy, lags: number[], start = 0): boolean[] {
  return lags.map((lag, i) => policy.observe(lag, start + i * 100));
}

describe('load shedding policy', () => {
  it('does not shed for a single stall (a GC pause): the lag is smoothed', () => {
    const policy = new ShedPolicy({ thresholdMs: 100 });
    assert.deepEqual(feed(policy, [250, 0, 0, 0]), [false, false, false, false]);
  });

  it('sheds when the lag stays past the threshold', () => {
    const policy = new ShedPolicy({ thresholdMs: 100 });
    const decisions = feed(policy, Array(10).fill(200));
    assert.equal(decisions.at(-1), true);
    assert.equal(decisions[0], false, 'not on the first sample');
    assert.ok(policy.lagMs >= 100);
  });

  it('keeps shedding until the lag has stayed under half the threshold for the hold time (no flapping at the edge)', () => {
    const policy = new ShedPolicy({ thresholdMs: 100, holdMs: 1_000, smoothing: 1 });
    assert.equal(policy.observe(150, 0), true);
    // Around the threshold but not under half of it: still shedding.
    assert.deepEqual(feed(policy, [90, 60, 99, 55], 100), [true, true, true, true]);
    // Under half from t=500: still shedding until t=1500.
    assert.deepEqual(feed(policy, [10, 10, 10, 10, 10, 10, 10, 10, 10, 10], 500), [true, true, true, true, true, true, true, true, true, true]);
    assert.equal(policy.observe(10, 1_500), false);
  });

  it('a lag back over half the threshold restarts the hold', () => {
    const policy = new ShedPolicy({ thresholdMs: 100, holdMs: 1_000, smoothing: 1 });
    policy.observe(150, 0);
    policy.observe(10, 100);
    policy.observe(70, 900);
    assert.equal(policy.observe(10, 1_200), true, 'calm since 1200 only');
    assert.equal(policy.observe(10, 2_199), true);
    assert.equal(policy.observe(10, 2_200), false);
  });

  it('0 disables shedding but still measures the lag', () => {
    const policy = new ShedPolicy({ thresholdMs: 0 });
    assert.deepEqual(feed(policy, Array(20).fill(5_000)), Array(20).fill(false));
    assert.ok(policy.lagMs > 1_000);
  });

  it('ignores nonsense samples (negative, NaN) as no lag', () => {
    const policy = new ShedPolicy({ thresholdMs: 100, smoothing: 1 });
    assert.equal(policy.observe(-50, 0), false);
    assert.equal(policy.observe(Number.NaN, 100), false);
    assert.equal(policy.lagMs, 0);
  });
});
