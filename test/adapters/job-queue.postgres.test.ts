import { jobQueueContract } from '../contracts/job-queue.contract.js';
import { createTestDatabase, requirePostgres } from '../support/postgres.js';

if (await requirePostgres('JobQueue contract')) {
  jobQueueContract('embedded, PostgreSQL', async () => {
    const db = await createTestDatabase();
    return { spec: { kind: 'embedded', databaseUrl: db.url }, cleanup: () => db.drop() };
  });
}
