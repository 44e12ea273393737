/**
 * Slow and greedy clients against a real server: request deadlines, the connection bound, and
 * the open-file exhaustion they caused together (996 trickled POST bodies against a process
 * with 1024 open files made /healthz fail for everyone). Assertions are on outcomes (what each
 * connection was answered, whether the server serves again), never on how long anything took;
 * every wait is bounded.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseRaw, rawRequest } from '../support/raw-http.js';
import { api, registerUser, startTestServer, type TestServer } from '../support/server.js';
import { freePort } from '../support/services.js';
import { WsTestClient } from '../support/ws-client.js';

interface Outcome {
  status: number;
  code: string | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds, failing after `timeoutMs`. */
async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** `promise`, or a failure saying `what` did not happen within `timeoutMs`. */
async function within<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A client that opens a connection, sends `head` and then one byte every `intervalMs` for as long
 * as the server keeps the connection open. Resolves with what the server answered when it closes.
 */
function trickle(baseUrl: string, head: string, intervalMs: number): { done: Promise<Outcome>; socket: net.Socket } {
  const { hostname, port } = new URL(baseUrl);
  const socket = net.connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  let timer: NodeJS.Timeout | undefined;
  socket.on('connect', () => {
    socket.write(head);
    timer = setInterval(() => {
      if (socket.writable) socket.write(' ');
    }, intervalMs);
  });
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined);
  const done = new Promise<Outcome>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      const res = parseRaw(Buffer.concat(chunks).toString('utf8'));
      let code: string | null = null;
      try {
        code = (JSON.parse(res.body) as { error: { code: string } }).error.code;
      } catch {
        // No body: the connection was closed without an answer.
      }
      resolve({ status: res.status, code });
    }),
  );
  return { done, socket };
}

const slowBody = (length: number) => `POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n{`;

describe('request deadlines', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ HTTP_HEADERS_TIMEOUT_MS: 400, HTTP_REQUEST_TIMEOUT_MS: 800 });
  });
  after(async () => server.stop());

  it('regression: POST bodies trickled a byte at a time stayed open indefinitely; they are cut at HTTP_REQUEST_TIMEOUT_MS with 400 validation_failed', async () => {
    const clients = Array.from({ length: 20 }, () => trickle(server.url, slowBody(1000), 100));
    const outcomes = await within(Promise.all(clients.map((c) => c.done)), 20_000, 'the server closes the trickling connections');
    for (const outcome of outcomes) assert.deepEqual(outcome, { status: 400, code: 'validation_failed' });
    assert.equal((await api(server.url, 'GET', '/healthz')).status, 200);
  });

  it('headers that never end are cut with 400; a connection that sends nothing is closed without an answer', async () => {
    const headers = trickle(server.url, 'GET /api/v1/me HTTP/1.1\r\nHost: x\r\nX-Slow: a', 100);
    // Bytes that never finish a header line.
    assert.deepEqual(await within(headers.done, 20_000, 'the server closes the connection'), { status: 400, code: 'validation_failed' });
    const silent = net.connect(Number(new URL(server.url).port), '127.0.0.1');
    const received: Buffer[] = [];
    silent.on('data', (c: Buffer) => received.push(c));
    await within(new Promise((resolve) => silent.on('close', resolve)), 20_000, 'the server closes the silent connection');
    assert.equal(Buffer.concat(received).length, 0, 'an unused connection (a browser preconnect) gets no unasked-for answer');
  });

  it('a WebSocket outlives the request deadline many times over', async () => {
    const user = await registerUser(server.url, 'longws');
    const ws = await WsTestClient.connect(server.wsUrl, { token: user.token });
    try {
      await sleep(2_500);
      assert.equal(ws.closeCode, null);
      const pong = ws.waitNext((f) => f.type === 'pong');
      ws.sendRaw(JSON.stringify({ type: 'ping' }));
      await pong;
    } finally {
      ws.close();
    }
  });
});

describe('connection bound', () => {
  it('over HTTP_MAX_CONNECTIONS a connection is answered 503 unavailable with Retry-After; once one closes, others are served', async () => {
    const server = await startTestServer({ HTTP_MAX_CONNECTIONS: 4 });
    const held: net.Socket[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const socket = net.connect(Number(new URL(server.url).port), '127.0.0.1');
        socket.on('error', () => undefined);
        await new Promise((resolve) => socket.once('connect', resolve));
        held.push(socket);
      }
      const refused = await rawRequest(server.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      assert.equal(refused.status, 503, refused.raw);
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, 'unavailable');
      held.pop()?.destroy();
      await eventually('a freed slot serves /healthz', async () => (await rawRequest(server.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).status === 200);
    } finally {
      for (const socket of held) socket.destroy();
      await server.stop();
    }
  });
});

