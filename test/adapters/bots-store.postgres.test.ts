import { botsContract } from '../contracts/bots.contract.js';
import { requirePostgres } from '../support/postgres.js';
import { postgresStore } from '../support/store-fixtures.js';

if (await requirePostgres('Store contract, bots')) botsContract('PostgreSQL', () => postgresStore());
