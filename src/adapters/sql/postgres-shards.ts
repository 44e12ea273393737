/**
 * PostgreSQL with rooms sharded over DATABASE_SHARD_URLS (sharding.ts): the primary's store, a
 * store on each shard with the statements sharding adds beside it on the same pool.
 */
import type { ConnectionMonitor } from '../outage.js';
import type { StoreWithJobs } from './job-store.js';
import { openPostgresDatabase, openPostgresStore, type PostgresOptions, translatePostgresOutages } from './postgres.js';
import { serverName } from './postgres-replicas.js';
import { ShardSql } from './shard-sql.js';
import { PRIMARY_SHARD, type Shard, type ShardedStore, shardRooms } from './sharding.js';

export interface ShardUrl {
  name: string;
  url: string;
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * `name=postgres://…` or a bare URL (named host:port/database). The name is what the room
 * directory records: keep it when a shard's address changes.
 */
export function parseShardUrl(entry: string): ShardUrl {
  const eq = entry.indexOf('=');
  const scheme = entry.indexOf('://');
  if (eq > 0 && (scheme < 0 || eq < scheme)) {
    const name = entry.slice(0, eq);
    if (!NAME.test(name)) throw new Error(`shard name "${name}": use letters, digits, _ . - (at most 64)`);
    return { name, url: entry.slice(eq + 1) };
  }
  return { name: serverName(entry), url: entry };
}

/** The same database: host, port and database name alike (credentials and options aside). */
export function sameDatabase(a: string, b: string): boolean {
  return serverName(a) === serverName(b);
}

export interface ShardedPostgresOptions extends PostgresOptions {
  /** Connections per process to each shard. */
  shardPoolSize: number;
  movePollMs: number;
  moveWaitMs: number;
  shardMonitor?: (name: string) => ConnectionMonitor;
  onError?: (error: unknown, context: string) => void;
}

export interface ShardedPostgres extends ShardedStore {
  store: StoreWithJobs;
}

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
  return shardRooms({ primary, shards, movePollMs: options.movePollMs, moveWaitMs: options.moveWaitMs, onError: options.onError }) as ShardedPostgres;
}
