/**
 * One worked queue: a BullMQ Worker that runs the handler, mapped onto the JobQueue port.
 *
 * - Attempts. A run lost with its process (BullMQ: the lock lapsed, the stalled check put the
 *   job back, its `stalledCounter` went up) is a run made, as in the embedded queue: a job runs
 *   at most `attempts` times in all. So a run's number is failed runs + lost runs + 1, the
 *   backoff strategy answers "no retry" once that reaches the attempts, and a job picked up
 *   after its last attempt was lost is dead at once. BullMQ's own stall limit (maxStalledCount)
 *   is set past any job's attempts so that it never decides first.
 * - Lease. The visibility timeout is BullMQ's lock duration (renewed by the worker every
 *   quarter to half of it); the stalled check (one per queue in the whole deployment, whoever
 *   makes it) runs every half of it and puts back a job found unlocked twice running: a
 *   killed worker's job runs again within about two timeouts. A run whose lock could not be
 *   renewed has its signal aborted; what it does afterwards is not recorded (BullMQ refuses
 *   the stale token).
 * - Close. BullMQ's graceful close stops fetching and waits for the runs; past the grace each
 *   run left has its signal aborted and its job given back (waiting again at once, the attempt
 *   not counted), and BullMQ is told the run failed, which it cannot record (the lock is gone).
 */
import { type Job as BullJob, type MinimalJob, UnrecoverableError, Worker } from 'bullmq';
import { backoffDelay } from '../../jobs/backoff.js';
import { failureMessage, isPermanent } from '../../jobs/errors.js';
import type { JobObserver, RunOutcome } from '../../jobs/observer.js';
import { MAX_ATTEMPTS } from '../../jobs/validate.js';
import type { Job, JobHandler } from '../../ports.js';
import { isRedisOutage } from '../outage.js';
import type { WorkerClusterConnection, WorkerConnection } from './connections.js';
import { type BullJobData, tryDecodeJobData } from './job-data.js';

/** What a worked queue needs from the job queue that owns it. */
export interface WorkerHost {
  readonly prefix: string;
  readonly connection: WorkerConnection | WorkerClusterConnection;
  readonly observer: JobObserver;
  readonly random: () => number;
  report(error: unknown, context: string): void;
  /** Makes an active job waiting again at once (its lock held with `token`), its attempt not counted. */
  giveBack(queue: string, jobId: string, token: string): Promise<void>;
}

/** The error a job run picked up after its last attempt was lost dies with. */
export const LOST_LAST_ATTEMPT = 'The worker running it stopped (its lease lapsed) on its last attempt.';

/** BullMQ's messages for a run whose lock this process no longer holds. */
const LOCK_LOST = /^(?:Missing lock for job (.+?)\. |Lock mismatch for job (.+?)\. Cmd |Job (.+?) is not in the active state\. |could not renew lock for job (.+)$)/;

class GivenBack extends Error {
  override readonly name = 'GivenBack';
}

interface Run {
  readonly jobId: string;
  readonly token: string;
  readonly controller: AbortController;
  readonly startedAt: number;
  givenBack: boolean;
  /** Ends the processor at once (its job was given back), whatever the handler still does. */
  readonly giveUp: (reason: Error) => void;
}

/** Runs lost with their process (BullMQ's Job has the count; its MinimalJob type does not). */
function lostRuns(job: MinimalJob): number {
  const stalled = (job as { stalledCounter?: unknown }).stalledCounter;
  return typeof stalled === 'number' ? stalled : 0;
}

/** The error BullMQ keeps for a failed run: bounded, and final for a PermanentJobError. */
function toBullError(error: unknown): Error {
  const message = failureMessage(error);
  const wrapped = isPermanent(error) ? new UnrecoverableError(message) : new Error(message);
  if (error instanceof Error && error.stack !== undefined) wrapped.stack = error.stack;
  return wrapped;
}

function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([promise.then(() => true), deadline]).finally(() => clearTimeout(timer));
}

export class QueueWorker {
  readonly #queue: string;
  readonly #handler: JobHandler;
  readonly #host: WorkerHost;
  readonly #worker: Worker<BullJobData, void, string>;
  readonly #runs = new Map<string, Run>();
  /** Runs whose handler is done while BullMQ records how they ended: their start, for the observer. */
  readonly #finishing = new Map<string, number>();
  #stopping = false;
  #stopped: Promise<void> | null = null;
  /** BullMQ's close, begun by stop(). */
  #closed: Promise<void> | null = null;

