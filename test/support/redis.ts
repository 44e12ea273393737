/**
 * The shared Redis for tests (PARLEY_TEST_REDIS_URL, default the local one). Each server gets
 * its own key prefix, so tests never see each other's keys. Without Redis, suites skip on a
 * developer's machine and fail in CI.
 */
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.PARLEY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let available: Promise<string | null> | undefined;

function unavailableReason(): Promise<string | null> {
  available ??= (async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      await redis.connect();
      await redis.ping();
      return null;
    } catch (error) {
      return `Redis at ${REDIS_URL} is not reachable (${(error as Error).message})`;
    } finally {
      redis.disconnect();
    }
  })();
  return available;
}

export async function requireRedis(suite: string): Promise<boolean> {
  const reason = await unavailableReason();
  if (reason === null) return true;
  if (process.env.CI === 'true') {
    test(`${suite}: Redis is required in CI`, () => {
      throw new Error(reason);
    });
  } else {
    test(`${suite} (Redis)`, (t) => t.skip(`${reason}; set PARLEY_TEST_REDIS_URL to run it`));
  }
  return false;
}

/** A prefix no other test uses. */
export const redisPrefix = (): string => `parley-test-${randomBytes(5).toString('hex')}:`;
