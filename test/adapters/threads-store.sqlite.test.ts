import { threadsContract } from '../contracts/threads.contract.js';
import { sqliteStore, threadedSqliteStore } from '../support/store-fixtures.js';

threadsContract('SQLite', () => sqliteStore());
threadsContract('SQLite on a worker thread', () => threadedSqliteStore());
