/**
 * `parley worker` processes beside a node that works no jobs (JOBS_WORK=false), sharing its
 * embedded database: the worker runs the node's exports; SIGKILLed mid-export, its job is not
 * lost (another worker runs it again from the start, once the lease lapses) and its file holds
 * every message once. `parley jobs` reads the queues and the dead letters.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { newId } from '../../src/domain/ids.js';
import { PermanentJobError } from '../../src/jobs/errors.js';
import { QUEUES } from '../../src/jobs/slow-work.js';
import type { AppendRequest } from '../../src/ports.js';
import type { Json } from '../support/json.js';
import { api, startTestServer, type TestServer } from '../support/server.js';

interface Worker {
  child: ChildProcess;
  output: () => string;
  url: Promise<string>;
  exited: Promise<number | null>;
}

function startWorker(dataDir: string, env: Record<string, string> = {}): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'worker'], {
    env: { ...process.env, DATA_DIR: dataDir, WORKER_PORT: '0', LOG_LEVEL: 'info', JOBS_POLL_MS: '100', JOBS_LEASE_MS: '2000', EXPORT_PAGE_SIZE: '200', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the worker did not start: ${out}`)), 60_000);
    const check = () => {
      const match = /"url":"(http:[^"]+)".*parley worker working jobs/.exec(out);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(match[1]);
      } else setTimeout(check, 50);
    };
    check();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, url, exited };
}

async function exportState(server: TestServer, token: string, id: string): Promise<Json> {
  return (await api(server.url, 'GET', `/api/v1/exports/${id}`, { token })).body.export as Json;
}

async function until<T>(what: string, poll: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await poll();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('parley worker', () => {
  let server: TestServer;
  let token: string;
  let roomId: string;
  const MESSAGES = 30_000;
  const workers: Worker[] = [];

  before(async () => {
    server = await startTestServer({ JOBS_WORK: false, JOBS_POLL_MS: 100 });
    token = String((await api(server.url, 'POST', '/api/v1/auth/register', { body: { username: 'exporter', password: 'correct horse battery' } })).body.token);
    roomId = String((await api(server.url, 'POST', '/api/v1/rooms', { token, body: { name: 'Big', visibility: 'private' } })).body.room.id);
    const me = (await api(server.url, 'GET', '/api/v1/me', { token })).body.user as Json;
    const { store } = server.parley.services;
    for (let i = 0; i < MESSAGES; i += 1_000) {
      const batch: AppendRequest[] = Array.from({ length: 1_000 }, (_, j) => ({ kind: 'message', roomId, userId: String(me.id), id: newId(), body: `line ${i + j}`, clientMsgId: null, at: Date.now() }));
      await store.append(batch);
    }
  });
  after(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    await Promise.all(workers.map((w) => w.exited));
    await server.stop();
  });

  it('a node with JOBS_WORK=false leaves its jobs to the worker; a worker killed mid-export loses nothing', async () => {
    const created = await api(server.url, 'POST', `/api/v1/rooms/${roomId}/exports`, { token, body: { format: 'ndjson' } });
    assert.equal(created.status, 201);
    const id = String(created.body.export.id);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await exportState(server, token, id)).state, 'queued', 'the node works no jobs');

    // Slowed to a page at a time, so it can be killed mid-way.
    const first = startWorker(server.dataDir, { EXPORT_PAGE_SIZE: '50' });
    workers.push(first);
    await first.url;
    await until('the export is under way', async () => {
      const e = await exportState(server, token, id);
      return e.state === 'running' && (e.progress as number) > 0 ? e : undefined;
    });
    first.child.kill('SIGKILL');
    await first.exited;
    const midway = await exportState(server, token, id);
    assert.equal(midway.state, 'running');
    assert.ok((midway.progress as number) < 1);

    const second = startWorker(server.dataDir);
    workers.push(second);
    const url = await second.url;
    const done = await until('the export is done', async () => {
      const e = await exportState(server, token, id);
      return e.state === 'done' ? e : undefined;
    }, 120_000);
    assert.equal(done.messages, MESSAGES);
    const res = await fetch(new URL(String(done.downloadUrl), server.url));
    const text = await res.text();
    const lines = text.trimEnd().split('\n');
    assert.equal(lines.length, MESSAGES, 'every message once: the run that was killed left nothing behind');
    assert.equal(new Set(lines.map((l) => (JSON.parse(l) as Json).seq)).size, MESSAGES);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /parley_job_runs_total\{queue="export",outcome="completed"\} 1/);
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    assert.equal((await fetch(`${url}/api/v1/me`)).status, 404, 'a worker serves no API');

    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 0, `the worker stops cleanly on SIGTERM:\n${second.output().slice(-2000)}`);
  });

  it('parley jobs reads the queues and their dead letters', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'jobs', ...args], { env: { ...process.env, DATA_DIR: server.dataDir, LOG_LEVEL: 'error' } });
        let stdout = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.on('close', (code) => resolve({ code, stdout }));
      });
    // A dead job, of a queue this node works for the test: it fails for good at once.
    const { jobs } = server.parley.services;
    let runs = 0;
    await jobs.work(
      'cli-test',
      async () => {
        runs++;
        throw new PermanentJobError('the endpoint is gone');
      },
      { concurrency: 1 },
    );
    const dead = await jobs.enqueue('cli-test', { n: 1 });
    await until('the job is dead', async () => ((await jobs.counts('cli-test')).dead === 1 ? true : undefined));
    const counts = await run(['counts']);
    assert.equal(counts.code, 0);
    const rows = counts.stdout.trim().split('\n').map((l) => JSON.parse(l) as Json);
    assert.deepEqual(rows.map((r) => r.queue).sort(), [...QUEUES].sort());
    assert.ok(rows.every((r) => typeof r.waiting === 'number' && typeof r.dead === 'number'));
    assert.equal((await run(['dead'])).code, 2, 'a queue is named');
    const listed = await run(['dead', 'cli-test']);
    assert.equal(listed.code, 0);
    const entry = JSON.parse(listed.stdout.trim()) as Json;
    assert.equal(entry.id, dead.id);
    assert.match(String(entry.error), /the endpoint is gone/);
    assert.equal((await run(['retry', 'cli-test', 'no-such-id'])).code, 1);
    assert.equal((await run(['retry', 'cli-test', dead.id])).code, 0);
    await until('it ran again', async () => (runs === 2 && (await jobs.counts('cli-test')).dead === 1 ? true : undefined));
    const purge = await run(['purge', 'cli-test']);
    assert.equal(purge.code, 0);
    assert.deepEqual(JSON.parse(purge.stdout), { queue: 'cli-test', purged: 1 });
    assert.equal((await jobs.counts('cli-test')).dead, 0);
  });
});
