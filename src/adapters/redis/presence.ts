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
 * A script touches a user's set and the index (the sweep, several users' sets), so the keys of
 * one index must live in one slot of a Redis Cluster. With `partitions` > 1 users are spread
 * over that many indexes by a hash of their id, each index and its users' sets sharing a hash
 * tag (`{<prefix>presence:<n>}`), so a Cluster spreads presence over its masters; the sweep
 * walks every index. With one partition (a single Redis) the keys are as they always were.
 *
 * While Redis is down every call rejects with `unavailable`. This node's own connections are
 * kept here all the same: the first heartbeat after the outage writes them back (Redis may have
 * restarted empty), and entries a failed disconnect left behind expire and are swept. With a
 * `guard` (the Redis breaker), each call to Redis goes through it, after this node's own
 * connections are updated: a refused call keeps them as a failed one does.
 */
import type { Cluster, Redis } from 'ioredis';
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

/** One index and the prefix of its users' sets. */
interface Partition {
  userPrefix: string;
  index: string;
}

/** A stable hash of a user id (FNV-1a, 32 bits): which partition holds the user. */
function partitionOf(userId: string, count: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    hash ^= userId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % count;
}

export class RedisPresence implements Presence {
  readonly #redis: Redis | Cluster;
  readonly #ttlMs: number;
  readonly #graceMs: number;
  readonly #partitions: Partition[];
  /** This node's connections, refreshed by `heartbeat`. */
  readonly #local = new Map<string, Set<string>>();
  readonly #guard: CallGuard;
  readonly #onError: (error: unknown, context: string) => void;

  /**
   * `partitions`: how many indexes users are spread over (default 1: a single Redis; a Redis
   * Cluster wants several per master). `onError`: told of a partition the sweep could not read
   * while others answered (the users it swept from those are returned all the same).
   */
  constructor(redis: Redis | Cluster, options: { prefix: string; ttlMs: number; graceMs?: number; guard?: CallGuard; partitions?: number; onError?: (error: unknown, context: string) => void }) {
    this.#redis = redis;
    this.#guard = options.guard ?? unguarded;
    this.#onError = options.onError ?? (() => undefined);
    this.#ttlMs = options.ttlMs;
    this.#graceMs = options.graceMs ?? 0;
    const count = Math.max(1, Math.floor(options.partitions ?? 1));
    this.#partitions =
      count === 1
        ? [{ userPrefix: `${options.prefix}presence:user:`, index: `${options.prefix}presence:index` }]
        : Array.from({ length: count }, (_, n) => {
            const tag = `{${options.prefix}presence:${n}}`;
            return { userPrefix: `${tag}:user:`, index: `${tag}:index` };
          });
  }

  #partition(userId: string): Partition {
    return this.#partitions[this.#partitions.length === 1 ? 0 : partitionOf(userId, this.#partitions.length)] as Partition;
  }

  /** `items` grouped by the partition of the user `userOf` names, partitions without items left out. */
  #grouped<T>(items: Iterable<T>, userOf: (item: T) => string): Array<[Partition, T[]]> {
    const groups = new Map<Partition, T[]>();
    for (const item of items) {
      const partition = this.#partition(userOf(item));
      const group = groups.get(partition);
      if (group === undefined) groups.set(partition, [item]);
      else group.push(item);
    }
    return [...groups];
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
    const { userPrefix, index } = this.#partition(userId);
    const cameOnline = await this.#call(() => this.#redis.eval(CONNECT, 2, userPrefix + userId, index, connectionId, now + this.#ttlMs, now, userId));
    return cameOnline === 1;
  }

  async disconnect(userId: string, connectionId: string): Promise<PresenceDrop> {
    const set = this.#local.get(userId);
    set?.delete(connectionId);
    if (set?.size === 0) this.#local.delete(userId);
    const now = Date.now();
    const graceEnd = this.#graceMs > 0 ? now + this.#graceMs : 0;
    const { userPrefix, index } = this.#partition(userId);
    const result = await this.#call(() => this.#redis.eval(DISCONNECT, 2, userPrefix + userId, index, connectionId, now, userId, graceEnd));
    return result === 1 ? 'offline' : result === 2 ? 'lingering' : 'unchanged';
  }

  async settle(userId: string): Promise<boolean> {
    const { userPrefix, index } = this.#partition(userId);
    return (await this.#call(() => this.#redis.eval(SETTLE, 2, userPrefix + userId, index, Date.now(), userId))) === 1;
  }

  async online(userIds: string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const online = new Set<string>();
    // One pipeline per partition: a Cluster pipelines only the keys of one slot.
    await this.#guard(() =>
      Promise.all(
        this.#grouped(userIds, (id) => id).map(async ([{ userPrefix }, ids]) => {
          const now = Date.now();
          const pipeline = this.#redis.pipeline();
          for (const id of ids) pipeline.zcount(userPrefix + id, `(${now}`, '+inf');
          const results = await execPipeline(pipeline);
          results.forEach((count, i) => {
            if (Number(count) > 0) online.add(ids[i] as string);
          });
        }),
      ),
    );
    return online;
  }

  /** Pushes the expiry of this node's connections forward. */
  async heartbeat(): Promise<void> {
    if (this.#local.size === 0) return;
    await this.#guard(() => {
      const expiry = Date.now() + this.#ttlMs;
      return Promise.all(
        this.#grouped(this.#local, ([userId]) => userId).map(([{ userPrefix, index }, users]) => {
          const pipeline = this.#redis.pipeline();
          for (const [userId, connections] of users) {
            const key = userPrefix + userId;
            for (const id of connections) pipeline.zadd(key, expiry, id);
            pipeline.pexpireat(key, expiry);
            pipeline.zadd(index, 'GT', expiry, userId);
          }
          return execPipeline(pipeline);
        }),
      );
    });
  }

  /**
   * Users whose last connection expired (their node died); each is returned to one caller only.
   * At most `batch` per partition. A script removes the users it returns from its index, so
   * what every partition that answered swept is returned even when another failed (a master
   * failing over): that failure is told to onError, and the next sweep tries it again. Only
   * when no partition answered does the sweep reject.
   */
  async sweep(batch = 500): Promise<string[]> {
    const now = Date.now();
    const settled = await this.#guard(async () => {
      const all = await Promise.allSettled(this.#partitions.map(({ userPrefix, index }) => redisCall(this.#redis.eval(SWEEP, 1, index, now, userPrefix, batch) as Promise<string[]>)));
      const failed = all.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      // Nothing answered: a failure like any other call's (the breaker counts it).
      if (failed.length === all.length && failed[0] !== undefined) throw failed[0].reason;
      return all;
    });
    const gone: string[] = [];
    for (const result of settled) {
      if (result.status === 'fulfilled') gone.push(...result.value);
      else this.#onError(result.reason, 'sweeping a presence partition');
    }
    return gone;
  }

  /** One command through the guard, its outage as `unavailable`. */
  #call<T>(command: () => Promise<T>): Promise<T> {
    return this.#guard(() => redisCall(command()));
  }
}

/** The replies of a pipeline; the first failed command rejects it (an outage as `unavailable`). */
async function execPipeline(pipeline: ReturnType<Redis['pipeline']> | ReturnType<Cluster['pipeline']>): Promise<unknown[]> {
  const results = (await redisCall(pipeline.exec())) ?? [];
  const failed = results.find(([error]) => error !== null);
  if (failed !== undefined) await redisCall(Promise.reject(failed[0]));
  return results.map(([, value]) => value);
}
