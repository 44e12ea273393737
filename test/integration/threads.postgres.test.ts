import { after } from 'node:test';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { threadsSuite } from './threads.suite.js';

if (await requirePostgres('threads and reactions suite')) {
  const databases: TestDatabase[] = [];
  after(async () => {
    for (const db of databases) await db.drop();
  });
  threadsSuite('PostgreSQL', async () => {
    const db = await createTestDatabase();
    databases.push(db);
    return { DATABASE_URL: db.url };
  });
}
