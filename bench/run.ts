/**
 * The load generator: starts the server under test (Parley or the Socket.IO baseline) as its own
 * process, spreads client connections over agent processes that each reach it at an address of
 * its own, 127.0.0.2, .3, … (each process has its own open-file budget, each address its own
 * ephemeral ports), runs a scenario, prints a progress line every second, and writes a JSON result.
 *
 *   npm run bench -- idle   [--target parley|socketio|socketio-recovery] [--clients 5000] [--agents 4] [--workers 1]
 *   npm run bench -- fanout [--target parley|socketio|socketio-recovery] [--clients 1000] [--senders 10] [--rate 200] [--duration 10]
 *   npm run bench -- rooms  [--clients 1000] [--rate 2000] [--duration 10]   (rooms of two, everyone sends)
 *   npm run bench -- storm  [--clients 2000] [--rate 100] [--duration 9] [--jitter-ms 2000]   (all drop at a third of the run, come back over the jitter)
 *   npm run bench -- ramp   [--clients 1000] [--senders 10] [--rate 100] [--steps 8] [--duration 4]
 *   npm run bench -- growth [--only …] [--store …]   (how costs grow with size: bench/growth.ts)
 *
 * Options: --flush-ms N (Parley's WS_FLUSH_MS), --presence full|batch|none (Parley's subscribes; default full), --store sqlite|postgres (Parley; postgres uses PARLEY_BENCH_PG_URL or the local
 * server), --profile DIR (a CPU profile of the Parley server into DIR), --redis (with Redis: PARLEY_BENCH_REDIS_URL or the local one), --workers N (Parley's
 * cluster workers; Socket.IO processes on ports of their own, broadcasting through Redis, with the senders on the first), --out FILE (default bench/results/<scenario>-<target>.json).
 * `socketio-recovery` is Socket.IO with connection-state recovery on its Redis Streams adapter (its recoverable configuration).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { Redis } from 'ioredis';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.js';
import { freePort } from '../test/support/services.js';
import { Agent } from './agent-handle.js';
import type { AgentConnection, AgentReport, Target } from './messages.js';
import { call } from './rest.js';

const ROOT = path.resolve(import.meta.dirname, '..');
// The growth bench has options of its own (bench/growth.ts).
if (process.argv[2] === 'growth') {
  await import('./growth.js');
  process.exit(process.exitCode ?? 0);
}
const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    target: { type: 'string', default: 'parley' },
    clients: { type: 'string' },
    senders: { type: 'string', default: '10' },
    rate: { type: 'string', default: '200' },
    duration: { type: 'string', default: '10' },
    agents: { type: 'string', default: '4' },
    workers: { type: 'string', default: '1' },
    store: { type: 'string', default: 'sqlite' },
    redis: { type: 'boolean', default: false },
    profile: { type: 'string' },
    out: { type: 'string' },
    steps: { type: 'string', default: '8' },
    /** Connections each agent opens at once while setting up. */
    'open-concurrency': { type: 'string', default: '50' },
    /** storm: clients come back over a jittered wait whose first window is this long, ms. */
    'jitter-ms': { type: 'string', default: '2000' },
    /** Parley's flush window of outgoing frames, ms (WS_FLUSH_MS). */
    'flush-ms': { type: 'string', default: '0' },
    /** Parley: the `presence` mode of every subscribe (full, batch or none; unset: the server's default, full). */
    presence: { type: 'string' },
  },
});
const scenario = positionals[0] ?? 'fanout';
if (!['idle', 'fanout', 'rooms', 'storm', 'ramp'].includes(scenario)) {
  console.error(`unknown scenario "${scenario}": idle, fanout, rooms, storm or ramp`);
  process.exit(2);
}
const target = values.target as Target;
if (!['parley', 'socketio', 'socketio-recovery'].includes(target)) {
  console.error(`unknown target "${target}": parley, socketio or socketio-recovery`);
  process.exit(2);
}
/** Either Socket.IO baseline: plain, or with connection-state recovery. */
const socketIo = target !== 'parley';
const clients = Number(values.clients ?? (scenario === 'idle' ? 5000 : scenario === 'storm' ? 2000 : 1000));
const senders = scenario === 'idle' ? 0 : scenario === 'rooms' ? clients : Number(values.senders);
const totalRate = Number(values.rate);
const durationMs = Number(values.duration) * 1000;
const agentCount = Math.max(1, Number(values.agents));
const workers = Number(values.workers);
const presence = values.presence as 'full' | 'batch' | 'none' | undefined;
if (presence !== undefined && !['full', 'batch', 'none'].includes(presence)) {
  console.error(`unknown presence mode "${presence}": full, batch or none`);
  process.exit(2);
}

