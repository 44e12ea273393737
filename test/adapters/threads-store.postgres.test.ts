import { openPostgresStore } from '../../src/adapters/sql/postgres.js';
import { threadsContract } from '../contracts/threads.contract.js';
import { createTestDatabase, requirePostgres } from '../support/postgres.js';

const options = { poolSize: 4, statementTimeoutMs: 10_000 };

if (await requirePostgres('Store contract, threads')) {
  threadsContract('PostgreSQL', async () => {
    const db = await createTestDatabase();
    const store = openPostgresStore(db.url, options);
    return {
      store,
      another: async () => openPostgresStore(db.url, options),
      cleanup: async () => {
        await store.close();
        await db.drop();
      },
    };
  });
}
