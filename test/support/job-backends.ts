/**
 * Opens a job queue on a backend described by a JSON-able spec, in the test process or in a
 * child process (job-child.ts) that must reach the same backend: the contract suite kills such
 * a child mid-job. Each adapter's test file makes the spec; this opens it.
 */
import { BullJobQueue } from '../../src/adapters/bullmq/job-queue.js';
import { EmbeddedJobQueue } from '../../src/adapters/sql/job-queue.js';
import type { StoreWithJobs } from '../../src/adapters/sql/job-store.js';
import { openPostgresStore } from '../../src/adapters/sql/postgres.js';
import { openThreadedSqliteStore } from '../../src/adapters/sql/sqlite-thread.js';
import type { JobQueue } from '../../src/ports.js';

export type JobBackendSpec =
  | { kind: 'embedded'; sqliteFile: string; pollMs?: number }
  | { kind: 'embedded'; databaseUrl: string; pollMs?: number }
  | { kind: 'bullmq'; url: string; prefix: string };

export interface OpenedJobQueue {
  queue: JobQueue;
  /** Closes the queue (with `graceMs`) and what it opened. */
  close(graceMs?: number): Promise<void>;
}

export type BackgroundErrors = Array<{ error: unknown; context: string }>;

export async function openJobBackend(spec: JobBackendSpec, errors: BackgroundErrors = []): Promise<OpenedJobQueue> {
  const onError = (error: unknown, context: string) => errors.push({ error, context });
  switch (spec.kind) {
    case 'embedded': {
      const store: StoreWithJobs =
        // On its own thread, as Parley runs it: connections on one thread would wait for each other's locks.
        'sqliteFile' in spec
          ? openThreadedSqliteStore(spec.sqliteFile, { maxQueued: 10_000, searchStallMs: 30_000 })
          : openPostgresStore(spec.databaseUrl, { poolSize: 4, statementTimeoutMs: 10_000 });
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
    case 'bullmq': {
      const queue = new BullJobQueue({ url: spec.url, prefix: spec.prefix, onError });
      return { queue, close: (graceMs = 2_000) => queue.close(graceMs) };
    }
  }
}
