/**
 * The slow-work path of a process: the job backend, the worker-thread pool, and the features
 * that run on them (exports, retention), with their queues and schedules. `parley start` builds
 * it beside the HTTP and WebSocket servers; `parley worker` builds only this.
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ConnectionMonitor } from '../adapters/outage.js';
import type { StoreWithJobs } from '../adapters/sql/job-store.js';
import type { Config } from '../config.js';
import type { Access } from '../domain/access.js';
import type { Publisher } from '../domain/publisher.js';
import { EXPORT_QUEUE, EXPORT_SWEEP_QUEUE, Exports } from '../exports/exports.js';
import { FILES_SWEEP_QUEUE, Files } from '../files/files.js';
import type { JobObserver } from './observer.js';
import type { JobQueue, ObjectStore, RateLimiter, Store } from '../ports.js';
import { RETENTION_QUEUE, Retention, type RetentionPass } from '../retention/retention.js';
import { loadServerKey } from '../secrets.js';
import { type EndpointBreakers, DELIVER_QUEUE, FANOUT_QUEUE, SWEEP_QUEUE, Webhooks } from '../webhooks/webhooks.js';
import { WorkerPool } from '../workers/pool.js';
import { openJobQueue } from './open-jobs.js';
import { filesDir } from '../adapters/open-object-store.js';
import { JobRuntime } from './runtime.js';
import { NOTIFICATION_QUEUES, type NotificationFeature, openNotifications } from '../notifications/open.js';

export interface SlowWorkDeps {
  /** The store as the features use it (instrumented). */
  store: Store;
  /** The same store, with the job tables, for the embedded backend. */
  jobStore: StoreWithJobs;
  access: Access;
  publisher: Publisher;
  /** Object storage for attachments and avatars (behind its breaker). */
  objects: ObjectStore;
  /** False while that breaker is open: uploads are refused before their bodies are read. */
  storageAvailable?: () => boolean;
  observer: JobObserver;
  /** Told when the job backend's own connections (RabbitMQ, BullMQ's Redis) are lost and back, by name. */
  monitor?: (connection: string) => ConnectionMonitor;
  /** Runs each webhook delivery behind its endpoint's circuit breaker. */
  breakers: EndpointBreakers;
  /** Puts the job backend's calls behind its circuit breaker (`jobs`). */
  guardJobs?(jobs: JobQueue): JobQueue;
  onError(error: unknown, context: string): void;
  /** Log a finished retention pass. */
  onRetentionPass(pass: RetentionPass): void;
  /** The @room rate limiter, shared by the nodes (Redis); this process's own when absent. */
  roomMentions?: RateLimiter;
  /** Which users hold a connection on any node; absent where that is unknown (no digests sent there). */
  online?: (userIds: string[]) => Promise<Set<string>>;
}

export interface SlowWork {
  jobs: JobQueue;
  exports: Exports;
  retention: Retention;
  webhooks: Webhooks;
  files: Files;
  notifications: NotificationFeature;
  runtime: JobRuntime;
  /** The pool, started on first use; null before. */
  pool(): WorkerPool | null;
  /** Registers the schedules and, when JOBS_WORK is on, starts working the queues. */
  start(): Promise<void>;
  /** Stops taking jobs, lets running ones finish within `graceMs`, then ends the pool. */
  close(graceMs: number): Promise<void>;
}

const EXPORT_SWEEP_EVERY_MS = 10 * 60_000;

/** Every queue Parley works, for the operator's commands and dashboards. */
export const QUEUES: readonly string[] = [EXPORT_QUEUE, EXPORT_SWEEP_QUEUE, RETENTION_QUEUE, FANOUT_QUEUE, DELIVER_QUEUE, SWEEP_QUEUE, FILES_SWEEP_QUEUE, ...NOTIFICATION_QUEUES];
const WEBHOOK_SWEEP_EVERY_MS = 60_000;
/** Files of deleted messages go within about this long (sooner when something asks for a sweep). */
const FILES_SWEEP_EVERY_MS = 60_000;

/** Where uploads are staged: the setting, or beside the stored files (fs), or the system's temporary directory (s3). */
export function stagingDir(config: Config): string {
  if (config.UPLOAD_STAGING_DIR !== '') return path.resolve(config.UPLOAD_STAGING_DIR);
  if (config.FILE_STORAGE === 'fs') return path.join(filesDir(config), 'tmp');
  return path.join(tmpdir(), 'parley-uploads');
}


