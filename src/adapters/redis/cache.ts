import { Cluster, type Redis } from 'ioredis';
import type { Cache } from '../../ports.js';
import { type CallGuard, unguarded } from '../outage.js';
import { redisCall } from './outage.js';

/**
 * The cache in Redis, shared by every node: one write or delete is seen by all at once. While
 * Redis is down every call rejects with `unavailable`: readers skip the cache (CacheAside), and
 * an invalidation that cannot be made fails its request, so a revoked session is never left
 * cached behind a success. With a `guard` (the Redis breaker), each command goes through it.
 * On a Redis Cluster each key lives in its own slot: a delete of several keys is one command each.
 */
export class RedisCache implements Cache {
  readonly #redis: Redis | Cluster;
  readonly #prefix: string;
  readonly #guard: CallGuard;

  constructor(redis: Redis | Cluster, options: { prefix: string; guard?: CallGuard }) {
    this.#redis = redis;
    this.#prefix = `${options.prefix}cache:`;
    this.#guard = options.guard ?? unguarded;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#guard(() => redisCall(this.#redis.get(this.#prefix + key)))) ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#guard(() => redisCall(this.#redis.set(this.#prefix + key, value, 'PX', Math.max(1, Math.round(ttlMs)))));
  }

  async delete(keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    const redis = this.#redis;
    const names = keys.map((k) => this.#prefix + k);
    // One DEL on one Redis; on a Cluster one per key (keys of one command must share a slot).
    await this.#guard(() => redisCall<unknown>(redis instanceof Cluster ? Promise.all(names.map((name) => redis.del(name))) : redis.del(...names)));
  }
}
