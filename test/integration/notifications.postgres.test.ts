import { after } from 'node:test';
import { createTestDatabase, requirePostgres, type TestDatabase } from '../support/postgres.js';
import { notificationsSuite } from './notifications.suite.js';

if (await requirePostgres('notifications over PostgreSQL')) {
  const databases: TestDatabase[] = [];
  after(async () => {
    for (const db of databases) await db.drop();
  });
  notificationsSuite('PostgreSQL', async () => {
    const db = await createTestDatabase();
    databases.push(db);
    return { DATABASE_URL: db.url };
  });
}
