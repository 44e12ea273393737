import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Backoff } from '../../client/backoff.js';

describe('backoff (full jitter)', () => {
  it('defaults to 500 ms initial, 30 s max, factor 2', () => {
    const b = new Backoff();
    assert.equal(b.initialMs, 500);
    assert.equal(b.maxMs, 30_000);
    assert.equal(b.factor, 2);
  });

  it('doubles the window per attempt up to maxMs', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
    assert.deepEqual(
      Array.from({ length: 7 }, () => b.next()),
      [100, 200, 400, 800, 1000, 1000, 1000],
    );
  });

  it('draws 0 at the bottom of the window', () => {
    const b = new Backoff({ random: () => 0 });
    assert.equal(b.next(), 0);
    assert.equal(b.next(), 0);
  });

  it('spreads delays over the whole window', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 1000 });
    const delays = Array.from({ length: 2000 }, () => b.next());
    assert.ok(Math.min(...delays) < 100, 'some delays near 0');
    assert.ok(Math.max(...delays) > 900, 'some delays near the top');
    assert.ok(new Set(delays).size > 500, 'many distinct delays');
    const mean = delays.reduce((s, d) => s + d, 0) / delays.length;
    assert.ok(mean > 400 && mean < 600, `mean ${mean} near the middle`);
  });

  it('reset() starts from the first window again', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 10_000, random: () => 0.999999 });
    for (let i = 0; i < 5; i++) b.next();
    assert.equal(b.ceilingMs, 3200);
    b.reset();
    assert.equal(b.attempt, 0);
    assert.equal(b.next(), 100);
  });

  it('stays at maxMs after a very long outage (no overflow)', () => {
    const b = new Backoff({ initialMs: 500, maxMs: 30_000, random: () => 0.999999 });
    for (let i = 0; i < 5000; i++) b.next();
    assert.equal(b.next(), 30_000);
  });

  it('refuses nonsensical options', () => {
    assert.throws(() => new Backoff({ initialMs: 0 }), RangeError);
    assert.throws(() => new Backoff({ initialMs: 100, maxMs: 50 }), RangeError);
    assert.throws(() => new Backoff({ factor: 0.5 }), RangeError);
  });

  it('property: every delay is an integer within [0, maxMs] and within the current window', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 60 }),
        (initialMs, extra, factor, draws) => {
          const maxMs = initialMs + extra;
          let i = 0;
          const b = new Backoff({ initialMs, maxMs, factor, random: () => draws[i++ % draws.length] as number });
          for (let n = 0; n < draws.length; n++) {
            const ceiling = b.ceilingMs;
            const d = b.next();
            if (!Number.isInteger(d) || d < 0 || d > maxMs || d > ceiling) return false;
          }
          return true;
        },
      ),
    );
  });
});
