/**
 * Redis outages, for every Redis adapter: the connection's own events told to a monitor, and
 * commands whose failure means "Redis is down" turned into `unavailable`.
 */
import type { Cluster, Redis } from 'ioredis';
import { type ConnectionMonitor, isRedisOutage, translateOutage } from '../outage.js';

/**
 * Gives `redis` its error listener (without one ioredis prints every failed reconnection to
 * stderr) and reports its state: lost on every error and when it starts reconnecting (a peer
 * that closed cleanly raises no error), restored once it is ready again. A close we asked
 * for raises neither: ioredis does not reconnect then. `forced` says that the connection is
 * reconnecting because we dropped it on purpose (a bus resubscription): that is no outage,
 * though an error while it reconnects still is.
 */
export function watchRedis(redis: Redis | Cluster, monitor: ConnectionMonitor, forced: () => boolean = () => false): void {
  redis.on('error', (error: unknown) => monitor.lost(error));
  redis.on('reconnecting', () => {
    if (!forced()) monitor.lost(new Error('Redis connection lost; reconnecting'));
  });
  redis.on('ready', () => monitor.restored());
}

/** Runs a Redis command; an outage rejects with `unavailable`, any other error unchanged. */
export async function redisCall<T>(command: Promise<T>, message = 'Redis is unavailable; retry shortly.'): Promise<T> {
  try {
    return await command;
  } catch (error) {
    throw translateOutage(error, isRedisOutage, message);
  }
}
