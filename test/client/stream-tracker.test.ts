import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamTracker } from '../../client/stream-tracker.js';

const ev = (seq: number, roomId = 'r1') => ({ roomId, seq });

function subscribedAt(lastSeq: number, roomId = 'r1'): StreamTracker {
  const t = new StreamTracker();
  t.beginSubscribe(roomId);
  t.subscribed(roomId, { lastSeq, recovered: true });
  return t;
}

describe('stream tracker', () => {
  it('delivers events in order and advances lastSeq', () => {
    const t = subscribedAt(4);
    assert.equal(t.accept(ev(5)), 'deliver');
    assert.equal(t.accept(ev(6)), 'deliver');
    assert.equal(t.lastSeq('r1'), 6);
  });

  it('drops an event at or below lastSeq as a duplicate', () => {
    const t = subscribedAt(4);
    assert.equal(t.accept(ev(5)), 'deliver');
    assert.equal(t.accept(ev(5)), 'duplicate');
    assert.equal(t.accept(ev(2)), 'duplicate');
    assert.equal(t.lastSeq('r1'), 5);
  });

  it('reports a gap for seq > last + 1 without advancing', () => {
    const t = subscribedAt(4);
    assert.equal(t.accept(ev(7)), 'gap');
    assert.equal(t.lastSeq('r1'), 4);
  });

  it('resubscribes with since = last delivered, then takes the replay and drops what it repeats', () => {
    const t = subscribedAt(4);
    t.accept(ev(5));
    assert.equal(t.accept(ev(8)), 'gap');
    assert.equal(t.beginSubscribe('r1'), 5);
    assert.equal(t.isSubscribing('r1'), true);
    // Live events still in flight from before the resubscribe: dropped, the replay covers them.
    assert.equal(t.accept(ev(9)), 'gap');
    assert.deepEqual([5, 6, 7, 8, 9].map((s) => t.accept(ev(s))), ['duplicate', 'deliver', 'deliver', 'deliver', 'deliver']);
    assert.deepEqual(t.subscribed('r1', { lastSeq: 9, recovered: true }), { roomId: 'r1', since: 5, lastSeq: 9, recovered: true });
    assert.equal(t.isSubscribing('r1'), false);
    assert.equal(t.accept(ev(10)), 'deliver');
  });

  it('takes the reply lastSeq as the start of a fresh subscription', () => {
    const t = new StreamTracker();
    assert.equal(t.beginSubscribe('r1'), undefined);
    assert.deepEqual(t.subscribed('r1', { lastSeq: 41, recovered: true }), { roomId: 'r1', since: undefined, lastSeq: 41, recovered: true });
    assert.equal(t.accept(ev(41)), 'duplicate');
    assert.equal(t.accept(ev(42)), 'deliver');
  });

  it('continues from the reply lastSeq when the server could not recover', () => {
    const t = subscribedAt(3);
    t.beginSubscribe('r1');
    assert.deepEqual(t.subscribed('r1', { lastSeq: 2000, recovered: false }), { roomId: 'r1', since: 3, lastSeq: 2000, recovered: false });
    assert.equal(t.accept(ev(2001)), 'deliver');
  });

  it('treats a reply beyond the replayed events as not recovered (no resubscribe loop)', () => {
    const t = subscribedAt(3);
    t.beginSubscribe('r1');
    t.accept(ev(4));
    assert.deepEqual(t.subscribed('r1', { lastSeq: 6, recovered: true }), { roomId: 'r1', since: 3, lastSeq: 6, recovered: false });
  });

  it('seeds a position from since, keeps it across a lost connection', () => {
    const t = new StreamTracker();
    t.track('r1', 10);
    assert.equal(t.beginSubscribe('r1'), 10);
    t.connectionLost();
    assert.equal(t.isSubscribing('r1'), false);
    assert.equal(t.beginSubscribe('r1'), 10);
  });

  it('drops events of rooms it does not track', () => {
    const t = subscribedAt(1);
    t.remove('r1');
    assert.equal(t.accept(ev(2)), 'unsubscribed');
    assert.equal(t.subscribed('r1', { lastSeq: 2, recovered: true }), undefined);
    assert.equal(t.accept(ev(1, 'other')), 'unsubscribed');
  });

  it('keeps rooms apart', () => {
    const t = subscribedAt(0, 'a');
    t.beginSubscribe('b');
    t.subscribed('b', { lastSeq: 100, recovered: true });
    assert.equal(t.accept(ev(1, 'a')), 'deliver');
    assert.equal(t.accept(ev(1, 'b')), 'duplicate');
    assert.equal(t.accept(ev(101, 'b')), 'deliver');
    assert.deepEqual(t.rooms(), ['a', 'b']);
  });
});