describe('shutting down', () => {
  it('regression: a request reaching a closing server was answered in Fastify\'s own shape; it is 503 unavailable in the error shape', async () => {
    const server = await startTestServer({});
    const socket = net.connect(Number(new URL(server.url).port), '127.0.0.1');
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString()));
    socket.on('error', () => undefined);
    try {
      await new Promise((resolve) => socket.once('connect', resolve));
      // A request in progress keeps the connection from being closed as idle; the next one on it
      // arrives after closing began.
      socket.write('POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{');
      await sleep(200);
      const closing = server.parley.http.close();
      await sleep(200);
      socket.write('}GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      await within(new Promise((resolve) => socket.once('close', resolve)), 20_000, 'the closing server answers and closes');
      await closing;
      const answers = received.split(/(?=HTTP\/1\.1 )/).map(parseRaw);
      const last = answers.at(-1);
      assert.equal(last?.status, 503, received);
      assert.deepEqual(Object.keys(JSON.parse(last?.body ?? '{}').error ?? {}).sort(), ['code', 'message']);
      assert.equal(JSON.parse(last?.body ?? '{}').error.code, 'unavailable');
      assert.equal(last?.headers['retry-after'], '1');
      for (const answer of answers) assert.ok(!('statusCode' in JSON.parse(answer.body)), `not in Fastify's shape: ${answer.body}`);
    } finally {
      socket.destroy();
      await server.stop();
    }
  });
});

// The open-file limit is per process: the server runs as its own process under a low one.
const canLimitFiles = process.platform === 'linux' && existsSync('/bin/bash') && existsSync('/proc/self/fd');

describe('open files', () => {
  let child: ChildProcess | undefined;
  let dataDir: string | undefined;
  after(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child?.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  });

  it('regression: 996 trickled POST bodies used every open file of a 1024-file process and /healthz failed for everyone; now the ones past the bound get 503, the deadline cuts the rest, and the server serves again', async (t) => {
    if (!canLimitFiles) return t.skip('needs Linux (/proc) and bash to run the server under a low open-file limit');
    // Scaled down: 300 connections against 256 open files (the bound keeps 128 for the rest).
    const FILES = 256;
    const CONNECTIONS = 300;
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    dataDir = mkdtempSync(path.join(tmpdir(), 'parley-files-'));
    const env = { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, SCRYPT_COST: '10', LOG_LEVEL: 'error', AUTH_RATE_PER_MIN: '100000', HTTP_HEADERS_TIMEOUT_MS: '1000', HTTP_REQUEST_TIMEOUT_MS: '3000' };
    const server = spawn('/bin/bash', ['-c', `ulimit -n ${FILES} && exec "${process.execPath}" --import tsx src/cli.ts start`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    child = server;
    let stderr = '';
    server.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await eventually('the server listens', async () => {
      if (server.exitCode !== null) throw new Error(`the server exited: ${stderr}`);
      return (await rawRequest(base, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n').catch(() => ({ status: 0 }))).status === 200;
    });

    const clients = [];
    for (let i = 0; i < CONNECTIONS; i++) {
      clients.push(trickle(base, slowBody(1000), 500));
      if (i % 50 === 49) await sleep(20);
    }
    await Promise.all(clients.map((c) => (c.socket.connecting ? new Promise((r) => c.socket.once('connect', r)) : undefined)));
    // Under attack the process still has descriptors to spare, and answers rather than resets.
    const open = readdirSync(`/proc/${server.pid}/fd`).length;
    assert.ok(open < FILES, `the server holds ${open} of its ${FILES} files`);
    const probe = await rawRequest(base, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.ok(probe.status === 200 || (probe.status === 503 && probe.body.includes('"unavailable"')), `healthz under attack: ${probe.raw.slice(0, 200)}`);

    const outcomes = await within(Promise.all(clients.map((c) => c.done)), 60_000, 'the server answers and closes every connection');
    const refused = outcomes.filter((o) => o.status === 503 && o.code === 'unavailable').length;
    const cut = outcomes.filter((o) => o.status === 400 && o.code === 'validation_failed').length;
    assert.equal(refused + cut, CONNECTIONS, `every connection was answered: ${JSON.stringify(outcomes.filter((o) => !(o.status === 503 || o.status === 400)).slice(0, 3))}`);
    assert.ok(refused > 0, 'the bound was reached');

    assert.equal((await api(base, 'GET', '/healthz')).status, 200);
    assert.equal((await api(base, 'GET', '/readyz')).status, 200);
    const user = await registerUser(base, 'after');
    assert.equal((await api(base, 'GET', '/api/v1/me', { token: user.token })).status, 200, 'the store and the password hash work');
    assert.equal(server.exitCode, null, 'the server is still running');
  });
});
