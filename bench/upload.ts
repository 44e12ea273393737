/**
 * Uploads of large files through the server: throughput, latency per upload, and the server's
 * resident memory while 20 clients upload 50 MB each at once, beside a plain node:http server
 * that pipes each request body to a file on the same disk (the physical ceiling of this machine
 * for "bytes in over HTTP, onto disk"), measured in the same run so the figures are ratios.
 *
 *   npm run bench:upload -- [--storage fs|s3] [--mb 50] [--sequential 3] [--concurrent 20] [--out FILE]
 *
 * Each server runs as its own process (Parley: `src/cli.ts start --workers 1`; with
 * `--storage s3`, s3rver in another child, test/support/s3rver.ts). The bench process is the
 * client: every upload is an http.request whose body is a stream of the file's bytes made as they
 * are sent (one 64 KiB block repeated, NUL bytes first so it sniffs as application/octet-stream),
 * never the whole file in memory, with its Content-Length set. The server's RSS is read from
 * /proc/<pid>/status every 50 ms. The client shares the machine's two cores with the servers.
 *
 * Writes bench/results/upload-<storage>.json (or --out) and prints a short table.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { testConfig } from '../src/config.js';
import { type S3rverHandle, startS3rver } from '../test/support/s3rver.js';
import { freePort } from '../test/support/services.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const MB = 1024 * 1024;
const BLOCK = 64 * 1024;

/**
 * The baseline: a plain node:http server that pipes each request body to a file in `dir` (then
 * removes it) and answers 201. Plain JavaScript run with `node -e`, so nothing else is loaded
 * into its memory. No fsync, no checks, no copy: the ceiling, not a competitor.
 */
const PLAIN_SERVER = `
const { createServer } = require('node:http');
const { createWriteStream, unlinkSync } = require('node:fs');
const { pipeline } = require('node:stream/promises');
const [port, dir] = [Number(process.argv[1]), process.argv[2]];
let n = 0;
createServer((req, res) => {
  const file = dir + '/' + process.pid + '-' + n++;
  pipeline(req, createWriteStream(file)).then(
    () => { unlinkSync(file); res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}'); },
    (error) => res.writeHead(500).end(String(error)),
  );
}).listen(port, '127.0.0.1', () => process.stdout.write('listening\\n'));
`;

interface Batch {
  uploads: number;
  seconds: number;
  mbPerSecond: number;
  latencyMs: { p50: number; p99: number; max: number };
}

interface Rss {
  baselineMB: number;
  peakMB: number;
  afterMB: number;
  growthMB: number;
}

