import { storeContract } from '../contracts/store.contract.js';
import { requirePostgres } from '../support/postgres.js';
import { postgresStore } from '../support/store-fixtures.js';

// What a dead connection does to a call is tested in outage.postgres.test.ts.
if (await requirePostgres('Store contract')) storeContract('PostgreSQL', () => postgresStore());
