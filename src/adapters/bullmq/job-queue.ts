/**
 * The job queue on BullMQ (`JOBS=bullmq` with `REDIS_URL`): every process of a deployment that
 * reaches the same Redis with the same prefix shares its queues.
 *
 * One BullMQ Queue per queue name, made on first use, all on one producer connection that fails
 * fast (connections.ts); one BullMQ Worker per worked queue (worker.ts), on a worker connection
 * that waits outages out. Dead jobs are BullMQ's failed jobs (dead-letters.ts); what a job
 * carries is job-data.ts.
 *
 * Where it differs from the embedded queue:
 * - Completed jobs without a key are deleted at once; those with one are kept for the key
 *   retention (deleted when a later keyed job of the queue completes past it, and by a sweep
 *   every minute in each process working the queue), so the key answers meanwhile.
 * - A repeat schedule is a BullMQ job scheduler: its first run is due at once, and each run's
 *   next is made when a worker takes it, so a schedule with no worker makes one job, not one
 *   per period. Calling `repeat` with another period starts the new period at once.
 * - An enqueue that timed out (`unavailable`) may still have stored its job; enqueue with a key
 *   where that matters.
 */
import { Queue } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import { newId } from '../../domain/ids.js';
import { unavailable } from '../../errors.js';
import { type JobObserver, NO_OBSERVER } from '../../jobs/observer.js';
import { checkEnqueue, checkQueueName, checkRepeat } from '../../jobs/validate.js';
import {
  DEFAULT_JOB_ATTEMPTS,
  DEFAULT_JOB_BACKOFF,
  DEFAULT_VISIBILITY_TIMEOUT_MS,
  type DeadJob,
  type EnqueueOptions,
  type JobCounts,
  type JobHandler,
  type JobPayload,
  type JobQueue,
  type WorkOptions,
} from '../../ports.js';
import { type ConnectionMonitor, isRedisOutage } from '../outage.js';
import { redisCall } from '../redis/outage.js';
import { type Closing, type ClusterTarget, endRedis, producerConnection, WorkerClusterConnection, WorkerConnection } from './connections.js';
import { type BullQueue, listDead, purgeDead, retryDead } from './dead-letters.js';
import { BACKOFF_TYPE, type BullJobData, encodeJobData, jobIdForKey, schedulerId } from './job-data.js';
import { QueueWorker, type WorkerHost } from './worker.js';

export interface BullJobQueueOptions {
  /** The Redis (`redis://…`). Use one with `maxmemory-policy noeviction` and persistence: evicted or lost keys are lost jobs. */
  url: string;
  /**
   * BullMQ's key prefix: every key is `<prefix>:<queue>:…` (a trailing ':' is dropped). On a
   * Redis Cluster each queue's keys are `{<prefix>:<queue>}:<queue>:…`: one hash tag per queue,
   * so a queue's scripts run on one master and the queues spread over the masters.
   */
  prefix: string;
  /** `url` names a node of a Redis Cluster (more seeds here): the queues are spread over its masters. */
  cluster?: ClusterTarget;
  /** How long a completed job's key still answers enqueues, ms. Default 24 hours. */
  keyRetentionMs?: number;
  /**
   * How long a call (enqueue, counts, dead letters, schedules) waits for Redis before it
   * rejects with `unavailable`, ms. Default 2000.
   */
  commandTimeoutMs?: number;
  /** Background failures that are not an outage (a run BullMQ could not record, a failed sweep). */
  onError(error: unknown, context: string): void;
  /**
   * Told when each connection (`bullmq producer`, `bullmq worker`) loses Redis and when it is
   * back. Without it, the first error of each outage goes to onError.
   */
  monitor?: (connection: string) => ConnectionMonitor;
  observer?: JobObserver;
  /** The backoff's jitter. (BullMQ reads the clock itself: there is no `now` to give it.) */
  random?: () => number;
}

export const DEFAULT_KEY_RETENTION_MS = 24 * 3_600_000;
const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;
const SWEEP_EVERY_MS = 60_000;
const SWEEP_BATCH = 1_000;
const MAX_DEAD_LISTED = 1_000;
/** How long close waits for BullMQ to wind a worker down, and for a connection to end, ms. */
const WIND_DOWN_MS = 1_000;
const END_MS = 2_000;
const MIN_VISIBILITY_TIMEOUT_MS = 200;
/** Failed runs whose stack BullMQ keeps with the job. */
const STACK_TRACES_KEPT = 3;

class DeadlineError extends Error {}

/** `promise`, or a DeadlineError after `ms`. */
async function deadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reports the first error of each outage and nothing more, for callers that gave no monitor. */
function firstErrorMonitor(report: (error: unknown) => void): ConnectionMonitor {
  let down = false;
  return {
    lost: (error) => {
      if (!down) report(error);
      down = true;
    },
    restored: () => {
      down = false;
    },
  };
}

