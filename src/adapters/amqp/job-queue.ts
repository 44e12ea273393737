/**
 * The RabbitMQ job queue (JOBS=amqp, AMQP_URL): jobs are persistent messages in durable queues
 * (topology.ts), published through a confirm channel (an enqueue resolves once the broker
 * confirmed it), worked by consumers with manual acknowledgements (consumer.ts), over one
 * connection that reconnects by itself (connection.ts).
 *
 * What RabbitMQ lacks, and how it is made up:
 * - Delays and backoff: no native delay without a plugin. TTL delay buckets per power of two
 *   of milliseconds dead-letter back to the work queue (topology.ts). Precision: a job never
 *   runs before its time (by the clock of the process that set it: clocks of the processes
 *   should agree, NTP), and runs late by under 16 ms plus a few ms per trip through a bucket
 *   (at most log2(delay / 16) trips; measured locally 3 to 15 ms each), plus whatever wait the
 *   work queue has for ready jobs at that moment.
 * - Idempotency keys: no deduplication. Keys live in the SQL store (job_keys, migration 6):
 *   an enqueue claims the key (pending), publishes, then makes the claim live; a failed publish
 *   releases it, and a claim left pending by a process that died lapses after `pendingMs`.
 *   Other enqueues of a pending key wait for it to be settled (a little while, then
 *   `unavailable`). A completed job's key answers for `keyRetentionMs`; a dead job keeps it
 *   until it is purged. Jobs without a key never touch the store. An enqueue answered
 *   `unavailable` after its message went out (the confirm lost with the connection, or later
 *   than the call timeout) may have made its job all the same; its key is released anyway, so a
 *   retry may make a second job (at-least-once), and a key is never held by a job that is not there.
 * - Repeat schedules: the store's (jobsScheduleUpsert / jobsClaimDueSchedules), claimed by a
 *   ticker in each process every `pollMs`, each period enqueued under a key naming it, as the
 *   embedded queue does. A period whose enqueue fails (RabbitMQ down) is skipped.
 * - Leases: none needed. A worker that dies loses its connection, and the broker redelivers
 *   its unacknowledged deliveries at once (the same attempt runs again: the attempt number is
 *   the message's, and a crash does not use one up). `visibilityTimeoutMs` is not used: a run
 *   keeps its job however long it takes, up to the broker's `consumer_timeout` (30 minutes by
 *   default in RabbitMQ 3.10), past which the broker closes the channel and the job runs again.
 *
 * Counts: `waiting` is the work queue's ready messages, `delayed` the sum over the queue's
 * buckets, `dead` the dead queue's. `active` is this process's runs only: AMQP gives no count of
 * unacknowledged messages (the management API does, and is not assumed). A delayed job passing
 * through the work queue between two buckets is counted by neither for that moment, and a
 * delayed job whose bucket expired while no process works the queue is counted as waiting (it
 * waits in the work queue, and a worker sends it on for the rest of its wait). Reading counts
 * or dead letters declares the queue's topology when it is missing.
 *
 * Order: the work queue is FIFO, so with concurrency 1 and one worker jobs start in the order
 * they became ready; a run given back (shutdown, lost connection) goes back to its place.
 */
import { hostname } from 'node:os';
import { newId } from '../../domain/ids.js';
import { unavailable } from '../../errors.js';
import { type JobObserver, NO_OBSERVER } from '../../jobs/observer.js';
import { type CheckedEnqueue, checkEnqueue, checkQueueName, checkRepeat, repeatKey } from '../../jobs/validate.js';
import type { DeadJob, EnqueueOptions, JobCounts, JobHandler, JobPayload, JobQueue, WorkOptions } from '../../ports.js';
import { type ConnectionMonitor, isAmqpOutage } from '../outage.js';
import type { JobStore, KeyClaim } from '../sql/job-store.js';
import { type EncodedMessage, encodeJob, type JobMessage } from './codec.js';
import { AmqpConnection, isUnavailable, timed, translateAmqp, UnroutableError } from './connection.js';
import { type ConsumerHost, QueueConsumer } from './consumer.js';
import { type DeadLetterDeps, listDead, purgeDead, retryDead } from './dead-letters.js';
import { assertTopology, bucketIndex, type QueueTopology, queuesOf, topologyOf } from './topology.js';

