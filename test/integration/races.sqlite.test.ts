import { startTestServer } from '../support/server.js';
import { racesSuite } from './races.suite.js';

racesSuite('embedded SQLite', async () => {
  const server = await startTestServer({ SEND_RATE_PER_SEC: 10_000, SEND_BURST: 10_000, AUTH_RATE_PER_MIN: 10_000 });
  return { rest: server, ws: server, stop: () => server.stop() };
});
