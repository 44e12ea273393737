/**
 * The Redis connections of the BullMQ job queue, and how each behaves in an outage.
 *
 * - The producer (enqueue, counts, dead letters, schedules): fails fast. No offline queue, a
 *   command timeout, so a call made while Redis is away rejects (`unavailable`) at once or
 *   within the timeout, never waits for Redis to come back.
 * - The worker connection (fetching, completing, lock renewal, stalled checks): waits Redis
 *   out, as BullMQ requires (`maxRetriesPerRequest: null`, offline queue on): a run that ends
 *   during an outage is recorded once Redis is back. BullMQ duplicates it once per worked
 *   queue for its blocking fetch (BZPOPMIN); those copies are tracked here, so each has an
 *   'error' listener of ours for as long as it lives and close can drop them even when BullMQ
 *   cannot (a worker that never reached Redis waits for it forever).
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { ConnectionMonitor } from '../outage.js';
import { closeRedis, redisOptions } from '../redis/bus.js';
import { watchRedis } from '../redis/outage.js';

/** Reconnects forever, backing off to 2 s: an outage heals by itself. */
const retryStrategy = (attempt: number): number => Math.min(50 * 2 ** attempt, 2_000);

export function producerConnection(url: string, commandTimeoutMs: number, monitor: ConnectionMonitor): Redis {
  const redis = new Redis(url, {
    ...redisOptions(commandTimeoutMs),
    // Connects now: BullMQ's first use of a connection that is still 'wait' makes a connect
    // whose failure would leave that Queue broken for good.
    lazyConnect: false,
    enableOfflineQueue: false,
    connectionName: 'parley-jobs-producer',
  });
  watchRedis(redis, monitor);
  return redis;
}

/** A connection that keeps (and watches) the copies BullMQ makes of it. */
export class WorkerConnection extends Redis {
  readonly copies = new Set<Redis>();

  constructor(url: string, monitor: ConnectionMonitor) {
    super(url, { connectTimeout: 5_000, maxRetriesPerRequest: null, retryStrategy, connectionName: 'parley-jobs-worker' });
    watchRedis(this, monitor);
  }

  override duplicate<Override extends Partial<RedisOptions> | undefined = undefined>(override?: Override) {
    const copy = super.duplicate(override);
    // Its outages are the worker connection's (one Redis), reported there once: an error of a
    // copy needs a listener, not a log line.
    copy.on('error', () => undefined);
    this.copies.add(copy);
    copy.once('end', () => this.copies.delete(copy));
    return copy;
  }

  /** Closes the connection and every copy still open, within `timeoutMs`. */
  async closeAll(timeoutMs: number): Promise<void> {
    for (const copy of this.copies) copy.disconnect();
    await closeRedis(this, timeoutMs);
  }
}
