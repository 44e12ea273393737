import { after } from 'node:test';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { moderationSuite } from './moderation.suite.js';

if (await requirePostgres('moderation suite')) {
  const databases: TestDatabase[] = [];
  after(async () => {
    for (const db of databases) await db.drop();
  });
  moderationSuite('PostgreSQL', async () => {
    const db = await createTestDatabase();
    databases.push(db);
    return { DATABASE_URL: db.url };
  });
}
