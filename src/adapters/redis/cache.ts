import type { Redis } from 'ioredis';
import type { Cache } from '../../ports.js';
import { type CallGuard, unguarded } from '../outage.js';
import { redisCall } from './outage.js';

/**
 * The cache in Redis, shared by every node: one write or delete is seen by all at once. While
 * Redis is down every call rejects with `unavailable`: readers skip the cache (CacheAside), and
 * an invalidation that cannot be made fails its request, so a revoked session is never left
 * cached behind a success. With a `guard` (the Redis breaker), each command goes through it.
 */
export class RedisCache implements Cache {
  readonly #redis: Redis;
  readonly #prefix: string;
  readonly #guard: CallGuard;

  constructor(redis: Redis, options: { prefix: string; guard?: CallGuard }) {
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
    if (keys.length > 0) await this.#guard(() => redisCall(this.#redis.del(...keys.map((k) => this.#prefix + k))));
  }
}
