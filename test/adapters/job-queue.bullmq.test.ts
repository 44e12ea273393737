/**
 * The JobQueue contract on BullMQ, against the shared Redis (a prefix of its own, its keys
 * deleted after), and what only this adapter can be asked: a run whose BullMQ lock is lost,
 * and a close while Redis cannot be reached.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { BullJobQueue } from '../../src/adapters/bullmq/job-queue.js';
import type { RunOutcome } from '../../src/jobs/observer.js';
import type { Job } from '../../src/ports.js';
import { jobQueueContract } from '../contracts/job-queue.contract.js';
import { freePort, REDIS_SERVER, requireBinary } from '../support/services.js';
import { REDIS_URL, redisPrefix, requireRedis } from '../support/redis.js';
import { type RedisClusterHandle, startRedisCluster } from '../support/redis-cluster.js';

const CLOSE_CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), '../support/bullmq-close-child.ts');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Deletes every key under `prefix` (SCAN, never KEYS: the shared Redis may be large). */
async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** BullMQ's keys are `<prefix>:<queue>:…`: a test prefix without its trailing ':'. */
const bullPrefix = (): string => redisPrefix().replace(/:$/, '');

if (await requireRedis('JobQueue contract on BullMQ')) {
  jobQueueContract('BullMQ', async () => {
    const prefix = bullPrefix();
    return {
      spec: { kind: 'bullmq', url: REDIS_URL, prefix },
      cleanup: () => deleteKeys(`${prefix}:`),
    };
  });

  if (requireBinary(REDIS_SERVER, 'redis-server', 'JobQueue contract on BullMQ over a Redis Cluster')) {
    // Three masters with a replica each, started for these tests: each queue's keys carry a hash
    // tag of their own, so the queues' scripts run on one master each and the queues spread.
    let cluster: Promise<RedisClusterHandle> | undefined;
    const started = (): Promise<RedisClusterHandle> => {
      cluster ??= startRedisCluster();
      return cluster;
    };
    after(async () => {
      await (await cluster)?.stop();
    });
    it('on a Redis Cluster each queue\'s keys share one slot, and the queues spread over the masters', async () => {
      const handle = await started();
      const prefix = bullPrefix();
      const q = new BullJobQueue({ url: handle.url, prefix, cluster: { seeds: [] }, onError: () => undefined });
      const names = Array.from({ length: 8 }, (_, i) => `spread-${i}`);
      try {
        for (const name of names) await q.enqueue(name, { n: 1 });
      } finally {
        await q.close(0);
      }
      // Slots, not nodes: under load a node timeout may move a master, and a replica holds copies.
      const masters = await handle.masters();
      const node = new Redis(masters[0] as number, '127.0.0.1');
      try {
        const keys = new Set<string>();
        for (const port of masters) {
          const each = new Redis(port, '127.0.0.1');
          try {
            for (const key of await each.keys(`{${prefix}:*`)) keys.add(key);
          } finally {
            each.disconnect();
          }
        }
        const slotsOf = new Map<string, Set<number>>();
        for (const key of keys) {
          const queue = /^\{[^}]*:(spread-\d)\}/.exec(key)?.[1] as string;
          slotsOf.set(queue, (slotsOf.get(queue) ?? new Set<number>()).add(Number(await node.cluster('KEYSLOT', key))));
        }
        assert.deepEqual([...slotsOf.keys()].sort(), names);
        for (const [queue, slots] of slotsOf) assert.equal(slots.size, 1, `${queue}'s keys in one slot`);
        const ranges = await node.cluster('SLOTS');
        const owner = (slot: number) => ranges.find(([from, to]) => slot >= from && slot <= to)?.[2]?.[1];
        assert.ok(new Set([...slotsOf.values()].map((slots) => owner([...slots][0] as number))).size >= 2, 'the queues are on more than one master');
      } finally {
        node.disconnect();
      }
    });

    jobQueueContract('BullMQ on a Redis Cluster', async () => {
      const handle = await started();
      return {
        spec: { kind: 'bullmq', url: handle.url, prefix: bullPrefix(), cluster: { seeds: handle.nodes.slice(1, 3).map((node) => ({ host: '127.0.0.1', port: Number(node.split(':')[1]) })) } },
        cleanup: async () => undefined,
      };
    });
  }

  describe('BullMQ job queue', () => {
    const prefix = bullPrefix();
    after(() => deleteKeys(`${prefix}:`));

    it('a run whose lock is lost has its signal aborted, its late end is not recorded, and it runs again as its next attempt', async () => {
      const errors: string[] = [];
      const outcomes: RunOutcome[] = [];
      const q = new BullJobQueue({
        url: REDIS_URL,
        prefix,
        onError: (error, context) => errors.push(`${context}: ${String(error)}`),
        observer: { ran: (_queue, outcome) => outcomes.push(outcome) },
      });
      const redis = new Redis(REDIS_URL);
      try {
        const queue = `t-${randomBytes(6).toString('hex')}`;
        const runs: Job[] = [];
        let aborted = false;
        await q.work(
          queue,
          async (job) => {
            runs.push(job);
            if (runs.length > 1) return;
            await new Promise<void>((resolve) => {
              job.signal.addEventListener('abort', () => {
                aborted = true;
                resolve();
              });
            });
          },
          { concurrency: 1, visibilityTimeoutMs: 1_000 },
        );
        const { id } = await q.enqueue(queue, { n: 1 }, { attempts: 3 });
        await until('it ran', () => runs.length === 1);
        // As if the process had frozen past its lease: the lock is gone.
        assert.equal(await redis.del(`${prefix}:${queue}:${id}:lock`), 1);
        await until('its signal was aborted', () => aborted, 5_000);
        await until('it ran again', () => runs.length === 2, 10_000);
        assert.equal(runs[1]?.id, id);
        assert.equal(runs[1]?.attempt, 2, 'the lost run was a run made');
        await until('it completed', async () => {
          const c = await q.counts(queue);
          return c.waiting + c.delayed + c.active + c.dead === 0;
        });
        assert.deepEqual(outcomes, ['lost', 'completed']);
        assert.deepEqual(errors, []);
      } finally {
        redis.disconnect();
        await q.close(500);
      }
    });

    it('regression: a close while Redis cannot be reached ends, and the process exits (ioredis never ended a connection disconnected between reconnection attempts; BullMQ waited for that end, renewing locks on a timer for ever)', async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', CLOSE_CHILD], {
        env: { ...process.env, PARLEY_TEST_REDIS_URL: `redis://127.0.0.1:${await freePort()}` },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        await until('the child closed its queue', () => out.includes('closed '), 30_000);
        const [, took, errors] = /closed (\d+) (.*)\n/.exec(out) ?? [];
        assert.ok(Number(took) < 5_000, `close took ${took} ms`);
        // Each connection said once that Redis is away; the enqueue was refused.
        assert.deepEqual((JSON.parse(errors ?? '[]') as string[]).map((e) => e.split(':')[0]).sort(), ['bullmq producer unavailable', 'bullmq worker unavailable', 'enqueue']);
        // ioredis gives a socket it ends 2 s to close before destroying it; then nothing is left.
        const code = await Promise.race([exited, sleep(5_000).then(() => 'still running')]);
        assert.equal(code, 0);
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
}
