/** The races across two nodes on PostgreSQL and Redis: the REST call on one, the WebSocket on the other. */
import { startNodePair } from '../support/node-pair.js';
import { requirePostgres } from '../support/postgres.js';
import { requireRedis } from '../support/redis.js';
import { racesSuite } from './races.suite.js';

if ((await requirePostgres('races across nodes')) && (await requireRedis('races across nodes'))) {
  racesSuite('two nodes, PostgreSQL + Redis', async () => {
    const pair = await startNodePair({ SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000, AUTH_RATE_PER_MIN: 10_000 });
    return { rest: pair.a, ws: pair.b, stop: () => pair.stop() };
  });
}
