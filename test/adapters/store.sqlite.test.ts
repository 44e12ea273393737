import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { storeContract } from '../contracts/store.contract.js';

storeContract('SQLite', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-store-'));
  const file = path.join(dir, 'nested', 'parley.db');
  const store = openSqliteStore(file);
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
