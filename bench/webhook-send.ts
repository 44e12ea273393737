/**
 * Does a dead webhook endpoint slow a room? The same sends, one at a time over a WebSocket, to a
 * room without a webhook, to a room whose webhook answers at once, and to a room whose webhook
 * never answers (every delivery waits for its deadline, then retries): the send latency of
 * each, measured in one run.
 *
 *   npx tsx bench/webhook-send.ts [--sends 2000] [--out FILE]
 *
 * The server runs in this process on its embedded store, as `parley start` would.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { startParley } from '../src/app.js';
import { testConfig } from '../src/config.js';

const { values } = parseArgs({ options: { sends: { type: 'string', default: '2000' }, out: { type: 'string' } } });
const sends = Number(values.sends);

const hanging: ServerResponse[] = [];
let delivered = 0;
const receiver = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.url === '/dead') hanging.push(res);
    else {
      delivered++;
      res.writeHead(204).end();
    }
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

const dir = mkdtempSync(path.join(tmpdir(), 'parley-bench-hooks-'));
const parley = await startParley(
  testConfig({ PORT: 0, DATA_DIR: dir, SEND_RATE_PER_SEC: 1_000_000, SEND_BURST: 1_000_000, FRAME_RATE_PER_SEC: 1_000_000, FRAME_BURST: 1_000_000, WEBHOOK_ALLOW_PRIVATE: true, WEBHOOK_TIMEOUT_MS: 10_000, SCRYPT_COST: 10 }),
);
const call = async (method: string, route: string, token: string | null, body?: unknown) => {
  const res = await fetch(`${parley.url}${route}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return (await res.json()) as Record<string, Record<string, unknown>> & { token?: string };
};
const token = String((await call('POST', '/api/v1/auth/register', null, { username: 'bench_hooks', password: 'correct horse battery' })).token);
const room = async (name: string, hook: string | null) => {
  const id = String((await call('POST', '/api/v1/rooms', token, { name, visibility: 'private' })).room?.id);
  if (hook !== null) await call('POST', `/api/v1/rooms/${id}/webhooks`, token, { url: `${receiverUrl}${hook}` });
  return id;
};
const rooms = { none: await room('none', null), live: await room('live', '/live'), dead: await room('dead', '/dead') };
process.stderr.write(`rooms ready: ${JSON.stringify(rooms)}\n`);

const ws = new WebSocket(`${parley.url.replace('http', 'ws')}/ws?token=${encodeURIComponent(token)}`);
await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
ws.on('close', (code) => {
  if (!closing) {
    process.stderr.write(`the connection closed: ${code}\n`);
    process.exit(1);
  }
});
let closing = false;
const waiting = new Map<number, () => void>();
ws.on('message', (data) => {
  const frame = JSON.parse(data.toString()) as { type: string; id?: number; error?: unknown };
  if (frame.id !== undefined) {
    if (frame.type !== 'reply' || frame.error !== undefined) process.stderr.write(`unexpected answer: ${data.toString().slice(0, 300)}\n`);
    waiting.get(frame.id)?.();
  }
});
let nextId = 1;
const send = (roomId: string, body: string) =>
  new Promise<void>((resolve) => {
    const id = nextId++;
    waiting.set(id, () => {
      waiting.delete(id);
      resolve();
    });
    ws.send(JSON.stringify({ id, type: 'send', roomId, body }));
  });

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
async function measure(roomId: string) {
  const times: number[] = [];
  for (let i = 0; i < sends; i++) {
    const t = performance.now();
    await send(roomId, `message ${i}`);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50Ms: Number(percentile(times, 50).toFixed(2)), p99Ms: Number(percentile(times, 99).toFixed(2)) };
}

// Warm up, then the three rooms in turn, twice, interleaved: the machine's noise falls on all.
await measure(rooms.none);
process.stderr.write('warmed up\n');
const runs: Record<string, Array<{ p50Ms: number; p99Ms: number }>> = { none: [], live: [], dead: [] };
for (let round = 0; round < 2; round++) {
  for (const name of ['none', 'live', 'dead'] as const) {
    runs[name]?.push(await measure(rooms[name]));
    process.stderr.write(`round ${round + 1}: ${name} ${JSON.stringify(runs[name]?.at(-1))}\n`);
  }
}
const best = (name: string) => {
  const list = runs[name] ?? [];
  return { p50Ms: Math.min(...list.map((r) => r.p50Ms)), p99Ms: Math.min(...list.map((r) => r.p99Ms)) };
};
const result = {
  sends,
  noWebhook: best('none'),
  liveWebhook: best('live'),
  deadWebhook: best('dead'),
  deliveriesToLiveEndpoint: delivered,
  deliveriesHangingAtEnd: hanging.length,
  ratioDeadToNone: { p50: Number((best('dead').p50Ms / best('none').p50Ms).toFixed(2)), p99: Number((best('dead').p99Ms / best('none').p99Ms).toFixed(2)) },
};
console.log(JSON.stringify(result, null, 2));
if (values.out !== undefined) writeFileSync(values.out, `${JSON.stringify(result, null, 2)}\n`);

closing = true;
ws.close();
for (const res of hanging) res.destroy();
receiver.closeAllConnections();
receiver.close();
await parley.close();
rmSync(dir, { recursive: true, force: true });
