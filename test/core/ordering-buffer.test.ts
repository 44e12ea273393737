import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { OrderingBuffer } from '../../src/core/ordering-buffer.js';

describe('OrderingBuffer', () => {
  it('releases the next seq at once', () => {
    const b = new OrderingBuffer<string>(0);
    assert.deepEqual(b.push(1, 'a'), ['a']);
    assert.equal(b.lastReleased, 1);
  });

  it('holds a later seq until the gap is filled, then releases in order', () => {
    const b = new OrderingBuffer<string>(0);
    assert.deepEqual(b.push(3, 'c'), []);
    assert.deepEqual(b.push(2, 'b'), []);
    assert.equal(b.hasGap, true);
    assert.deepEqual(b.push(1, 'a'), ['a', 'b', 'c']);
    assert.equal(b.hasGap, false);
    assert.equal(b.lastReleased, 3);
  });

  it('drops duplicates, released or waiting', () => {
    const b = new OrderingBuffer<string>(5);
    assert.deepEqual(b.push(5, 'old'), []);
    assert.deepEqual(b.push(8, 'x'), []);
    assert.deepEqual(b.push(8, 'y'), []);
    assert.equal(b.pendingCount, 1);
  });

  it('fills a gap from store events given in any order', () => {
    const b = new OrderingBuffer<string>(0);
    b.push(4, 'd');
    assert.deepEqual(
      b.fill([
        { seq: 3, item: 'c' },
        { seq: 1, item: 'a' },
        { seq: 2, item: 'b' },
      ]),
      ['a', 'b', 'c', 'd'],
    );
  });

  it('is bounded: past maxPending it keeps the lowest seqs and reports full', () => {
    const b = new OrderingBuffer<number>(0, 3);
    for (const seq of [5, 4, 3]) b.push(seq, seq);
    assert.equal(b.isFull, true);
    b.push(2, 2);
    assert.equal(b.pendingCount, 3);
    b.push(9, 9); // higher than everything waiting: not kept
    assert.deepEqual(b.push(1, 1), [1, 2, 3, 4]);
  });

  it('property: any arrival order with duplicates releases 1..n exactly once, in order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 60 }).chain((n) =>
          fc.tuple(fc.constant(n), fc.shuffledSubarray([...Array(n).keys()].map((i) => i + 1), { minLength: n, maxLength: n }), fc.array(fc.integer({ min: 1, max: n }), { maxLength: 20 })),
        ),
        ([n, order, dups]) => {
          const b = new OrderingBuffer<number>(0);
          const out: number[] = [];
          for (const seq of [...order, ...dups]) out.push(...b.push(seq, seq));
          assert.deepEqual(out, [...Array(n).keys()].map((i) => i + 1));
        },
      ),
    );
  });
});
