import { botsContract } from '../contracts/bots.contract.js';
import { sqliteStore, threadedSqliteStore } from '../support/store-fixtures.js';

botsContract('SQLite', () => sqliteStore());
botsContract('SQLite on a worker thread', () => threadedSqliteStore());
