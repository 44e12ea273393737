import { after } from 'node:test';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { restSuite } from './rest.suite.js';
import { wsSuite } from './ws.suite.js';

if (await requirePostgres('REST and WebSocket protocol suites')) {
  // A database per server the suites start; all dropped at the end.
  const databases: TestDatabase[] = [];
  const postgres = async () => {
    const db = await createTestDatabase();
    databases.push(db);
    return { DATABASE_URL: db.url };
  };
  after(async () => {
    for (const db of databases) await db.drop();
  });

  restSuite('PostgreSQL', postgres);
  wsSuite('PostgreSQL', postgres);
}
