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
 *   'error' listener of ours for as long as it lives and close can end them.
 *
 * Ending a connection takes care: ioredis's disconnect() during a reconnection clears its
 * retry timer and leaves it 'reconnecting' for ever, with no 'end' event; BullMQ waits for
 * that event (or 'ready') before its close goes on, and meanwhile keeps renewing locks on a
 * timer, so the process would never exit. Every connection here stops retrying once closing,
 * and one that is between attempts has its timer cleared and tries at once: the failed attempt
 * ends it.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { ConnectionMonitor } from '../outage.js';
import { closeRedis, redisOptions } from '../redis/bus.js';
import { clusterOptions, clusterSeed } from '../redis/cluster-bus.js';
import { watchRedis } from '../redis/outage.js';

/** A Redis Cluster to reach instead of one Redis: `url` names one of its nodes, `seeds` more. */
export interface ClusterTarget {
  seeds: Array<{ host: string; port: number }>;
}

/** Set when the owner closes: the connection (and its copies) stop reconnecting. */
export interface Closing {
  closing: boolean;
}

/** Reconnects while open, backing off to 2 s (an outage heals by itself); never once closing. */
const retryWhileOpen =
  (state: Closing) =>
  (attempt: number): number | null =>
    state.closing ? null : Math.min(50 * 2 ** attempt, 2_000);

export function producerConnection(url: string, commandTimeoutMs: number, monitor: ConnectionMonitor, state: Closing, cluster?: ClusterTarget): Redis | Cluster {
  if (cluster !== undefined) {
    const options = clusterOptions(url, commandTimeoutMs, 'parley-jobs-producer');
    const producer = new Cluster([clusterSeed(url), ...cluster.seeds], {
      ...options,
      lazyConnect: false,
      enableOfflineQueue: false,
      clusterRetryStrategy: retryWhileOpen(state),
    });
    watchRedis(producer, monitor);
    return producer;
  }
  const redis = new Redis(url, {
    ...redisOptions(commandTimeoutMs),
    retryStrategy: retryWhileOpen(state),
    // Connects now: BullMQ's first use of a connection that is still 'wait' makes a connect
    // whose failure would leave that Queue broken for good.
    lazyConnect: false,
    enableOfflineQueue: false,
    connectionName: 'parley-jobs-producer',
  });
  watchRedis(redis, monitor);
  return redis;
}

/**
 * Ends `redis` whatever its state, within about `timeoutMs` (its owner set `closing` first):
 * politely (QUIT) when connected, by a last failed attempt when between attempts.
 */
export async function endRedis(redis: Redis | Cluster, timeoutMs: number): Promise<void> {
  if (redis instanceof Cluster) return endCluster(redis, timeoutMs);
  const deadline = Date.now() + timeoutMs;
  const ended = (): boolean => redis.status === 'end';
  while (!ended() && Date.now() < deadline) {
    const next = nextStatus(redis, deadline - Date.now());
    if (redis.status === 'ready' || redis.status === 'connect') {
      await closeRedis(redis, Math.max(1, deadline - Date.now()));
    } else if (redis.status === 'reconnecting') {
      // disconnect() clears the retry timer (which would otherwise connect later, closed or
      // not) and marks the close as ours; the attempt made now then ends the connection.
      redis.disconnect();
      redis.connect().catch(() => undefined);
    } else if (redis.status === 'wait') {
      redis.disconnect();
    }
    // 'connecting' (and after the calls above): the attempt under way ends it or connects it.
    if (!ended()) await next.changed;
    next.cancel();
  }
  if (!ended()) redis.disconnect();
}

/**
 * Ends a cluster client (its owner set `closing`, so it reconnects no more): QUIT on every node
 * when ready, else every node connection dropped; resolves when it ends or after `timeoutMs`.
 */
async function endCluster(cluster: Cluster, timeoutMs: number): Promise<void> {
  if (cluster.status === 'end') return;
  const ended = new Promise<void>((resolve) => cluster.once('end', () => resolve()));
  if (cluster.status === 'ready') await closeRedis(cluster, timeoutMs);
  else cluster.disconnect();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  clearTimeout(timer);
  if ((cluster.status as string) !== 'end') cluster.disconnect();
}

