/**
 * The embedded job queue: jobs are rows of the SQL store (job-store.ts), so it needs no service,
 * survives a restart, and is shared by every process using the database (the workers of one
 * machine on SQLite; every node on PostgreSQL).
 *
 * Each process polls the queues it works every `pollMs` (at once after a local enqueue or a
 * finished run), leasing up to its free concurrency in one transaction. It renews the leases of
 * its runs every third of the lease: a process that dies stops renewing, and once the lease
 * lapses another process claims the job again. Repeat schedules are claimed the same way, one
 * process per period, and each period's job is enqueued under a key naming the period.
 */
import { hostname } from 'node:os';
import { newId } from '../../domain/ids.js';
import { backoffDelay } from '../../jobs/backoff.js';
import { failureMessage, isPermanent } from '../../jobs/errors.js';
import { type JobObserver, NO_OBSERVER } from '../../jobs/observer.js';
import { checkEnqueue, checkQueueName, checkRepeat, repeatKey } from '../../jobs/validate.js';
import {
  DEFAULT_VISIBILITY_TIMEOUT_MS,
  type DeadJob,
  type EnqueueOptions,
  type Job,
  type JobCounts,
  type JobHandler,
  type JobPayload,
  type JobQueue,
  type WorkOptions,
} from '../../ports.js';
import type { ClaimedJobRow, JobStore } from './job-store.js';

export interface EmbeddedJobQueueOptions {
  /** How often each worked queue and the repeat schedules are polled, ms. */
  pollMs?: number;
  /** How long a completed job's key still answers enqueues, ms. */
  keyRetentionMs?: number;
  /** Background failures (a claim or a renewal the store refused); the work goes on. */
  onError(error: unknown, context: string): void;
  observer?: JobObserver;
  now?: () => number;
  random?: () => number;
}

export const DEFAULT_POLL_MS = 500;
export const DEFAULT_KEY_RETENTION_MS = 24 * 3_600_000;
const SWEEP_EVERY_MS = 60_000;
const SWEEP_BATCH = 1_000;
const SCHEDULES_PER_TICK = 100;

interface Run {
  readonly row: ClaimedJobRow;
  readonly controller: AbortController;
  readonly done: Promise<void>;
}

class QueueWorker {
  readonly running = new Map<string, Run>();
  /** The claim loop running now, if any: close() waits for it, so a claim in flight is given back before the store closes. */
  #pumping: Promise<void> | null = null;
  #again = false;
  #stopped = false;

  constructor(
    readonly queue: string,
    readonly handler: JobHandler,
    readonly concurrency: number,
    readonly leaseMs: number,
    private readonly owner: EmbeddedJobQueue,
  ) {}

  /** Claims jobs while slots are free; a call made while one runs makes it go round again. */
  pump(): void {
    if (this.#stopped) return;
    if (this.#pumping !== null) {
      this.#again = true;
      return;
    }
    this.#pumping = this.#claimLoop().finally(() => {
      this.#pumping = null;
      if (this.#again) {
        this.#again = false;
        this.pump();
      }
    });
  }

  async #claimLoop(): Promise<void> {
    try {
      while (!this.#stopped) {
        const free = this.concurrency - this.running.size;
        if (free <= 0) return;
        const rows = await this.owner.claim(this.queue, free, this.leaseMs);
        for (const row of rows) {
          if (this.#stopped) await this.owner.release(row);
          else this.#start(row);
        }
        if (rows.length < free) return;
      }
    } catch (error) {
      this.owner.reportError(error, `claiming jobs of ${this.queue}`);
    }
  }

  #start(row: ClaimedJobRow): void {
    const controller = new AbortController();
    const job: Job = {
      id: row.id,
      queue: row.queue,
      payload: JSON.parse(row.payload) as JobPayload,
      key: row.key,
      attempt: row.attempt,
      attempts: row.maxAttempts,
      enqueuedAt: row.createdAt,
      signal: controller.signal,
    };
    const startedAt = performance.now();
    const done = (async () => this.handler(job))()
      .then(
        () => this.owner.settle(row, controller, null, startedAt),
        (error: unknown) => this.owner.settle(row, controller, error, startedAt),
      )
      .catch((error: unknown) => this.owner.reportError(error, `recording a run of ${this.queue}`))
      .finally(() => {
        this.running.delete(row.id);
        this.pump();
      });
    this.running.set(row.id, { row, controller, done });
  }

  stop(): void {
    this.#stopped = true;
  }

  /** Resolves when no claim loop runs (one running when stopped gives back what it claims). */
  async claimed(): Promise<void> {
    while (this.#pumping !== null) await this.#pumping;
  }
}

