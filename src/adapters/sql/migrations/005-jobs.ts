import type { Migration } from './index.js';

/**
 * The embedded job queue (src/adapters/sql/job-queue.ts) and what the other job backends keep
 * in the store: the repeat schedules of the embedded and RabbitMQ backends.
 *
 * - `jobs`: one row per job. `state` is waiting (ready at `run_at`, which may be ahead: delayed
 *   or in backoff), active (leased to `lease_owner` until `lease_until`), done (kept until the
 *   key retention passes, so its idempotency key still answers) or dead. Workers claim the
 *   ready rows of their queue oldest `run_at` first, then in insertion order (`seq`; jobs_ready), and rows whose lease lapsed
 *   (jobs_lapsed); an idempotency key is unique per queue (jobs_key).
 * - `job_schedules`: one row per repeatable job, its period and the start of the next one;
 *   a process that claims a due row moves it on in the same transaction, so one process makes
 *   each period's job.
 */
export const jobs: Migration = {
  version: 5,
  name: 'jobs',
  sqlite: [
    `CREATE TABLE jobs (
      seq INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      queue TEXT NOT NULL,
      job_key TEXT,
      payload TEXT NOT NULL,
      state TEXT NOT NULL,
      attempt INTEGER NOT NULL DEFAULT 0,
      max_attempts INTEGER NOT NULL,
      backoff_base_ms INTEGER NOT NULL,
      backoff_max_ms INTEGER NOT NULL,
      run_at INTEGER NOT NULL,
      lease_owner TEXT,
      lease_until INTEGER,
      error TEXT,
      created_at INTEGER NOT NULL,
      finished_at INTEGER
    )`,
    `CREATE UNIQUE INDEX jobs_key ON jobs (queue, job_key) WHERE job_key IS NOT NULL`,
    `CREATE INDEX jobs_ready ON jobs (queue, run_at, seq) WHERE state = 'waiting'`,
    `CREATE INDEX jobs_lapsed ON jobs (queue, lease_until) WHERE state = 'active'`,
    `CREATE INDEX jobs_dead ON jobs (queue, finished_at) WHERE state = 'dead'`,
    `CREATE INDEX jobs_done ON jobs (finished_at) WHERE state = 'done'`,
    `CREATE TABLE job_schedules (
      queue TEXT NOT NULL,
      name TEXT NOT NULL,
      every_ms INTEGER NOT NULL,
      payload TEXT NOT NULL,
      next_at INTEGER NOT NULL,
      PRIMARY KEY (queue, name)
    )`,
  ],
  postgres: [
    `CREATE TABLE jobs (
      seq BIGSERIAL PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      queue TEXT NOT NULL,
      job_key TEXT,
      payload TEXT NOT NULL,
      state TEXT NOT NULL,
      attempt INTEGER NOT NULL DEFAULT 0,
      max_attempts INTEGER NOT NULL,
      backoff_base_ms BIGINT NOT NULL,
      backoff_max_ms BIGINT NOT NULL,
      run_at BIGINT NOT NULL,
      lease_owner TEXT,
      lease_until BIGINT,
      error TEXT,
      created_at BIGINT NOT NULL,
      finished_at BIGINT
    )`,
    `CREATE UNIQUE INDEX jobs_key ON jobs (queue, job_key) WHERE job_key IS NOT NULL`,
    `CREATE INDEX jobs_ready ON jobs (queue, run_at, seq) WHERE state = 'waiting'`,
    `CREATE INDEX jobs_lapsed ON jobs (queue, lease_until) WHERE state = 'active'`,
    `CREATE INDEX jobs_dead ON jobs (queue, finished_at) WHERE state = 'dead'`,
    `CREATE INDEX jobs_done ON jobs (finished_at) WHERE state = 'done'`,
    `CREATE TABLE job_schedules (
      queue TEXT NOT NULL,
      name TEXT NOT NULL,
      every_ms BIGINT NOT NULL,
      payload TEXT NOT NULL,
      next_at BIGINT NOT NULL,
      PRIMARY KEY (queue, name)
    )`,
  ],
};