// The server under test

/** Resident memory of a server process and its workers, bytes (not the TypeScript loader's esbuild helper). */
/** The server's processes: it and its children (cluster workers), not the loader's esbuild. */
function serverPids(pid: number): number[] {
  const pids = [pid];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== pid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('esbuild')) continue;
      pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

/** CPU time the server's processes have used so far, ms: in user space and in the kernel. */
function treeCpuMs(roots: readonly number[]): { user: number; system: number } {
  let user = 0;
  let system = 0;
  for (const p of roots.flatMap(serverPids)) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime: fields 14 and 15 of stat, 12 and 13 after the name.
      user += Number(fields[11]);
      system += Number(fields[12]);
    } catch {
      // gone
    }
  }
  return { user: (user * 1000) / USER_HZ, system: (system * 1000) / USER_HZ };
}

function treeRss(roots: readonly number[]): number {
  let total = 0;
  for (const p of roots.flatMap(serverPids)) {
    try {
      const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1];
      total += Number(kb ?? 0) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}

async function waitHealthy(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/healthz`)).status === 200) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error('the server did not start within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The server's own view: heap in use (all its processes) and store calls by operation. */
async function serverStats(url: string, urls: readonly string[] = [url]): Promise<{ heapUsedBytes: number; storeCalls: Record<string, number>; socketWrites: number | null }> {
  if (socketIo) {
    let heapUsedBytes = 0;
    for (const u of urls) heapUsedBytes += ((await (await fetch(`${u}/stats`, { signal: AbortSignal.timeout(60_000) })).json()) as { heapUsed: number }).heapUsed;
    return { heapUsedBytes, storeCalls: {}, socketWrites: null };
  }
  // A cluster's scrape leaves out a worker too busy to answer in time: such a reading would
  // make counters seem to move backwards or jump, so it is taken again.
  let text = '';
  for (let attempt = 0; ; attempt++) {
    text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const missing = Number(/^parley_metrics_workers_missing (\d+)/m.exec(text)?.[1] ?? 0);
    if (missing === 0) break;
    if (attempt === 10) throw new Error(`${missing} workers left out of every scrape of ${url}/metrics`);
  }
  let heapUsedBytes = 0;
  let socketWrites = 0;
  const storeCalls: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('nodejs_heap_size_used_bytes ')) heapUsedBytes = Number(line.split(' ')[1]);
    if (line.startsWith('parley_ws_socket_writes_total ')) socketWrites = Number(line.split(' ')[1]);
    // The room hub's reads of room events (gaps, catch-ups), counted beside the store calls.
    const hubRead = /^parley_room_hub_event_reads_total\{reason="(\w+)"\} (\d+)/.exec(line);
    if (hubRead !== null) storeCalls[hubRead[1] === 'gap' ? 'hubGapReads' : 'hubCatchUpReads'] = Number(hubRead[2]);
    const call = /^parley_store_query_duration_seconds_count\{operation="(\w+)",outcome="\w+"\} (\d+)/.exec(line);
    if (call !== null) storeCalls[call[1] as string] = (storeCalls[call[1] as string] ?? 0) + Number(call[2]);
  }
  return { heapUsedBytes, storeCalls, socketWrites };
}

/**
 * The store calls a reconnection makes (its session, user, memberships, the room's head and
 * events); the others in a storm (appends, the search index's and notifications' reads after
 * them) are the senders' traffic going on.
 */
const RECONNECT_CALLS = ['findSession', 'findSessionUser', 'findUserById', 'membership', 'membersAmong', 'listMemberRoomIds', 'findRoom', 'hubCatchUpReads'];

/** Calls so far of some Redis commands (INFO commandstats), by command. */
async function redisCommandCalls(commands: readonly string[]): Promise<Record<string, number>> {
  const redis = new Redis(process.env.PARLEY_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1, commandTimeout: 10_000 });
  try {
    await redis.connect();
    const info = await redis.info('commandstats');
    const out: Record<string, number> = {};
    for (const command of commands) out[command] = Number(new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    return out;
  } finally {
    redis.disconnect();
  }
}

/** Store calls made between two readings, by operation (zeros left out). */
function callsBetween(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [op, n] of Object.entries(after)) if (n - (before[op] ?? 0) > 0) out[op] = n - (before[op] ?? 0);
  return out;
}

interface Server {
  url: string;
  /** Every process's address: one, or one per Socket.IO process (Parley's workers share one). */
  urls: string[];
  child: ChildProcess;
  /** The processes started (their children are found from them). */
  children: ChildProcess[];
  /** Their process ids. */
  pids: number[];
  /** A full collection in the server (single process only), so the heap read next is what is retained. */
  collectGarbage(): Promise<boolean>;
  stop(): Promise<void>;
}

/** Asks a process for a full garbage collection through its inspector (V8 HeapProfiler.collectGarbage). */
async function collectGarbage(inspectorUrl: string): Promise<boolean> {
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(inspectorUrl);
  try {
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no answer from the inspector within 30 s')), 30_000);
      ws.on('message', (data) => {
        if ((JSON.parse(data.toString()) as { id?: number }).id === 1) {
          clearTimeout(timer);
          resolve();
        }
      });
      ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    });
    return true;
  } finally {
    ws.close();
  }
}

async function startServer(): Promise<Server> {
  // Single-process servers get an inspector on loopback, so the heap can be read after a full
  // collection (idle scenario); a cluster's workers are read as they are.
  const inspect = workers === 1 ? ['--inspect=127.0.0.1:0'] : [];
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-bench-'));
  let db: TestDatabase | null = null;
  let child: ChildProcess;
  const children: ChildProcess[] = [];
  const urls = [url];
  /** The Redis Streams adapter's stream, deleted after the run. */
  const streamName = `sio-bench-${process.pid}`;
  const redisUrl = process.env.PARLEY_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (target === 'parley') {
    if (values.store === 'postgres') db = await createTestDatabase();
    const env = {
      ...process.env,
      PORT: String(port),
      HOST: '0.0.0.0',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      SCRYPT_COST: '10',
      SEND_RATE_PER_SEC: '100000',
      SEND_BURST: '100000',
      FRAME_RATE_PER_SEC: '100000',
      FRAME_BURST: '100000',
      AUTH_RATE_PER_MIN: '100000',
      // Capacity is measured: the server is not to turn load away (as the limits above are lifted).
      LOAD_SHED_LAG_MS: '0',
      WS_FLUSH_MS: values['flush-ms'],
      ...(db === null ? {} : { DATABASE_URL: db.url }),
      ...(values.redis ? { REDIS_URL: process.env.PARLEY_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', REDIS_PREFIX: `parley-bench-${process.pid}:` } : {}),
    };
    // --profile DIR: a V8 CPU profile of the server, written when it exits (open it in Chrome DevTools).
    const profile = values.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`];
    child = spawn(process.execPath, [...profile, ...inspect, '--import', 'tsx', 'src/cli.ts', 'start', '--workers', String(workers)], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'pipe'] });
    children.push(child);
  } else {
    // The baseline persists (one INSERT per message) in the scenario that measures persistence.
    if (scenario === 'rooms') db = await createTestDatabase();
    // Several processes (--workers) share broadcasts through Redis, each on its own port: Socket.IO
    // has no cluster of its own without a sticky balancer.
    const redis = target === 'socketio-recovery' || workers > 1 || values.redis === true;
    for (let w = 0; w < workers; w++) {
      const wPort = w === 0 ? port : await freePort();
      if (w > 0) urls.push(`http://127.0.0.1:${wPort}`);
      const env = {
        ...process.env,
        PORT: String(wPort),
        ...(db === null ? {} : { DATABASE_URL: db.url }),
        ...(redis ? { REDIS_URL: redisUrl } : {}),
        ...(target === 'socketio-recovery' ? { RECOVERY: '1', STREAM_NAME: streamName } : {}),
      };
      children.push(spawn(process.execPath, [...inspect, '--import', 'tsx', 'bench/baselines/socketio-server.ts'], { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] }));
    }
    child = children[0] as ChildProcess;
  }
  // The inspector's address, printed on stderr; everything else there is passed through.
  let inspector: string | null = null;
  // Every process's stderr is read (a pipe left unread blocks its writer once full).
  for (const c of children) {
    c.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      if (c === child) inspector ??= /Debugger listening on (ws:\/\/\S+)/.exec(text)?.[1] ?? null;
      process.stderr.write(text.replace(/^(Debugger listening on|For help, see).*\n/gm, ''));
    });
  }
  for (const [i, c] of children.entries()) await waitHealthy(urls[i] as string, c);
  return {
    url,
    urls,
    child,
    children,
    pids: children.map((c) => c.pid as number),
    collectGarbage: () => (inspector === null ? Promise.resolve(false) : collectGarbage(inspector)),
    stop: async () => {
      await Promise.all(
        children.map(async (c) => {
          const exited = new Promise((r) => c.once('exit', r));
          c.kill('SIGTERM');
          await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
          if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
        }),
      );
      rmSync(dataDir, { recursive: true, force: true });
      await db?.drop();
      if (target === 'socketio-recovery') {
        const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
        await redis.connect();
        await redis.del(streamName);
        redis.disconnect();
      }
    },
  };
}