export class BullJobQueue implements JobQueue {
  readonly kind = 'bullmq' as const;
  readonly #url: string;
  readonly #prefix: string;
  readonly #keyRetentionMs: number;
  readonly #commandTimeoutMs: number;
  readonly #onError: BullJobQueueOptions['onError'];
  readonly #observer: JobObserver;
  readonly #random: () => number;
  readonly #monitor: (connection: string) => ConnectionMonitor;
  readonly #producer: Redis | Cluster;
  readonly #cluster: ClusterTarget | undefined;
  /** Set on close: every connection stops reconnecting. */
  readonly #state: Closing = { closing: false };
  readonly #queues = new Map<string, BullQueue>();
  readonly #workers = new Map<string, QueueWorker>();
  #workerConnection: WorkerConnection | WorkerClusterConnection | null = null;
  #sweepTimer: NodeJS.Timeout | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: BullJobQueueOptions) {
    this.#url = options.url;
    this.#prefix = options.prefix.replace(/:+$/, '');
    if (this.#prefix === '') throw new Error('The BullMQ job queue needs a key prefix.');
    this.#keyRetentionMs = options.keyRetentionMs ?? DEFAULT_KEY_RETENTION_MS;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.#onError = options.onError;
    this.#observer = options.observer ?? NO_OBSERVER;
    this.#random = options.random ?? Math.random;
    this.#monitor = options.monitor ?? ((connection) => firstErrorMonitor((error) => this.#onError(error, `${connection} unavailable`)));
    this.#cluster = options.cluster;
    if (this.#cluster !== undefined && /[{}]/.test(this.#prefix)) throw new Error('On a Redis Cluster the job queue\'s prefix must hold no braces: the queues\' hash tags are made of it.');
    this.#producer = producerConnection(this.#url, this.#commandTimeoutMs, this.#monitor('bullmq producer'), this.#state, this.#cluster);
  }

  /** The BullMQ prefix of `queue`'s keys: on a cluster, a hash tag of its own. */
  #prefixOf(queue: string): string {
    return this.#cluster === undefined ? this.#prefix : `{${this.#prefix}:${queue}}`;
  }

  async enqueue(queue: string, payload: JobPayload, options?: EnqueueOptions): Promise<{ id: string; created: boolean }> {
    this.#checkOpen();
    const checked = checkEnqueue(queue, payload, options);
    const q = await this.#queue(queue);
    const token = newId();
    const job = await this.#call(
      q.add(token, encodeJobData(checked.payload, checked.key, checked.backoff), {
        ...(checked.key === null ? {} : { jobId: jobIdForKey(checked.key) }),
        ...(checked.delayMs > 0 ? { delay: checked.delayMs } : {}),
        attempts: checked.attempts,
        backoff: { type: BACKOFF_TYPE },
        // Without a key nothing needs a completed job again; with one, its key answers for the retention.
        removeOnComplete: checked.key === null ? true : { age: Math.ceil(this.#keyRetentionMs / 1_000) },
        removeOnFail: false,
        stackTraceLimit: STACK_TRACES_KEPT,
      }),
    );
    const id = job.id;
    if (id === undefined) throw new Error('BullMQ added a job without an id.');
    if (checked.key === null) return { id, created: true };
    // BullMQ answers the id of the job the key names, new or not: the name says whose it is.
    const name = await this.#call(this.#producer.hget(q.toKey(id), 'name'));
    return { id, created: name === token };
  }

  async repeat(queue: string, name: string, everyMs: number, payload: JobPayload): Promise<void> {
    this.#checkOpen();
    const json = checkRepeat(queue, name, everyMs, payload);
    const q = await this.#queue(queue);
    await this.#call(
      q.upsertJobScheduler(
        schedulerId(name),
        { every: everyMs },
        {
          name,
          data: encodeJobData(json, null, DEFAULT_JOB_BACKOFF),
          opts: {
            attempts: DEFAULT_JOB_ATTEMPTS,
            backoff: { type: BACKOFF_TYPE },
            removeOnComplete: true,
            removeOnFail: false,
            stackTraceLimit: STACK_TRACES_KEPT,
          },
        },
      ),
    );
  }

