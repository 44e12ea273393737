/**
 * The BullMQ job queue through a hard Redis restart (SIGKILL, two seconds down), on a Redis of
 * the test's own with its append-only file on, as production runs it: without persistence a
 * restart empties Redis and every job in it is gone, which no adapter can help.
 *
 * One producer and two worker processes (three queues on the backend). While Redis is down an
 * enqueue rejects with `unavailable` at once; the workers wait the outage out and go on; every
 * job whose enqueue resolved runs, and runs once: the runs that ended during the outage are
 * recorded once Redis is back, as their lease (10 s) outlives it. (With a lease shorter than the
 * outage those runs lose their locks and run again: at-least-once; effects are counted by job
 * id.) Nothing reaches the process as an unhandled error.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { BullJobQueue } from '../../src/adapters/bullmq/job-queue.js';
import type { ConnectionMonitor } from '../../src/adapters/outage.js';
import { AppError } from '../../src/errors.js';
import type { Job } from '../../src/ports.js';
import { REDIS_SERVER, requireBinary, startRedis } from '../support/services.js';
import { recordUncaught } from '../support/uncaught.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const COMMAND_TIMEOUT_MS = 500;
const WORKERS = 2;
const CONCURRENCY = 3;
/** Longer than the outage (2 s down, and up to 2 s more for the connections to come back). */
const LEASE_MS = 10_000;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

if (requireBinary(REDIS_SERVER, 'redis-server', 'BullMQ jobs through a Redis restart')) {
  it('BullMQ jobs survive a hard Redis restart: enqueue fails fast meanwhile, workers resume, no job lost, each effect once', async () => {
    const uncaught = recordUncaught();
    const redis = await startRedis({ appendOnly: true });
    const errors: Array<{ context: string; error: unknown }> = [];
    /** Per connection, its outages as an OutageLog would log them: one line when lost, one when back. */
    const outages = new Map<string, string[]>();
    const monitor =
      (process: string) =>
      (connection: string): ConnectionMonitor => {
        const lines: string[] = [];
        outages.set(`${process} ${connection}`, lines);
        let down = false;
        return {
          lost: () => {
            if (!down) lines.push('lost');
            down = true;
          },
          restored: () => {
            if (down) lines.push('restored');
            down = false;
          },
        };
      };
    const open = (process: string) =>
      new BullJobQueue({
        url: redis.url,
        prefix: 'faults',
        commandTimeoutMs: COMMAND_TIMEOUT_MS,
        onError: (error, context) => errors.push({ context: `${process}: ${context}`, error }),
        monitor: monitor(process),
      });
    const producer = open('producer');
    const workers = Array.from({ length: WORKERS }, (_, i) => open(`worker${i + 1}`));
    const queue = 'deliveries';
    /** Runs per job id, and the effects (an idempotent handler's: a set keyed by job id). */
    const runs = new Map<string, number>();
    const effects = new Set<string>();
    const handler = async (job: Job) => {
      runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
      await sleep(20 + Math.floor(Math.random() * 40));
      effects.add(job.id);
    };
    const enqueued = new Set<string>();
    try {
      for (const w of workers) await w.work(queue, handler, { concurrency: CONCURRENCY, visibilityTimeoutMs: LEASE_MS });
      for (let i = 0; i < 150; i++) enqueued.add((await producer.enqueue(queue, { i }, { key: `before-${i}` })).id);
      await until('a first share of the jobs ran', () => effects.size >= 40, 20_000);

      const restarting = redis.restart({ hard: true, downMs: 2_000 });
      await sleep(500);
      // Redis is down: an enqueue fails fast with `unavailable`, never hangs.
      for (let i = 0; i < 5; i++) {
        const startedAt = Date.now();
        await assert.rejects(producer.enqueue(queue, { during: i }, { key: `during-${i}` }), (e: unknown) => e instanceof AppError && e.code === 'unavailable');
        const took = Date.now() - startedAt;
        assert.ok(took < COMMAND_TIMEOUT_MS + 500, `an enqueue during the outage took ${took} ms`);
        await sleep(100);
      }
      await assert.rejects(producer.counts(queue), (e: unknown) => e instanceof AppError && e.code === 'unavailable');
      await restarting;

      // Back: the producer enqueues again once its connection is, and the workers go on.
      await until(
        'an enqueue succeeded after the restart',
        () =>
          producer.enqueue(queue, { after: 0 }, { key: 'after-0' }).then(
            ({ id }) => {
              enqueued.add(id);
              return true;
            },
            () => false,
          ),
        15_000,
      );
      for (let i = 1; i < 50; i++) enqueued.add((await producer.enqueue(queue, { after: i }, { key: `after-${i}` })).id);
      await until('every job enqueued ran', () => [...enqueued].every((id) => effects.has(id)), 60_000);
      await until(
        'the queue is empty',
        async () => {
          const c = await producer.counts(queue);
          return c.waiting + c.delayed + c.active === 0;
        },
        15_000,
      );
      assert.equal((await producer.counts(queue)).dead, 0, 'no job died of the outage');

      // The runs that ended while Redis was down were recorded once it was back, their locks
      // (the lease) having outlived the outage: none ran again.
      assert.deepEqual(
        [...runs.entries()].filter(([, n]) => n > 1),
        [],
      );
      // The enqueues refused during the outage stored nothing.
      assert.deepEqual(
        [...effects].filter((id) => !enqueued.has(id)),
        [],
      );

      // Each connection saw the outage once and its end once.
      assert.deepEqual(
        Object.fromEntries(outages),
        Object.fromEntries(['producer bullmq producer', 'worker1 bullmq producer', 'worker1 bullmq worker', 'worker2 bullmq producer', 'worker2 bullmq worker'].map((name) => [name, ['lost', 'restored']])),
      );
      assert.deepEqual(
        errors.map((e) => `${e.context}: ${String(e.error)}`),
        [],
      );
    } finally {
      await Promise.all([producer, ...workers].map((q) => q.close(1_000)));
      await redis.stop();
      uncaught.stop();
    }
    assert.deepEqual(uncaught.errors.map(String), []);
  });
}
