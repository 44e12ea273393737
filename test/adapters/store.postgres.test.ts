import { openPostgresStore } from '../../src/adapters/sql/postgres.js';
import { storeContract } from '../contracts/store.contract.js';
import { createTestDatabase, requirePostgres } from '../support/postgres.js';

// 57P01: the test database is dropped with FORCE while a closing pool still holds a connection.
const onError = (error: unknown) => {
  if ((error as { code?: string }).code !== '57P01') console.error('pool error', error);
};
const options = { poolSize: 4, statementTimeoutMs: 10_000, onError };

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
