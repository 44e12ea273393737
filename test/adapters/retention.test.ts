import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openPostgresStore } from '../../src/adapters/sql/postgres.js';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { retentionContract } from '../contracts/retention.contract.js';
import { createTestDatabase, requirePostgres } from '../support/postgres.js';

retentionContract('SQLite', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-retention-'));
  const store = openSqliteStore(path.join(dir, 'parley.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

if (await requirePostgres('Retention')) {
  retentionContract('PostgreSQL', async () => {
    const db = await createTestDatabase();
    const store = openPostgresStore(db.url, { poolSize: 2, statementTimeoutMs: 10_000 });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await db.drop();
      },
    };
  });
}
