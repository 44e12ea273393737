import path from 'node:path';
import { storeContract } from '../contracts/store.contract.js';
import { sqliteStore, threadedSqliteStore } from '../support/store-fixtures.js';

// In a directory that does not exist yet: the store makes it.
const file = path.join('nested', 'parley.db');
storeContract('SQLite', () => sqliteStore(file));
storeContract('SQLite on a worker thread', () => threadedSqliteStore(file));
