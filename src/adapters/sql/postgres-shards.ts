/**
 * PostgreSQL with rooms sharded over DATABASE_SHARD_URLS (sharding.ts): the primary's store, a
 * store on each shard with the statements sharding adds beside it on the same pool.
 */
import type { ConnectionMonitor } from '../outage.js';
import { openPostgresDatabase, openPostgresStore, type PostgresOptions, translatePostgresOutages } from './postgres.js';
import { sameDatabase, type ShardUrl } from './postgres-url.js';

export type { ShardUrl };
import { ShardSql } from './shard-sql.js';
import { PRIMARY_SHARD, type Shard, type ShardedStore, shardRooms } from './sharding.js';

export interface ShardedPostgresOptions extends PostgresOptions {
  /** Connections per process to each shard. */
  shardPoolSize: number;
  movePollMs: number;
  moveWaitMs: number;
  shardMonitor?: (name: string) => ConnectionMonitor;
  onError?: (error: unknown, context: string) => void;
}

/** The sharded store and its shards (ShardedStore's store is already the primary's job store too). */
export type ShardedPostgres = ShardedStore;

export function openShardedPostgres(primaryUrl: string, shardUrls: ShardUrl[], options: ShardedPostgresOptions): ShardedPostgres {
  const names = new Set<string>();
  for (const { name } of shardUrls) {
    if (names.has(name)) throw new Error(`DATABASE_SHARD_URLS names shard "${name}" twice`);
    names.add(name);
  }
  const primaryDb = openPostgresDatabase(primaryUrl, options);
  const primary = { store: openPostgresStore(primaryUrl, options, primaryDb), sql: translatePostgresOutages(new ShardSql(primaryDb), options.monitor) };
  const shards: Shard[] = shardUrls.map(({ name, url }) => {
    if (name === PRIMARY_SHARD && !sameDatabase(url, primaryUrl)) throw new Error(`shard name "${PRIMARY_SHARD}" is the primary's: name the shard otherwise`);
    if (sameDatabase(url, primaryUrl)) return { name, ...primary };
    const shardOptions = { ...options, poolSize: options.shardPoolSize, monitor: options.shardMonitor?.(name) };
    const db = openPostgresDatabase(url, shardOptions);
    return { name, store: openPostgresStore(url, shardOptions, db), sql: translatePostgresOutages(new ShardSql(db), shardOptions.monitor) };
  });
  return shardRooms({ primary, shards, movePollMs: options.movePollMs, moveWaitMs: options.moveWaitMs, onError: options.onError });
}
