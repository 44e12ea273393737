import type { Redis } from 'ioredis';
import type { Cache } from '../../ports.js';
import { redisCall } from './outage.js';

/**
 * The cache in Redis, shared by every node: one write or delete is seen by all at once. While
 * Redis is down every call rejects with `unavailable`: readers skip the cache (CacheAside), and
 * an invalidation that cannot be made fails its request, so a revoked session is never left
 * cached behind a success.
 */
export class RedisCache implements Cache {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, options: { prefix: string }) {
    this.#redis = redis;
    this.#prefix = `${options.prefix}cache:`;
  }

  async get(key: string): Promise<string | undefined> {
    return (await redisCall(this.#redis.get(this.#prefix + key))) ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await redisCall(this.#redis.set(this.#prefix + key, value, 'PX', Math.max(1, Math.round(ttlMs))));
  }

  async delete(keys: string[]): Promise<void> {
    if (keys.length > 0) await redisCall(this.#redis.del(...keys.map((k) => this.#prefix + k)));
  }
}
