import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { openThreadedSqliteStore } from '../../src/adapters/sql/sqlite-thread.js';
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

// The same store as the server runs it: on its own thread, called by message.
storeContract('SQLite on a worker thread', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-store-'));
  const store = openThreadedSqliteStore(path.join(dir, 'nested', 'parley.db'), { maxQueued: 10_000, searchStallMs: 30_000 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
