/**
 * `parley doctor`, run as a real process against real services: a healthy setup passes (exit 0,
 * nothing to fix), and each deliberate misconfiguration is named with its remedy (exit 1):
 * Redis evicting jobs, PostgreSQL short of connections for the pools, an unreachable NATS, a
 * service that accepts and never answers (bounded by the time limit), a bad variable, the
 * open-file limit short of the connections asked for.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { checkOpenFiles } from '../src/doctor/system-check.js';
import { createTestDatabase, requirePostgres, type TestDatabase } from './support/postgres.js';
import { freePort, MEMCACHED, NATS_SERVER, REDIS_SERVER, requireBinary, type ServerHandle, startMemcached, startNats, startRedis } from './support/services.js';
import { type SmtpHandle, startSmtp } from './support/smtp.js';

interface Finding {
  check: string;
  status: 'ok' | 'warn' | 'fix';
  detail: string;
  remedy?: string;
}

function doctor(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; findings: Finding[] }> {
  // Only the variables given: the test's own environment must not leak a setting in.
  const base = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'doctor', ...args], { env: { ...base, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => {
      const findings = args.includes('--json') ? stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Finding) : [];
      resolve({ code, stdout, stderr, findings });
    });
  });
}

const byCheck = (findings: Finding[], check: string): Finding => {
  const found = findings.find((f) => f.check === check);
  assert.ok(found, `no finding "${check}" among ${findings.map((f) => f.check).join(', ')}`);
  return found;
};

describe('parley doctor', async () => {
  const ready = (await requirePostgres('parley doctor')) && requireBinary(REDIS_SERVER, 'redis-server', 'parley doctor') && requireBinary(NATS_SERVER, 'nats-server', 'parley doctor') && requireBinary(MEMCACHED, 'memcached', 'parley doctor');
  if (!ready) return;
  let dataDir: string;
  let db: TestDatabase;
  let redis: ServerHandle;
  let nats: ServerHandle;
  let memcached: ServerHandle;
  let smtp: SmtpHandle;
  before(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'parley-doctor-'));
    db = await createTestDatabase();
    [redis, nats, memcached, smtp] = await Promise.all([startRedis({ appendOnly: true }), startNats({ jetStream: true }), startMemcached(), startSmtp()]);
  });
  after(async () => {
    await Promise.all([redis?.stop(), nats?.stop(), memcached?.stop(), smtp?.stop(), db?.drop()]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the embedded defaults pass, and nothing is written', async () => {
    const fresh = path.join(dataDir, 'embedded');
    const run = await doctor([], { DATA_DIR: fresh });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^parley doctor: \d+ checks, 0 to fix/);
    assert.match(run.stdout, /ok {4}store +embedded SQLite/);
    const again = await doctor(['--json'], { DATA_DIR: fresh });
    assert.deepEqual(again.findings.filter((f) => f.status === 'fix'), []);
    assert.deepEqual(
      again.findings.map((f) => f.check),
      ['configuration', 'data directory', 'store', 'files directory', 'open files'],
    );
    assert.equal(existsSync(fresh), false, 'the doctor made no directory');
  });

  it('a healthy fleet setup passes: PostgreSQL, Redis keeping jobs, NATS with JetStream, memcached, SMTP', async () => {
    const run = await doctor(['--json', '--nodes', '2'], {
      DATA_DIR: dataDir,
      DATABASE_URL: db.url,
      REDIS_URL: redis.url,
      NATS_URL: nats.url,
      EVENT_LOG: 'jetstream',
      JOBS: 'bullmq',
      CACHE_URL: memcached.url,
      SMTP_URL: smtp.url,
      PUBLIC_URL: 'https://chat.example.com',
      SECRET_KEY: 'a'.repeat(64),
      WORKERS: '2',
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.deepEqual(run.findings.filter((f) => f.status === 'fix'), []);
    assert.match(byCheck(run.findings, 'store').detail, /^PostgreSQL 1\d/);
    assert.match(byCheck(run.findings, 'store max_connections').detail, /room for 4 × 10 \(node processes\) = 40/);
    assert.equal(byCheck(run.findings, 'store schema').status, 'warn', 'a database not migrated yet is a warning, with its remedy');
    assert.match(byCheck(run.findings, 'redis maxmemory-policy').detail, /^noeviction/);
    assert.match(byCheck(run.findings, 'redis persistence').detail, /append-only file on/);
    assert.match(byCheck(run.findings, 'nats JetStream').detail, /^on/);
    assert.match(byCheck(run.findings, 'memcached').detail, /^memcached \d/);
    assert.equal(byCheck(run.findings, 'smtp').status, 'ok');
  });

  it('names each misconfiguration with what to do: jobs on an evicting Redis, too few PostgreSQL connections, NATS down', async () => {
    const evicting = await startRedis();
    const closedPort = await freePort();
    try {
      const client = new Redis(evicting.url);
      await client.config('SET', 'maxmemory-policy', 'allkeys-lru');
      client.disconnect();
      const run = await doctor(['--json', '--job-workers', '3'], {
        DATA_DIR: dataDir,
        DATABASE_URL: db.url,
        DATABASE_POOL_SIZE: '200',
        WORKERS: '2',
        REDIS_URL: evicting.url,
        JOBS: 'bullmq',
        NATS_URL: `nats://127.0.0.1:${closedPort}`,
        SECRET_KEY: 'b'.repeat(64),
      });
      assert.equal(run.code, 1);
      const policy = byCheck(run.findings, 'redis maxmemory-policy');
      assert.equal(policy.status, 'fix');
      assert.match(policy.detail, /allkeys-lru/);
      assert.match(policy.remedy ?? '', /noeviction/);
      assert.equal(byCheck(run.findings, 'redis persistence').status, 'warn');
      const connections = byCheck(run.findings, 'store max_connections');
      assert.equal(connections.status, 'fix');
      assert.match(connections.detail, /2 × 200 \(node processes\) \+ 3 × 200 \(`parley worker` processes\) = 1000/);
      assert.match(connections.remedy ?? '', /max_connections|PgBouncer/);
      const unreachable = byCheck(run.findings, 'nats');
      assert.equal(unreachable.status, 'fix');
      assert.match(unreachable.detail, /ECONNREFUSED|cannot reach/);
      // The text form says the same, with the remedies.
      const text = await doctor([], { DATA_DIR: dataDir, REDIS_URL: evicting.url, JOBS: 'bullmq' });
      assert.equal(text.code, 1);
      assert.match(text.stdout, /FIX {3}redis maxmemory-policy/);
      assert.match(text.stdout, /→ Set `maxmemory-policy noeviction`/);
    } finally {
      await evicting.stop();
    }
  });

  it('a service that accepts and never answers is a finding within the time limit, not a hang', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      // Every kind of client at once: the command must end (a NATS connection attempt cannot be
      // cancelled, and held the process open before it exited by itself).
      const silentAt = `127.0.0.1:${port}`;
      const run = await doctor(['--json', '--timeout-ms', '1000'], { DATA_DIR: dataDir, DATABASE_URL: `postgres://parley@${silentAt}/parley`, REDIS_URL: `redis://${silentAt}`, CACHE_URL: `memcached://${silentAt}`, NATS_URL: `nats://${silentAt}` });
      assert.equal(run.code, 1, run.stderr);
      for (const check of ['store', 'redis', 'memcached', 'nats']) {
        const f = byCheck(run.findings, check);
        assert.equal(f.status, 'fix');
        assert.match(f.detail, /no answer within 1000 ms|timed? ?out|timeout/i, `${check}: ${f.detail}`);
      }
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('a bad variable is the finding (exit 1); a bad option is misuse (exit 2)', async () => {
    const bad = await doctor(['--json'], { DATA_DIR: dataDir, PORT: 'eighty' });
    assert.equal(bad.code, 1);
    assert.deepEqual(
      bad.findings.map((f) => [f.check, f.status]),
      [['configuration', 'fix']],
    );
    assert.match(bad.findings[0]?.detail ?? '', /PORT/);
    const misuse = await doctor(['--connections', 'many'], { DATA_DIR: dataDir });
    assert.equal(misuse.code, 2);
    assert.match(misuse.stderr, /--connections needs a whole number/);
  });

  it('the open-file limit against the connections asked for', () => {
    const limits = (n: number) => () => `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${n}                ${n}                files\n`;
    const short = checkOpenFiles('auto', 2, 100_000, limits(20_000));
    assert.equal(short.status, 'fix');
    assert.match(short.detail, /each of 2 processes holds at most 18000 connections, 36000 on this machine, fewer than the 100000 asked for/);
    assert.match(short.remedy ?? '', /LimitNOFILE=55556/);
    assert.equal(checkOpenFiles('auto', 6, 100_000, limits(20_000)).status, 'ok');
    assert.equal(checkOpenFiles(50_000, 1, null, limits(20_000)).status, 'fix', 'a cap above the limit');
    assert.equal(checkOpenFiles('auto', 1, null, limits(1024)).status, 'warn');
  });
});