export class EmbeddedJobQueue implements JobQueue {
  readonly kind = 'embedded' as const;
  readonly #store: JobStore;
  readonly #pollMs: number;
  readonly #keyRetentionMs: number;
  readonly #onError: EmbeddedJobQueueOptions['onError'];
  readonly #observer: JobObserver;
  readonly #now: () => number;
  readonly #random: () => number;
  /** Names this process's leases. */
  readonly #owner = `${hostname()}:${process.pid}:${newId()}`;
  readonly #workers = new Map<string, QueueWorker>();
  readonly #timers: NodeJS.Timeout[] = [];
  #renewTimer: NodeJS.Timeout | null = null;
  #closing: Promise<void> | null = null;
  #ticking = false;

  constructor(store: JobStore, options: EmbeddedJobQueueOptions) {
    this.#store = store;
    this.#pollMs = options.pollMs ?? DEFAULT_POLL_MS;
    this.#keyRetentionMs = options.keyRetentionMs ?? DEFAULT_KEY_RETENTION_MS;
    this.#onError = options.onError;
    this.#observer = options.observer ?? NO_OBSERVER;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#timers.push(
      setInterval(() => this.#tick(), this.#pollMs),
      setInterval(() => {
        this.#store.jobsSweep(this.#now() - this.#keyRetentionMs, SWEEP_BATCH).catch((error: unknown) => this.reportError(error, 'sweeping done jobs'));
      }, SWEEP_EVERY_MS),
    );
    for (const timer of this.#timers) timer.unref();
  }

  async enqueue(queue: string, payload: JobPayload, options?: EnqueueOptions): Promise<{ id: string; created: boolean }> {
    this.#checkOpen();
    const checked = checkEnqueue(queue, payload, options);
    const now = this.#now();
    const result = await this.#store.jobsEnqueue(
      {
        id: newId(),
        queue,
        key: checked.key,
        payload: checked.payload,
        maxAttempts: checked.attempts,
        backoffBaseMs: checked.backoff.baseMs,
        backoffMaxMs: checked.backoff.maxMs,
        runAt: now + checked.delayMs,
      },
      now,
      this.#keyRetentionMs,
    );
    if (result.created && checked.delayMs === 0) this.#workers.get(queue)?.pump();
    return result;
  }

  async repeat(queue: string, name: string, everyMs: number, payload: JobPayload): Promise<void> {
    this.#checkOpen();
    const json = checkRepeat(queue, name, everyMs, payload);
    await this.#store.jobsScheduleUpsert(queue, name, everyMs, json, this.#now());
    this.#tick();
  }

