/**
 * The statuses the nodes publish on `ctl:nodes`: what is read of one, from a node of this release
 * or of the release before (no role, no job rate: a node), and what is no status at all.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseStatus } from '../../src/realtime/node-directory.js';

const now = Date.now();
const current = {
  id: 'n1',
  role: 'worker',
  host: 'h',
  pid: 42,
  version: '1.2.3',
  startedAt: now - 1000,
  at: now,
  notReadyReason: null,
  connections: 0,
  messagesPerSecond: 0,
  deliveriesPerSecond: 0,
  jobsPerSecond: 12.5,
  eventLoopLagMs: 1.5,
  rssBytes: 1e8,
  heapUsedBytes: 5e7,
  breakers: { jobs: 2 },
};

describe('node statuses on the bus', () => {
  it("reads this release's status whole", () => {
    assert.deepEqual(parseStatus(JSON.stringify(current)), current);
  });

  it("reads the previous release's status, without a role or a job rate, as a node's that ran no job", () => {
    const { role: _role, jobsPerSecond: _jobs, ...previous } = current;
    assert.deepEqual(parseStatus(JSON.stringify(previous)), { ...previous, role: 'node', jobsPerSecond: 0 });
  });

  it('is no status with a role or a job rate it cannot be', () => {
    for (const bad of [{ role: 'admin' }, { role: null }, { role: 7 }, { jobsPerSecond: -1 }, { jobsPerSecond: '3' }, { jobsPerSecond: Number.MAX_VALUE }]) {
      assert.equal(parseStatus(JSON.stringify({ ...current, ...bad })), null, JSON.stringify(bad));
    }
  });
});
