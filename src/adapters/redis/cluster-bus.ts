/**
 * The bus over a Redis Cluster's sharded pub/sub: SPUBLISH and SSUBSCRIBE through cluster-aware
 * clients (ioredis Cluster), so each room's channel lives on the shard that owns its slot, a
 * publish goes to that shard only, and it reaches only the nodes subscribed to that channel.
 * The subscriber keeps one connection per master that owns a subscribed channel.
 *
 * A shard that fails over (its master lost, a replica promoted) or a subscriber connection
 * lost drops what was published meanwhile: once the subscribers are connected again, every
 * channel with handlers is subscribed again here (each SSUBSCRIBE answered), then the reset
 * listeners run and the rooms resync from the store, as with a single Redis.
 */
import { Cluster } from 'ioredis';
import { AppError, unavailable } from '../../errors.js';
import type { Bus, Channel } from '../../ports.js';
import { ChannelHandlers, ResetListeners } from '../bus-handlers.js';
import { withDeadline } from '../deadline.js';
import { type ConnectionMonitor, isRedisOutage, translateOutage } from '../outage.js';
import { redisCall } from './outage.js';

export interface RedisClusterBusOptions {
  /** A node of the cluster (redis://[user:password@]host:port); the others are discovered. */
  url: string;
  /** More nodes to reach it through, at start and after losing it altogether. */
  seeds?: Array<{ host: string; port: number }>;
  /** Prefix of every channel name, so deployments can share a cluster. */
  prefix?: string;
  commandTimeoutMs?: number;
  onError(error: unknown, context: string): void;
  monitors?: { pub: ConnectionMonitor; sub: ConnectionMonitor };
}

/** Longest a subscription (or its end) waits to be confirmed, as the other buses'. */
const SUBSCRIBE_TIMEOUT_MS = 5_000;

/** The errors of subscriptions that had no answer in time (withinDeadline). */
const unanswered = new WeakSet<Error>();

/** `command`, or `unavailable` once `ms` have passed without its answer (that error marked unanswered). */
const withinDeadline = <T>(command: Promise<T>, ms: number): Promise<T> =>
  withDeadline(command, ms, () => {
    const error = unavailable('The bus is unavailable; retry shortly.');
    unanswered.add(error);
    return error;
  });

/** The seed of a cluster client: the host and port of a node's URL (the other nodes are discovered). */
export function clusterSeed(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: u.port === '' ? 6379 : Number(u.port) };
}

/**
 * The options of a client of the cluster `url` is a node of: its credentials and TLS for every
 * node, bounded connects and commands, reconnecting for ever with backoff.
 */