interface Target {
  sequential: Batch;
  concurrent: Batch & { rss: Rss };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      storage: { type: 'string', default: 'fs' },
      mb: { type: 'string', default: '50' },
      sequential: { type: 'string', default: '3' },
      concurrent: { type: 'string', default: '20' },
      out: { type: 'string' },
    },
  });
  const storage = values.storage as 'fs' | 's3';
  if (storage !== 'fs' && storage !== 's3') throw new Error('--storage fs or s3');
  const size = Number(values.mb) * MB;
  const sequential = Number(values.sequential);
  const concurrent = Number(values.concurrent);
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-bench-upload-'));
  const children: ChildProcess[] = [];
  let s3: S3rverHandle | null = null;
  const started = performance.now();
  try {
    // The baseline first: the page cache and the disk start the same for both.
    process.stderr.write('plain node:http → file…\n');
    const plainPort = await freePort();
    const plain = spawn(process.execPath, ['-e', PLAIN_SERVER, String(plainPort), dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(plain);
    await new Promise<void>((resolve, reject) => {
      plain.stdout?.once('data', () => resolve());
      plain.once('exit', (code) => reject(new Error(`the plain server exited with ${code}`)));
    });
    const plainResult = await measure({ url: `http://127.0.0.1:${plainPort}/upload`, tokens: Array.from({ length: concurrent }, () => ''), pid: plain.pid as number }, size, sequential, concurrent);
    await stop(plain);

    process.stderr.write(`parley (${storage})…\n`);
    if (storage === 's3') s3 = await startS3rver('parley-bench');
    const parley = await startParley(dir, storage, s3);
    children.push(parley.child);
    const { room, tokens } = await usersInRoom(parley.url, concurrent);
    const parleyResult = await measure({ url: `${parley.url}/api/v1/rooms/${room}/uploads?name=big.bin`, tokens, pid: parley.child.pid as number }, size, sequential, concurrent);
    await stop(parley.child);

    const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
    const result = {
      measuredAt: new Date().toISOString(),
      storage,
      fileMB: Number(values.mb),
      cores: 2,
      parley: parleyResult,
      plain: plainResult,
      ratios: {
        sequentialThroughput: ratio(parleyResult.sequential.mbPerSecond, plainResult.sequential.mbPerSecond),
        concurrentThroughput: ratio(parleyResult.concurrent.mbPerSecond, plainResult.concurrent.mbPerSecond),
        concurrentP50: ratio(parleyResult.concurrent.latencyMs.p50, plainResult.concurrent.latencyMs.p50),
        rssGrowth: ratio(parleyResult.concurrent.rss.growthMB, Math.max(1, plainResult.concurrent.rss.growthMB)),
      },
      runSeconds: Math.round((performance.now() - started) / 1000),
    };
    const out = values.out ?? path.join(ROOT, 'bench', 'results', `upload-${storage}.json`);
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
    printTable(result.storage, size, parleyResult, plainResult);
    console.log(`(${result.runSeconds} s; ${path.relative(ROOT, out)})`);
  } finally {
    for (const child of children) await stop(child);
    await s3?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Parley as its own process, one worker, on a fresh data directory; files of any kind up to the size, no quota. */
async function startParley(dir: string, storage: 'fs' | 's3', s3: S3rverHandle | null): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    DATA_DIR: path.join(dir, 'parley'),
    LOG_LEVEL: 'warn',
    SCRYPT_COST: '10',
    AUTH_RATE_PER_MIN: '100000',
    LOAD_SHED_LAG_MS: '0',
    UPLOAD_TYPES: [...testConfig().UPLOAD_TYPES, 'application/octet-stream'].join(','),
    UPLOAD_MAX_BYTES: String(1024 * MB),
    UPLOAD_DAILY_BYTES: '0',
    UPLOAD_CONCURRENCY: '64',
    FILE_STORAGE: storage,
    ...(s3 === null
      ? {}
      : { S3_ENDPOINT: s3.endpoint, S3_BUCKET: s3.bucket, S3_ACCESS_KEY_ID: s3.credentials.accessKeyId, S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey, S3_FORCE_PATH_STYLE: 'true', UPLOAD_STAGING_DIR: path.join(dir, 'staging') }),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'start', '--workers', '1'], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
    if (await fetch(`${url}/healthz`).then((r) => r.status === 200, () => false)) return { url, child };
    if (Date.now() > deadline) throw new Error('the server did not start within 60 s');
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function usersInRoom(url: string, count: number): Promise<{ room: string; tokens: string[] }> {
  const call = async (method: string, route: string, body: unknown, token?: string) => {
    const res = await fetch(`${url}${route}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      body: JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, { id: string }> & { token: string };
  };
  const users = await Promise.all(Array.from({ length: count }, (_, i) => call('POST', '/api/v1/auth/register', { username: `uploader${i}`, password: 'correct horse battery' })));
  const owner = users[0] as { token: string };
  const room = (await call('POST', '/api/v1/rooms', { name: 'uploads', visibility: 'private' }, owner.token)).room?.id as string;
  for (let i = 1; i < count; i++) await call('POST', `/api/v1/rooms/${room}/members`, { username: `uploader${i}` }, owner.token);
  return { room, tokens: users.map((u) => u.token) };
}

/** `size` bytes made as they are read: one random block repeated, NUL bytes first (sniffed as application/octet-stream). */
function fileStream(size: number): Readable {
  const block = randomBytes(BLOCK);
  const first = Buffer.from(block);
  first.fill(0, 0, 16);
  let sent = 0;
  return new Readable({
    highWaterMark: BLOCK,
    read() {
      if (sent >= size) {
        this.push(null);
        return;
      }
      const n = Math.min(BLOCK, size - sent);
      const chunk = sent === 0 ? first : block;
      sent += n;
      this.push(n === BLOCK ? chunk : chunk.subarray(0, n));
    },
  });
}

/** One upload: the body streamed with its Content-Length; resolves with its time, ms. */
function uploadOnce(url: string, token: string, size: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size), ...(token === '' ? {} : { authorization: `Bearer ${token}` }) },
    });
    req.setTimeout(120_000, () => req.destroy(new Error('no progress for 120 s')));
    req.on('response', (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on('end', () => (res.statusCode === 201 ? resolve(performance.now() - started) : reject(new Error(`upload answered ${res.statusCode}: ${body.slice(0, 300)}`))));
    });
    req.on('error', reject);
    fileStream(size).pipe(req);
  });
}

function rssOf(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

const settle = async () => {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 1_000));
};

function batch(latencies: number[], size: number, seconds: number): Batch {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number) => Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0);
  return { uploads: latencies.length, seconds: Number(seconds.toFixed(2)), mbPerSecond: Math.round((latencies.length * size) / MB / seconds), latencyMs: { p50: at(0.5), p99: at(0.99), max: Math.round(sorted.at(-1) ?? 0) } };
}

async function measure(target: { url: string; tokens: string[]; pid: number }, size: number, sequential: number, concurrent: number): Promise<Target> {
  // One upload to warm up (connections, the JIT, the disk's first allocation), not counted.
  await uploadOnce(target.url, target.tokens[0] as string, 4 * MB);
  await settle();
  const seqLatencies: number[] = [];
  const seqStart = performance.now();
  for (let i = 0; i < sequential; i++) seqLatencies.push(await uploadOnce(target.url, target.tokens[0] as string, size));
  const seq = batch(seqLatencies, size, (performance.now() - seqStart) / 1000);

  await settle();
  const baseline = rssOf(target.pid);
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(target.pid));
  }, 50);
  const conStart = performance.now();
  const conLatencies = await Promise.all(Array.from({ length: concurrent }, (_, i) => uploadOnce(target.url, target.tokens[i % target.tokens.length] as string, size)));
  const conSeconds = (performance.now() - conStart) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, rssOf(target.pid));
  await new Promise((r) => setTimeout(r, 2_000));
  const after = rssOf(target.pid);
  const mb = (bytes: number) => Math.round(bytes / MB);
  return {
    sequential: seq,
    concurrent: { ...batch(conLatencies, size, conSeconds), rss: { baselineMB: mb(baseline), peakMB: mb(peak), afterMB: mb(after), growthMB: mb(peak - baseline) } },
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

function printTable(storage: string, size: number, parley: Target, plain: Target): void {
  const row = (name: string, t: Target) =>
    `| ${name} | ${t.sequential.mbPerSecond} MB/s (p50 ${t.sequential.latencyMs.p50} ms) | ${t.concurrent.mbPerSecond} MB/s | ${t.concurrent.latencyMs.p50} / ${t.concurrent.latencyMs.p99} ms | ${t.concurrent.rss.baselineMB} → ${t.concurrent.rss.peakMB} → ${t.concurrent.rss.afterMB} MB |`;
  console.log(`\nuploads of ${size / MB} MB (${storage}); concurrent = ${parley.concurrent.uploads} at once`);
  console.log('| server | sequential | concurrent | concurrent p50 / p99 | RSS before → peak → after |');
  console.log('|---|---|---|---|---|');
  console.log(row(`parley (${storage})`, parley));
  console.log(row('plain node:http → file', plain));
}

await main();
