import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RoomPresence } from '../../src/core/room-presence.js';

describe('RoomPresence', () => {
  it('keeps the online set from changes and flushes net changes in the order first seen', () => {
    const p = new RoomPresence();
    p.load(['a', 'b']);
    p.change('c', true);
    p.change('a', false);
    p.change('b', false);
    p.change('b', true); // back where it started: no change
    assert.equal(p.pending, true);
    assert.deepEqual([...p.online].sort(), ['b', 'c']);
    assert.deepEqual(p.flush(), [
      { userId: 'c', online: true },
      { userId: 'a', online: false },
    ]);
    assert.equal(p.pending, false);
    assert.deepEqual(p.flush(), []);
  });

  it('applies changes heard before the load over it, as pending changes', () => {
    const p = new RoomPresence();
    p.change('a', true);
    p.change('b', false);
    assert.equal(p.pending, false, 'nothing to flush before the load');
    p.load(['b']);
    assert.deepEqual([...p.online], ['a']);
    assert.deepEqual(p.flush(), [
      { userId: 'a', online: true },
      { userId: 'b', online: false },
    ]);
  });

  it('flushes at most `max` changes; the rest wait and may still cancel out', () => {
    const p = new RoomPresence();
    p.load([]);
    for (const u of ['a', 'b', 'c', 'd', 'e']) p.change(u, true);
    assert.deepEqual(
      p.flush(2).map((c) => c.userId),
      ['a', 'b'],
    );
    p.change('d', false); // back to offline before it was sent: nothing to send
    assert.deepEqual(
      p.flush(2).map((c) => c.userId),
      ['c', 'e'],
    );
    assert.equal(p.pending, false);
  });

  it('forgets a member who left: not online, nothing pending about them', () => {
    const p = new RoomPresence();
    p.load(['a']);
    p.change('b', true);
    p.remove('b');
    p.remove('a');
    assert.deepEqual([...p.online], []);
    assert.deepEqual(p.flush(), []);
  });

  it('bounds the changes kept before the load', () => {
    const p = new RoomPresence(3);
    for (const u of ['a', 'b', 'c', 'd', 'e']) p.change(u, true);
    p.load([]);
    assert.deepEqual([...p.online], ['a', 'b', 'c']);
  });

  it('ignores late changes about a member who left, until they join again', () => {
    const p = new RoomPresence();
    p.load(['a']);
    p.remove('a');
    p.change('a', true); // announced before the leave, heard after it
    assert.deepEqual([...p.online], []);
    assert.equal(p.pending, false);
    p.joined('a');
    p.change('a', true);
    assert.deepEqual([...p.online], ['a']);
  });

  it('forgets what it heard for a load that failed', () => {
    const p = new RoomPresence();
    p.change('a', true);
    p.unload();
    p.load([]);
    assert.deepEqual([...p.online], [], 'the next load is not overridden by an older change');
    assert.equal(p.pending, false);
  });
});
