/**
 * The bus over Redis Pub/Sub: one Redis channel per room and per user, subscribed only while this
 * process has a local handler for it. With `sharded`, SSUBSCRIBE/SPUBLISH (Redis 7 sharded
 * pub/sub), so in a Redis Cluster each channel lives on one shard instead of every node.
 *
 * Two connections: commands (PUBLISH) and the subscriber. ioredis resubscribes after a
 * reconnection; messages published meanwhile are lost, so every reconnection of the subscriber
 * is reported through onReset and the rooms resync from the store.
 */
import { type Cluster, Redis, type RedisOptions } from 'ioredis';
import { AppError, unavailable } from '../../errors.js';
import type { Bus, Channel } from '../../ports.js';
import { ChannelHandlers, ResetListeners } from '../bus-handlers.js';
import { withDeadline } from '../deadline.js';
import { type ConnectionMonitor, isRedisOutage, translateOutage } from '../outage.js';
import { redisCall, watchRedis } from './outage.js';

export interface RedisBusOptions {
  url: string;
  /** Prefix of every Redis channel name, so deployments can share a Redis. */
  prefix?: string;
  sharded?: boolean;
  commandTimeoutMs?: number;
  /** Errors that are not the connections' own (a handler that threw, a failed resubscribe). */
  onError(error: unknown, context: string): void;
  /**
   * Told when each connection loses Redis and when it is back, and (publisher) of each publish
   * an outage failed. Without them, connection errors go to onError one by one.
   */
  monitors?: { pub: ConnectionMonitor; sub: ConnectionMonitor };
}

export function redisOptions(commandTimeoutMs: number): RedisOptions {
  return {
    connectTimeout: 5_000,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 2,
    // Reconnect forever, backing off to 2 s: a bus outage must heal by itself.
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 2_000),
    lazyConnect: true,
  };
}

/**
 * Closes a connection politely (QUIT, so pending replies arrive) but within `timeoutMs`: a
 * connection that stopped answering is dropped instead.
 */
export async function closeRedis(redis: Redis | Cluster, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([redis.quit().then(() => 'quit' as const), deadline]);
    if (outcome === 'timeout') redis.disconnect();
  } catch {
    // QUIT failed: the connection is already unusable; drop it.
    redis.disconnect();
  } finally {
    clearTimeout(timer);
  }
}

/** Channels per SUBSCRIBE when a reconnected subscriber subscribes again. */
const RESUBSCRIBE_CHUNK = 1_000;
/**
 * Longest a subscription (or its end) waits for Redis to confirm it (as the NATS and IPC buses'): the
 * subscriber has no command timeout (it waits for messages), so a Redis that accepts the
 * connection but does not answer would hold a subscribe, and the connection or room waiting
 * for it, for ever.
 */
const SUBSCRIBE_TIMEOUT_MS = 5_000;

/** `command`, or `unavailable` once `ms` have passed without its answer. */
const withinDeadline = <T>(command: Promise<T>, ms: number): Promise<T> => withDeadline(command, ms, () => unavailable('The bus is unavailable; retry shortly.'));

export class RedisBus implements Bus {
  readonly #pub: Redis;
  readonly #sub: Redis;
  readonly #prefix: string;
  readonly #sharded: boolean;
  readonly #onError: RedisBusOptions['onError'];
  readonly #pubMonitor: ConnectionMonitor;
  readonly #handlers = new ChannelHandlers();
  /** The SUBSCRIBE in flight or done for each channel with handlers. */
  readonly #subscribed = new Map<Channel, Promise<void>>();
  readonly #resets = new ResetListeners();
  #lostConnection = false;
  /** Connections resubscribe() dropped on purpose, until they are ready again. */
  readonly #forced = new Set<Redis>();
  #closed = false;

