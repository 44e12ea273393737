import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runShutdown } from '../../src/resilience/shutdown.js';

describe('runShutdown', () => {
  it('regression: a step that fails or hangs does not keep the later steps (closing the store, Redis, the bus) from running', async () => {
    const ran: string[] = [];
    const errors: string[] = [];
    const report = await runShutdown(
      [
        { name: 'first', run: () => void ran.push('first') },
        { name: 'throws', run: () => { throw new Error('boom'); } },
        { name: 'rejects', run: () => Promise.reject(new Error('no')) },
        { name: 'hangs', run: () => new Promise(() => undefined), timeoutMs: 50 },
        { name: 'close store', run: async () => void ran.push('close store') },
      ],
      { defaultTimeoutMs: 1_000, onError: (_error, step) => errors.push(step) },
    );
    assert.deepEqual(ran, ['first', 'close store']);
    assert.deepEqual(errors, ['throws', 'rejects', 'hangs']);
    assert.deepEqual(report.failed, ['throws', 'rejects', 'hangs']);
  });

  it('runs the steps in order, each after the previous one settled', async () => {
    const ran: string[] = [];
    await runShutdown(
      [
        { name: 'a', run: () => new Promise<void>((r) => setTimeout(() => { ran.push('a'); r(); }, 20)) },
        { name: 'b', run: () => void ran.push('b') },
      ],
      { defaultTimeoutMs: 1_000, onError: () => assert.fail('no step fails') },
    );
    assert.deepEqual(ran, ['a', 'b']);
  });

  it('regression: steps are cut to the time left before the overall deadline, so the last ones (closing the store) still run in time', async () => {
    const ran: string[] = [];
    const started = Date.now();
    const report = await runShutdown(
      [
        { name: 'slow', run: () => new Promise(() => undefined), timeoutMs: 10_000 },
        { name: 'also slow', run: () => new Promise(() => undefined), timeoutMs: 10_000 },
        { name: 'close store', run: () => void ran.push('close store') },
      ],
      { defaultTimeoutMs: 10_000, deadlineAt: started + 600, onError: () => undefined },
    );
    assert.deepEqual(ran, ['close store']);
    assert.deepEqual(report.failed, ['slow', 'also slow']);
    // Without the deadline the two slow steps alone would take 20 s.
    assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms against a 600 ms deadline`);
  });
});
