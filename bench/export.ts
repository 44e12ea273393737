/**
 * A history export of a large room: the export job as a worker runs it (the real store, the
 * real worker-thread pool, the real file), timed, with the process's resident memory sampled
 * throughout and the event loop's delay recorded while it runs — the loop must stay free, and
 * memory must not follow the size of the history.
 *
 *   npx tsx bench/export.ts [--store sqlite|postgres] [--messages 1000000] [--format ndjson|html] [--out FILE]
 *
 * The room is seeded straight into the store in big batches. PostgreSQL uses
 * PARLEY_TEST_PG_URL or the local server (a fresh database, dropped afterwards).
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openPostgresStore } from '../src/adapters/sql/postgres.js';
import { openThreadedSqliteStore } from '../src/adapters/sql/sqlite-thread.js';
import { Access } from '../src/domain/access.js';
import { newId } from '../src/domain/ids.js';
import { MembershipCache } from '../src/domain/membership-cache.js';
import { Publisher } from '../src/domain/publisher.js';
import type { UserRecord } from '../src/domain/types.js';
import { MemoryBus } from '../src/adapters/memory/bus.js';
import { Exports } from '../src/exports/exports.js';
import type { AppendRequest, Job, JobQueue, Store } from '../src/ports.js';
import { ServerKey } from '../src/secrets.js';
import { WorkerPool } from '../src/workers/pool.js';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.js';

const { values } = parseArgs({
  options: {
    store: { type: 'string', default: 'sqlite' },
    messages: { type: 'string', default: '1000000' },
    format: { type: 'string', default: 'ndjson' },
    'page-size': { type: 'string', default: '1000' },
    out: { type: 'string' },
  },
});
const total = Number(values.messages);
const format = values.format as 'ndjson' | 'html';
const storeKind = values.store as 'sqlite' | 'postgres';
const MB = 1024 * 1024;

const dir = mkdtempSync(path.join(tmpdir(), 'parley-bench-export-'));
let db: TestDatabase | null = null;
let store: Store;
if (storeKind === 'postgres') {
  db = await createTestDatabase();
  store = openPostgresStore(db.url, { poolSize: 4, statementTimeoutMs: 600_000 });
} else {
  store = openThreadedSqliteStore(path.join(dir, 'parley.db'), { maxQueued: 10_000, searchStallMs: 60_000 });
}
await store.migrate();

const user: UserRecord = { id: newId(), username: 'exporter', displayName: 'Exporter', passwordHash: 'scrypt$x', createdAt: Date.now() };
await store.createUser(user);
const { room } = await store.createRoom({ id: newId(), name: 'History', visibility: 'private', topic: '', createdAt: Date.now() }, user.id);
const seedStart = performance.now();
const BATCH = 5_000;
for (let i = 0; i < total; i += BATCH) {
  const batch: AppendRequest[] = [];
  for (let j = i; j < Math.min(total, i + BATCH); j++) {
    batch.push({ kind: 'message', roomId: room.id, userId: user.id, id: newId(), body: `Message ${j}: the release build is green again <ok> & "shipping" — ✓`, clientMsgId: null, at: Date.now() });
  }
  await store.append(batch);
  if ((i / BATCH) % 20 === 0) process.stderr.write(`seeded ${i + batch.length}/${total}\n`);
}
const seedSeconds = (performance.now() - seedStart) / 1000;

const pool = new WorkerPool({ threads: 'auto', maxQueue: 100 });
const noJobs = {} as JobQueue;
const exportsDir = path.join(dir, 'exports');
const exports = new Exports(store, new Access(store, new MembershipCache((r, u) => store.membership(r, u))), noJobs, () => pool, new Publisher(new MemoryBus(() => undefined), () => undefined), new ServerKey(Buffer.alloc(32, 7)), {
  dir: exportsDir,
  ttlMs: 3_600_000,
  pageSize: Number(values['page-size']),
});
const exportId = newId();
const lastSeq = (await store.findRoom(room.id))?.lastSeq ?? 0;
await store.createExport({ id: exportId, roomId: room.id, userId: user.id, format, state: 'queued', throughSeq: lastSeq, doneSeq: 0, messages: 0, bytes: 0, error: null, createdAt: Date.now(), finishedAt: null, expiresAt: null });

// The baselines, settled after the seeding: before the pool's thread starts (a cold process's
// first export starts it), and with it started (as in a process that has exported before).
(globalThis as { gc?: () => void }).gc?.();
await new Promise((r) => setTimeout(r, 1_000));
const coldRss = process.memoryUsage().rss;
await pool.run('render-export-page', { format, messages: [] });
(globalThis as { gc?: () => void }).gc?.();
await new Promise((r) => setTimeout(r, 1_000));
const baselineRss = process.memoryUsage().rss;
let peakRss = baselineRss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
const job: Job = { id: 'bench', queue: 'export', payload: { exportId }, key: null, attempt: 1, attempts: 1, enqueuedAt: Date.now(), signal: new AbortController().signal };
const started = performance.now();
await exports.run(job);
const seconds = (performance.now() - started) / 1000;
lag.disable();
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss);
const record = await store.findExport(exportId);
const file = path.join(exportsDir, `${exportId}.${format}`);
const result = {
  store: storeKind,
  format,
  messages: record?.messages ?? 0,
  seedSeconds: Number(seedSeconds.toFixed(1)),
  exportSeconds: Number(seconds.toFixed(1)),
  messagesPerSecond: Math.round((record?.messages ?? 0) / seconds),
  fileMB: Number((statSync(file).size / MB).toFixed(1)),
  poolThreadStartMB: Math.round((baselineRss - coldRss) / MB),
  baselineRssMB: Math.round(baselineRss / MB),
  peakRssMB: Math.round(peakRss / MB),
  rssGrowthMB: Math.round((peakRss - baselineRss) / MB),
  rssGrowthFromColdMB: Math.round((peakRss - coldRss) / MB),
  eventLoopDelayMs: { p50: Number((lag.percentile(50) / 1e6).toFixed(1)), p99: Number((lag.percentile(99) / 1e6).toFixed(1)), max: Number((lag.max / 1e6).toFixed(1)) },
  poolThreads: pool.stats().threads,
};
console.log(JSON.stringify(result, null, 2));
if (values.out !== undefined) writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);

await pool.close();
await store.close();
await db?.drop();
rmSync(dir, { recursive: true, force: true });
