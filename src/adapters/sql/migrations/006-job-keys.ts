import type { Migration } from './index.js';

/**
 * Idempotency keys of the job backends that keep no jobs in the store (RabbitMQ: the broker
 * has no deduplication). One row per key of a queue, naming the job that holds it and since
 * when it is in its `state`:
 *
 * - `pending`: claimed by an enqueue whose publish is not confirmed yet. Other enqueues of the
 *   key wait for it; a claim left pending (its process died before publishing) lapses.
 * - `live`: the job is in the broker (waiting, delayed, running or dead): the key is held.
 * - `done`: the job completed; the key answers for the retention after `since`.
 *
 * job_keys_lapse serves the sweep of done and lapsed pending rows.
 */
export const jobKeys: Migration = {
  version: 6,
  name: 'job-keys',
  sqlite: [
    `CREATE TABLE job_keys (
      queue TEXT NOT NULL,
      job_key TEXT NOT NULL,
      id TEXT NOT NULL,
      state TEXT NOT NULL,
      since INTEGER NOT NULL,
      PRIMARY KEY (queue, job_key)
    )`,
    `CREATE INDEX job_keys_lapse ON job_keys (since) WHERE state != 'live'`,
  ],
  postgres: [
    `CREATE TABLE job_keys (
      queue TEXT NOT NULL,
      job_key TEXT NOT NULL,
      id TEXT NOT NULL,
      state TEXT NOT NULL,
      since BIGINT NOT NULL,
      PRIMARY KEY (queue, job_key)
    )`,
    `CREATE INDEX job_keys_lapse ON job_keys (since) WHERE state != 'live'`,
  ],
};
