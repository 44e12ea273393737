/**
 * Opens a job queue on a backend described by a JSON-able spec, in the test process or in a
 * child process (job-child.ts) that must reach the same backend: the contract suite kills such
 * a child mid-job. Each adapter's test file makes the spec; this opens it.
 */
import { AmqpJobQueue } from '../../src/adapters/amqp/job-queue.js';
import type { QueueTopology } from '../../src/adapters/amqp/topology.js';
import { BullJobQueue } from '../../src/adapters/bullmq/job-queue.js';
import { EmbeddedJobQueue } from '../../src/adapters/sql/job-queue.js';
import type { StoreWithJobs } from '../../src/adapters/sql/job-store.js';
import { openPostgresStore } from '../../src/adapters/sql/postgres.js';
import { openThreadedSqliteStore } from '../../src/adapters/sql/sqlite-thread.js';
import type { JobQueue } from '../../src/ports.js';

/** Where the job tables are: the embedded queue's jobs, or the keys and schedules of the others. */
type SqlSpec = { sqliteFile: string } | { databaseUrl: string };

export type JobBackendSpec =
  | ({ kind: 'embedded'; pollMs?: number } & SqlSpec)
  /** RabbitMQ at `url`, every queue name under `prefix`. */
  | ({ kind: 'amqp'; url: string; prefix: string; pollMs?: number } & SqlSpec)
  /** BullMQ on the Redis at `url` (with `cluster`, a node of a Redis Cluster), every key under `prefix`. */
  | { kind: 'bullmq'; url: string; prefix: string; cluster?: { seeds: Array<{ host: string; port: number }> } };

export interface OpenedJobQueue {
  queue: JobQueue;
  /** Closes the queue (with `graceMs`) and what it opened. */
  close(graceMs?: number): Promise<void>;
}

export type BackgroundErrors = Array<{ error: unknown; context: string }>;

/** The RabbitMQ queues declared by the queues this process opened, by prefix: a suite deletes its own after. */
const declaredAmqp = new Map<string, Map<string, QueueTopology>>();

export const declaredAmqpTopologies = (prefix: string): QueueTopology[] => [...(declaredAmqp.get(prefix)?.values() ?? [])];

function openStore(spec: SqlSpec): StoreWithJobs {
  // On its own thread, as Parley runs it: connections on one thread would wait for each other's locks.
  return 'sqliteFile' in spec
    ? openThreadedSqliteStore(spec.sqliteFile, { maxQueued: 10_000, searchStallMs: 30_000 })
    : openPostgresStore(spec.databaseUrl, { poolSize: 4, statementTimeoutMs: 10_000 });
}

export async function openJobBackend(spec: JobBackendSpec, errors: BackgroundErrors = []): Promise<OpenedJobQueue> {
  const onError = (error: unknown, context: string) => errors.push({ error, context });
  switch (spec.kind) {
    case 'embedded': {
      const store = openStore(spec);
      await store.migrate();
      const queue = new EmbeddedJobQueue(store, { pollMs: spec.pollMs ?? 50, onError });
      return {
        queue,
        close: async (graceMs = 2_000) => {
          await queue.close(graceMs);
          await store.close();
        },
      };
    }
    case 'amqp': {
      const store = openStore(spec);
      await store.migrate();
      const queue = new AmqpJobQueue(store, { url: spec.url, prefix: spec.prefix, pollMs: spec.pollMs ?? 50, onError });
      await queue.ready();
      const declared = declaredAmqp.get(spec.prefix) ?? new Map<string, QueueTopology>();
      declaredAmqp.set(spec.prefix, declared);
      return {
        queue,
        close: async (graceMs = 2_000) => {
          await queue.close(graceMs);
          for (const t of queue.declaredQueues()) declared.set(t.work, t);
          await store.close();
        },
      };
    }
    case 'bullmq': {
      const queue = new BullJobQueue({ url: spec.url, prefix: spec.prefix, onError, ...(spec.cluster === undefined ? {} : { cluster: spec.cluster }) });
      return { queue, close: (graceMs = 2_000) => queue.close(graceMs) };
    }
  }
}
