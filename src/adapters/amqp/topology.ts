/**
 * Where the jobs of one Parley queue live in RabbitMQ. Everything is per queue, so that its
 * counts are the message counts of its own queues:
 *
 * - `<prefix><queue>`: the work queue, ready jobs in the order they became ready.
 * - `<prefix><queue>.dead`: its dead letters, in the order they died.
 * - `<prefix><queue>.delay.<ms>`: the delay buckets, one per power of two of milliseconds from
 *   16 ms to 2^24 ms (about 4.7 hours). A bucket has a queue-level TTL (`x-message-ttl`) and
 *   dead-letters what expires to the work queue (default exchange, the work queue's name as
 *   the routing key). Every message of a bucket has the same TTL, so the head always expires
 *   first: no head-of-line blocking, which per-message TTLs in one queue would have (a long
 *   wait at the head holds every shorter one behind it).
 *
 * A wait rides the longest bucket not longer than it and comes back to the work queue with
 * what is left (its due time is in its headers): the consumer sends it on to the bucket for
 * the remainder, so a wait of w takes at most log2(w / 16) trips, each shorter than the last,
 * and is never cut short. A remainder under 16 ms rides the 16 ms bucket (see job-queue.ts for
 * the precision this gives). Waits longer than the top bucket ride it again.
 *
 * Every queue is durable and classic. Arguments are fixed at declaration (RabbitMQ refuses a
 * redeclaration with others): the bucket sizes are in the names, so changing them makes new
 * queues instead of clashing with old ones.
 */
import type { Channel } from 'amqplib';

export const BUCKET_EXPONENTS = { min: 4, max: 24 } as const;

/** The bucket sizes, ms, shortest first. */
export const BUCKET_MS: readonly number[] = Array.from({ length: BUCKET_EXPONENTS.max - BUCKET_EXPONENTS.min + 1 }, (_, i) => 2 ** (BUCKET_EXPONENTS.min + i));

export interface QueueTopology {
  /** The Parley queue name. */
  readonly queue: string;
  readonly work: string;
  readonly dead: string;
  /** Delay bucket queues, as BUCKET_MS orders them. */
  readonly buckets: readonly string[];
}

export function topologyOf(prefix: string, queue: string): QueueTopology {
  const work = `${prefix}${queue}`;
  return { queue, work, dead: `${work}.dead`, buckets: BUCKET_MS.map((ms) => `${work}.delay.${ms}`) };
}

/** Every queue of the topology, work queue first. */
export const queuesOf = (t: QueueTopology): string[] => [t.work, t.dead, ...t.buckets];

/**
 * The bucket (index into BUCKET_MS) a wait of `waitMs` rides next: the longest not longer than
 * the wait, so a job never runs early; the shortest for a wait under it.
 */
export function bucketIndex(waitMs: number): number {
  let index = 0;
  while (index + 1 < BUCKET_MS.length && (BUCKET_MS[index + 1] ?? Number.POSITIVE_INFINITY) <= waitMs) index++;
  return index;
}

/** Declares the queues of `t` (idempotent: the same arguments every time). */
export async function assertTopology(channel: Channel, t: QueueTopology): Promise<void> {
  await Promise.all([
    channel.assertQueue(t.work, { durable: true }),
    channel.assertQueue(t.dead, { durable: true }),
    ...t.buckets.map((name, i) =>
      channel.assertQueue(name, { durable: true, arguments: { 'x-message-ttl': BUCKET_MS[i], 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': t.work } }),
    ),
  ]);
}

/** Deletes the queues of `t`, with their messages (tests, and operators retiring a queue). */
export async function deleteTopology(channel: Channel, t: QueueTopology): Promise<void> {
  await Promise.all(queuesOf(t).map((name) => channel.deleteQueue(name)));
}