  private constructor(options: RedisBusOptions) {
    const base = redisOptions(options.commandTimeoutMs ?? 2_000);
    this.#prefix = options.prefix ?? 'parley:';
    this.#sharded = options.sharded ?? false;
    this.#onError = options.onError;
    // Publishing is best effort (the store has every event): fail fast while disconnected.
    this.#pub = new Redis(options.url, { ...base, enableOfflineQueue: false, connectionName: 'parley-bus-pub' });
    // The subscriber queues (a bounded number of) SUBSCRIBEs while reconnecting, and has no
    // command timeout: it only ever waits for messages. It resubscribes after a reconnect by our
    // hand, not ioredis's: ioredis leaves the promise of its own resubscribe unhandled, so a
    // connection lost again (or closed) before the reply raised an unhandled rejection.
    this.#sub = new Redis(options.url, { ...base, commandTimeout: undefined, autoResubscribe: false, connectionName: 'parley-bus-sub' });
    const fallback = (name: string): ConnectionMonitor => ({ lost: (error) => this.#onError(error, `redis bus ${name}`), restored: () => undefined });
    this.#pubMonitor = options.monitors?.pub ?? fallback('pub');
    watchRedis(this.#pub, this.#pubMonitor, () => this.#forced.has(this.#pub));
    watchRedis(this.#sub, options.monitors?.sub ?? fallback('sub'), () => this.#forced.has(this.#sub));
    for (const conn of [this.#pub, this.#sub]) conn.on('ready', () => this.#forced.delete(conn));
    this.#sub.on(this.#sharded ? 'smessage' : 'message', (channel: string, message: string) => {
      this.#handlers.deliver(channel.slice(this.#prefix.length) as Channel, message, (error) => this.#onError(error, 'bus handler'));
    });
    this.#sub.on('close', () => {
      if (!this.#closed) this.#lostConnection = true;
    });
    this.#sub.on('ready', () => {
      if (!this.#lostConnection) return;
      this.#lostConnection = false;
      // Every channel with handlers, subscribed again; then the reset (what was published while
      // the connection was down is read from the store by its listeners). A failure here is a
      // connection lost again: its 'close' marks it, and the next 'ready' tries again.
      this.#resubscribeAll().then(
        () => this.#resets.fire(this.#onError),
        (error: unknown) => {
          if (!this.#closed) this.#onError(error, 'redis bus resubscribe');
        },
      );
    });
  }

  static async connect(options: RedisBusOptions): Promise<RedisBus> {
    const bus = new RedisBus(options);
    try {
      await Promise.all([bus.#pub.connect(), bus.#sub.connect()]);
    } catch (error) {
      bus.#pub.disconnect();
      bus.#sub.disconnect();
      throw error;
    }
    return bus;
  }

  /** Best effort: while Redis is down it fails at once with `unavailable` (no offline queue). */
  async publish(channel: Channel, payload: string): Promise<void> {
    if (this.#closed) return;
    const name = this.#prefix + channel;
    const startedAt = Date.now();
    try {
      await redisCall(this.#sharded ? this.#pub.spublish(name, payload) : this.#pub.publish(name, payload), 'The bus is unavailable.');
    } catch (error) {
      // Counted with the publisher connection's outage, not logged one by one; while we replace
      // the connection ourselves (resubscribe) its failures are no outage.
      if (error instanceof AppError && !this.#forced.has(this.#pub)) this.#pubMonitor.lost(error.cause ?? error, startedAt);
      throw error;
    }
    this.#pubMonitor.restored();
  }

  async subscribe(channel: Channel, handler: (payload: string) => void): Promise<() => Promise<void>> {
    const name = this.#prefix + channel;
    if (this.#handlers.add(channel, handler)) {
      const command = redisCall(this.#sharded ? this.#sub.ssubscribe(name) : this.#sub.subscribe(name), 'The bus is unavailable.');
      this.#subscribed.set(channel, withinDeadline(command, SUBSCRIBE_TIMEOUT_MS).then(() => undefined));
    }
    try {
      await this.#subscribed.get(channel);
    } catch (error) {
      if (this.#handlers.remove(channel, handler)) {
        this.#subscribed.delete(channel);
        // A SUBSCRIBE past its deadline may still be applied: take it back (commands of one
        // connection are applied in order, so a later subscribe of the channel still holds).
        if (!this.#closed) {
          (this.#sharded ? this.#sub.sunsubscribe(name) : this.#sub.unsubscribe(name)).catch((e: unknown) =>
            this.#onError(translateOutage(e, isRedisOutage, 'The bus is unavailable.'), 'redis bus unsubscribe after a failed subscribe'),
          );
        }
      }
      throw error;
    }
    return async () => {
      if (!this.#handlers.remove(channel, handler)) return;
      this.#subscribed.delete(channel);
      if (this.#closed) return;
      await withinDeadline(redisCall(this.#sharded ? this.#sub.sunsubscribe(name) : this.#sub.unsubscribe(name), 'The bus is unavailable.'), SUBSCRIBE_TIMEOUT_MS);
    };
  }

  onReset(listener: () => void): void {
    this.#resets.add(listener);
  }

  /**
   * Replaces both connections (either direction may be the one that went silent); ioredis
   * resubscribes every channel on the new subscriber, then onReset runs.
   */
  async resubscribe(): Promise<void> {
    const reset = this.#resets.next();
    this.#lostConnection = true;
    this.#forced.add(this.#pub).add(this.#sub);
    this.#pub.disconnect(true);
    this.#sub.disconnect(true);
    await reset;
  }

  async #resubscribeAll(): Promise<void> {
    const names = this.#handlers.channels().map((channel) => this.#prefix + channel);
    const calls: Array<Promise<unknown>> = [];
    if (this.#sharded) {
      // One SSUBSCRIBE per channel: on a cluster, channels of one call must share a slot.
      for (const name of names) calls.push(this.#sub.ssubscribe(name));
    } else {
      for (let i = 0; i < names.length; i += RESUBSCRIBE_CHUNK) calls.push(this.#sub.subscribe(...names.slice(i, i + RESUBSCRIBE_CHUNK)));
    }
    // A PING after them: its reply means every SUBSCRIBE before it was answered, even none.
    calls.push(this.#sub.ping());
    await redisCall(Promise.all(calls), 'The bus is unavailable.');
  }


  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers.clear();
    this.#subscribed.clear();
    this.#sub.disconnect();
    await closeRedis(this.#pub, 1_000);
  }
}