export async function openSlowWork(config: Config, deps: SlowWorkDeps): Promise<SlowWork> {
  const backend = await openJobQueue(config, { store: deps.jobStore, observer: deps.observer, onError: deps.onError, ...(deps.monitor === undefined ? {} : { monitor: deps.monitor }) });
  const jobs = deps.guardJobs?.(backend) ?? backend;
  let pool: WorkerPool | null = null;
  const usePool = () => {
    pool ??= new WorkerPool({ threads: config.WORKER_THREADS, maxQueue: config.WORKER_QUEUE_MAX });
    return pool;
  };
  const key = loadServerKey(config.SECRET_KEY, config.DATA_DIR);
  const exports = new Exports(deps.store, deps.access, jobs, usePool, deps.publisher, key, {
    dir: config.EXPORT_DIR === '' ? path.join(config.DATA_DIR, 'exports') : path.resolve(config.EXPORT_DIR),
    ttlMs: config.EXPORT_TTL_HOURS * 3_600_000,
    pageSize: config.EXPORT_PAGE_SIZE,
  });
  const files = new Files(deps.store, deps.objects, deps.access, usePool, key, jobs, {
    maxBytes: config.UPLOAD_MAX_BYTES,
    maxFilesPerMessage: config.UPLOAD_MAX_FILES_PER_MESSAGE,
    dailyBytes: config.UPLOAD_DAILY_BYTES,
    types: config.UPLOAD_TYPES,
    concurrency: config.UPLOAD_CONCURRENCY,
    idleTimeoutMs: config.UPLOAD_IDLE_TIMEOUT_MS,
    unattachedMs: config.UPLOAD_UNATTACHED_HOURS * 3_600_000,
    maxPixels: config.IMAGE_MAX_PIXELS,
    thumbnailPx: config.IMAGE_THUMBNAIL_PX,
    urlTtlS: config.FILE_URL_TTL_S,
    stagingDir: stagingDir(config),
    ...(deps.storageAvailable === undefined ? {} : { storageAvailable: deps.storageAvailable }),
  });

  const retention = new Retention(deps.store, deps.access, {
    serverDays: config.RETENTION_DAYS,
    serverAuditDays: config.SERVER_AUDIT_RETENTION_DAYS,
    batch: 1_000,
    onPurged: (roomId, throughSeq) => {
      deps.publisher.purged(roomId, throughSeq);
      // The purged messages' files go with them.
      files.sweepSoon();
    },
  });

  const webhooks = new Webhooks(deps.store, deps.access, jobs, key, {
    allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    perRoomMax: config.WEBHOOKS_PER_ROOM_MAX,
    disableAfterMs: config.WEBHOOK_DISABLE_AFTER_HOURS * 3_600_000,
    secretGraceMs: config.WEBHOOK_SECRET_GRACE_HOURS * 3_600_000,
    attempts: config.WEBHOOK_ATTEMPTS,
    perEndpointConcurrency: config.WEBHOOK_ENDPOINT_CONCURRENCY,
    backoff: { baseMs: config.WEBHOOK_RETRY_BASE_MS, maxMs: Math.max(config.WEBHOOK_RETRY_BASE_MS, config.WEBHOOK_RETRY_MAX_MS) },
    breakers: deps.breakers,
    onError: deps.onError,
  });

  const runtime = new JobRuntime();
  const lease = config.JOBS_LEASE_MS;
  runtime.define({ queue: EXPORT_QUEUE, concurrency: 2, visibilityTimeoutMs: lease, handler: (job) => exports.run(job) });
  runtime.define({ queue: EXPORT_SWEEP_QUEUE, concurrency: 1, visibilityTimeoutMs: lease, handler: () => exports.sweep() });
  runtime.repeat({ queue: EXPORT_SWEEP_QUEUE, name: 'sweep', everyMs: EXPORT_SWEEP_EVERY_MS, payload: {} });
  runtime.define({
    queue: RETENTION_QUEUE,
    concurrency: 1,
    visibilityTimeoutMs: lease,
    handler: async (job) => {
      const pass = await retention.run(job);
      if (pass.tombstoned > 0 || pass.auditPruned > 0) deps.onRetentionPass(pass);
    },
  });
  runtime.repeat({ queue: RETENTION_QUEUE, name: 'pass', everyMs: config.RETENTION_INTERVAL_MS, payload: {} });
  runtime.define({ queue: FANOUT_QUEUE, concurrency: 2, visibilityTimeoutMs: lease, handler: (job) => webhooks.fanout(job) });
  // Deliveries wait on the network, not the CPU: many at once, each bounded by its deadline.
  runtime.define({ queue: DELIVER_QUEUE, concurrency: 16, visibilityTimeoutMs: Math.max(lease, config.WEBHOOK_TIMEOUT_MS * 2), handler: (job) => webhooks.deliver(job) });
  runtime.define({ queue: SWEEP_QUEUE, concurrency: 1, visibilityTimeoutMs: lease, handler: () => webhooks.sweep() });
  runtime.repeat({ queue: SWEEP_QUEUE, name: 'sweep', everyMs: WEBHOOK_SWEEP_EVERY_MS, payload: {} });
  runtime.define({ queue: FILES_SWEEP_QUEUE, concurrency: 1, visibilityTimeoutMs: lease, handler: (job) => files.runJob(job.payload) });
  runtime.repeat({ queue: FILES_SWEEP_QUEUE, name: 'sweep', everyMs: FILES_SWEEP_EVERY_MS, payload: {} });

  const notifications = openNotifications(config, {
    store: deps.store,
    access: deps.access,
    jobs,
    publisher: deps.publisher,
    runtime,
    ...(deps.roomMentions === undefined ? {} : { roomMentions: deps.roomMentions }),
    ...(deps.online === undefined ? {} : { online: deps.online }),
    onError: deps.onError,
  });

  let closing: Promise<void> | null = null;
  return {
    jobs,
    exports,
    retention,
    webhooks,
    files,
    notifications,
    runtime,
    pool: () => pool,
    start: () => runtime.start(jobs, config.JOBS_WORK),
    close: (graceMs) => {
      closing ??= (async () => {
        await notifications.notifier.close();
        await jobs.close(graceMs);
        await pool?.close();
        notifications.close();
      })();
      return closing;
    },
  };
}
