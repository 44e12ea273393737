import pg from 'pg';
import { openPostgresStore } from '../../src/adapters/sql/postgres.js';
import { queryPlanSuite } from '../contracts/query-plans.contract.js';
import { QueryRecorder, postgresExplain, postgresRowsExamined } from '../support/query-plans.js';
import { createTestDatabase, requirePostgres } from '../support/postgres.js';

if (await requirePostgres('Query plans')) {
  queryPlanSuite('PostgreSQL', async () => {
    const db = await createTestDatabase();
    const recorder = new QueryRecorder();
    const store = openPostgresStore(db.url, { poolSize: 2, statementTimeoutMs: 60_000, onQuery: recorder.observe });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    return {
      dialect: 'postgres',
      store,
      recorder,
      explain: postgresExplain(client),
      rowsExamined: (query) => postgresRowsExamined(client, query),
      exec: async (sql) => {
        await client.query(sql);
      },
      // What autovacuum does on a live database; the planner's default settings otherwise.
      analyze: async () => {
        await client.query('ANALYZE');
      },
      cleanup: async () => {
        await client.end();
        await store.close();
        await db.drop();
      },
    };
  });
}
