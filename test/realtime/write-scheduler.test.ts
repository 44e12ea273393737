/**
 * The flush of queued frames: at the end of the turn by default; with a flush window, once per
 * window, so frames queued in several turns leave together.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { scheduleFlush, setFlushWindow } from '../../src/realtime/write-scheduler.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

describe('write scheduler', () => {
  after(() => setFlushWindow(0));

  it('flushes each target once at the end of the turn its frames were queued in', async () => {
    setFlushWindow(0);
    let flushes = 0;
    const target = { flush: () => flushes++ };
    scheduleFlush(target);
    scheduleFlush(target);
    assert.equal(flushes, 0);
    await turn();
    assert.equal(flushes, 1);
  });

  it('with a window, flushes once for the frames of several turns', async () => {
    setFlushWindow(200);
    let flushes = 0;
    const target = { flush: () => flushes++ };
    scheduleFlush(target);
    await turn();
    scheduleFlush(target);
    await turn();
    assert.equal(flushes, 0, 'still within the window');
    await sleep(300);
    assert.equal(flushes, 1);
    // The next frame opens a new window.
    scheduleFlush(target);
    await sleep(300);
    assert.equal(flushes, 2);
  });

  it('refuses a window that is not a whole number of ms', () => {
    assert.throws(() => setFlushWindow(-1), RangeError);
    assert.throws(() => setFlushWindow(1.5), RangeError);
  });
});