export interface AmqpJobQueueOptions {
  /** amqp://user:password@host:5672/vhost */
  url: string;
  /** Put before every queue name (`<prefix><queue>`, `.dead`, `.delay.<ms>`). Default 'parley.'. */
  prefix?: string;
  /** The connection's name as the broker shows it. Default `parley jobs <host>:<pid>`. */
  connectionName?: string;
  /** How long a completed job's key still answers enqueues, ms. Default 24 hours. */
  keyRetentionMs?: number;
  /** How often this process looks for due repeat schedules, ms. Default 500. */
  pollMs?: number;
  /** Every call to RabbitMQ gives up after this, answered `unavailable`, ms. Default 5 000. */
  callTimeoutMs?: number;
  /** A connection attempt gives up after this, ms. Default 5 000. */
  connectTimeoutMs?: number;
  /** AMQP heartbeat, s: a silent connection is dropped after about twice it. Default 10. */
  heartbeatSeconds?: number;
  /** Waits between reconnection attempts: exponential from baseMs to maxMs, full jitter. Default 200 ms to 5 s. */
  reconnect?: { baseMs: number; maxMs: number };
  /** retryDead and purgeDead by id look at most this many dead letters from the head. Default 10 000. */
  deadScanLimit?: number;
  /** Background failures that are not outages (an outage goes to `monitor`, once). */
  onError(error: unknown, context: string): void;
  /** Told when the connection to RabbitMQ is lost and when it is back. */
  monitor?: ConnectionMonitor;
  observer?: JobObserver;
  now?: () => number;
  random?: () => number;
}