/** Resolves when `redis` ends, is ready or waits to reconnect, or after `ms`. */
function nextStatus(redis: Redis, ms: number): { changed: Promise<void>; cancel(): void } {
  const events = ['end', 'ready', 'reconnecting'] as const;
  let timer: NodeJS.Timeout | undefined;
  let resolveChanged: () => void = () => undefined;
  const changed = new Promise<void>((resolve) => {
    resolveChanged = resolve;
  });
  const done = (): void => {
    clearTimeout(timer);
    for (const event of events) redis.off(event, done);
    resolveChanged();
  };
  for (const event of events) redis.once(event, done);
  timer = setTimeout(done, Math.max(1, ms));
  return { changed, cancel: done };
}

/** A connection that keeps (and watches) the copies BullMQ makes of it. */
export class WorkerConnection extends Redis {
  readonly copies = new Set<Redis>();
  readonly #state: Closing;

  constructor(url: string, monitor: ConnectionMonitor) {
    const state: Closing = { closing: false };
    // The copies inherit these options, the retry strategy (and so `state`) with them.
    super(url, { connectTimeout: 5_000, maxRetriesPerRequest: null, retryStrategy: retryWhileOpen(state), connectionName: 'parley-jobs-worker' });
    this.#state = state;
    watchRedis(this, monitor);
  }

  override duplicate<Override extends Partial<RedisOptions> | undefined = undefined>(override?: Override) {
    return tracked(this.copies, super.duplicate(override));
  }

  /** Ends the connection and every copy still open, within about `timeoutMs`. */
  endAll(timeoutMs: number): Promise<void> {
    return endWithCopies(this.#state, this, this.copies, timeoutMs);
  }
}

/**
 * A copy BullMQ made of a worker connection, kept until it ends. Its outages are the worker
 * connection's (one Redis), reported there once: an error of a copy needs a listener, not a log line.
 */
function tracked<C extends Redis | Cluster>(copies: Set<C>, copy: C): C {
  copy.on('error', () => undefined);
  copies.add(copy);
  copy.once('end', () => copies.delete(copy));
  return copy;
}

/** Stops `connection` and its copies reconnecting, and ends them all within about `timeoutMs`. */
async function endWithCopies<C extends Redis | Cluster>(state: Closing, connection: C, copies: Set<C>, timeoutMs: number): Promise<void> {
  state.closing = true;
  await Promise.all([...copies, connection].map((c) => endRedis(c, timeoutMs)));
}

/** The worker connection on a Redis Cluster: as WorkerConnection, its copies kept and ended with it. */
export class WorkerClusterConnection extends Cluster {
  readonly copies = new Set<Cluster>();
  readonly #state: Closing;

  constructor(url: string, cluster: ClusterTarget, monitor: ConnectionMonitor) {
    const state: Closing = { closing: false };
    const options = clusterOptions(url, undefined, 'parley-jobs-worker');
    const settings: typeof options = {
      ...options,
      lazyConnect: false,
      clusterRetryStrategy: retryWhileOpen(state),
      // BullMQ's blocking fetches wait for jobs: no command timeout, and calls wait Redis out.
      redisOptions: { ...options.redisOptions, maxRetriesPerRequest: null },
    };
    super([clusterSeed(url), ...cluster.seeds], settings as never); // the options of a Cluster<"legacy">, which the base class is
    this.#state = state;
    watchRedis(this, monitor);
  }

  override duplicate<Override extends Parameters<Cluster['duplicate']>[1] = undefined>(overrideStartupNodes?: Parameters<Cluster['duplicate']>[0], overrideOptions?: Override) {
    return tracked<Cluster>(this.copies, super.duplicate(overrideStartupNodes, overrideOptions));
  }

  endAll(timeoutMs: number): Promise<void> {
    return endWithCopies<Cluster>(this.#state, this, this.copies, timeoutMs);
  }
}