  async work(queue: string, handler: JobHandler, options: WorkOptions): Promise<void> {
    this.#checkOpen();
    checkQueueName(queue);
    if (this.#workers.has(queue)) throw new Error(`queue ${queue} is already worked by this process`);
    this.#workerConnection ??=
      this.#cluster === undefined ? new WorkerConnection(this.#url, this.#monitor('bullmq worker')) : new WorkerClusterConnection(this.#url, this.#cluster, this.#monitor('bullmq worker'));
    const worker = new QueueWorker(
      queue,
      handler,
      {
        concurrency: Math.max(1, Math.floor(options.concurrency)),
        // BullMQ renews a lock every quarter of it: shorter than this would spin.
        visibilityTimeoutMs: Math.max(MIN_VISIBILITY_TIMEOUT_MS, Math.floor(options.visibilityTimeoutMs ?? DEFAULT_VISIBILITY_TIMEOUT_MS)),
      },
      this.#host(queue, this.#workerConnection),
    );
    this.#workers.set(queue, worker);
    this.#scheduleSweep();
  }

  async counts(queue: string): Promise<JobCounts> {
    checkQueueName(queue);
    const q = await this.#queue(queue);
    const c = await this.#call(q.getJobCounts('waiting', 'prioritized', 'waiting-children', 'delayed', 'active', 'failed'));
    const n = (type: string): number => c[type] ?? 0;
    return {
      // A paused queue keeps its jobs in 'waiting' (BullMQ 6).
      waiting: n('waiting') + n('prioritized') + n('waiting-children'),
      delayed: n('delayed'),
      active: n('active'),
      dead: n('failed'),
    };
  }

  async deadLetters(queue: string, limit: number): Promise<DeadJob[]> {
    checkQueueName(queue);
    const q = await this.#queue(queue);
    return this.#call(listDead(q, queue, Math.max(1, Math.min(Math.floor(limit), MAX_DEAD_LISTED))));
  }

  async retryDead(queue: string, id: string): Promise<boolean> {
    checkQueueName(queue);
    const q = await this.#queue(queue);
    return this.#call(retryDead(q, (key, ...fields) => this.#producer.hdel(key, ...fields), id));
  }

  async purgeDead(queue: string, id?: string): Promise<number> {
    checkQueueName(queue);
    const q = await this.#queue(queue);
    return this.#call(purgeDead(q, id));
  }

  close(graceMs = 10_000): Promise<void> {
    this.#closing ??= this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    if (this.#sweepTimer !== null) clearInterval(this.#sweepTimer);
    const workers = [...this.#workers.values()];
    // Workers first: past their grace they give jobs back through the producer. While Redis
    // answers, BullMQ then winds each down at once (the completions it is recording go through).
    await Promise.all(workers.map((worker) => worker.stop(graceMs)));
    if (this.#workerConnection?.status === 'ready') await Promise.all(workers.map((worker) => worker.windDown(WIND_DOWN_MS)));
    await Promise.all(
      [...this.#queues.values()].map((q) => deadline(q.close(), this.#commandTimeoutMs).catch((error: unknown) => this.#reportUnlessOutage(error, `closing the bullmq queue ${q.name}`))),
    );
    this.#state.closing = true;
    await Promise.all([this.#workerConnection?.endAll(END_MS), endRedis(this.#producer, END_MS)]);
    // During an outage BullMQ's close could only end with its connections.
    await Promise.all(workers.map((worker) => worker.windDown(WIND_DOWN_MS)));
  }

  #checkOpen(): void {
    if (this.#closing !== null) throw new Error('The job queue is closed.');
  }

  /** The BullMQ Queue of `name`, ready: once its connection is up, or `unavailable` after the command timeout. */
  async #queue(name: string): Promise<BullQueue> {
    let q = this.#queues.get(name);
    if (q === undefined) {
      q = new Queue<BullJobData, void, string>(name, { connection: this.#producer, prefix: this.#prefixOf(name) });
      q.on('error', (error: Error) => this.#reportUnlessOutage(error, `bullmq queue ${name}`));
      this.#queues.set(name, q);
    }
    try {
      await deadline(q.waitUntilReady(), this.#commandTimeoutMs);
    } catch (error) {
      // A Queue whose start failed stays failed: the next call makes a new one.
      if (!(error instanceof DeadlineError) && this.#queues.get(name) === q) {
        this.#queues.delete(name);
        q.close().catch(() => undefined);
      }
      const failure = unavailable('The job queue is unavailable; retry shortly.');
      failure.cause = error;
      throw failure;
    }
    return q;
  }

  /** A producer call: an outage rejects with `unavailable`. */
  #call<T>(command: Promise<T>): Promise<T> {
    return redisCall(command, 'The job queue is unavailable; retry shortly.');
  }

  #reportUnlessOutage(error: unknown, context: string): void {
    if (!isRedisOutage(error)) this.#onError(error, context);
  }

  #host(queue: string, connection: WorkerConnection | WorkerClusterConnection): WorkerHost {
    return {
      prefix: this.#prefixOf(queue),
      connection,
      observer: this.#observer,
      random: this.#random,
      report: (error, context) => this.#reportUnlessOutage(error, context),
      giveBack: async (queue, jobId, token) => {
        const q = await this.#queue(queue);
        await this.#call(q.getBackend().moveJobFromActiveToWait(jobId, token));
      },
    };
  }

  /** Deletes completed keyed jobs past the key retention, in the queues this process works. */
  #scheduleSweep(): void {
    if (this.#sweepTimer !== null) return;
    this.#sweepTimer = setInterval(() => {
      for (const name of this.#workers.keys()) {
        this.#queue(name)
          .then((q) => q.clean(this.#keyRetentionMs, SWEEP_BATCH, 'completed'))
          .catch((error: unknown) => this.#reportUnlessOutage(error, `sweeping completed jobs of ${name}`));
      }
    }, SWEEP_EVERY_MS);
    this.#sweepTimer.unref();
  }
}
