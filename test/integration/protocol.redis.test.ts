/**
 * The whole protocol again with the production adapters: PostgreSQL for the store, Redis for
 * the bus, rate limits and presence.
 */
import { after } from 'node:test';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { REDIS_URL, redisPrefix, requireRedis } from '../support/redis.js';
import { edgeSuite } from './edge.suite.js';
import { restSuite } from './rest.suite.js';
import { wsSuite } from './ws.suite.js';

if ((await requirePostgres('protocol over PostgreSQL and Redis')) && (await requireRedis('protocol over PostgreSQL and Redis'))) {
  const databases: TestDatabase[] = [];
  const config = async () => {
    const db = await createTestDatabase();
    databases.push(db);
    return { DATABASE_URL: db.url, REDIS_URL, REDIS_PREFIX: redisPrefix() };
  };
  after(async () => {
    for (const db of databases) await db.drop();
  });

  restSuite('PostgreSQL + Redis', config);
  wsSuite('PostgreSQL + Redis', config);
  // Where NUL and unpaired surrogates used to fail the transaction, and cookie sessions are cached in Redis.
  edgeSuite('PostgreSQL + Redis', config);
}
