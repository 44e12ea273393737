/**
 * The attack soak: one Parley node on its default limits, a victim user doing ordinary things
 * (GET /me, sends over REST and over the WebSocket), and, at the same time and for a bounded
 * time, every attack of bench/attack-agent.ts, each in its own process. It records the victim's
 * latencies and the node's memory, and fails (exit 1) when the victim's p99 passes 500 ms, when
 * one of the victim's requests fails, when bad input gets a 5xx, or when the node dies.
 *
 *   npm run bench:attack -- [--duration 60] [--store sqlite|postgres] [--redis] [--messages 25000]
 *
 * Results: bench/results/attack-<store>.json. Traffic goes to loopback only.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import WebSocket from 'ws';
import { openPostgresStore } from '../src/adapters/sql/postgres.js';
import { openSqliteStore } from '../src/adapters/sql/sqlite.js';
import { newId } from '../src/domain/ids.js';
import type { AppendRequest, Store } from '../src/ports.js';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.js';
import { freePort } from '../test/support/services.js';
import type { Json } from '../test/support/json.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    store: { type: 'string', default: 'sqlite' },
    redis: { type: 'boolean', default: false },
    messages: { type: 'string', default: '25000' },
    out: { type: 'string' },
  },
});
const durationMs = Number(values.duration) * 1000;
const ATTACKS = ['search', 'typing', 'presence', 'slowloris', 'hoard', 'flood', 'garbage', 'race'];
const BUDGET_MS = 500;

async function api<T = Record<string, Json>>(url: string, method: string, route: string, token: string | null, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${url}${route}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text === '' ? {} : JSON.parse(text)) as T };
}

function rssOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

// The node under attack, on its defaults.
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-attack-'));
let db: TestDatabase | null = null;
if (values.store === 'postgres') db = await createTestDatabase();
const env = {
  ...process.env,
  PORT: String(port),
  HOST: '127.0.0.1',
  DATA_DIR: dataDir,
  LOG_LEVEL: 'warn',
  SCRYPT_COST: '12',
  ...(db === null ? {} : { DATABASE_URL: db.url }),
  ...(values.redis ? { REDIS_URL: process.env.PARLEY_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', REDIS_PREFIX: `parley-attack-${process.pid}:` } : {}),
};
const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start'], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
const started = Date.now();
for (;;) {
  if (server.exitCode !== null) throw new Error(`the node exited with ${server.exitCode}`);
  if (Date.now() - started > 60_000) throw new Error('the node did not start within 60 s');
  if ((await fetch(`${url}/healthz`).catch(() => null))?.status === 200) break;
  await sleep(200);
}

// Users, rooms, and the big public room, seeded straight into the store.
async function register(prefix: string): Promise<{ id: string; username: string; token: string }> {
  const username = `${prefix}_${newId().slice(0, 8).toLowerCase().replace(/[^a-z0-9]/g, 'x')}`;
  const res = await api(url, 'POST', '/api/v1/auth/register', null, { username, password: 'correct horse battery' });
  if (res.status !== 201) throw new Error(`register ${prefix}: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.user.id, username, token: res.body.token };
}
const victim = await register('victim');
const seeder = await register('seeder');
const attackers = Object.fromEntries(await Promise.all(ATTACKS.map(async (a) => [a, await register(a)] as const)));
const bigRoom = (await api(url, 'POST', '/api/v1/rooms', seeder.token, { name: 'big', visibility: 'public' })).body.room.id as string;
const seedStore: Store = db === null ? openSqliteStore(path.join(dataDir, 'parley.db')) : openPostgresStore(db.url, { poolSize: 2, statementTimeoutMs: 60_000 });
const words = ['alpha', 'beta', 'deploy', 'meeting', 'lunch', 'ticket', 'review', 'answer', 'error', 'agenda'];
for (let done = 0; done < Number(values.messages); done += 1000) {
  const batch: AppendRequest[] = Array.from({ length: 1000 }, (_, i) => ({
    kind: 'message',
    roomId: bigRoom,
    userId: seeder.id,
    id: newId(),
    body: `${words[(done + i) % words.length]} ${words[(done + i * 7) % words.length]} number ${done + i} about an ordinary day`,
    clientMsgId: null,
    at: Date.now(),
  }));
  await seedStore.append(batch);
}
await seedStore.close();
for (const a of ['search', 'race']) await api(url, 'POST', `/api/v1/rooms/${bigRoom}/join`, attackers[a]?.token ?? null);
const victimRooms: string[] = [];
for (let i = 0; i < 20; i++) victimRooms.push((await api(url, 'POST', '/api/v1/rooms', victim.token, { name: `victim ${i}`, visibility: 'public' })).body.room.id);
for (const roomId of victimRooms) await api(url, 'POST', `/api/v1/rooms/${roomId}/join`, attackers.presence?.token ?? null);
const floodRooms: string[] = [];
for (let i = 0; i < 10; i++) floodRooms.push((await api(url, 'POST', '/api/v1/rooms', attackers.flood?.token ?? null, { name: `flood ${i}`, visibility: 'public' })).body.room.id);

// The victim's WebSocket, subscribed to its rooms and the big one.
const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(victim.token)}`);
await new Promise((resolve, reject) => {
  ws.once('open', resolve);
  ws.once('error', reject);
});
const waiting = new Map<number, (ok: boolean) => void>();
let frames = 0;
ws.on('message', (data) => {
  frames++;
  const frame = JSON.parse(data.toString()) as { type: string; id?: number; ok?: boolean };
  if (frame.type === 'reply' && typeof frame.id === 'number') waiting.get(frame.id)?.(frame.ok === true);
});
let nextId = 1;
const request = (frame: Record<string, unknown>): Promise<boolean> => {
  const id = nextId++;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 30_000);
    waiting.set(id, (ok) => {
      clearTimeout(timer);
      waiting.delete(id);
      resolve(ok);
    });
    ws.send(JSON.stringify({ id, ...frame }));
  });
};
for (const roomId of [...victimRooms, bigRoom]) await request({ type: 'subscribe', roomId });

// The attacks, each in its own process, and the victim, for the same bounded time.
const deadline = Date.now() + durationMs;
const agents = ATTACKS.map((attack) => {
  const a = attackers[attack] as { token: string };
  const job = { attack, url, deadline, tokens: [a.token], rooms: attack === 'flood' ? floodRooms : victimRooms, bigRoom, usernames: [victim.username] };
  const child = fork(path.join(ROOT, 'bench/attack-agent.ts'), [JSON.stringify(job)], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  let out = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  return new Promise<{ attack: string; statuses: Record<string, number> }>((resolve) => {
    child.on('exit', () => resolve(out.trim() === '' ? { attack, statuses: { 'agent died': 1 } } : JSON.parse(out.trim().split('\n').at(-1) as string)));
  });
});

const histograms = { me: hdr.build(), restSend: hdr.build(), wsSend: hdr.build() };
const failures: string[] = [];
let maxRss = 0;
let tick = 0;
while (Date.now() < deadline) {
  maxRss = Math.max(maxRss, rssOf(server.pid as number));
  const t0 = performance.now();
  const me = await api(url, 'GET', '/api/v1/me', victim.token).catch(() => ({ status: 0, body: {} }));
  histograms.me.recordValue(Math.ceil(performance.now() - t0));
  if (me.status !== 200) failures.push(`GET /me answered ${me.status}`);
  const t1 = performance.now();
  if (tick % 2 === 0) {
    const sent = await api(url, 'POST', `/api/v1/rooms/${victimRooms[0]}/messages`, victim.token, { body: `victim ${tick}`, clientMsgId: `v${tick}` }).catch(() => ({ status: 0, body: {} }));
    histograms.restSend.recordValue(Math.ceil(performance.now() - t1));
    if (sent.status !== 201) failures.push(`REST send answered ${sent.status}`);
  } else {
    const ok = await request({ type: 'send', roomId: victimRooms[0], body: `victim ${tick}`, clientMsgId: `v${tick}` });
    histograms.wsSend.recordValue(Math.ceil(performance.now() - t1));
    if (!ok) failures.push('WebSocket send failed');
  }
  tick++;
  await sleep(250);
}
const reports = await Promise.all(agents);
const alive = server.exitCode === null && (await fetch(`${url}/healthz`).catch(() => null))?.status === 200;
ws.close();
server.kill('SIGTERM');
await new Promise((r) => server.once('exit', r));
await db?.drop();
rmSync(dataDir, { recursive: true, force: true });

const summary = (h: hdr.Histogram) => ({ count: h.totalCount, p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), max: h.maxValue });
const victimLatency = { getMe: summary(histograms.me), restSend: summary(histograms.restSend), wsSend: summary(histograms.wsSend) };
const badInput5xx = reports.filter((r) => ['garbage', 'race'].includes(r.attack)).reduce((n, r) => n + (r.statuses['5xx'] ?? 0), 0);
const result = {
  store: values.store,
  redis: values.redis,
  durationS: durationMs / 1000,
  bigRoomMessages: Number(values.messages),
  victim: victimLatency,
  victimFramesReceived: frames,
  victimFailures: failures.length,
  serverMaxRssMiB: Math.round(maxRss / 1048576),
  serverAlive: alive,
  attacks: Object.fromEntries(reports.map((r) => [r.attack, r.statuses])),
};
const out = values.out ?? path.join(ROOT, 'bench/results', `attack-${values.store}${values.redis ? '-redis' : ''}.json`);
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
const worstP99 = Math.max(...Object.values(victimLatency).map((s) => s.p99));
const problems = [
  ...(worstP99 > BUDGET_MS ? [`victim p99 ${worstP99} ms over ${BUDGET_MS} ms`] : []),
  ...(failures.length > 0 ? [`${failures.length} victim requests failed: ${[...new Set(failures)].join('; ')}`] : []),
  ...(badInput5xx > 0 ? [`${badInput5xx} answers 5xx to bad input`] : []),
  ...(alive ? [] : ['the node died']),
];
if (problems.length > 0) {
  console.error(`attack soak FAILED: ${problems.join('; ')}`);
  process.exit(1);
}
console.log(`attack soak passed: victim p99 ${worstP99} ms (budget ${BUDGET_MS} ms)`);
