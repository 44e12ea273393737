import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { openThreadedSqliteStore } from '../../src/adapters/sql/sqlite-thread.js';
import { threadsContract } from '../contracts/threads.contract.js';

threadsContract('SQLite', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-threads-'));
  const store = openSqliteStore(path.join(dir, 'parley.db'));
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

// As the server runs it: on its own thread, called by message.
threadsContract('SQLite on a worker thread', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-threads-'));
  const store = openThreadedSqliteStore(path.join(dir, 'parley.db'), { maxQueued: 10_000, searchStallMs: 30_000 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
