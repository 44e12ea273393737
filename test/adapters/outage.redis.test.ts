/**
 * Every Redis-backed adapter when Redis goes away, on a Redis of the test's own (stopped and
 * started again here): calls fail with `unavailable` where the port says so, the rate limiter
 * degrades to per-process counting as its port says, nothing is thrown at the process, each
 * connection logs the outage once, and everything works again once Redis is back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisBus, redisOptions } from '../../src/adapters/redis/bus.js';
import { RedisCache } from '../../src/adapters/redis/cache.js';
import { watchRedis } from '../../src/adapters/redis/outage.js';
import { RedisPresence } from '../../src/adapters/redis/presence.js';
import { RedisRateLimiter } from '../../src/adapters/redis/rate-limiter.js';
import { CacheAside } from '../../src/domain/cache-aside.js';
import { AppError } from '../../src/errors.js';
import { OutageLog } from '../../src/observability/outage-log.js';
import { captureLogs, LEVEL } from '../support/log-capture.js';
import { REDIS_SERVER, requireBinary, type ServerHandle, startRedis } from '../support/services.js';
import { recordUncaught } from '../support/uncaught.js';

const isUnavailable = (error: unknown): boolean => error instanceof AppError && error.code === 'unavailable';
const COMMAND_TIMEOUT_MS = 300;

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

if (requireBinary(REDIS_SERVER, 'redis-server', 'Redis outages')) {
  describe('Redis adapters during an outage', () => {
    let server: ServerHandle;
    let redis: Redis;
    let bus: RedisBus;
    const logs = captureLogs();
    const prefix = 'outage-test:';

    before(async () => {
      server = await startRedis();
      redis = new Redis(server.url, { ...redisOptions(COMMAND_TIMEOUT_MS), connectionName: 'parley' });
      watchRedis(redis, new OutageLog(logs.log, 'redis'));
      await redis.connect();
      bus = await RedisBus.connect({
        url: server.url,
        commandTimeoutMs: COMMAND_TIMEOUT_MS,
        onError: (error, context) => logs.log.error({ err: error, context }, 'bus error'),
        monitors: { pub: new OutageLog(logs.log, 'redis bus pub'), sub: new OutageLog(logs.log, 'redis bus sub') },
      });
    });
    after(async () => {
      await bus.close();
      redis.disconnect();
      await server.stop();
    });

    it("regression: while Redis is down, cache, presence and bus calls fail with unavailable, the rate limiter counts in the process, and no unhandled 'error' is raised; all recover", async () => {
      const cache = new RedisCache(redis, { prefix });
      const cacheAside = new CacheAside<string>(cache, { ttlMs: 60_000, encode: (v) => v, decode: (v) => v, onError: () => undefined });
      const presence = new RedisPresence(redis, { prefix, ttlMs: 60_000 });
      const limiter = new RedisRateLimiter(redis, 'send', { ratePerSec: 1, burst: 3 }, { prefix });
      const received: string[] = [];
      await bus.subscribe('room:r1', (payload) => received.push(payload));
      await presence.connect('alice', 'conn-1');
      const uncaught = recordUncaught();
      try {
        // Down for long enough to try everything, then back on the same port.
        const restarted = server.restart({ hard: true, downMs: 2_500 });
        await until('the client noticed', () => redis.status !== 'ready');

        await assert.rejects(cache.get('k'), isUnavailable);
        await assert.rejects(cache.set('k', 'v', 1_000), isUnavailable);
        await assert.rejects(cache.delete(['k']), isUnavailable);
        // Readers skip a failing cache: the store answers.
        assert.equal(await cacheAside.get('k', async () => 'from the store'), 'from the store');
        await assert.rejects(presence.connect('bob', 'conn-2'), isUnavailable);
        await assert.rejects(presence.online(['alice']), isUnavailable);
        await assert.rejects(presence.heartbeat(), isUnavailable);
        await assert.rejects(bus.publish('room:r1', 'lost while down'), isUnavailable);
        // The limiter's rule still holds, counted in this process: the burst, then a refusal.
        const results = [];
        for (let i = 0; i < 4; i++) results.push((await limiter.consume('send:alice')).allowed);
        assert.deepEqual(results, [true, true, true, false]);

        await restarted;
        await until('Redis ready again', () => redis.status === 'ready');
        await cache.set('k', 'v', 10_000);
        assert.equal(await cache.get('k'), 'v');
        // Redis restarted empty: the heartbeat writes this node's connections back.
        await presence.heartbeat();
        assert.deepEqual([...(await presence.online(['alice', 'bob']))].sort(), ['alice', 'bob']);
        await until('the bus publishes again', () =>
          bus.publish('room:r1', 'after').then(
            () => true,
            () => false,
          ),
        );
        await until('the bus delivers again', () => received.includes('after'));
        assert.deepEqual(uncaught.errors, []);
      } finally {
        uncaught.stop();
      }
      // Each connection logged the outage once and its end once, however many calls failed.
      const outageLines = logs.lines.filter((l) => l.level >= LEVEL.info && typeof l.dependency === 'string');
      for (const dependency of ['redis', 'redis bus pub', 'redis bus sub']) {
        assert.deepEqual(
          outageLines.filter((l) => l.dependency === dependency).map((l) => l.msg),
          [`${dependency} unavailable`, `${dependency} available again`],
          dependency,
        );
      }
      assert.deepEqual(logs.lines.filter((l) => l.level >= LEVEL.error && l.dependency === undefined), [], 'no other error lines');
    });

    it('regression: a command in flight when the server dies fails with unavailable, not internal', async () => {
      const presence = new RedisPresence(redis, { prefix, ttlMs: 60_000 });
      const uncaught = recordUncaught();
      try {
        // Paused, the server holds the command unanswered: it is on the wire when the server dies.
        const admin = new Redis(server.url);
        await admin.call('CLIENT', 'PAUSE', '5000', 'ALL');
        admin.disconnect();
        const inFlight = presence.online(['alice']).then(
          () => null,
          (error: unknown) => error,
        );
        await new Promise((r) => setTimeout(r, 50));
        const restarted = server.restart({ hard: true, downMs: 500 });
        const error = await inFlight;
        assert.ok(isUnavailable(error), `expected unavailable, got ${String(error)}`);
        await restarted;
        await until('Redis ready again', () => redis.status === 'ready');
        assert.deepEqual(uncaught.errors, []);
      } finally {
        uncaught.stop();
      }
    });

    it('regression: a subscribe to a Redis that accepts but does not answer fails with unavailable after its deadline instead of waiting for ever, and is taken back', async () => {
      // The subscriber connection has no command timeout (it waits for messages): nothing else
      // bounded a SUBSCRIBE that Redis held unanswered.
      const admin = new Redis(server.url);
      const uncaught = recordUncaught();
      try {
        await admin.call('CLIENT', 'PAUSE', '8000', 'ALL');
        const handler = () => undefined;
        await assert.rejects(bus.subscribe('room:held', handler), isUnavailable);
        // Once Redis answers again, the SUBSCRIBE it held is undone (UNSUBSCRIBE after it).
        await admin.call('CLIENT', 'UNPAUSE');
        const subscribers = async () => Number(((await admin.call('PUBSUB', 'NUMSUB', 'parley:room:held')) as [string, number])[1]);
        await new Promise((r) => setTimeout(r, 200));
        await until('the held subscription taken back', async () => (await subscribers()) === 0);
        // And the channel can be subscribed again.
        const received: string[] = [];
        const stop = await bus.subscribe('room:held', (payload) => received.push(payload));
        await bus.publish('room:held', 'after');
        await until('delivered', () => received.includes('after'));
        await stop();
        assert.deepEqual(uncaught.errors, []);
      } finally {
        uncaught.stop();
        await admin.call('CLIENT', 'UNPAUSE').catch(() => undefined);
        admin.disconnect();
      }
    });

    it('regression: a bus closed while its subscriber subscribes again after a reconnect raises no unhandled rejection', async () => {
      // Many channels make the SUBSCRIBE after a reconnect take long enough to close the bus
      // while it is in flight (the old code left that promise unhandled: 'Connection is closed.').
      const admin = new Redis(server.url);
      const uncaught = recordUncaught();
      try {
        for (let trial = 0; trial < 5; trial++) {
          const second = await RedisBus.connect({ url: server.url, commandTimeoutMs: 2_000, onError: () => undefined });
          const channels = Array.from({ length: 20_000 }, (_, i) => `room:t${trial}-${i}` as const);
          // A couple of thousand at a time: each subscribe has its own deadline (5 s), and twenty
          // thousand asked at once could pass it on a loaded machine before Redis got to the last.
          for (let i = 0; i < channels.length; i += 2_000) await Promise.all(channels.slice(i, i + 2_000).map((channel) => second.subscribe(channel, () => undefined)));
          const before = await subscriberIds(admin);
          void second.resubscribe();
          // The new subscriber connection has named itself: its SUBSCRIBEs follow at 'ready'.
          await until('the subscriber reconnected', async () => (await subscriberIds(admin)).some((id) => !before.includes(id)), 5_000);
          await new Promise((r) => setTimeout(r, trial * 2));
          await second.close();
        }
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(uncaught.errors, []);
      } finally {
        uncaught.stop();
        admin.disconnect();
      }
    });
  });
}

async function subscriberIds(admin: Redis): Promise<string[]> {
  const list = String(await admin.call('CLIENT', 'LIST'));
  return list
    .split('\n')
    .filter((line) => line.includes('name=parley-bus-sub'))
    .map((line) => /id=(\d+)/.exec(line)?.[1] ?? '');
}
