/**
 * The server under test of the growth bench and the ways it is observed from outside: started as
 * its own process (`src/cli.ts start`, one process) on a database migrated and seeded before it
 * starts, its CPU time read from /proc, its store timings read from /metrics, its REST API and
 * WebSocket protocol spoken directly.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { createTestDatabase, type TestDatabase } from '../test/support/postgres.js';
import { freePort } from '../test/support/services.js';
import { openPostgresSeed, openSqliteSeed, type SeedDb, settle } from './growth-seed.js';

const ROOT = path.resolve(import.meta.dirname, '..');
export type StoreKind = 'sqlite' | 'postgres';

export interface GrowthServer {
  url: string;
  pid: number;
}

const BENCH_ENV = {
  LOG_LEVEL: 'error',
  SCRYPT_COST: '10',
  SEND_RATE_PER_SEC: '100000',
  SEND_BURST: '100000',
  FRAME_RATE_PER_SEC: '100000',
  FRAME_BURST: '100000',
  AUTH_RATE_PER_MIN: '100000',
  LOAD_SHED_LAG_MS: '0',
};

/**
 * A fresh database, migrated by the server's own `migrate` command, filled by `seed` and settled
 * (statistics), and only then a server started on it: the server never sees a half-written state.
 */
export async function withServer<S, T>(store: StoreKind, seed: (db: SeedDb) => Promise<S>, run: (server: GrowthServer, seeded: S) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-growth-'));
  const db: TestDatabase | null = store === 'postgres' ? await createTestDatabase() : null;
  const storeEnv = db === null ? { DATA_DIR: dataDir } : { DATA_DIR: dataDir, DATABASE_URL: db.url };
  let child: ChildProcess | null = null;
  try {
    const migrated = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'migrate'], { cwd: ROOT, env: { ...process.env, ...BENCH_ENV, ...storeEnv }, stdio: ['ignore', 'ignore', 'inherit'] });
    if (migrated.status !== 0) throw new Error(`parley migrate exited with ${migrated.status}`);
    const seedDb = db === null ? openSqliteSeed(path.join(dataDir, 'parley.db')) : await openPostgresSeed(db.url);
    const seedStarted = performance.now();
    let seeded: S;
    try {
      seeded = await seed(seedDb);
      await settle(seedDb);
    } finally {
      await seedDb.close();
    }
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const started = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--workers', '1'], {
      cwd: ROOT,
      env: { ...process.env, ...BENCH_ENV, ...storeEnv, PORT: String(port), HOST: '0.0.0.0' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child = started;
    await waitHealthy(url, started);
    console.log(`  (seeded in ${seedSeconds.toFixed(1)} s)`);
    return await run({ url, pid: started.pid as number }, seeded);
  } finally {
    if (child !== null) await stopChild(child);
    rmSync(dataDir, { recursive: true, force: true });
    await db?.drop();
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

async function waitHealthy(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error('the server did not start within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** CPU time of a process (all its threads: the event loop, the SQLite thread, GC), ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the name), in clock ticks.
  const ticks = Number(fields[11]) + Number(fields[12]);
  const hz = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() || 100);
  return (ticks * 1000) / hz;
}

/** Sum and count of a store operation's durations (parley_store_query_duration_seconds), all outcomes. */
export async function storeTiming(url: string, operation: string): Promise<{ sumSeconds: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  let sumSeconds = 0;
  let count = 0;
  for (const line of text.split('\n')) {
    const m = /^parley_store_query_duration_seconds_(sum|count)\{operation="(\w+)",outcome="\w+"\} ([\d.e+-]+)/.exec(line);
    if (m === null || m[2] !== operation) continue;
    if (m[1] === 'sum') sumSeconds += Number(m[3]);
    else count += Number(m[3]);
  }
  return { sumSeconds, count };
}

export interface Answer {
  status: number;
  ms: number;
  body: Record<string, unknown> | null;
}

export async function call(url: string, method: string, route: string, token: string | null, body?: unknown): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(`${url}/api/v1${route}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  const ms = performance.now() - started;
  return { status: res.status, ms, body: text === '' ? null : (JSON.parse(text) as Record<string, unknown>) };
}

/** One WebSocket connection speaking the protocol of docs/protocol.md: requests and their replies. */
export class WsClient {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, (reply: Record<string, unknown>) => void>();
  #nextId = 1;

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString()) as Record<string, unknown>;
      if (frame.type !== 'reply' || typeof frame.id !== 'number') return;
      const done = this.#pending.get(frame.id);
      this.#pending.delete(frame.id);
      done?.(frame);
    });
  }

  static async open(url: string, token: string): Promise<WsClient> {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('error', () => undefined);
    return new WsClient(ws);
  }

  /** Sends a request and resolves with its reply and the time to it, ms. */
  request(frame: Record<string, unknown>): Promise<{ reply: Record<string, unknown>; ms: number }> {
    const id = this.#nextId++;
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${String(frame.type)} within 60 s`)), 60_000);
      this.#pending.set(id, (reply) => {
        clearTimeout(timer);
        resolve({ reply, ms: performance.now() - started });
      });
      this.#ws.send(JSON.stringify({ id, ...frame }));
    });
  }

  close(): void {
    this.#ws.terminate();
  }
}

/** The value below which `q` of the sorted samples fall (nearest rank). */
export function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1))] as number;
}

export const round = (v: number, digits = 2): number => Number(v.toFixed(digits));
