/**
 * A bus message dropped unread is a possible loss on its channel: a room's is resynced from the
 * store, the membership channel's clears the membership cache, and the log says so at most once
 * per interval with how many were dropped since.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { BusDrops } from '../../src/realtime/bus-drops.js';

function drops() {
  const seen = { logs: [] as Array<{ channel: string; version: number; dropped: number }>, resynced: [] as string[], membership: 0, now: 1_000 };
  const policy = new BusDrops({
    logIntervalMs: 60_000,
    log: (fields) => seen.logs.push(fields),
    resyncRoom: (roomId) => seen.resynced.push(roomId),
    membershipLost: () => seen.membership++,
    now: () => seen.now,
  });
  return { policy, seen };
}

it('resyncs the room of each dropped room message', () => {
  const { policy, seen } = drops();
  policy.dropped('room:r1', 3);
  policy.dropped('room:r2', 3);
  policy.dropped('room:r1', 3);
  assert.deepEqual(seen.resynced, ['r1', 'r2', 'r1']);
  assert.equal(seen.membership, 0);
});

it('clears the membership cache for a dropped membership message, and touches nothing for the others', () => {
  const { policy, seen } = drops();
  policy.dropped('ctl:members', 3);
  policy.dropped('user:u1', 3);
  policy.dropped('ctl:cache', 3);
  policy.dropped('node:n1', 3);
  assert.equal(seen.membership, 1);
  assert.deepEqual(seen.resynced, []);
});

it('logs at most once per interval, counting the drops since the last line', () => {
  const { policy, seen } = drops();
  for (let i = 0; i < 5; i++) policy.dropped('room:r1', 3);
  assert.deepEqual(seen.logs, [{ channel: 'room:r1', version: 3, dropped: 1 }]);
  seen.now += 59_999;
  policy.dropped('user:u1', 4);
  assert.equal(seen.logs.length, 1);
  seen.now += 1;
  policy.dropped('user:u1', 4);
  assert.deepEqual(seen.logs[1], { channel: 'user:u1', version: 4, dropped: 6 });
});
