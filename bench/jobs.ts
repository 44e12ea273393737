/**
 * Jobs per second of each job backend: N jobs enqueued (up to 64 enqueues in flight), then
 * worked to the last by one process with a handler that does nothing, so what is measured is
 * the backend's own cost per job: enqueue (durable: committed, or confirmed by the broker), claim
 * (lease), complete.
 *
 *   npx tsx bench/jobs.ts [--backends embedded-sqlite,embedded-postgres,bullmq,amqp] [--jobs 5000] [--concurrency 16] [--out FILE]
 *
 * Services: PostgreSQL (PARLEY_TEST_PG_URL or the local one), Redis (PARLEY_TEST_REDIS_URL or the
 * local one), RabbitMQ (PARLEY_TEST_AMQP_URL or amqp://guest:guest@127.0.0.1:5672).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { declaredAmqpTopologies, type JobBackendSpec, openJobBackend } from '../test/support/job-backends.js';
import { createTestDatabase } from '../test/support/postgres.js';
import { AMQP_URL, deleteTopologies } from '../test/support/rabbitmq.js';
import { REDIS_URL } from '../test/support/redis.js';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'embedded-sqlite,embedded-postgres,bullmq,amqp' },
    jobs: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '16' },
    out: { type: 'string' },
  },
});
const total = Number(values.jobs);
const concurrency = Number(values.concurrency);

async function specFor(backend: string): Promise<{ spec: JobBackendSpec; cleanup: () => Promise<void> }> {
  const prefix = `bench-${randomBytes(4).toString('hex')}:`;
  switch (backend) {
    case 'embedded-sqlite': {
      const dir = mkdtempSync(path.join(tmpdir(), 'parley-bench-jobs-'));
      return { spec: { kind: 'embedded', sqliteFile: path.join(dir, 'parley.db'), pollMs: 100 }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
    }
    case 'embedded-postgres': {
      const db = await createTestDatabase();
      return { spec: { kind: 'embedded', databaseUrl: db.url, pollMs: 100 }, cleanup: () => db.drop() };
    }
    default:
      return specForService(backend, prefix);
  }
}

/** Backends on a service of their own: BullMQ on Redis, RabbitMQ (its keys and schedules in a SQLite file). */
async function specForService(backend: string, prefix: string): Promise<{ spec: JobBackendSpec; cleanup: () => Promise<void> }> {
  switch (backend) {
    case 'bullmq':
      return {
        spec: { kind: 'bullmq', url: REDIS_URL, prefix },
        cleanup: async () => {
          const redis = new Redis(REDIS_URL);
          let cursor = '0';
          do {
            const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
            cursor = next;
            if (keys.length > 0) await redis.del(...keys);
          } while (cursor !== '0');
          redis.disconnect();
        },
      };
    case 'amqp': {
      const dir = mkdtempSync(path.join(tmpdir(), 'parley-bench-jobs-'));
      const amqpPrefix = prefix.replace(':', '.');
      return {
        spec: { kind: 'amqp', url: AMQP_URL, prefix: amqpPrefix, sqliteFile: path.join(dir, 'parley.db') },
        cleanup: async () => {
          await deleteTopologies(AMQP_URL, declaredAmqpTopologies(amqpPrefix));
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    default:
      throw new Error(`unknown backend ${backend}: embedded-sqlite, embedded-postgres, bullmq or amqp`);
  }
}

interface Result {
  backend: string;
  jobs: number;
  concurrency: number;
  enqueuePerSecond: number;
  workPerSecond: number;
  endToEndSeconds: number;
}

async function measure(backend: string): Promise<Result> {
  const { spec, cleanup } = await specFor(backend);
  const opened = await openJobBackend(spec);
  const queue = `bench-${randomBytes(3).toString('hex')}`;
  try {
    const start = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < total) {
          const i = next++;
          await opened.queue.enqueue(queue, { i });
        }
      }),
    );
    const enqueued = performance.now();
    let done = 0;
    const finished = new Promise<void>((resolve) => {
      void opened.queue.work(
        queue,
        async () => {
          done++;
          if (done === total) resolve();
        },
        { concurrency },
      );
    });
    await finished;
    const end = performance.now();
    return {
      backend,
      jobs: total,
      concurrency,
      enqueuePerSecond: Math.round(total / ((enqueued - start) / 1000)),
      workPerSecond: Math.round(total / ((end - enqueued) / 1000)),
      endToEndSeconds: Number(((end - start) / 1000).toFixed(2)),
    };
  } finally {
    await opened.close(1_000);
    await cleanup();
  }
}

const results: Result[] = [];
for (const backend of (values.backends as string).split(',')) {
  process.stderr.write(`${backend}…\n`);
  const result = await measure(backend);
  results.push(result);
  console.log(JSON.stringify(result));
}
if (values.out !== undefined) writeFileSync(values.out, `${JSON.stringify({ measuredAt: new Date().toISOString(), results }, null, 2)}\n`);
