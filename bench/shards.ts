/**
 * Messages per second per shard. Two PostgreSQL servers started here on free ports; the same
 * write load twice, through the Store as a node's group commit drives it (batches of sends over
 * many rooms, several batches in flight): first on one database, then with rooms sharded over a
 * database on each server (DATABASE_SHARD_URLS' store). Prints acknowledged messages per second,
 * the share each shard took, and each server's CPU per 1,000 messages, all from one run.
 *
 *   npx tsx bench/shards.ts [--seconds 15] [--rooms 200] [--batch 64] [--inflight 8]
 *
 * Every message is durable before it counts (synchronous_commit on, the servers' default).
 * The load generator and both servers share this machine's cores: compare the per-message
 * figures and how evenly the shards share the work, not the totals of a larger deployment.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openPostgresStore } from '../src/adapters/sql/postgres.js';
import { openShardedPostgres } from '../src/adapters/sql/postgres-shards.js';
import { newId } from '../src/domain/ids.js';
import type { AppendRequest, Store } from '../src/ports.js';
import { type PostgresCluster, startPostgresCluster } from '../test/support/pg-cluster.js';
import { createTestDatabase } from '../test/support/postgres.js';
import { serverCpu } from './pg-cpu.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    rooms: { type: 'string', default: '200' },
    batch: { type: 'string', default: '64' },
    inflight: { type: 'string', default: '8' },
  },
});
const SECONDS = Number(values.seconds);
const ROOMS = Number(values.rooms);
const BATCH = Number(values.batch);
const INFLIGHT = Number(values.inflight);
const options = { poolSize: INFLIGHT + 2, statementTimeoutMs: 30_000 };

interface Run {
  messages: number;
  perSecond: number;
  byShard: Map<string, number>;
  cpu: Map<string, number>;
}

async function load(store: Store, servers: Map<string, PostgresCluster>, shardOf: (roomId: string) => Promise<string>): Promise<Run> {
  await store.migrate();
  const users = Array.from({ length: 20 }, () => ({ id: newId(), username: `b${newId().slice(0, 10)}`.toLowerCase(), displayName: 'bench', passwordHash: 'x', createdAt: Date.now() }));
  for (const u of users) await store.createUser(u);
  const rooms: string[] = [];
  for (let i = 0; i < ROOMS; i++) {
    const owner = users[i % users.length] as (typeof users)[number];
    const room = (await store.createRoom({ id: newId(), name: `bench ${i}`, visibility: 'public', topic: '', createdAt: Date.now() }, owner.id)).room;
    rooms.push(room.id);
  }
  const placement = new Map<string, string>();
  for (const roomId of rooms) placement.set(roomId, await shardOf(roomId));
  const ownerOf = (i: number) => (users[i % users.length] as (typeof users)[number]).id;

  const cpuBefore = new Map([...servers].map(([name, s]) => [name, serverCpu(s)]));
  const byShard = new Map<string, number>();
  let messages = 0;
  const started = performance.now();
  const deadline = started + SECONDS * 1_000;
  let n = 0;
  await Promise.all(
    Array.from({ length: INFLIGHT }, async () => {
      while (performance.now() < deadline) {
        const batch: AppendRequest[] = Array.from({ length: BATCH }, () => {
          const i = n++ % ROOMS;
          return { kind: 'message', roomId: rooms[i] as string, userId: ownerOf(i), id: newId(), body: `message ${n} in a room of the bench`, clientMsgId: null, at: Date.now() };
        });
        const outcomes = await store.append(batch);
        outcomes.forEach((o, k) => {
          if (o.status !== 'appended') throw new Error(JSON.stringify(o));
          messages += 1;
          const shard = placement.get((batch[k] as AppendRequest).roomId) as string;
          byShard.set(shard, (byShard.get(shard) ?? 0) + 1);
        });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1_000;
  const cpu = new Map([...servers].map(([name, s]) => [name, serverCpu(s) - (cpuBefore.get(name) ?? 0)]));
  return { messages, perSecond: messages / seconds, byShard, cpu };
}

function print(label: string, run: Run): void {
  console.log(`${label}: ${run.messages} messages, ${Math.round(run.perSecond)}/s`);
  for (const [shard, count] of run.byShard) console.log(`  shard ${shard}: ${count} messages (${((100 * count) / run.messages).toFixed(1)}%), ${Math.round((run.perSecond * count) / run.messages)}/s`);
  for (const [server, cpu] of run.cpu) {
    const own = run.byShard.get(server) ?? 0;
    console.log(`  server ${server}: ${cpu.toFixed(1)} CPU s${own === 0 ? '' : `, ${((1_000 * cpu) / own).toFixed(2)} CPU s per 1,000 of its rooms' messages`}`);
  }
}

const a = await startPostgresCluster();
const b = await startPostgresCluster();
const servers = new Map([
  ['A', a],
  ['B', b],
]);
try {
  const single = await createTestDatabase(a.url);
  const one = openPostgresStore(single.url, options);
  const alone = await load(one, servers, async () => 'A');
  await one.close();
  print('one database (server A)', alone);

  const [primary, onA, onB] = [await createTestDatabase(a.url), await createTestDatabase(a.url), await createTestDatabase(b.url)];
  const sharded = openShardedPostgres(
    primary.url,
    [
      { name: 'A', url: onA.url },
      { name: 'B', url: onB.url },
    ],
    { ...options, shardPoolSize: INFLIGHT + 2, movePollMs: 250, moveWaitMs: 15_000 },
  );
  const spread = await load(sharded.store, servers, (roomId) => sharded.shardOf(roomId));
  await sharded.store.close();
  print('rooms sharded over server A and server B', spread);
  console.log(`ratio sharded / one database: ${(spread.perSecond / alone.perSecond).toFixed(2)}×`);
} finally {
  await a.stop();
  await b.stop();
}
