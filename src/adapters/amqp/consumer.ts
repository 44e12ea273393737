/**
 * Works one queue in this process: a channel of its own with prefetch = concurrency and manual
 * acknowledgements, consuming the work queue, set up again after every reconnect (or loss of
 * the channel alone: a consumer timeout, the queue deleted).
 *
 * A delivery is acknowledged only once its outcome is safe in the broker: completed (after its
 * key was marked done), or its next attempt or its dead letter published and confirmed. Publish
 * first, acknowledge after: a crash between the two runs the job again (at-least-once), never
 * loses it. A delivery whose outcome could not be recorded goes back to the queue (nack with
 * requeue) and runs again, the same attempt.
 *
 * A delivery not due yet (a delay or a backoff coming back from its bucket with time left) is
 * sent on to the bucket for the rest of its wait without running.
 *
 * No leases: a worker that dies loses its connection and RabbitMQ gives its unacknowledged
 * deliveries to another consumer at once. A lost channel aborts the runs it carried (their
 * `signal`): their jobs run again elsewhere, and what they would record is dropped. A handler
 * slow to stop may still be running when the next channel takes deliveries: for that while the
 * process runs more than `concurrency` jobs of the queue.
 */
import type { Channel, ConsumeMessage } from 'amqplib';
import { backoffDelay } from '../../jobs/backoff.js';
import { failureMessage, isPermanent } from '../../jobs/errors.js';
import type { JobObserver } from '../../jobs/observer.js';
import type { Job, JobHandler } from '../../ports.js';
import { isAmqpOutage } from '../outage.js';
import { type DecodedJob, decodeJob, type EncodedMessage, encodeJob } from './codec.js';
import { type AmqpConnection, timed } from './connection.js';
import { bucketIndex, type QueueTopology } from './topology.js';

export interface ConsumerHost {
  readonly connection: AmqpConnection;
  readonly observer: JobObserver;
  now(): number;
  random(): number;
  /** The queue's topology, declared on the connection now up. */
  topology(queue: string): Promise<QueueTopology>;
  /** Forgets the queue's declaration: it is declared again before its next use. */
  forgetTopology(queue: string): void;
  /** Publishes to `to`, one of `queue`'s queues; resolves once confirmed. */
  publish(queue: string, to: string, message: EncodedMessage): Promise<void>;
  /** The job completed: its key answers for the retention from now on. */
  completeKey(queue: string, key: string, id: string): Promise<void>;
  reportError(error: unknown, context: string): void;
}

/** After a delivery could not be recorded, the wait before it goes back to the queue, ms: no hot loop. */
const GIVE_BACK_PAUSE_MS = 1_000;
/** After the channel was lost with the connection still up, the wait before consuming again, ms. */
const RESTART_MS = 500;

type Outcome = { ok: true } | { ok: false; error: unknown };

interface Run {
  readonly job: DecodedJob;
  readonly channel: Channel;
  readonly message: ConsumeMessage;
  readonly controller: AbortController;
  readonly startedAt: number;
  /** running: the handler has it; settling: its outcome is being recorded; answered: acked, nacked, or its channel is gone. */
  phase: 'running' | 'settling' | 'answered';
  done: Promise<void>;
}

