/**
 * Helpers of the benchmarks that run one node in their own process (bench/pipeline.ts,
 * bench/analytics.ts): batches of calls, WebSockets with request/reply, and histograms read
 * from /metrics.
 */
import WebSocket from 'ws';
import type { Parley } from '../src/app.js';
import { parseMetrics, type Sample } from '../test/support/metrics.js';
import { call } from './rest.js';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `f` over `items`, `width` at a time. */
export async function inBatches<T, R>(items: T[], width: number, f: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += width) out.push(...(await Promise.all(items.slice(i, i + width).map((item, j) => f(item, i + j)))));
  return out;
}

export async function openSocket(parley: Parley, token: string): Promise<WebSocket> {
  const ws = new WebSocket(`${parley.url.replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(token)}`, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  ws.on('error', () => undefined);
  return ws;
}

/** Sends one request frame and resolves with its reply. */
export function request(ws: WebSocket, pending: Map<number, (reply: Record<string, unknown>) => void>, id: number, frame: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    pending.set(id, resolve);
    ws.send(JSON.stringify({ id, ...frame }));
  });
}

/** The value under which a share `q` of a histogram's observations fall, interpolated within its bucket. */
export function bucketQuantile(buckets: Array<{ le: number; count: number }>, q: number): number {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (!Number.isFinite(b.le)) return lower;
      return lower + ((b.le - lower) * (rank - below)) / Math.max(1, b.count - below);
    }
    lower = b.le;
    below = b.count;
  }
  return lower;
}

/** A histogram's cumulative bucket counts, by upper bound. */
export function histogramBuckets(samples: Sample[], metric: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const s of samples) if (s.name === `${metric}_bucket`) out.set(s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le), s.value);
  return out;
}

export async function scrape(parley: Parley): Promise<Sample[]> {
  return parseMetrics(await (await fetch(`${parley.url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text());
}

export interface SubscribedRoom {
  roomId: string;
  /** Tokens of the members who receive (each with a subscribed socket) and of those who send. */
  members: string[];
  senders: string[];
  /** Message events the members' sockets received so far. */
  delivered(): number;
}

/**
 * A public room of `members` receivers, each with a WebSocket subscribed to it (presence off)
 * counting the message events it receives, and `senders` more members who only send. Every
 * socket opened is added to `sockets`, for the caller to close whatever happens.
 */
export async function subscribedRoom(parley: Parley, options: { name: string; members: number; senders: number; sockets: WebSocket[] }): Promise<SubscribedRoom> {
  const url = parley.url;
  const stamp = Date.now().toString(36);
  const register = (name: string) => call(url, 'POST', '/auth/register', null, { username: `${name}${stamp}`, password: 'bench password 1' }).then((r) => r.token as string);
  const owner = await register('owner');
  const members = await inBatches(Array.from({ length: options.members }), 20, (_, i) => register(`m${i}_`));
  const senders = await inBatches(Array.from({ length: options.senders }), 20, (_, i) => register(`s${i}_`));
  const roomId = ((await call(url, 'POST', '/rooms', owner, { name: options.name, visibility: 'public' })).room as { id: string }).id;
  await inBatches([...members, ...senders], 50, (token) => call(url, 'POST', `/rooms/${roomId}/join`, token));
  let delivered = 0;
  await inBatches(members, 50, async (token) => {
    const ws = await openSocket(parley, token);
    options.sockets.push(ws);
    const pending = new Map<number, (reply: Record<string, unknown>) => void>();
    ws.on('message', (raw) => {
      const data = raw.toString();
      if (data.startsWith('{"type":"event"')) {
        if (data.includes('"kind":"message"')) delivered++;
      } else if (data.startsWith('{"type":"reply"')) {
        const frame = JSON.parse(data) as { id: number };
        pending.get(frame.id)?.(frame);
        pending.delete(frame.id);
      }
    });
    const reply = await request(ws, pending, 1, { type: 'subscribe', roomId, presence: 'none' });
    if (reply.ok !== true) throw new Error(`subscribe refused: ${JSON.stringify(reply)}`);
  });
  return { roomId, members, senders, delivered: () => delivered };
}
