/**
 * The stores the contract suites run on: a fresh SQLite file (in process, or on its worker
 * thread as the server runs it) or a fresh PostgreSQL database, each removed by `cleanup`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openPostgresStore, type PostgresOptions } from '../../src/adapters/sql/postgres.js';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { openThreadedSqliteStore } from '../../src/adapters/sql/sqlite-thread.js';
import type { StoreWithJobs } from '../../src/adapters/sql/job-store.js';
import type { StoreFixture } from '../contracts/store.contract.js';
import { createTestDatabase } from './postgres.js';

/** `file` places the database in the fresh directory (a nested path shows the directories are made). */
async function sqlite(open: (file: string) => StoreWithJobs, file: string): Promise<StoreFixture> {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-store-'));
  const store = open(path.join(dir, file));
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const sqliteStore = (file = 'parley.db'): Promise<StoreFixture> => sqlite(openSqliteStore, file);

/** As the server runs it: on its own thread, called by message. */
export const threadedSqliteStore = (file = 'parley.db'): Promise<StoreFixture> =>
  sqlite((f) => openThreadedSqliteStore(f, { maxQueued: 10_000, searchStallMs: 30_000 }), file);

/** A fresh database; `via` turns its URL into the one the store uses (through a pooler, say). */
export async function postgresStore(options: PostgresOptions = { poolSize: 4, statementTimeoutMs: 10_000 }, via: (url: string) => string = (url) => url): Promise<StoreFixture> {
  const db = await createTestDatabase();
  const url = via(db.url);
  const store = openPostgresStore(url, options);
  return {
    store,
    another: async () => openPostgresStore(url, options),
    cleanup: async () => {
      await store.close();
      await db.drop();
    },
  };
}
