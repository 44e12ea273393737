import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBudget, type MemoryHolder } from '../../src/core/memory-budget.js';

class Holder implements MemoryHolder {
  bytes = 0;
  shedCount = 0;
  constructor(readonly budget: MemoryBudget) {}
  add(n: number): void {
    this.bytes += n;
    this.budget.charge(this, n);
  }
  shed(): void {
    this.bytes = 0;
    this.shedCount++;
  }
}

describe('MemoryBudget', () => {
  it('counts what holders add and free', () => {
    const budget = new MemoryBudget(100);
    const a = new Holder(budget);
    a.add(30);
    a.add(-10);
    assert.equal(budget.totalBytes, 20);
    budget.forget(a);
    assert.equal(budget.totalBytes, 0);
  });

  it('past the budget, sheds the holders used least recently first, the one adding last', () => {
    const budget = new MemoryBudget(100);
    const [a, b, c] = [new Holder(budget), new Holder(budget), new Holder(budget)];
    a.add(40);
    b.add(40);
    a.add(10); // a is now more recent than b
    c.add(30); // 120 > 100: b goes first
    assert.equal(b.shedCount, 1);
    assert.equal(a.shedCount, 0);
    assert.equal(c.shedCount, 0);
    assert.equal(budget.totalBytes, 80);
    assert.equal(a.bytes + b.bytes + c.bytes, budget.totalBytes);
  });

  it('sheds the charging holder itself when it alone is over', () => {
    const budget = new MemoryBudget(50);
    const a = new Holder(budget);
    a.add(60);
    assert.equal(a.shedCount, 1);
    assert.equal(budget.totalBytes, 0);
  });
});
