/**
 * The job backend the configuration asks for (JOBS). Every backend keeps what it needs beside
 * the store's tables or in its own service; all pass the same contract suite
 * (test/contracts/job-queue.contract.ts).
 */
import { AmqpJobQueue } from '../adapters/amqp/job-queue.js';
import { BullJobQueue } from '../adapters/bullmq/job-queue.js';
import type { ConnectionMonitor } from '../adapters/outage.js';
import { EmbeddedJobQueue } from '../adapters/sql/job-queue.js';
import type { StoreWithJobs } from '../adapters/sql/job-store.js';
import type { Config } from '../config.js';
import type { JobQueue } from '../ports.js';
import type { JobObserver } from './observer.js';

export interface JobBackendContext {
  store: StoreWithJobs;
  observer: JobObserver;
  onError(error: unknown, context: string): void;
  /** Told when a backend's connection is lost and back (logged once each), by connection name. */
  monitor?: (connection: string) => ConnectionMonitor;
}

export async function openJobQueue(config: Config, context: JobBackendContext): Promise<JobQueue> {
  const keyRetentionMs = config.JOBS_KEY_RETENTION_HOURS * 3_600_000;
  switch (config.JOBS) {
    case 'embedded':
      return new EmbeddedJobQueue(context.store, { pollMs: config.JOBS_POLL_MS, keyRetentionMs, onError: context.onError, observer: context.observer });
    case 'bullmq':
      return new BullJobQueue({
        url: config.REDIS_URL,
        prefix: `${config.REDIS_PREFIX.replace(/:$/, '')}:jobs`,
        ...(config.REDIS_CLUSTER ? { cluster: { seeds: config.REDIS_CLUSTER_NODES } } : {}),
        keyRetentionMs,
        commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
        onError: context.onError,
        observer: context.observer,
        ...(context.monitor === undefined ? {} : { monitor: context.monitor }),
      });
    case 'amqp': {
      const queue = new AmqpJobQueue(context.store, {
        url: config.AMQP_URL,
        prefix: config.AMQP_PREFIX,
        keyRetentionMs,
        pollMs: config.JOBS_POLL_MS,
        onError: context.onError,
        observer: context.observer,
        ...(context.monitor === undefined ? {} : { monitor: context.monitor('rabbitmq') }),
      });
      // Not waited for: an unreachable broker at start is an outage like any (enqueues answer
      // unavailable, workers start once it is back), not a reason to refuse to start.
      return queue;
    }
  }
}
