import type { Redis } from 'ioredis';
import type { Cache } from '../../ports.js';

/** The cache in Redis, shared by every node: one write or delete is seen by all at once. */
export class RedisCache implements Cache {
  readonly #redis: Redis;
  readonly #prefix: string;

  constructor(redis: Redis, options: { prefix: string }) {
    this.#redis = redis;
    this.#prefix = `${options.prefix}cache:`;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#redis.get(this.#prefix + key)) ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#redis.set(this.#prefix + key, value, 'PX', Math.max(1, Math.round(ttlMs)));
  }

  async delete(keys: string[]): Promise<void> {
    if (keys.length > 0) await this.#redis.del(...keys.map((k) => this.#prefix + k));
  }
}
