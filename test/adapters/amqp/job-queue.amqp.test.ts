/**
 * What the RabbitMQ job queue does beyond the contract (test/adapters/job-queue.amqp.test.ts):
 * the precision of its delays, a queue deleted under it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { topologyOf } from '../../../src/adapters/amqp/topology.js';
import { type BackgroundErrors, declaredAmqpTopologies, type OpenedJobQueue, openJobBackend } from '../../support/job-backends.js';
import { AMQP_URL, amqpPrefix, deleteTopologies, requireRabbitmq } from '../../support/rabbitmq.js';

if (await requireRabbitmq('RabbitMQ job queue')) {
  describe('RabbitMQ job queue', () => {
    const prefix = amqpPrefix();
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-jobs-amqp-'));
    const spec = { kind: 'amqp', url: AMQP_URL, prefix, sqliteFile: path.join(dir, 'parley.db') } as const;
    const opened: OpenedJobQueue[] = [];
    const errors: BackgroundErrors = [];
    const open = async () => {
      const o = await openJobBackend(spec, errors);
      opened.push(o);
      return o.queue;
    };
    after(async () => {
      await Promise.all(opened.map((o) => o.close(500)));
      await deleteTopologies(AMQP_URL, declaredAmqpTopologies(prefix));
      rmSync(dir, { recursive: true, force: true });
    });

    it('a delay is honoured within a small fraction of itself: never early, late by tens of ms', async () => {
      const q = await open();
      const ranAt = new Map<number, number>();
      await q.work('delays', async (job) => {
        ranAt.set(job.payload.delay as number, Date.now() - job.enqueuedAt);
      }, { concurrency: 4 });
      // Odd delays: every bit set is one more trip through a bucket.
      const delays = [50, 333, 1_000, 2_047, 3_001];
      await Promise.all(delays.map((delay) => q.enqueue('delays', { delay }, { delayMs: delay })));
      const deadline = Date.now() + 10_000;
      while (ranAt.size < delays.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const delay of delays) {
        const took = ranAt.get(delay) ?? Number.NaN;
        assert.ok(took >= delay && took <= delay + 250, `a delay of ${delay} ms ran after ${took} ms`);
      }
    });

    it('a queue deleted under the queue is declared again by the next enqueue, which is not lost', async () => {
      const q = await open();
      await q.enqueue('deleted', { n: 1 });
      await deleteTopologies(AMQP_URL, [topologyOf(prefix, 'deleted')]);
      await q.enqueue('deleted', { n: 2 });
      assert.deepEqual(await q.counts('deleted'), { waiting: 1, delayed: 0, active: 0, dead: 0 });
    });

    it('raised nothing in the background', () => {
      assert.deepEqual(
        errors.map((e) => `${e.context}: ${String(e.error)}`),
        [],
      );
    });
  });
}