// Users and rooms


async function register(url: string, count: number): Promise<string[]> {
  const tokens: string[] = [];
  const stamp = Date.now().toString(36);
  for (let i = 0; i < count; i += 20) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(20, count - i) }, (_, j) =>
        call(url, 'POST', '/auth/register', null, { username: `b${stamp}_${i + j}`, password: 'bench password 1' }).then((r) => r.token as string),
      ),
    );
    tokens.push(...batch);
  }
  return tokens;
}

/**
 * The connections of the scenario: everyone in one room (fanout, storm, ramp, idle), or rooms
 * of two where both send (rooms: direct-message traffic, one connection per user).
 */
async function setUp(url: string, perSenderRate: number, urls: readonly string[]): Promise<AgentConnection[]> {
  if (scenario === 'rooms') {
    const tokens = socketIo ? Array.from({ length: clients }, (_, i) => `user${i}`) : await register(url, clients);
    const rooms: string[] = [];
    for (let i = 0; i < clients; i += 2) {
      if (socketIo) {
        rooms.push(`pair-${i / 2}`);
        continue;
      }
      const room = await call(url, 'POST', '/rooms', tokens[i] as string, { name: `pair ${i / 2}`, visibility: 'private' });
      const id = room.room.id as string;
      if (i + 1 < clients) {
        const second = await call(url, 'GET', '/me', tokens[i + 1] as string);
        await call(url, 'POST', `/rooms/${id}/members`, tokens[i] as string, { username: second.user.username });
      }
      rooms.push(id);
    }
    return tokens.map((token, i) => {
      const roomId = rooms[Math.floor(i / 2)] as string;
      return { token, rooms: [roomId], send: { roomId, ratePerSec: perSenderRate } };
    });
  }
  // At most 20 connections per user (a server holds 32 of one user's per process by default).
  const users = Math.min(clients, Math.max(200, Math.ceil(clients / 20)));
  let tokens: string[];
  let roomId: string;
  if (socketIo) {
    tokens = Array.from({ length: users }, (_, i) => `user${i}`);
    roomId = 'bench-room';
  } else {
    tokens = await register(url, users);
    roomId = (await call(url, 'POST', '/rooms', tokens[0] as string, { name: 'bench', visibility: 'public' })).room.id as string;
    for (let i = 1; i < tokens.length; i += 50) await Promise.all(tokens.slice(i, i + 50).map((t) => call(url, 'POST', `/rooms/${roomId}/join`, t)));
  }
  // Several Socket.IO processes: the senders all on the first, so that one process numbers the
  // room's messages (a room's order across processes is not Socket.IO's to keep); the others spread.
  return Array.from({ length: clients }, (_, i) => ({
    token: tokens[i % tokens.length] as string,
    rooms: [roomId],
    ...(i < senders ? { send: { roomId, ratePerSec: perSenderRate } } : {}),
    ...(urls.length > 1 ? { url: urls[i < senders ? 0 : i % urls.length] as string } : {}),
  }));
}

