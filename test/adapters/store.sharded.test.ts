/**
 * The Store contracts on rooms sharded over three databases, one of them on a second PostgreSQL
 * server: every room's stream on its shard keeps what one database keeps, and what spans rooms
 * (room lists, search, followed threads, notifications, sweeps) answers as one database does.
 */
import { after } from 'node:test';
import { botsContract } from '../contracts/bots.contract.js';
import { retentionContract } from '../contracts/retention.contract.js';
import { storeContract } from '../contracts/store.contract.js';
import { threadsContract } from '../contracts/threads.contract.js';
import { type PostgresCluster, requirePostgresBinaries, startPostgresCluster } from '../support/pg-cluster.js';
import { requirePostgres } from '../support/postgres.js';
import { shardedStore } from '../support/store-fixtures.js';

if ((await requirePostgres('Store contract, sharded')) && requirePostgresBinaries('Store contract, sharded')) {
  let server: Promise<PostgresCluster> | undefined;
  const second = (): Promise<PostgresCluster> => {
    server ??= startPostgresCluster();
    return server;
  };
  after(async () => {
    await (await server)?.stop();
  });
  storeContract('PostgreSQL, rooms sharded over two servers', () => shardedStore(second));
  threadsContract('PostgreSQL, rooms sharded over two servers', () => shardedStore(second));
  botsContract('PostgreSQL, rooms sharded over two servers', () => shardedStore(second));
  retentionContract('PostgreSQL, rooms sharded over two servers', () => shardedStore(second));
}