export function clusterOptions(url: string, commandTimeoutMs: number | undefined, connectionName: string): NonNullable<ConstructorParameters<typeof Cluster>[1]> {
  const u = new URL(url);
  return {
    lazyConnect: true,
    clusterRetryStrategy: (attempt) => Math.min(100 * 2 ** attempt, 2_000),
    slotsRefreshTimeout: 2_000,
    redisOptions: {
      connectTimeout: 5_000,
      maxRetriesPerRequest: 2,
      connectionName,
      ...(commandTimeoutMs === undefined ? {} : { commandTimeout: commandTimeoutMs }),
      ...(u.username === '' ? {} : { username: decodeURIComponent(u.username) }),
      ...(u.password === '' ? {} : { password: decodeURIComponent(u.password) }),
      ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  };
}

export class RedisClusterBus implements Bus {
  readonly #pub: Cluster;
  readonly #sub: Cluster;
  readonly #prefix: string;
  readonly #onError: RedisClusterBusOptions['onError'];
  readonly #pubMonitor: ConnectionMonitor;
  readonly #subMonitor: ConnectionMonitor;
  readonly #handlers = new ChannelHandlers();
  readonly #subscribed = new Map<Channel, Promise<void>>();
  readonly #resets = new ResetListeners();
  /** A subscriber was lost since the last reset: what it carried meanwhile is gone. */
  #lost = false;
  #resubscribing: Promise<void> | null = null;
  #retry: NodeJS.Timeout | null = null;
  #closed = false;

  private constructor(options: RedisClusterBusOptions) {
    this.#prefix = options.prefix ?? 'parley:';
    this.#onError = options.onError;
    const timeout = options.commandTimeoutMs ?? 2_000;
    // Publishing is best effort (the store has every event): fail fast while the cluster is not ready.
    const seeds = [clusterSeed(options.url), ...(options.seeds ?? [])];
    this.#pub = new Cluster(seeds, { ...clusterOptions(options.url, timeout, 'parley-bus-pub'), enableOfflineQueue: false });
    this.#sub = new Cluster(seeds, { ...clusterOptions(options.url, undefined, 'parley-bus-sub'), shardedSubscribers: true });
    const fallback = (name: string): ConnectionMonitor => ({ lost: (error) => this.#onError(error, `redis cluster bus ${name}`), restored: () => undefined });
    this.#pubMonitor = options.monitors?.pub ?? fallback('pub');
    this.#subMonitor = options.monitors?.sub ?? fallback('sub');
    this.#pub.on('error', (error: unknown) => this.#pubMonitor.lost(error));
    this.#pub.on('ready', () => this.#pubMonitor.restored());
    this.#sub.on('smessage', (channel: string, message: string) => {
      this.#handlers.deliver(channel.slice(this.#prefix.length) as Channel, message, (error) => this.#onError(error, 'bus handler'));
    });
    const lost = (error: unknown) => {
      if (this.#closed) return;
      this.#lost = true;
      this.#subMonitor.lost(error);
    };
    this.#sub.on('error', lost);
    this.#sub.on('nodeError', lost);
    // A shard's subscriber replaced, a node gone, or the whole client reconnecting (which drops
    // every shard's subscriber without a '-subscriber'): whatever they carried meanwhile is lost.
    for (const event of ['-subscriber', '-node', 'reconnecting', 'close']) {
      this.#sub.on(event, () => lost(new Error(`the Redis Cluster bus subscriber: ${event}`)));
    }
    this.#sub.on('subscribersReady', () => this.#recover());
  }

  static async connect(options: RedisClusterBusOptions): Promise<RedisClusterBus> {
    const bus = new RedisClusterBus(options);
    try {
      await Promise.all([bus.#pub.connect(), bus.#sub.connect()]);
      // Connected to every master before the first publish: ioredis connects to a node on its
      // first command, and publishes sent while that connection is being made can reach the
      // server out of order. A node that joins later (a failover) is connected as soon as it is
      // known; the few publishes racing that are reordered by seq at the receivers.
      await Promise.all(bus.#pub.nodes('master').map((node) => node.ping()));
      bus.#pub.on('+node', (node: { ping(): Promise<unknown> }) => {
        node.ping().catch(() => undefined);
      });
    } catch (error) {
      bus.#pub.disconnect();
      bus.#sub.disconnect();
      throw error;
    }
    return bus;
  }

  async publish(channel: Channel, payload: string): Promise<void> {
    if (this.#closed) return;
    const startedAt = Date.now();
    try {
      await redisCall(this.#pub.spublish(this.#prefix + channel, payload), 'The bus is unavailable.');
    } catch (error) {
      if (error instanceof AppError) this.#pubMonitor.lost(error.cause ?? error, startedAt);
      throw error;
    }
    this.#pubMonitor.restored();
  }

  async subscribe(channel: Channel, handler: (payload: string) => void): Promise<() => Promise<void>> {
    const name = this.#prefix + channel;
    if (this.#handlers.add(channel, handler)) {
      const command = redisCall(this.#sub.ssubscribe(name), 'The bus is unavailable.');
      this.#subscribed.set(channel, withinDeadline(command, SUBSCRIBE_TIMEOUT_MS).then(() => undefined));
    }
    try {
      await this.#subscribed.get(channel);
    } catch (error) {
      if (this.#handlers.remove(channel, handler)) {
        this.#subscribed.delete(channel);
        if (!this.#closed) {
          this.#sub.sunsubscribe(name).catch((e: unknown) => this.#onError(translateOutage(e, isRedisOutage, 'The bus is unavailable.'), 'redis cluster bus unsubscribe after a failed subscribe'));
        }
      }
      throw error;
    }
    return async () => {
      if (!this.#handlers.remove(channel, handler)) return;
      this.#subscribed.delete(channel);
      if (this.#closed) return;
      await withinDeadline(redisCall(this.#sub.sunsubscribe(name), 'The bus is unavailable.'), SUBSCRIBE_TIMEOUT_MS);
    };
  }

  onReset(listener: () => void): void {
    this.#resets.add(listener);
  }

  /**
   * Subscribes every channel with handlers again (each one answered), then runs the reset
   * listeners: what was published while a subscriber was away is read from the store by them.
   */
  async resubscribe(): Promise<void> {
    this.#lost = true;
    const reset = this.#resets.next();
    this.#recover();
    await reset;
  }

  /**
   * After a loss: every channel subscribed again, then the reset. A loss during a round makes
   * another round follow it. A round that fails (the cluster still settling its slots) is tried
   * again after a pause; one that timed out replaces the subscriber's connections first, so
   * commands never pile up on a connection that went silent.
   */
  #recover(): void {
    if (!this.#lost || this.#closed || this.#resubscribing !== null || this.#retry !== null) return;
    this.#lost = false;
    this.#resubscribing = this.#resubscribeAll()
      .then(
        () => {
          this.#subMonitor.restored();
          this.#resets.fire(this.#onError);
        },
        (error: unknown) => {
          if (this.#closed) return;
          this.#lost = true;
          this.#onError(error, 'redis cluster bus resubscribe');
          if (error instanceof Error && unanswered.has(error)) this.#sub.disconnect(true);
          this.#retry = setTimeout(() => {
            this.#retry = null;
            this.#recover();
          }, 500);
          this.#retry.unref();
        },
      )
      .finally(() => {
        this.#resubscribing = null;
        // Lost again while this round ran: another round.
        if (this.#lost && this.#retry === null) this.#recover();
      });
  }

  async #resubscribeAll(): Promise<void> {
    // Unsubscribed and subscribed again, one channel at a time (channels of one command must share
    // a slot): the client's own list of channels stays one entry per channel, and each reply
    // confirms the subscription on the shard that owns the channel now. A channel whose last
    // handler left meanwhile is not subscribed again (or is unsubscribed once more).
    const channels = this.#handlers.channels();
    const again = async (channel: Channel): Promise<void> => {
      const name = this.#prefix + channel;
      await this.#sub.sunsubscribe(name);
      if (!this.#handlers.has(channel)) return;
      await this.#sub.ssubscribe(name);
      if (!this.#handlers.has(channel)) await this.#sub.sunsubscribe(name);
    };
    await withinDeadline(redisCall(Promise.all(channels.map(again)), 'The bus is unavailable.'), SUBSCRIBE_TIMEOUT_MS);
  }


  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    // Nothing more will be subscribed: callers waiting for a resubscription are answered.
    this.#resets.release();
    this.#handlers.clear();
    this.#subscribed.clear();
    this.#sub.disconnect();
    await Promise.race([this.#pub.quit().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
    this.#pub.disconnect();
  }
}
