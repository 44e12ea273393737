import { openPostgresStore } from '../../src/adapters/sql/postgres.js';
import { storeContract } from '../contracts/store.contract.js';
import { createTestDatabase, requirePostgres } from '../support/postgres.js';

// What a dead connection does to a call is tested in outage.postgres.test.ts.
const options = { poolSize: 4, statementTimeoutMs: 10_000 };

if (await requirePostgres('Store contract')) {
  storeContract('PostgreSQL', async () => {
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