  async work(queue: string, handler: JobHandler, options: WorkOptions): Promise<void> {
    this.#checkOpen();
    checkQueueName(queue);
    if (this.#workers.has(queue)) throw new Error(`queue ${queue} is already worked by this process`);
    const leaseMs = options.visibilityTimeoutMs ?? DEFAULT_VISIBILITY_TIMEOUT_MS;
    const worker = new QueueWorker(queue, handler, Math.max(1, Math.floor(options.concurrency)), leaseMs, this);
    this.#workers.set(queue, worker);
    this.#scheduleRenewals();
    worker.pump();
  }

  counts(queue: string): Promise<JobCounts> {
    checkQueueName(queue);
    return this.#store.jobsCounts(queue, this.#now());
  }

  deadLetters(queue: string, limit: number): Promise<DeadJob[]> {
    checkQueueName(queue);
    return this.#store.jobsDead(queue, Math.max(1, Math.min(limit, 1_000)));
  }

  async retryDead(queue: string, id: string): Promise<boolean> {
    checkQueueName(queue);
    const retried = await this.#store.jobsRetryDead(queue, id, this.#now());
    if (retried) this.#workers.get(queue)?.pump();
    return retried;
  }

  purgeDead(queue: string, id?: string): Promise<number> {
    checkQueueName(queue);
    return this.#store.jobsPurgeDead(queue, id ?? null);
  }

  close(graceMs = 10_000): Promise<void> {
    this.#closing ??= this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    for (const worker of this.#workers.values()) worker.stop();
    const runs = () => [...this.#workers.values()].flatMap((w) => [...w.running.values()]);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    const workers = [...this.#workers.values()];
    await Promise.race([Promise.all([...workers.map((w) => w.claimed()), ...runs().map((run) => run.done)]), grace]);
    clearTimeout(timer);
    // Runs still going are given back: another process (or this one, restarted) runs them.
    const left = runs();
    for (const run of left) run.controller.abort(new Error('The job queue is closing.'));
    await Promise.all(left.map((run) => this.release(run.row)));
    if (this.#renewTimer !== null) clearInterval(this.#renewTimer);
  }

  // For the queue workers

  claim(queue: string, limit: number, leaseMs: number): Promise<ClaimedJobRow[]> {
    return this.#store.jobsClaim(queue, this.#owner, limit, this.#now(), leaseMs);
  }

  async release(row: ClaimedJobRow): Promise<void> {
    try {
      await this.#store.jobsRelease(row.id, this.#owner, row.attempt, this.#now());
      this.#observer.ran(row.queue, 'released', 0);
    } catch (error) {
      // Not given back: its lease lapses and it runs again then.
      this.reportError(error, `giving back a job of ${row.queue}`);
    }
  }

  /** Records how a run ended: done, to retry after its backoff, or dead. */
  async settle(row: ClaimedJobRow, controller: AbortController, error: unknown, startedAt: number): Promise<void> {
    const seconds = (performance.now() - startedAt) / 1_000;
    // A run given up (closing, or its lease lost) is not recorded: its job runs again.
    if (controller.signal.aborted) return;
    const now = this.#now();
    if (error === null) {
      const held = await this.#store.jobsComplete(row.id, this.#owner, row.attempt, now);
      this.#observer.ran(row.queue, held ? 'completed' : 'lost', seconds);
      return;
    }
    const dead = isPermanent(error) || row.attempt >= row.maxAttempts;
    const retryAt = dead ? null : now + backoffDelay(row.attempt, { baseMs: row.backoffBaseMs, maxMs: row.backoffMaxMs }, this.#random);
    const held = await this.#store.jobsFail(row.id, this.#owner, row.attempt, now, failureMessage(error), retryAt);
    this.#observer.ran(row.queue, held ? (dead ? 'dead' : 'retry') : 'lost', seconds);
  }

  reportError(error: unknown, context: string): void {
    this.#onError(error, context);
  }

  #checkOpen(): void {
    if (this.#closing !== null) throw new Error('The job queue is closed.');
  }

  /** Polls every worked queue, and enqueues the jobs of due repeat schedules. */
  #tick(): void {
    for (const worker of this.#workers.values()) worker.pump();
    if (this.#ticking || this.#closing !== null) return;
    this.#ticking = true;
    this.#runDueSchedules()
      .catch((error: unknown) => this.reportError(error, 'running repeat schedules'))
      .finally(() => {
        this.#ticking = false;
      });
  }

  async #runDueSchedules(): Promise<void> {
    const due = await this.#store.jobsClaimDueSchedules(this.#now(), SCHEDULES_PER_TICK);
    for (const schedule of due) {
      await this.enqueue(schedule.queue, JSON.parse(schedule.payload) as JobPayload, { key: repeatKey(schedule.name, schedule.slot) });
    }
  }

  /** Renews the leases of every run in flight, every third of the shortest lease; a run whose lease was lost is aborted. */
  #scheduleRenewals(): void {
    if (this.#renewTimer !== null) clearInterval(this.#renewTimer);
    const shortest = Math.min(...[...this.#workers.values()].map((w) => w.leaseMs));
    this.#renewTimer = setInterval(() => {
      for (const worker of this.#workers.values()) {
        const runs = [...worker.running.values()].filter((run) => !run.controller.signal.aborted);
        if (runs.length === 0) continue;
        this.#store.jobsRenew(runs.map((run) => run.row.id), this.#owner, this.#now(), worker.leaseMs).then(
          (held) => {
            const kept = new Set(held);
            for (const run of runs) if (!kept.has(run.row.id)) run.controller.abort(new Error('The job lease was lost; it runs elsewhere.'));
          },
          (error: unknown) => this.reportError(error, `renewing leases of ${worker.queue}`),
        );
      }
    }, Math.max(50, Math.floor(shortest / 3)));
    this.#renewTimer.unref();
  }
}
