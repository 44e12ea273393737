/**
 * The stores the contract suites run on: a fresh SQLite file (in process, or on its worker
 * thread as the server runs it) or a fresh PostgreSQL database, each removed by `cleanup`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openPostgresStore, type PostgresOptions } from '../../src/adapters/sql/postgres.js';
import { openShardedPostgres, type ShardedPostgres, type ShardedPostgresOptions, type ShardUrl } from '../../src/adapters/sql/postgres-shards.js';
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

/**
 * Rooms sharded over three databases: the primary's, another on the same server, and one on a
 * second PostgreSQL server (`second`, started by the caller). Rooms land on the two shards by
 * their hash, so the suites' rooms are spread over both servers.
 */
export async function shardedStore(second: () => Promise<{ url: string }>, options: Partial<ShardedPostgresOptions> = {}): Promise<StoreFixture & { sharded: ShardedPostgres; urls: { primary: string; shards: ShardUrl[] } }> {
  const primary = await createTestDatabase();
  const near = await createTestDatabase();
  const far = await createTestDatabase((await second()).url);
  const shards: ShardUrl[] = [
    { name: 'near', url: near.url },
    { name: 'far', url: far.url },
  ];
  const settings: ShardedPostgresOptions = { poolSize: 4, statementTimeoutMs: 10_000, shardPoolSize: 4, movePollMs: 100, moveWaitMs: 10_000, ...options };
  const open = () => openShardedPostgres(primary.url, shards, settings);
  const sharded = open();
  return {
    store: sharded.store,
    spread: true,
    sharded,
    urls: { primary: primary.url, shards },
    another: async () => {
      const peer = open().store;
      await peer.migrate();
      return peer;
    },
    cleanup: async () => {
      await sharded.store.close();
      await Promise.all([primary.drop(), near.drop(), far.drop()]);
    },
  };
}
