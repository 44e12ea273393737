/** Two Parley nodes in this process, as in a fleet: one fresh PostgreSQL database, one Redis (its own key prefix). */
import type { Config } from '../../src/config.js';
import { createTestDatabase } from './postgres.js';
import { REDIS_URL, redisPrefix } from './redis.js';
import { startTestServer, type TestServer } from './server.js';

export interface NodePair {
  a: TestServer;
  b: TestServer;
  /** Stops both nodes (a node already stopped is fine) and drops the database. */
  stop(): Promise<void>;
}

export async function startNodePair(extra: Partial<Config> = {}): Promise<NodePair> {
  const db = await createTestDatabase();
  const common = { DATABASE_URL: db.url, REDIS_URL, REDIS_PREFIX: redisPrefix(), ...extra };
  const a = await startTestServer(common);
  const b = await startTestServer(common);
  return {
    a,
    b,
    stop: async () => {
      await a.stop();
      await b.stop();
      await db.drop();
    },
  };
}