// Agents

function merge(reports: AgentReport[]) {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const acks = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  for (const r of reports) {
    histogram.add(hdr.decodeFromCompressedBase64(r.latency));
    acks.add(hdr.decodeFromCompressedBase64(r.ackLatency));
  }
  const sum = (k: keyof Omit<AgentReport, 'latency' | 'ackLatency'>) => reports.reduce((n, r) => n + r[k], 0);
  const ms = (us: number) => +(us / 1000).toFixed(2);
  return {
    deliveries: sum('deliveries'),
    sent: sum('sent'),
    acked: sum('acked'),
    sendErrors: sum('sendErrors'),
    lost: sum('lost'),
    duplicates: sum('duplicates'),
    outOfOrder: sum('outOfOrder'),
    latencyMs: histogram.totalCount === 0 ? null : { p50: ms(histogram.getValueAtPercentile(50)), p95: ms(histogram.getValueAtPercentile(95)), p99: ms(histogram.getValueAtPercentile(99)), max: ms(histogram.maxValue) },
    // send → ack: the sender's wait for the commit, a part of send → deliver.
    ackLatencyMs: acks.totalCount === 0 ? null : { p50: ms(acks.getValueAtPercentile(50)), p95: ms(acks.getValueAtPercentile(95)), p99: ms(acks.getValueAtPercentile(99)), max: ms(acks.maxValue) },
  };
}