  constructor(queue: string, handler: JobHandler, options: { concurrency: number; visibilityTimeoutMs: number }, host: WorkerHost) {
    this.#queue = queue;
    this.#handler = handler;
    this.#host = host;
    this.#worker = new Worker<BullJobData, void, string>(queue, (job, token) => this.#process(job, token), {
      connection: host.connection,
      prefix: host.prefix,
      concurrency: options.concurrency,
      lockDuration: options.visibilityTimeoutMs,
      stalledInterval: Math.ceil(options.visibilityTimeoutMs / 2),
      maxStalledCount: MAX_ATTEMPTS,
      settings: { backoffStrategy: (attemptsMade, _type, _error, job) => this.#backoff(attemptsMade, job) },
    });
    this.#worker.on('error', (error) => this.#onError(error));
    this.#worker.on('lockRenewalFailed', (jobIds) => {
      for (const id of jobIds) this.#runs.get(id)?.controller.abort(new Error('The job lock was lost; the job runs again elsewhere.'));
    });
    this.#worker.on('completed', (job) => this.#ended(job.id, 'completed'));
    this.#worker.on('failed', (job) => {
      if (job !== undefined) this.#ended(job.id, job.finishedOn === undefined ? 'retry' : 'dead');
    });
  }

  async #process(bullJob: BullJob<BullJobData, void, string>, token: string | undefined): Promise<void> {
    const jobId = bullJob.id;
    if (jobId === undefined || token === undefined) throw new Error('BullMQ handed over a job without an id or a lock token.');
    let giveUp: (reason: Error) => void = () => undefined;
    const givenUp = new Promise<never>((_, reject) => {
      giveUp = reject;
    });
    givenUp.catch(() => undefined);
    const run: Run = { jobId, token, controller: new AbortController(), startedAt: performance.now(), givenBack: false, giveUp };
    this.#runs.set(jobId, run);
    try {
      // BullMQ may fetch one more job on its way out (a fetch in flight when close began).
      if (this.#stopping) {
        await this.#giveBack(run);
        throw new GivenBack('The job queue is closing; the job was given back.');
      }
      await Promise.race([this.#run(bullJob, run.controller.signal), givenUp]);
    } finally {
      // A run whose lock was lost may outlast the job's next run, in this very process.
      if (this.#runs.get(jobId) === run) this.#runs.delete(jobId);
      if (!run.givenBack) this.#finishing.set(jobId, run.startedAt);
    }
  }

  async #run(bullJob: BullJob<BullJobData, void, string>, signal: AbortSignal): Promise<void> {
    const decoded = tryDecodeJobData(bullJob.data);
    if ('error' in decoded) throw new UnrecoverableError(decoded.error);
    const attempts = bullJob.opts.attempts ?? 1;
    const made = bullJob.attemptsMade + lostRuns(bullJob);
    if (made >= attempts) throw new UnrecoverableError(LOST_LAST_ATTEMPT);
    const job: Job = {
      id: bullJob.id as string,
      queue: this.#queue,
      payload: decoded.payload,
      // A run of a repeat schedule: its BullMQ id names the schedule and the period.
      key: decoded.key ?? (bullJob.repeatJobKey !== undefined ? (bullJob.id as string) : null),
      attempt: made + 1,
      attempts,
      enqueuedAt: bullJob.timestamp,
      signal,
    };
    try {
      await this.#handler(job);
    } catch (error) {
      throw toBullError(error);
    }
  }

  /** BullMQ asks after a failed run (`attemptsMade` counts it) while its own attempts remain. */
  #backoff(attemptsMade: number, job: MinimalJob | undefined): number {
    if (job === undefined) return 0;
    const decoded = tryDecodeJobData(job.data);
    if ('error' in decoded) return -1;
    const made = attemptsMade + lostRuns(job);
    // -1: no retry, the job is dead (its lost runs used up the attempts).
    if (made >= (job.opts.attempts ?? 1)) return -1;
    return backoffDelay(made, decoded.backoff, this.#host.random);
  }

  async #giveBack(run: Run): Promise<void> {
    if (run.givenBack) return;
    run.givenBack = true;
    try {
      await this.#host.giveBack(this.#queue, run.jobId, run.token);
      this.#host.observer.ran(this.#queue, 'released', 0);
    } catch (error) {
      // Not given back: its lock lapses and it runs again then.
      this.#host.report(error, `giving back a job of ${this.#queue}`);
    }
  }

  #ended(jobId: string | undefined, outcome: RunOutcome): void {
    if (jobId === undefined) return;
    const startedAt = this.#finishing.get(jobId);
    if (startedAt === undefined) return;
    this.#finishing.delete(jobId);
    this.#host.observer.ran(this.#queue, outcome, (performance.now() - startedAt) / 1_000);
  }

  #onError(error: Error): void {
    // An outage is reported once, by the connection that saw it.
    if (isRedisOutage(error)) return;
    const lost = LOCK_LOST.exec(error.message);
    if (lost !== null) {
      // Its job runs (or ran) elsewhere: at-least-once, not a fault of this process.
      const jobId = lost.slice(1).find((id) => id !== undefined);
      if (!error.message.startsWith('could not renew')) this.#ended(jobId, 'lost');
      return;
    }
    this.#host.report(error, `bullmq worker of ${this.#queue}`);
  }

  /**
   * Stops taking jobs, lets runs finish for `graceMs`, then gives back those left (their
   * handlers may still be going: their signals are aborted). Idempotent.
   */
  stop(graceMs: number): Promise<void> {
    this.#stopped ??= this.#stop(graceMs);
    return this.#stopped;
  }

  async #stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    this.#closed = this.#worker.close(false).catch((error: unknown) => this.#host.report(error, `closing the bullmq worker of ${this.#queue}`));
    if (await within(this.#closed, graceMs)) return;
    const left = [...this.#runs.values()].filter((run) => !run.givenBack);
    for (const run of left) run.controller.abort(new Error('The job queue is closing; the job runs again elsewhere.'));
    await Promise.all(
      left.map(async (run) => {
        await this.#giveBack(run);
        run.giveUp(new GivenBack('The job queue closed past its grace; the job was given back.'));
      }),
    );
  }

  /**
   * Waits up to `ms` for BullMQ to wind the worker down (its blocking connection closed, its
   * lock renewal stopped): at once when Redis answers; during an outage only once the owner
   * ended the connections.
   */
  async windDown(ms: number): Promise<void> {
    if (this.#closed !== null && (await within(this.#closed, ms))) this.#finishing.clear();
  }
}
