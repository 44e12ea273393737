/**
 * Presence in Redis: a user is online while any node holds a connection of theirs.
 *
 * Each user has a sorted set of their connections scored by expiry time; each node refreshes
 * the expiry of its own connections every third of the TTL. When the last one closes, an entry
 * that expires at the end of the offline grace takes its place: the user stays online through
 * it, and a reconnection within it (on any node) is no change; `settle`, after the grace, or
 * the sweep, if the node that started it is gone, finds them offline. A node that crashes stops
 * refreshing, so its connections expire within the TTL; `sweep` (run by every node) finds
 * users whose last connection expired and reports each exactly once, so they are announced
 * offline. An index of users scored by their latest expiry keeps the sweep cheap.
 *
 * Keys touch several users in one script, so presence needs a single Redis (or one shard),
 * not a Redis Cluster spread over slots.
 *
 * While Redis is down every call rejects with `unavailable`. This node's own connections are
 * kept here all the same: the first heartbeat after the outage writes them back (Redis may have
 * restarted empty), and entries a failed disconnect left behind expire and are swept. With a
 * `guard` (the Redis breaker), each call to Redis goes through it, after this node's own
 * connections are updated: a refused call keeps them as a failed one does.
 */
import type { Redis } from 'ioredis';
import type { Presence, PresenceDrop } from '../../ports.js';
import { type CallGuard, unguarded } from '../outage.js';
import { redisCall } from './outage.js';

/** The entry that keeps a user online through the grace after their last connection (not a connection id: those are random). */
const GRACE_MEMBER = '~grace';

// KEYS: user set, index. ARGV: connection id, expiry, now, user id. Returns 1 when the user came online.
const CONNECT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local before = redis.call('ZCARD', KEYS[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 'GT', ARGV[2], ARGV[4])
if before == 0 then return 1 else return 0 end`;

// KEYS: user set, index. ARGV: connection id, now, user id, end of the grace (0: none).
// Returns 1 when the user went offline, 2 when their last connection went and the grace began.
const DISCONNECT = `
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if removed == 1 and redis.call('ZCARD', KEYS[1]) == 0 then
  if tonumber(ARGV[4]) > tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[1], ARGV[4], '${GRACE_MEMBER}')
    redis.call('PEXPIREAT', KEYS[1], ARGV[4])
    redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
    return 2
  end
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[3])
  return 1
end
return 0`;

// KEYS: user set, index. ARGV: now, user id. Returns 1 (to one caller) when the user has nothing left.
const SETTLE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
redis.call('DEL', KEYS[1])
return redis.call('ZREM', KEYS[2], ARGV[2])`;

// KEYS: index. ARGV: now, key prefix of user sets, batch. Returns the users whose every connection expired.
const SWEEP = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local gone = {}
for _, id in ipairs(ids) do
  local key = ARGV[2] .. id
  redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
  if redis.call('ZCARD', key) == 0 then
    redis.call('ZREM', KEYS[1], id)
    table.insert(gone, id)
  else
    redis.call('ZADD', KEYS[1], redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2], id)
  end
end
return gone`;

export class RedisPresence implements Presence {
  readonly #redis: Redis;
  readonly #ttlMs: number;
  readonly #graceMs: number;
  readonly #userPrefix: string;
  readonly #index: string;
  /** This node's connections, refreshed by `heartbeat`. */
  readonly #local = new Map<string, Set<string>>();
  readonly #guard: CallGuard;

  constructor(redis: Redis, options: { prefix: string; ttlMs: number; graceMs?: number; guard?: CallGuard }) {
    this.#redis = redis;
    this.#guard = options.guard ?? unguarded;
    this.#ttlMs = options.ttlMs;
    this.#graceMs = options.graceMs ?? 0;
    this.#userPrefix = `${options.prefix}presence:user:`;
    this.#index = `${options.prefix}presence:index`;
  }

  get heartbeatIntervalMs(): number {
    return Math.floor(this.#ttlMs / 3);
  }

  async connect(userId: string, connectionId: string): Promise<boolean> {
    let set = this.#local.get(userId);
    if (set === undefined) {
      set = new Set();
      this.#local.set(userId, set);
    }
    set.add(connectionId);
    const now = Date.now();
    const cameOnline = await this.#call(() => this.#redis.eval(CONNECT, 2, this.#userPrefix + userId, this.#index, connectionId, now + this.#ttlMs, now, userId));
    return cameOnline === 1;
  }

  async disconnect(userId: string, connectionId: string): Promise<PresenceDrop> {
    const set = this.#local.get(userId);
    set?.delete(connectionId);
    if (set?.size === 0) this.#local.delete(userId);
    const now = Date.now();
    const graceEnd = this.#graceMs > 0 ? now + this.#graceMs : 0;
    const result = await this.#call(() => this.#redis.eval(DISCONNECT, 2, this.#userPrefix + userId, this.#index, connectionId, now, userId, graceEnd));
    return result === 1 ? 'offline' : result === 2 ? 'lingering' : 'unchanged';
  }

  async settle(userId: string): Promise<boolean> {
    return (await this.#call(() => this.#redis.eval(SETTLE, 2, this.#userPrefix + userId, this.#index, Date.now(), userId))) === 1;
  }

  async online(userIds: string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const results = await this.#guard(() => {
      const now = Date.now();
      const pipeline = this.#redis.pipeline();
      for (const id of userIds) pipeline.zcount(this.#userPrefix + id, `(${now}`, '+inf');
      return execPipeline(pipeline);
    });
    const online = new Set<string>();
    results.forEach((count, i) => {
      if (Number(count) > 0) online.add(userIds[i] as string);
    });
    return online;
  }

  /** Pushes the expiry of this node's connections forward. */
  async heartbeat(): Promise<void> {
    if (this.#local.size === 0) return;
    await this.#guard(() => {
      const expiry = Date.now() + this.#ttlMs;
      const pipeline = this.#redis.pipeline();
      for (const [userId, connections] of this.#local) {
        const key = this.#userPrefix + userId;
        for (const id of connections) pipeline.zadd(key, expiry, id);
        pipeline.pexpireat(key, expiry);
        pipeline.zadd(this.#index, 'GT', expiry, userId);
      }
      return execPipeline(pipeline);
    });
  }

  /** Users whose last connection expired (their node died); each is returned to one caller only. */
  async sweep(batch = 500): Promise<string[]> {
    return (await this.#call(() => this.#redis.eval(SWEEP, 1, this.#index, Date.now(), this.#userPrefix, batch))) as string[];
  }

  /** One command through the guard, its outage as `unavailable`. */
  #call<T>(command: () => Promise<T>): Promise<T> {
    return this.#guard(() => redisCall(command()));
  }
}

/** The replies of a pipeline; the first failed command rejects it (an outage as `unavailable`). */
async function execPipeline(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
  const results = (await redisCall(pipeline.exec())) ?? [];
  const failed = results.find(([error]) => error !== null);
  if (failed !== undefined) await redisCall(Promise.reject(failed[0]));
  return results.map(([, value]) => value);
}