export class QueueConsumer {
  readonly #runs = new Set<Run>();
  /** Deliveries being sent on to a bucket, or paused before going back. */
  readonly #passing = new Set<Promise<void>>();
  readonly #stop = new AbortController();
  #state: 'idle' | 'starting' | 'consuming' | 'stopped' = 'idle';
  #channel: Channel | null = null;
  #tag: string | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    readonly queue: string,
    readonly handler: JobHandler,
    readonly concurrency: number,
    private readonly host: ConsumerHost,
  ) {}

  /** Runs going on now (handlers not yet returned), for counts. */
  get active(): number {
    let n = 0;
    for (const run of this.#runs) if (run.phase !== 'answered') n++;
    return n;
  }

  /** Starts consuming if the connection is up (else its next 'up' calls this again). */
  async start(): Promise<void> {
    if (this.#state !== 'idle') return;
    const link = this.host.connection.link;
    if (link === null) return;
    this.#state = 'starting';
    let channel: Channel | undefined;
    try {
      const topology = await this.host.topology(this.queue);
      const holder: { channel?: Channel } = {};
      channel = await this.host.connection.openChannel(link, `working ${this.queue}`, (error) => {
        if (holder.channel !== undefined) this.#channelClosed(holder.channel, error);
      });
      holder.channel = channel;
      const ch = channel;
      const ms = this.host.connection.callTimeoutMs;
      await timed(ch.prefetch(this.concurrency), ms, 'setting the prefetch');
      const { consumerTag } = await timed(
        ch.consume(topology.work, (message) => this.#deliver(ch, message), { noAck: false }),
        ms,
        `consuming ${topology.work}`,
      );
      if (this.#state !== 'starting') {
        await this.host.connection.closeChannel(ch);
        return;
      }
      this.#channel = ch;
      this.#tag = consumerTag;
      this.#state = 'consuming';
    } catch (error) {
      if (channel !== undefined) void this.host.connection.closeChannel(channel);
      if (this.#state === 'starting') {
        this.#state = 'idle';
        if (!isAmqpOutage(error)) this.host.reportError(error, `starting to work ${this.queue}`);
        this.#restartLater();
      }
    }
  }

  /** Stops taking deliveries (the runs going on go on). */
  async cancel(): Promise<void> {
    this.#state = 'stopped';
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#stop.abort();
    const channel = this.#channel;
    const tag = this.#tag;
    if (channel !== null && tag !== null) await timed(channel.cancel(tag), this.host.connection.callTimeoutMs, 'cancelling a consumer').catch(() => undefined);
  }

  /** Settles once every run and passing delivery has ended (bounded by the caller). */
  idle(): Promise<unknown> {
    return Promise.all([...[...this.#runs].map((run) => run.done), ...this.#passing]);
  }

  /** Gives back the runs still in their handler: aborted, their deliveries requeued to run again elsewhere. */
  giveBack(): Array<Promise<void>> {
    const settling: Array<Promise<void>> = [];
    for (const run of this.#runs) {
      if (run.phase === 'running') {
        run.phase = 'answered';
        run.controller.abort(new Error('The job queue is closing; the job runs again elsewhere.'));
        answer(run.channel, run.message, 'requeue');
        this.host.observer.ran(this.queue, 'released', seconds(run.startedAt));
      } else if (run.phase === 'settling') settling.push(run.done);
    }
    return settling;
  }

  async closeChannel(): Promise<void> {
    const channel = this.#channel;
    this.#channel = null;
    if (channel !== null) await this.host.connection.closeChannel(channel);
  }

  #restartLater(): void {
    if (this.#state !== 'idle' || this.#timer !== null) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.start();
    }, RESTART_MS);
    this.#timer.unref();
  }

  #channelClosed(channel: Channel, error: Error | null): void {
    // Its deliveries can no longer be acknowledged: the broker gives them to another consumer.
    for (const run of this.#runs) {
      if (run.channel !== channel || run.phase === 'answered') continue;
      run.phase = 'answered';
      run.controller.abort(new Error('The connection to RabbitMQ was lost; the job runs again elsewhere.'));
      this.host.observer.ran(this.queue, 'lost', seconds(run.startedAt));
    }
    if (this.#channel !== channel) return;
    this.#channel = null;
    this.#tag = null;
    if (this.#state !== 'consuming') return;
    this.#state = 'idle';
    // With the connection (the monitor tells that), or alone: a consumer timeout, the queue deleted.
    if (error !== null && !isAmqpOutage(error)) this.host.reportError(error, `working ${this.queue}`);
    this.#restartLater();
  }

  #deliver(channel: Channel, message: ConsumeMessage | null): void {
    if (message === null) {
      // The broker cancelled the consumer: the queue was deleted. Declared again on restart.
      this.host.forgetTopology(this.queue);
      void this.host.connection.closeChannel(channel);
      return;
    }
    if (this.#state === 'stopped') {
      // Sent before the consumer was cancelled: not started while closing, another takes it.
      answer(channel, message, 'requeue');
      return;
    }
    const job = decodeJob(message);
    if (job === null) {
      this.host.reportError(new Error(`A message of ${message.fields.routingKey} is not a job (id ${String(message.properties.messageId)}); dropped.`), `working ${this.queue}`);
      answer(channel, message, 'drop');
      return;
    }
    if (message.fields.redelivered) {
      // Delivered before and never answered: the run it went to was lost (its process or channel
      // died). That counts as a run made, as a lapsed lease does elsewhere, so a job that kills
      // its worker cannot loop for ever: sent on as its next attempt, or dead after its last.
      // (A delivery given back at close is redelivered too, and counted the same.)
      this.#relay(channel, message, job);
      return;
    }
    const wait = job.runAt - this.host.now();
    if (wait > 0) this.#pass(channel, message, job, wait);
    else this.#run(channel, message, job);
  }

  /** A redelivered job, published again as its next attempt (or as dead), then acknowledged. */
  #relay(channel: Channel, message: ConsumeMessage, job: DecodedJob): void {
    const relaying = (async () => {
      try {
        const topology = await this.host.topology(this.queue);
        if (job.attempt >= job.attempts) {
          await this.host.publish(this.queue, topology.dead, encodeJob(job, { error: 'The worker running it stopped (its delivery was lost) on its last attempt.', failedAt: this.host.now() }));
        } else {
          await this.host.publish(this.queue, topology.work, encodeJob({ ...job, attempt: job.attempt + 1, runAt: 0 }));
        }
        answer(channel, message, 'ack');
      } catch (error) {
        await this.#giveBackLater(channel, message, error);
      }
    })().finally(() => this.#passing.delete(relaying));
    this.#passing.add(relaying);
  }

  /** Sends a delivery not due yet on to the bucket for the rest of its wait. */
  #pass(channel: Channel, message: ConsumeMessage, job: DecodedJob, wait: number): void {
    const passing = (async () => {
      try {
        const topology = await this.host.topology(this.queue);
        await this.host.publish(this.queue, topology.buckets[bucketIndex(wait)] ?? topology.work, encodeJob(job));
        answer(channel, message, 'ack');
      } catch (error) {
        await this.#giveBackLater(channel, message, error);
      }
    })().finally(() => this.#passing.delete(passing));
    this.#passing.add(passing);
  }

  #run(channel: Channel, message: ConsumeMessage, job: DecodedJob): void {
    const controller = new AbortController();
    const view: Job = {
      id: job.id,
      queue: this.queue,
      payload: job.value,
      key: job.key,
      attempt: job.attempt,
      attempts: job.attempts,
      enqueuedAt: job.enqueuedAt,
      signal: controller.signal,
    };
    const run: Run = { job, channel, message, controller, startedAt: performance.now(), phase: 'running', done: Promise.resolve() };
    run.done = (async () => this.handler(view))()
      .then(
        (): Outcome => ({ ok: true }),
        (error: unknown): Outcome => ({ ok: false, error }),
      )
      .then((outcome) => this.#settle(run, outcome))
      .catch((error: unknown) => this.host.reportError(error, `recording a run of ${this.queue}`))
      .finally(() => this.#runs.delete(run));
    this.#runs.add(run);
  }

  /** Records how a run ended, then acknowledges its delivery. */
  async #settle(run: Run, outcome: Outcome): Promise<void> {
    // Given back (closing) or lost with its channel: it runs again; nothing is recorded here.
    if (run.phase !== 'running') return;
    run.phase = 'settling';
    const { job } = run;
    let result: 'completed' | 'retry' | 'dead';
    try {
      if (outcome.ok) {
        if (job.key !== null) await this.host.completeKey(this.queue, job.key, job.id);
        result = 'completed';
      } else {
        const topology = await this.host.topology(this.queue);
        const now = this.host.now();
        if (isPermanent(outcome.error) || job.attempt >= job.attempts) {
          await this.host.publish(this.queue, topology.dead, encodeJob(job, { error: failureMessage(outcome.error), failedAt: now }));
          result = 'dead';
        } else {
          const wait = backoffDelay(job.attempt, job.backoff, () => this.host.random());
          const next = { ...job, attempt: job.attempt + 1, runAt: wait > 0 ? now + wait : 0 };
          await this.host.publish(this.queue, wait > 0 ? (topology.buckets[bucketIndex(wait)] ?? topology.work) : topology.work, encodeJob(next));
          result = 'retry';
        }
      }
    } catch (error) {
      if (run.phase !== 'settling') return;
      run.phase = 'answered';
      this.host.observer.ran(this.queue, 'lost', seconds(run.startedAt));
      await this.#giveBackLater(run.channel, run.message, error);
      return;
    }
    if (run.phase !== 'settling') return;
    run.phase = 'answered';
    this.host.observer.ran(this.queue, answer(run.channel, run.message, 'ack') ? result : 'lost', seconds(run.startedAt));
  }

  /**
   * A delivery whose outcome could not be recorded goes back to the queue to run again, after a
   * pause (cut short by close) so that a failing dependency does not make a hot loop.
   */
  async #giveBackLater(channel: Channel, message: ConsumeMessage, error: unknown): Promise<void> {
    if (!isAmqpOutage(error)) this.host.reportError(error, `recording a run of ${this.queue}`);
    await pause(GIVE_BACK_PAUSE_MS, this.#stop.signal);
    answer(channel, message, 'requeue');
  }
}

const seconds = (startedAt: number): number => (performance.now() - startedAt) / 1_000;

/** Acknowledges, requeues or drops a delivery; false when its channel is gone (the broker requeued it). */
function answer(channel: Channel, message: ConsumeMessage, how: 'ack' | 'requeue' | 'drop'): boolean {
  try {
    if (how === 'ack') channel.ack(message);
    else channel.nack(message, false, how === 'requeue');
    return true;
  } catch {
    return false;
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