export const DEFAULT_KEY_RETENTION_MS = 24 * 3_600_000;
const SWEEP_EVERY_MS = 60_000;
const SWEEP_BATCH = 1_000;
const SCHEDULES_PER_TICK = 100;
/** Tries of a key update that must not be lost (done after a run, live after a publish). */
const KEY_TRIES = [0, 100, 400];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class AmqpJobQueue implements JobQueue {
  readonly kind = 'amqp' as const;
  readonly #store: JobStore;
  readonly #connection: AmqpConnection;
  readonly #prefix: string;
  readonly #keyRetentionMs: number;
  /** A key claim not made live within this lapses: its process died between claim and publish. */
  readonly #pendingMs: number;
  readonly #deadScanLimit: number;
  readonly #onError: AmqpJobQueueOptions['onError'];
  readonly #observer: JobObserver;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #consumers = new Map<string, QueueConsumer>();
  /** Declarations made on the connection now up; cleared when it goes. */
  readonly #topologies = new Map<string, Promise<QueueTopology>>();
  readonly #declared = new Set<string>();
  /** Dead-letter operations of a queue, one at a time in this process (dead-letters.ts). */
  readonly #deadTurns = new Map<string, Promise<unknown>>();
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #host: ConsumerHost;
  readonly #dead: DeadLetterDeps;
  #ticking: Promise<void> | null = null;
  #closing: Promise<void> | null = null;

  constructor(store: JobStore, options: AmqpJobQueueOptions) {
    this.#store = store;
    this.#prefix = options.prefix ?? 'parley.';
    this.#keyRetentionMs = options.keyRetentionMs ?? DEFAULT_KEY_RETENTION_MS;
    this.#deadScanLimit = options.deadScanLimit ?? 10_000;
    this.#onError = options.onError;
    this.#observer = options.observer ?? NO_OBSERVER;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    const callTimeoutMs = options.callTimeoutMs ?? 5_000;
    // Longer than the slowest enqueue: a declaration and a publish, twice (a queue deleted under it), each call timed.
    this.#pendingMs = 12 * callTimeoutMs;
    this.#connection = new AmqpConnection({
      url: options.url,
      name: options.connectionName ?? `parley jobs ${hostname()}:${process.pid}`,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      heartbeatSeconds: options.heartbeatSeconds ?? 10,
      callTimeoutMs,
      reconnect: options.reconnect ?? { baseMs: 200, maxMs: 5_000 },
      monitor: options.monitor,
      random: this.#random,
    });
    this.#connection.listen({
      up: () => {
        this.#topologies.clear();
        for (const consumer of this.#consumers.values()) void consumer.start();
      },
      down: () => this.#topologies.clear(),
    });
    this.#host = {
      connection: this.#connection,
      observer: this.#observer,
      now: () => this.#now(),
      random: () => this.#random(),
      topology: (queue) => this.#topology(queue),
      forgetTopology: (queue) => this.#topologies.delete(queue),
      publish: (queue, to, message) => this.#publish(queue, to, message),
      completeKey: (queue, key, id) => this.#setKey(queue, key, id, 'done'),
      reportError: (error, context) => this.#report(error, context),
    };
    this.#dead = {
      connection: this.#connection,
      publish: (to, message) => this.#connection.publish(to, message),
      releaseKeys: (queue, keys) => this.#store.jobsSetKeys(queue, keys, 'released', this.#now()),
    };
    this.#timers.push(
      setInterval(() => this.#tick(), options.pollMs ?? 500),
      setInterval(() => {
        this.#store.jobsSweep(this.#now() - this.#keyRetentionMs, SWEEP_BATCH).catch((error: unknown) => this.#report(error, 'sweeping job keys'));
      }, SWEEP_EVERY_MS),
    );
    for (const timer of this.#timers) timer.unref();
    this.#connection.start();
  }

  /** Resolves once connected to RabbitMQ (it connects in the background); `unavailable` after `timeoutMs`. */
  ready(timeoutMs = 10_000): Promise<void> {
    return this.#connection.ready(timeoutMs);
  }

  /** The queues this process declared in RabbitMQ (for operators' tools and tests). */
  declaredQueues(): QueueTopology[] {
    return [...this.#declared].map((queue) => topologyOf(this.#prefix, queue));
  }

  async enqueue(queue: string, payload: JobPayload, options?: EnqueueOptions): Promise<{ id: string; created: boolean }> {
    this.#checkOpen();
    return this.#enqueue(queue, checkEnqueue(queue, payload, options));
  }

  /** Enqueues a checked job (close waits for the repeat ticker's, so they do not check it is open). */
  async #enqueue(queue: string, checked: CheckedEnqueue): Promise<{ id: string; created: boolean }> {
    this.#connection.require();
    const now = this.#now();
    const job: JobMessage = {
      id: newId(),
      key: checked.key,
      payload: checked.payload,
      attempt: 1,
      attempts: checked.attempts,
      backoff: checked.backoff,
      enqueuedAt: now,
      runAt: checked.delayMs > 0 ? now + checked.delayMs : 0,
    };
    if (job.key !== null) {
      const claim = await this.#claimKey(queue, job.key, job.id);
      if (!claim.created) return { id: claim.id, created: false };
    }
    try {
      const t = await this.#topology(queue);
      await this.#publish(queue, checked.delayMs > 0 ? (t.buckets[bucketIndex(checked.delayMs)] ?? t.work) : t.work, encodeJob(job));
    } catch (error) {
      // Not published (or not confirmed): the key is free for the caller's retry.
      if (job.key !== null) {
        await this.#store.jobsSetKeys(queue, [{ key: job.key, id: job.id }], 'released', this.#now()).catch((e: unknown) => this.#report(e, `releasing a key of ${queue}`));
      }
      throw translateAmqp(error);
    }
    if (job.key !== null) await this.#setKey(queue, job.key, job.id, 'live').catch((error: unknown) => this.#report(error, `holding a key of ${queue}`));
    return { id: job.id, created: true };
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
    if (this.#consumers.has(queue)) throw new Error(`queue ${queue} is already worked by this process`);
    const consumer = new QueueConsumer(queue, handler, Math.max(1, Math.floor(options.concurrency)), this.#host);
    this.#consumers.set(queue, consumer);
    // While RabbitMQ is down this returns at once: the consumer starts when the connection is up.
    await consumer.start();
  }

  async counts(queue: string): Promise<JobCounts> {
    checkQueueName(queue);
    const t = await this.#topology(queue);
    const ms = this.#connection.callTimeoutMs;
    const sizes = await this.#connection.withChannel(`counting ${queue}`, (channel) =>
      Promise.all(queuesOf(t).map((name) => timed(channel.checkQueue(name), ms, `counting ${name}`).then((ok) => ok.messageCount))),
    );
    const [waiting = 0, dead = 0, ...delayed] = sizes;
    return { waiting, delayed: delayed.reduce((a, b) => a + b, 0), active: this.#consumers.get(queue)?.active ?? 0, dead };
  }

  deadLetters(queue: string, limit: number): Promise<DeadJob[]> {
    checkQueueName(queue);
    return this.#deadTurn(queue, async () => listDead(this.#dead, await this.#topology(queue), Math.max(1, Math.min(limit, 1_000))));
  }

  retryDead(queue: string, id: string): Promise<boolean> {
    checkQueueName(queue);
    return this.#deadTurn(queue, async () => retryDead(this.#dead, await this.#topology(queue), id, this.#deadScanLimit));
  }

  purgeDead(queue: string, id?: string): Promise<number> {
    checkQueueName(queue);
    return this.#deadTurn(queue, async () => purgeDead(this.#dead, await this.#topology(queue), id ?? null, this.#deadScanLimit));
  }

  close(graceMs = 10_000): Promise<void> {
    this.#closing ??= this.#close(graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    const consumers = [...this.#consumers.values()];
    await Promise.all(consumers.map((c) => c.cancel()));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(consumers.map((c) => c.idle())), grace]);
    clearTimeout(timer);
    // Runs still in their handler are aborted and requeued; those recording their outcome finish it.
    const settling = consumers.flatMap((c) => c.giveBack());
    await Promise.race([Promise.all(settling), sleep(this.#connection.callTimeoutMs)]);
    await this.#ticking;
    await Promise.all(consumers.map((c) => c.closeChannel()));
    await this.#connection.close();
  }

  #checkOpen(): void {
    if (this.#closing !== null) throw new Error('The job queue is closed.');
  }

  /** Background failures: outages are the monitor's to report (once), anything else goes to onError. */
  #report(error: unknown, context: string): void {
    if (isUnavailable(error) || isAmqpOutage(error)) return;
    this.#onError(error, context);
  }

  #topology(queue: string): Promise<QueueTopology> {
    let declared = this.#topologies.get(queue);
    if (declared === undefined) {
      const t = topologyOf(this.#prefix, queue);
      const declaring = this.#connection
        .withChannel(`declaring ${queue}`, (channel) => timed(assertTopology(channel, t), this.#connection.callTimeoutMs, `declaring ${queue}`))
        .then(() => {
          this.#declared.add(queue);
          return t;
        });
      declaring.catch(() => {
        if (this.#topologies.get(queue) === declaring) this.#topologies.delete(queue);
      });
      this.#topologies.set(queue, declaring);
      declared = declaring;
    }
    return declared;
  }

  /** Publishes to one of `queue`'s queues; a queue deleted under us is declared again, once. */
  async #publish(queue: string, to: string, message: EncodedMessage): Promise<void> {
    try {
      await this.#connection.publish(to, message);
    } catch (error) {
      if (!(error instanceof UnroutableError)) throw error;
      this.#topologies.delete(queue);
      await this.#topology(queue);
      await this.#connection.publish(to, message);
    }
  }

  /** Claims `key` for the job `id`, waiting out another enqueue of it that is not confirmed yet. */
  async #claimKey(queue: string, key: string, id: string): Promise<KeyClaim> {
    const deadline = Date.now() + 2 * this.#connection.callTimeoutMs;
    for (let i = 0; ; i++) {
      const claim = await this.#store.jobsClaimKey(queue, key, id, this.#now(), this.#keyRetentionMs, this.#pendingMs);
      if (claim.created || !claim.pending) return claim;
      if (Date.now() > deadline) throw unavailable('Another enqueue of this job key is not confirmed yet; retry shortly.');
      await sleep(Math.min(5 * 2 ** i, 100));
    }
  }

  /** Moves a job's key, with a few tries: a lost update would hold the key (live) or free it late (pending). */
  async #setKey(queue: string, key: string, id: string, state: 'live' | 'done'): Promise<void> {
    let failure: unknown;
    for (const wait of KEY_TRIES) {
      if (wait > 0) await sleep(wait);
      try {
        await this.#store.jobsSetKeys(queue, [{ key, id }], state, this.#now());
        return;
      } catch (error) {
        failure = error;
      }
    }
    throw failure;
  }

  #deadTurn<T>(queue: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#deadTurns.get(queue) ?? Promise.resolve();
    const turn = previous.catch(() => undefined).then(fn);
    this.#deadTurns.set(queue, turn);
    turn
      .finally(() => {
        if (this.#deadTurns.get(queue) === turn) this.#deadTurns.delete(queue);
      })
      .catch(() => undefined);
    return turn;
  }

  /** Runs the due repeat schedules (while connected: a period claimed now and not enqueued is lost). */
  #tick(): void {
    if (this.#ticking !== null || this.#closing !== null || this.#connection.link === null) return;
    this.#ticking = this.#runDueSchedules()
      .catch((error: unknown) => this.#report(error, 'running repeat schedules'))
      .finally(() => {
        this.#ticking = null;
      });
  }

  async #runDueSchedules(): Promise<void> {
    const due = await this.#store.jobsClaimDueSchedules(this.#now(), SCHEDULES_PER_TICK);
    for (const schedule of due) {
      const checked = checkEnqueue(schedule.queue, JSON.parse(schedule.payload) as JobPayload, { key: repeatKey(schedule.name, schedule.slot) });
      await this.#enqueue(schedule.queue, checked).catch((error: unknown) =>
        this.#report(error, `enqueueing the repeat ${schedule.name} of ${schedule.queue}`),
      );
    }
  }
}