async function main(): Promise<void> {
  const server = await startServer();
  const agents: Agent[] = [];
  try {
    const all = await setUp(server.url, senders === 0 ? 0 : totalRate / senders, server.urls);
    const collected = await server.collectGarbage();
    const rssBefore = treeRss(server.pids);
    const statsBefore = await serverStats(server.url, server.urls);
    for (let a = 0; a < agentCount; a++) agents.push(new Agent());
    const opening = Date.now();
    const openCpuBefore = treeCpuMs(server.pids);
    const connectMs: number[] = [];
    await Promise.all(
      agents.map(async (agent, a) => {
        const connections = all.filter((_, i) => i % agentCount === a);
        agent.send({ type: 'open', target, url: server.url, serverAddress: `127.0.0.${2 + a}`, connections, openConcurrency: Number(values['open-concurrency']), ...(presence === undefined ? {} : { presence }) });
        // Opening is bounded by the agent's share: at least 5 minutes, 50 ms a connection past that.
        const opened = await agent.next('opened', Math.max(300_000, connections.length * 50));
        if (opened.failed > 0) throw new Error(`agent ${a}: ${opened.failed} connections failed: ${opened.error}`);
        connectMs.push(...opened.connectMs);
      }),
    );
    const openMs = Date.now() - opening;
    const openCpu = treeCpuMs(server.pids);
    connectMs.sort((x, y) => x - y);
    const connectAt = (q: number) => +(connectMs[Math.min(connectMs.length - 1, Math.ceil(q * connectMs.length) - 1)] ?? 0).toFixed(1);
    // Let allocation settle before reading memory, then collect what is garbage.
    await new Promise((r) => setTimeout(r, 2_000));
    await server.collectGarbage();
    const rssIdle = treeRss(server.pids);
    const statsIdle = await serverStats(server.url, server.urls);
    console.log(`${clients} connections open in ${(openMs / 1000).toFixed(1)} s; server RSS ${(rssIdle / 2 ** 20).toFixed(0)} MiB`);

    let result: Record<string, unknown> = {
      scenario,
      target,
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      params: {
        clients,
        senders,
        ratePerSec: totalRate,
        durationSec: durationMs / 1000,
        agents: agentCount,
        workers,
        store: target === 'parley' ? values.store : scenario === 'rooms' ? 'postgres' : 'none',
        redis: target === 'socketio-recovery' || (socketIo && workers > 1) || values.redis === true,
        flushMs: target === 'parley' ? Number(values['flush-ms']) : null,
        presence: target === 'parley' ? (presence ?? 'full') : null,
      },
      server: {
        rssBeforeBytes: rssBefore,
        rssIdleBytes: rssIdle,
        rssPerConnectionBytes: Math.round((rssIdle - rssBefore) / clients),
        heapBeforeBytes: statsBefore.heapUsedBytes,
        heapIdleBytes: statsIdle.heapUsedBytes,
        heapPerConnectionBytes: Math.round((statsIdle.heapUsedBytes - statsBefore.heapUsedBytes) / clients),
        heapAfterFullCollection: collected,
      },
      openSeconds: +(openMs / 1000).toFixed(2),
      // Connections opened (upgrade, authentication, subscribe) per second, each one's time from
      // its start to its subscribe reply, and the server's CPU per connection opened.
      connect: {
        perSec: Math.round(clients / (openMs / 1000)),
        concurrency: agentCount * Number(values['open-concurrency']),
        ms: { p50: connectAt(0.5), p99: connectAt(0.99), max: connectAt(1) },
        serverCpuUsPerConnection: Math.round(((openCpu.user + openCpu.system - openCpuBefore.user - openCpuBefore.system) * 1000) / clients),
      },
    };

    const measure = async (durationMs: number, rateScale: number, during?: (goAt: number) => Promise<Record<string, unknown>>) => {
      const started = Date.now();
      const ticker = setInterval(() => {
        const d = agents.reduce((n, a) => n + a.progress.deliveries, 0);
        const s = agents.reduce((n, a) => n + a.progress.sent, 0);
        process.stdout.write(`\r${((Date.now() - started) / 1000).toFixed(0)} s: sent ${s}, delivered ${d}    `);
      }, 1000);
      // Wait for the reports from the start: a storm's recovery may outlast the run.
      const reporting = Promise.all(agents.map((a) => a.next('report', durationMs + 300_000)));
      // Socket.IO counts no socket writes (and, overloaded, its /stats may not answer for a while).
      const writesBefore = socketIo ? null : (await serverStats(server.url, server.urls)).socketWrites;
      const cpuBefore = treeCpuMs(server.pids);
      const goAt = Date.now();
      for (const agent of agents) agent.send({ type: 'go', durationMs, rateScale });
      const extra = during === undefined ? {} : await during(goAt);
      const reports = await reporting;
      // The server's own CPU time over the run (its processes only, whatever the agents took).
      const cpuAfter = treeCpuMs(server.pids);
      const userMs = cpuAfter.user - cpuBefore.user;
      const systemMs = cpuAfter.system - cpuBefore.system;
      const cpuMs = userMs + systemMs;
      const writesAfter = socketIo ? null : (await serverStats(server.url, server.urls)).socketWrites;
      const socketWrites = writesBefore === null || writesAfter === null ? null : writesAfter - writesBefore;
      clearInterval(ticker);
      process.stdout.write('\n');
      const merged = merge(reports.map((r) => r.report));
      // The senders send for durationMs; a storm holds them on until every client is back, and its
      // rates are over the time from `go` to the release (extra.storm.heldSeconds).
      const held = (extra as { storm?: { heldSeconds?: number } }).storm?.heldSeconds;
      const seconds = Math.max(durationMs / 1000, held ?? 0);
      return {
        ...merged,
        deliveriesPerSec: Math.round(merged.deliveries / seconds),
        sentPerSec: Math.round(merged.sent / seconds),
        serverCpuMs: Math.round(cpuMs),
        serverCpuUsPerDelivery: merged.deliveries === 0 ? null : +((cpuMs * 1000) / merged.deliveries).toFixed(3),
        serverCpuSystemShare: cpuMs === 0 ? null : +(systemMs / cpuMs).toFixed(2),
        // Frames per socket write: how many deliveries share a syscall (replies and other frames included in the writes).
        framesPerSocketWrite: socketWrites === null || socketWrites === 0 ? null : +(merged.deliveries / socketWrites).toFixed(1),
        ...extra,
      };
    };

    if (scenario === 'fanout' || scenario === 'rooms') {
      result = { ...result, ...(await measure(durationMs, 1)) };
    } else if (scenario === 'storm') {
      // Every client drops at a third of the run and comes back over a jittered wait, resuming
      // where it was; senders go on, so recovery must bring what was sent meanwhile.
      const jitterMs = Number(values['jitter-ms']);
      result = {
        ...result,
        ...(await measure(durationMs, 1, async (goAt) => {
          await new Promise((r) => setTimeout(r, durationMs / 3));
          // Parley's store calls; the recoverable Socket.IO's reads of its stream in Redis (XRANGE).
          const storeCalls = async () => (target === 'parley' ? (await serverStats(server.url, server.urls)).storeCalls : target === 'socketio-recovery' ? await redisCommandCalls(['xrange', 'getdel']) : {});
          const callsBefore = await storeCalls();
          for (const agent of agents) agent.send({ type: 'drop', jitterMs });
          const recovered = await Promise.all(agents.map((a) => a.next('recovered', 300_000)));
          const calls = callsBetween(callsBefore, await storeCalls());
          // Three seconds of traffic after the last client is back, then the run may end.
          await new Promise((r) => setTimeout(r, 3_000));
          for (const agent of agents) agent.send({ type: 'release' });
          const heldSeconds = +((Date.now() - goAt) / 1000).toFixed(1);
          const reconnected = recovered.reduce((n, r) => n + r.recovered, 0);
          const failed = recovered.reduce((n, r) => n + r.failed, 0);
          if (failed > 0) console.error(`${failed} clients did not come back: ${recovered.find((r) => r.error !== undefined)?.error}`);
          // Appends, and the reads of the consumers after them (search index, notifications), are
          // the senders' traffic going on; every other call is the reconnections'.
          const reconnectCalls = RECONNECT_CALLS.reduce((n, op) => n + (calls[op] ?? 0), 0);
          const resumed = recovered.flatMap((r) => r.resumeMs).sort((a, b) => a - b);
          // The time by which a share q of all the clients had resumed: none when fewer came back.
          const at = (q: number) => {
            const index = Math.ceil(q * clients) - 1;
            return index >= resumed.length ? null : +((resumed[index] as number) / 1000).toFixed(2);
          };
          return {
            storm: {
              jitterMs,
              // From `go` until the senders were released (the run's length, past its duration).
              heldSeconds,
              reconnected,
              failed,
              // Socket.IO sessions the server recovered (the others joined their rooms again).
              restored: socketIo ? recovered.reduce((n, r) => n + r.restored, 0) : null,
              // Seconds from the drop until half, 99% and all of the clients were back and resumed.
              resumedSeconds: { p50: at(0.5), p99: at(0.99), all: resumed.length === clients ? at(1) : null },
              recoverySeconds: +(Math.max(...recovered.map((r) => r.recoveryMs)) / 1000).toFixed(2),
              storeCalls: calls,
              storeCallsPerReconnect: socketIo || reconnected === 0 ? null : +(reconnectCalls / reconnected).toFixed(2),
              // The room's history reads for the clients' catch-ups (Parley's room hub), or the
              // stream reads of session restores, those that failed included (Socket.IO with
              // recovery: every XRANGE the Redis server ran meanwhile).
              catchUpReads: target === 'parley' ? (calls.hubCatchUpReads ?? 0) : target === 'socketio-recovery' ? (calls.xrange ?? 0) : null,
            },
          };
        })),
      };
    } else if (scenario === 'ramp') {
      // Double the send rate per step; the answer is the highest rate whose p99 stays < 100 ms.
      const steps: Array<Record<string, unknown>> = [];
      for (let step = 0; step < Number(values.steps); step++) {
        const scale = 2 ** step;
        const m = await measure(durationMs, scale);
        steps.push({ ratePerSec: totalRate * scale, ...m });
        console.log(`rate ${totalRate * scale}/s: ${m.deliveriesPerSec} deliveries/s, p99 ${m.latencyMs?.p99} ms, lost ${m.lost}`);
        if ((m.latencyMs?.p99 ?? Infinity) > 1_000 || m.sent > m.acked * 2) break;
      }
      const under = steps.filter((s) => ((s.latencyMs as { p99: number } | null)?.p99 ?? Infinity) < 100);
      result = { ...result, steps, maxRateUnder100msP99: under.length === 0 ? null : under[under.length - 1]?.ratePerSec };
    }
    const out = values.out ?? path.join(ROOT, 'bench', 'results', `${scenario}-${target}${target === 'parley' ? `-${values.store}${values.redis ? '-redis' : ''}-w${workers}` : workers > 1 ? `-w${workers}` : ''}.json`);
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result, null, 2));
    console.log(`written to ${path.relative(process.cwd(), out)}`);
  } finally {
    for (const agent of agents) agent.send({ type: 'stop' });
    await server.stop();
  }
}

await main();
