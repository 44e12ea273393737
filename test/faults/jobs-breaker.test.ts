/**
 * The job backend behind its breaker (`jobs`): BullMQ on a Redis of the test's own that is
 * stopped. Enqueues fail with `unavailable`; past the breaker's threshold they are refused at
 * once without reaching Redis, and once Redis is back the breaker lets a probe through and
 * closes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BullJobQueue } from '../../src/adapters/bullmq/job-queue.js';
import { AppError } from '../../src/errors.js';
import type { JobQueue } from '../../src/ports.js';
import { Breakers } from '../../src/resilience/breaker.js';
import { guardJobQueue } from '../../src/resilience/guarded-ports.js';
import { REDIS_SERVER, requireBinary, type ServerHandle, startRedis } from '../support/services.js';

if (requireBinary(REDIS_SERVER, 'redis-server', 'Job backend breaker')) {
  describe('the job backend behind its breaker', () => {
    let server: ServerHandle;
    let backend: BullJobQueue;
    let jobs: JobQueue;
    const transitions: string[] = [];
    let rejected = 0;
    const breakers = new Breakers({
      errorThresholdPercent: 50,
      volumeThreshold: 5,
      resetMs: 1_000,
      rollingWindowMs: 10_000,
      maxEndpoints: 10,
      timeoutMs: false,
      observer: {
        transition: (_name, _kind, _from, to) => transitions.push(to),
        rejected: () => {
          rejected++;
        },
      },
    });
    before(async () => {
      server = await startRedis();
      backend = new BullJobQueue({ url: server.url, prefix: 'breaker-test', commandTimeoutMs: 500, onError: () => undefined });
      jobs = guardJobQueue(backend, breakers.for('jobs'));
    });
    after(async () => {
      await backend.close(0);
      breakers.close();
      await server.stop();
    });

    it('opens while the backend is down, refusing at once, and closes once it is back', async () => {
      assert.equal((await jobs.enqueue('work', { n: 0 })).created, true);
      const restarted = server.restart({ hard: true, downMs: 3_000 });
      await new Promise((r) => setTimeout(r, 300));
      const errors: unknown[] = [];
      for (let i = 0; i < 10; i++) errors.push(await jobs.enqueue('work', { n: i }).then(() => null, (e: unknown) => e));
      assert.ok(
        errors.every((e) => e instanceof AppError && e.code === 'unavailable'),
        String(errors.find((e) => !(e instanceof AppError))),
      );
      assert.ok(transitions.includes('open'), 'the breaker opened');
      const before = rejected;
      await assert.rejects(jobs.enqueue('work', { n: 99 }), (e: unknown) => e instanceof AppError && e.code === 'unavailable');
      assert.equal(rejected, before + 1, 'refused by the breaker, without reaching Redis');
      await restarted;
      const deadline = Date.now() + 15_000;
      let ok = false;
      while (!ok && Date.now() < deadline) {
        ok = await jobs.enqueue('work', { n: 100 }).then(
          () => true,
          () => false,
        );
        if (!ok) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(ok, 'enqueues work again');
      assert.equal(transitions.at(-1), 'closed');
    });
  });
}
