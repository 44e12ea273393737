import { threadsContract } from '../contracts/threads.contract.js';
import { requirePostgres } from '../support/postgres.js';
import { postgresStore } from '../support/store-fixtures.js';

if (await requirePostgres('Store contract, threads')) threadsContract('PostgreSQL', () => postgresStore());
