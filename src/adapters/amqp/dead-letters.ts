/**
 * Reading and changing a dead-letter queue without losing what is in it. AMQP has no way to
 * look at a message and leave it: these take messages with `basic.get` (unacknowledged) on a
 * channel of their own, and give back every one they do not remove (nack with requeue, or the
 * channel closing, which requeues too).
 *
 * Caveats, RabbitMQ's:
 * - Order: a classic queue puts requeued messages back where they were, so a read leaves the
 *   queue in its order; should the broker fail to (a restart mid-read), a given-back message
 *   goes to the tail and the "oldest failure first" order is off by that much.
 * - Concurrent readers: while one process holds messages, another sees the queue without them
 *   (a list is short, a retry or purge by id misses the job and answers false). Readers of one
 *   process take turns (job-queue.ts); across processes they are operator actions, rare.
 * - Retry and purge by id scan from the head, at most `scanLimit` messages: a job deeper in a
 *   larger dead queue is not found (false, 0).
 */
import type { Channel, GetMessage } from 'amqplib';
import type { DeadJob } from '../../ports.js';
import { type DecodedJob, decodeJob, type EncodedMessage, encodeJob } from './codec.js';
import { type AmqpConnection, timed } from './connection.js';
import type { QueueTopology } from './topology.js';

/** Messages removed from a dead queue per batch of a purge. */
const PURGE_BATCH = 500;

export interface DeadLetterDeps {
  connection: AmqpConnection;
  /** Publishes to the work queue of the topology (confirmed). */
  publish(to: string, message: EncodedMessage): Promise<void>;
  /** Gives up the keys of purged jobs of `queue`. */
  releaseKeys(queue: string, keys: Array<{ key: string; id: string }>): Promise<void>;
}

const toDeadJob = (queue: string, job: DecodedJob): DeadJob => ({
  id: job.id,
  queue,
  payload: job.value,
  key: job.key,
  attempts: job.attempt,
  error: job.death?.error ?? '',
  enqueuedAt: job.enqueuedAt,
  failedAt: job.death?.failedAt ?? job.enqueuedAt,
});

async function get(channel: Channel, queue: string, ms: number): Promise<GetMessage | null> {
  const message = await timed(channel.get(queue, { noAck: false }), ms, `reading ${queue}`);
  return message === false ? null : message;
}

/** Requeues every message the channel holds, in their order (a channel gone has requeued them). */
function giveBack(channel: Channel, held: GetMessage[]): void {
  const last = held.at(-1);
  try {
    if (last !== undefined) channel.nack(last, true, true);
  } catch {
    // The channel closed: the broker requeued them.
  }
}

export function listDead(deps: DeadLetterDeps, t: QueueTopology, limit: number): Promise<DeadJob[]> {
  return deps.connection.withChannel(`reading ${t.dead}`, async (channel) => {
    const held: GetMessage[] = [];
    const jobs: DeadJob[] = [];
    while (held.length < limit) {
      const message = await get(channel, t.dead, deps.connection.callTimeoutMs);
      if (message === null) break;
      held.push(message);
      const job = decodeJob(message);
      if (job !== null) jobs.push(toDeadJob(t.queue, job));
    }
    giveBack(channel, held);
    return jobs;
  });
}

/** Takes messages from the head until the job `id`; gives the others back. Runs `remove` on it, then acknowledges it. */
function removeById(deps: DeadLetterDeps, t: QueueTopology, id: string, scanLimit: number, remove: (job: DecodedJob) => Promise<void>): Promise<boolean> {
  return deps.connection.withChannel(`searching ${t.dead}`, async (channel) => {
    const held: GetMessage[] = [];
    try {
      while (held.length < scanLimit) {
        const message = await get(channel, t.dead, deps.connection.callTimeoutMs);
        if (message === null) return false;
        const job = decodeJob(message);
        if (job?.id !== id) {
          held.push(message);
          continue;
        }
        try {
          await remove(job);
        } catch (error) {
          held.push(message);
          throw error;
        }
        channel.ack(message);
        return true;
      }
      return false;
    } finally {
      giveBack(channel, held);
    }
  });
}

/** Publishes the dead job `id` to the work queue with its attempts renewed, then removes it from the dead queue. */
export function retryDead(deps: DeadLetterDeps, t: QueueTopology, id: string, scanLimit: number): Promise<boolean> {
  return removeById(deps, t, id, scanLimit, (job) => deps.publish(t.work, encodeJob({ ...job, attempt: 1, runAt: 0 })));
}

/** Deletes the dead job `id` (its key given up first), or every dead job of the queue; answers how many went. */
export async function purgeDead(deps: DeadLetterDeps, t: QueueTopology, id: string | null, scanLimit: number): Promise<number> {
  if (id !== null) {
    const removed = await removeById(deps, t, id, scanLimit, (job) => (job.key === null ? Promise.resolve() : deps.releaseKeys(t.queue, [{ key: job.key, id: job.id }])));
    return removed ? 1 : 0;
  }
  // Batch by batch, so that each batch's keys are given up before its messages go.
  return deps.connection.withChannel(`purging ${t.dead}`, async (channel) => {
    let purged = 0;
    for (;;) {
      const batch: GetMessage[] = [];
      while (batch.length < PURGE_BATCH) {
        const message = await get(channel, t.dead, deps.connection.callTimeoutMs);
        if (message === null) break;
        batch.push(message);
      }
      const last = batch.at(-1);
      if (last === undefined) return purged;
      const keys = batch.flatMap((m) => {
        const job = decodeJob(m);
        return job !== null && job.key !== null ? [{ key: job.key, id: job.id }] : [];
      });
      try {
        await deps.releaseKeys(t.queue, keys);
      } catch (error) {
        giveBack(channel, batch);
        throw error;
      }
      channel.ack(last, true);
      purged += batch.length;
      if (batch.length < PURGE_BATCH) return purged;
    }
  });
}
