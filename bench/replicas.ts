/**
 * What a read replica takes off the primary. A PostgreSQL primary and a streaming replica of it
 * (pg_basebackup -R), both started here on free ports; rooms filled with messages; then the same
 * load twice, against a Parley node on the primary alone and against one with
 * DATABASE_REPLICA_URLS: readers in a loop over the reads that grow with users (the newest page
 * of history, an older page, the room list, a member list, a search) while writers send at a
 * steady pace. Prints reads per second and their latency, where the reads went
 * (parley_db_routed_reads_total), and each server's transactions and CPU seconds: the
 * primary's share of the work is the figure.
 *
 *   npx tsx bench/replicas.ts [--seconds 15] [--readers 16] [--writers 2] [--messages 20000] [--redis redis://127.0.0.1:6379]
 *
 * With --redis, the node uses Redis as a fleet does (the write marks are then shared there).
 * Everything runs on this machine: the load generator, Parley and both PostgreSQL servers share
 * its cores, so reads per second are bounded by the machine, not by the primary. Compare the
 * primary's CPU and transactions per read, taken in the same run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { openPostgresStore } from '../src/adapters/sql/postgres.js';
import { newId } from '../src/domain/ids.js';
import type { AppendRequest } from '../src/ports.js';
import { parseMetrics, total } from '../test/support/metrics.js';
import { type PostgresCluster, startPostgresCluster } from '../test/support/pg-cluster.js';
import { freePort } from '../test/support/services.js';
import { cpuOf, serverCpu } from './pg-cpu.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    readers: { type: 'string', default: '16' },
    writers: { type: 'string', default: '2' },
    /** Sends per second of each writer. */
    'write-rate': { type: 'string', default: '10' },
    messages: { type: 'string', default: '20000' },
    rooms: { type: 'string', default: '10' },
    redis: { type: 'string', default: '' },
  },
});
const SECONDS = Number(values.seconds);
const READERS = Number(values.readers);
const WRITERS = Number(values.writers);
const WRITE_RATE = Number(values['write-rate']);
const MESSAGES = Number(values.messages);
const ROOMS = Number(values.rooms);
const REDIS = values.redis === '' ? {} : { REDIS_URL: values.redis as string, REDIS_PREFIX: `parley-bench-${Date.now().toString(36)}:` };
const WORDS = 'deploy release build server client message search index query review merge branch test cache queue worker'.split(' ');

async function transactions(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const row = (await client.query<{ n: string }>('SELECT sum(xact_commit + xact_rollback)::text AS n FROM pg_stat_database')).rows[0];
    return Number(row?.n ?? 0);
  } finally {
    await client.end();
  }
}

