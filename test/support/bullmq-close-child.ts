/**
 * A process that works a queue on a BullMQ job queue whose Redis is not there, closes it and
 * prints `closed <ms>`: it must then exit by itself (nothing of the queue left running).
 * Env: PARLEY_TEST_REDIS_URL (a Redis that does not answer).
 */
import { BullJobQueue } from '../../src/adapters/bullmq/job-queue.js';

const errors: string[] = [];
const q = new BullJobQueue({
  url: process.env.PARLEY_TEST_REDIS_URL ?? '',
  prefix: 'nowhere',
  commandTimeoutMs: 300,
  onError: (error, context) => errors.push(`${context}: ${String(error)}`),
});
await q.work('nowhere', async () => undefined, { concurrency: 2, visibilityTimeoutMs: 1_000 });
await q.enqueue('nowhere', {}).catch((error: { code?: string }) => errors.push(`enqueue: ${error.code}`));
await new Promise((resolve) => setTimeout(resolve, 1_500));
const startedAt = Date.now();
await q.close(200);
process.stdout.write(`closed ${Date.now() - startedAt} ${JSON.stringify(errors)}\n`);
