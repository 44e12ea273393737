import { Redis } from 'ioredis';
import { jobQueueContract } from '../contracts/job-queue.contract.js';
import { REDIS_URL, redisPrefix, requireRedis } from '../support/redis.js';

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

if (await requireRedis('JobQueue contract on BullMQ')) {
  jobQueueContract('BullMQ', async () => {
    // BullMQ's keys are `<prefix>:<queue>:…`: the test prefix without its trailing ':'.
    const prefix = redisPrefix().replace(/:$/, '');
    return {
      spec: { kind: 'bullmq', url: REDIS_URL, prefix },
      cleanup: () => deleteKeys(`${prefix}:`),
    };
  });
}
