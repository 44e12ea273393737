import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { configTable } from '../scripts/config-table.js';
import { ConfigError, loadConfig, OPTIONS, suggestOption } from '../src/config.js';

describe('config', () => {
  it('has working defaults', () => {
    const c = loadConfig({});
    assert.equal(c.PORT, 3000);
    assert.equal(c.DATABASE_URL, '');
    assert.equal(c.WS_MAX_PAYLOAD_BYTES, 65536);
    assert.equal(c.REPLAY_LIMIT, 1000);
  });

  it('names the bad variable', () => {
    assert.throws(() => loadConfig({ PORT: 'eighty' }), (e: unknown) => e instanceof ConfigError && e.message.startsWith('PORT must be an integer'));
    assert.throws(() => loadConfig({ DATABASE_URL: 'mysql://x' }), /DATABASE_URL must be a postgres:\/\/ URL/);
    assert.throws(() => loadConfig({ LOG_LEVEL: 'loud' }), /LOG_LEVEL must be one of/);
    assert.throws(() => loadConfig({ ALLOWED_ORIGINS: 'not a url' }), /ALLOWED_ORIGINS/);
    assert.throws(() => loadConfig({ SEND_BURST: '0' }), /SEND_BURST must be between 1/);
  });

  it('regression: PARLEY_DATA_DIR was silently ignored; it is refused, naming DATA_DIR', () => {
    assert.throws(
      () => loadConfig({ PARLEY_DATA_DIR: '/srv/parley' }),
      (e: unknown) => e instanceof ConfigError && e.message.startsWith('PARLEY_DATA_DIR is not a Parley setting') && e.message.includes('did you mean DATA_DIR?'),
    );
  });

  it('refuses every unknown PARLEY_* variable with the option it probably meant', () => {
    assert.throws(() => loadConfig({ PARLEY_PORT: '80' }), /PARLEY_PORT .*did you mean PORT\?/);
    assert.throws(() => loadConfig({ PARLEY_DATABSE_URL: 'postgres://x' }), /did you mean DATABASE_URL\?/);
    assert.throws(() => loadConfig({ PARLEY_FLUX_CAPACITOR: '1' }), (e: unknown) => e instanceof ConfigError && /PARLEY_FLUX_CAPACITOR .*parley --help/.test(e.message));
    assert.equal(suggestOption('PARLEY_REDIS_URI'), 'REDIS_URL');
    assert.equal(suggestOption('PARLEY_SHUTDOWN_TIMEOUT'), 'SHUTDOWN_TIMEOUT_MS');
  });

  it('ignores the test suite\'s and the benchmarks\' own PARLEY_TEST_* and PARLEY_BENCH_* variables', () => {
    const c = loadConfig({ PARLEY_TEST_PG_URL: 'postgres://x', PARLEY_TEST_REDIS_URL: 'redis://x', PARLEY_BENCH_REDIS_URL: 'redis://y' });
    assert.equal(c.PORT, 3000);
  });

  it('read replicas: a list of postgres URLs, only with a primary', () => {
    assert.deepEqual(loadConfig({ DATABASE_URL: 'postgres://db/chat', DATABASE_REPLICA_URLS: 'postgres://r1/chat, postgresql://r2:6432/chat' }).DATABASE_REPLICA_URLS, [
      'postgres://r1/chat',
      'postgresql://r2:6432/chat',
    ]);
    assert.deepEqual(loadConfig({}).DATABASE_REPLICA_URLS, []);
    assert.throws(() => loadConfig({ DATABASE_REPLICA_URLS: 'postgres://r1/chat' }), /DATABASE_REPLICA_URLS needs DATABASE_URL/);
    assert.throws(() => loadConfig({ DATABASE_URL: 'postgres://db/chat', DATABASE_REPLICA_URLS: 'mysql://r1/chat' }), /DATABASE_REPLICA_URLS must be a postgres:\/\/ URL/);
  });

  it('a Redis Cluster: needs a node to reach, and no BullMQ yet', () => {
    assert.equal(loadConfig({ REDIS_URL: 'redis://node-1:7000', REDIS_CLUSTER: 'true' }).REDIS_CLUSTER, true);
    assert.throws(() => loadConfig({ REDIS_CLUSTER: 'true' }), /REDIS_CLUSTER needs REDIS_URL/);
    assert.deepEqual(loadConfig({ REDIS_URL: 'redis://node-1:7000', REDIS_CLUSTER: 'true', REDIS_CLUSTER_NODES: 'node-2:7001, 10.0.0.3:7002' }).REDIS_CLUSTER_NODES, [
      { host: 'node-2', port: 7001 },
      { host: '10.0.0.3', port: 7002 },
    ]);
    assert.throws(() => loadConfig({ REDIS_CLUSTER_NODES: 'node-2' }), /REDIS_CLUSTER_NODES must be a comma-separated list of host:port/);
    assert.equal(loadConfig({ REDIS_URL: 'redis://node-1:7000', REDIS_CLUSTER: 'true', JOBS: 'bullmq' }).JOBS, 'bullmq');
  });

  it('room shards: named or by address, each a PostgreSQL URL, with a primary', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://db1/parley', DATABASE_SHARD_URLS: 'east=postgres://db2:5433/parley, postgres://db3/rooms' });
    assert.deepEqual(c.DATABASE_SHARD_URLS, [
      { name: 'east', url: 'postgres://db2:5433/parley' },
      { name: 'db3:5432/rooms', url: 'postgres://db3/rooms' },
    ]);
    assert.throws(() => loadConfig({ DATABASE_SHARD_URLS: 'a=postgres://db2/parley' }), /DATABASE_SHARD_URLS needs DATABASE_URL/);
    assert.throws(() => loadConfig({ DATABASE_URL: 'postgres://db1/p', DATABASE_SHARD_URLS: 'a=mysql://db2/p' }), /DATABASE_SHARD_URLS/);
    assert.throws(() => loadConfig({ DATABASE_URL: 'postgres://db1/p', DATABASE_SHARD_URLS: 'bad name=postgres://db2/p' }), /shard name/);
    assert.throws(() => loadConfig({ DATABASE_URL: 'postgres://db1/p', DATABASE_SHARD_URLS: 'a=postgres://db2/p', DATABASE_REPLICA_URLS: 'postgres://r/p' }), /not supported yet/);
  });

  it('analytics: ClickHouse over HTTP, only as a consumer of the event log', () => {
    assert.equal(loadConfig({}).ANALYTICS, 'none');
    assert.throws(() => loadConfig({ ANALYTICS: 'clickhouse' }), /ANALYTICS=clickhouse needs EVENT_LOG=jetstream/);
    const ok = loadConfig({ ANALYTICS: 'clickhouse', EVENT_LOG: 'jetstream', NATS_URL: 'nats://127.0.0.1:4222', ANALYTICS_URL: 'http://u:p@ch:8123', ANALYTICS_DATABASE: 'stats_1' });
    assert.equal(ok.ANALYTICS_URL, 'http://u:p@ch:8123');
    assert.throws(() => loadConfig({ ANALYTICS: 'bigquery' }), /ANALYTICS must be one of/);
    assert.throws(() => loadConfig({ ANALYTICS_URL: 'tcp://ch:9000' }), /ANALYTICS_URL must be a URL/);
    assert.throws(() => loadConfig({ ANALYTICS_DATABASE: 'x; DROP' }), /ANALYTICS_DATABASE must be letters/);
    assert.throws(() => loadConfig({ ANALYTICS_BATCH: '0' }), /ANALYTICS_BATCH must be between 1/);
  });

  it('HTTP deadlines and the connection bound', () => {
    const c = loadConfig({});
    assert.equal(c.HTTP_HEADERS_TIMEOUT_MS, 10_000);
    assert.equal(c.HTTP_REQUEST_TIMEOUT_MS, 30_000);
    assert.equal(c.HTTP_KEEP_ALIVE_TIMEOUT_MS, 72_000);
    assert.equal(c.HTTP_MAX_CONNECTIONS, 'auto');
    assert.equal(loadConfig({ HTTP_MAX_CONNECTIONS: '500' }).HTTP_MAX_CONNECTIONS, 500);
    assert.throws(() => loadConfig({ HTTP_MAX_CONNECTIONS: 'lots' }), /HTTP_MAX_CONNECTIONS must be an integer/);
    assert.throws(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '60000' }), /HTTP_HEADERS_TIMEOUT_MS \(60000\) must not exceed HTTP_REQUEST_TIMEOUT_MS \(30000\)/);
  });

  it('docs/operations.md carries the current configuration table (npx tsx scripts/config-table.ts --write)', () => {
    const doc = readFileSync('docs/operations.md', 'utf8');
    assert.ok(doc.includes(configTable()), 'the table in docs/operations.md is out of date');
    for (const name of Object.keys(OPTIONS)) assert.ok(doc.includes(`\`${name}\``), `${name} is missing from docs/operations.md`);
  });
});
