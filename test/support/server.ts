/** Starts a real Parley server for a test, on a free port, with its own data. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Parley, startParley } from '../../src/app.js';
import { type Config, testConfig } from '../../src/config.js';
import type { Json } from './json.js';

export interface TestServer {
  parley: Parley;
  url: string;
  wsUrl: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startTestServer(overrides: Partial<Config> = {}): Promise<TestServer> {
  const dataDir = overrides.DATA_DIR ?? mkdtempSync(path.join(tmpdir(), 'parley-test-'));
  const parley = await startParley(testConfig({ PORT: 0, DATA_DIR: dataDir, ...overrides }));
  return {
    parley,
    url: parley.url,
    wsUrl: `${parley.url.replace(/^http/, 'ws')}/ws`,
    dataDir,
    stop: async () => {
      await parley.close();
      if (overrides.DATA_DIR === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * GET a search, again until the search index had taken every event of the searched rooms
 * (`index.pending` 0: indexing runs just after the commit, off the send path), within 15 s.
 */
export async function searchFresh<T = Record<string, Json>>(base: string, route: string, token: string): Promise<ApiResponse<T>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await api<T>(base, 'GET', route, { token });
    const pending = (res.body as { index?: { pending?: number } }).index?.pending;
    if (res.status !== 200 || pending === 0 || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A REST call with an optional bearer token; the body is parsed when it is JSON. */
export async function api<T = Record<string, Json>>(
  base: string,
  method: string,
  route: string,
  options: { token?: string; body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  let body: string | Buffer | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  // Bounded: a server that stops answering fails the test with a clear error instead of hanging it.
  const res = await fetch(`${base}${route}`, {
    method,
    headers,
    body: typeof body === 'string' || body === undefined ? body : new Uint8Array(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  if (/^application\/(json|[\w.-]+\+json)\b/.test(res.headers.get('content-type') ?? '') && text !== '') parsed = JSON.parse(text);
  return { status: res.status, body: parsed as T, headers: res.headers };
}

let counter = 0;

export interface TestUser {
  id: string;
  username: string;
  token: string;
}

export async function registerUser(base: string, prefix = 'user'): Promise<TestUser> {
  const username = `${prefix}${process.pid % 10000}_${++counter}`.slice(0, 32);
  const res = await api(base, 'POST', '/api/v1/auth/register', { body: { username, password: 'correct horse battery' } });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.user.id, username, token: res.body.token };
}

export async function createRoom(base: string, user: TestUser, visibility: 'public' | 'private' = 'public', name = 'room'): Promise<string> {
  const res = await api(base, 'POST', '/api/v1/rooms', { token: user.token, body: { name, visibility } });
  if (res.status !== 201) throw new Error(`create room failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.room.id;
}