interface Node {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function startNode(env: Record<string, string>): Promise<Node> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), LOG_LEVEL: 'warn', SCRYPT_COST: '10', AUTH_RATE_PER_MIN: '100000', SEND_RATE_PER_SEC: '100000', SEND_BURST: '100000', LOAD_SHED_LAG_MS: '0', SEARCH_MAX_CONCURRENT: '64', ...REDIS, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    if (await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false)) break;
    if (Date.now() > deadline) throw new Error('the server did not start within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    child,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

async function call(url: string, method: string, route: string, token: string | null, body?: unknown): Promise<{ status: number; body: Record<string, unknown> | null }> {
  const res = await fetch(`${url}/api/v1${route}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : (JSON.parse(text) as Record<string, unknown>) };
}

async function must(url: string, method: string, route: string, token: string | null, body?: unknown): Promise<Record<string, unknown>> {
  const a = await call(url, method, route, token, body);
  if (a.status >= 300 || a.body === null) throw new Error(`${method} ${route}: ${a.status} ${JSON.stringify(a.body)}`);
  return a.body;
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};

interface User {
  id: string;
  token: string;
}

interface PhaseResult {
  phase: string;
  reads: number;
  readsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  /** Failed requests by route, status and error code. */
  failures: Record<string, number>;
  sends: number;
  routes: Record<string, number>;
  primaryTransactions: number;
  replicaTransactions: number;
  primaryCpuSeconds: number;
  replicaCpuSeconds: number;
  parleyCpuSeconds: number;
}

async function phase(name: string, node: Node, primary: PostgresCluster, replica: PostgresCluster, readers: User[], writers: User[], rooms: string[]): Promise<PhaseResult> {
  const scrape = async () => parseMetrics(await (await fetch(`${node.url}/metrics`)).text());
  const routesBefore = await scrape();
  const before = {
    primaryTx: await transactions(primary.url),
    replicaTx: await transactions(replica.url),
    primaryCpu: serverCpu(primary),
    replicaCpu: serverCpu(replica),
    parleyCpu: cpuOf(node.child.pid as number),
  };
  const deadline = performance.now() + SECONDS * 1_000;
  const latencies: number[] = [];
  let failed = 0;
  const failures: Record<string, number> = {};
  let sends = 0;
  const reads = readers.map(async (u, i) => {
    let n = i;
    while (performance.now() < deadline) {
      const room = rooms[n % rooms.length] as string;
      const word = WORDS[n % WORDS.length] as string;
      const route = [`/rooms/${room}/messages?limit=50`, `/rooms/${room}/messages?before=${1 + (n % 500)}&limit=50`, '/rooms', `/rooms/${room}/members`, `/search?q=${word}&limit=20`][n % 5] as string;
      n += 1;
      const started = performance.now();
      const answer = await call(node.url, 'GET', route, u.token).catch(() => ({ status: 0, body: null }));
      latencies.push(performance.now() - started);
      if (answer.status !== 200) {
        failed += 1;
        const key = `GET ${route.replace(/\/rooms\/[^/?]+/, '/rooms/:id').replace(/\?.*/, '')} ${answer.status} ${(answer.body?.error as { code?: string } | undefined)?.code ?? ''}`;
        failures[key] = (failures[key] ?? 0) + 1;
      }
    }
  });
  const writes = writers.map(async (u, i) => {
    let n = 0;
    while (performance.now() < deadline) {
      const next = performance.now() + 1_000 / WRITE_RATE;
      const answer = await call(node.url, 'POST', `/rooms/${rooms[(i + n) % rooms.length]}/messages`, u.token, { body: `${WORDS[n % WORDS.length]} steady ${i}-${n}` }).catch(() => ({ status: 0 }));
      n += 1;
      if (answer.status === 201) sends += 1;
      else {
        failed += 1;
        const key = `POST /rooms/:id/messages ${answer.status}`;
        failures[key] = (failures[key] ?? 0) + 1;
      }
      await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
    }
  });
  await Promise.all([...reads, ...writes]);
  const after = {
    primaryTx: await transactions(primary.url),
    replicaTx: await transactions(replica.url),
    primaryCpu: serverCpu(primary),
    replicaCpu: serverCpu(replica),
    parleyCpu: cpuOf(node.child.pid as number),
  };
  const routesAfter = await scrape();
  const routes: Record<string, number> = {};
  for (const route of ['replica', 'no_reader', 'own_write', 'room_behind', 'no_replica', 'replica_failed', 'replica_conflict']) {
    const n = total(routesAfter, 'parley_db_routed_reads_total', { route }) - total(routesBefore, 'parley_db_routed_reads_total', { route });
    if (n > 0) routes[route] = n;
  }
  return {
    phase: name,
    reads: latencies.length,
    readsPerSecond: latencies.length / SECONDS,
    p50Ms: pct(latencies, 50),
    p99Ms: pct(latencies, 99),
    failed,
    failures,
    sends,
    routes,
    // The two probes of the counts themselves are in these; a few against thousands.
    primaryTransactions: after.primaryTx - before.primaryTx,
    replicaTransactions: after.replicaTx - before.replicaTx,
    primaryCpuSeconds: after.primaryCpu - before.primaryCpu,
    replicaCpuSeconds: after.replicaCpu - before.replicaCpu,
    parleyCpuSeconds: after.parleyCpu - before.parleyCpu,
  };
}

async function main(): Promise<void> {
  const primary = await startPostgresCluster();
  const replica = await startPostgresCluster({ replicaOf: primary });
  const results: PhaseResult[] = [];
  try {
    // Accounts, rooms and history through a node on the primary; messages straight into the store.
    let node = await startNode({ DATABASE_URL: primary.url });
    const stamp = Date.now().toString(36);
    const register = async (name: string): Promise<User> => {
      const r = await must(node.url, 'POST', '/auth/register', null, { username: `${name}${stamp}`, password: 'bench password 1' });
      return { id: (r.user as { id: string }).id, token: r.token as string };
    };
    const owner = await register('owner');
    const readers = await Promise.all(Array.from({ length: READERS }, (_, i) => register(`reader${i}_`)));
    const writers = await Promise.all(Array.from({ length: WRITERS }, (_, i) => register(`writer${i}_`)));
    const rooms: string[] = [];
    for (let r = 0; r < ROOMS; r++) {
      const room = ((await must(node.url, 'POST', '/rooms', owner.token, { name: `replicated ${r}`, visibility: 'public' })).room as { id: string }).id;
      for (const u of [...readers, ...writers]) await must(node.url, 'POST', `/rooms/${room}/join`, u.token);
      rooms.push(room);
    }
    const store = openPostgresStore(primary.url, { poolSize: 2, statementTimeoutMs: 600_000 });
    for (let seeded = 0; seeded < MESSAGES; ) {
      const n = Math.min(5_000, MESSAGES - seeded);
      const batch: AppendRequest[] = Array.from({ length: n }, (_, k) => ({
        kind: 'message',
        roomId: rooms[(seeded + k) % rooms.length] as string,
        userId: owner.id,
        id: newId(),
        body: `${WORDS[(seeded + k) % WORDS.length]} ${WORDS[(seeded + 3 * k) % WORDS.length]} history line ${seeded + k}`,
        clientMsgId: null,
        at: Date.now(),
      }));
      await store.append(batch);
      seeded += n;
    }
    await store.close();
    console.log(`seeded ${MESSAGES} messages in ${ROOMS} rooms; ${READERS} readers, ${WRITERS} writers at ${WRITE_RATE}/s each, ${SECONDS} s per phase`);

    results.push(await phase('primary only', node, primary, replica, readers, writers, rooms));
    await node.stop();
    node = await startNode({ DATABASE_URL: primary.url, DATABASE_REPLICA_URLS: replica.url });
    results.push(await phase('with a replica', node, primary, replica, readers, writers, rooms));
    await node.stop();
  } finally {
    await replica.stop();
    await primary.stop();
  }

  const f = (x: number, d = 0) => x.toFixed(d);
  console.log('\n| phase | reads/s | p50 | p99 | failed | sends | reads served by | primary tx | replica tx | primary CPU s | replica CPU s | Parley CPU s |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    const routes = Object.entries(r.routes)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    console.log(
      `| ${r.phase} | ${f(r.readsPerSecond)} | ${f(r.p50Ms, 1)} ms | ${f(r.p99Ms, 1)} ms | ${r.failed} | ${r.sends} | ${routes || 'primary (no routing)'} | ${r.primaryTransactions} | ${r.replicaTransactions} | ${f(r.primaryCpuSeconds, 2)} | ${f(r.replicaCpuSeconds, 2)} | ${f(r.parleyCpuSeconds, 2)} |`,
    );
  }
  for (const r of results) if (r.failed > 0) console.log(`${r.phase}, failed: ${JSON.stringify(r.failures)}`);
  const [alone, spread] = results as [PhaseResult, PhaseResult];
  const perRead = (r: PhaseResult) => (r.primaryCpuSeconds * 1e6) / Math.max(1, r.reads);
  console.log(
    `\nprimary CPU per read: ${f(perRead(alone))} µs alone, ${f(perRead(spread))} µs with the replica (${f(perRead(spread) / perRead(alone), 2)}×); ` +
      `reads per second the replica took off the primary: ${f((spread.routes.replica ?? 0) / SECONDS)}`,
  );
  writeFileSync(path.join(ROOT, 'bench/results/replicas.json'), `${JSON.stringify({ at: new Date().toISOString(), redis: values.redis !== '', seconds: SECONDS, readers: READERS, writers: WRITERS, writeRate: WRITE_RATE, messages: MESSAGES, rooms: ROOMS, results }, null, 2)}\n`);
}

await main();
