/**
 * A load-generating process: holds many client connections from one source address and
 * measures what arrives. Lean on purpose (no SDK, no JSON.parse per delivery) so one agent
 * process drives thousands of sockets: deliveries are recognised by scanning the frame for the
 * seq and the send timestamp carried in the body.
 */
import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';
import { io as ioClient, type Socket as IoSocket } from 'socket.io-client';
import WebSocket from 'ws';
import { Backoff } from '../client/backoff.js';
import type { AgentConnection, AgentReport, FromAgent, Target, ToAgent } from './messages.js';

const now = (): number => performance.timeOrigin + performance.now();
const send = (m: FromAgent) => process.send?.(m);

interface Conn {
  spec: AgentConnection;
  ws: WebSocket | null;
  io: IoSocket | null;
  nextId: number;
  lastSeq: Map<string, number>;
  /** When each send still unanswered left, by request id (ms, this process's clock). */
  sentAt: Map<number, number>;
}

const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
/** send → ack (the server's reply: the message committed), microseconds. */
const ackHistogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
const stats: Omit<AgentReport, 'latency' | 'ackLatency'> = { deliveries: 0, sent: 0, acked: 0, sendErrors: 0, lost: 0, duplicates: 0, outOfOrder: 0 };
let conns: Conn[] = [];
let target: Target = 'parley';
let url = '';
/** The loopback address this agent reaches the server at (the server listens on all of them). */
let serverAddress = '127.0.0.1';

/** `u` with its loopback host replaced by this agent's address of the server. */
function atServer(u: string): string {
  const at = u.replace('//127.0.0.1:', `//${serverAddress}:`);
  // Another spelling of the server's host would send every agent to one address.
  if (at === u && serverAddress !== '127.0.0.1') throw new Error(`the server URL ${u} does not name 127.0.0.1`);
  return at;
}
let presenceMode: 'full' | 'batch' | 'none' | undefined;
const counts = { presence: 0, presenceBatch: 0, frames: 0, serverCloses: 0 };
/** Close codes of the closes the server chose, and how many of each. */
const closeCodes: Record<string, number> = {};

function delivered(conn: Conn, roomId: string, seq: number, body: string): void {
  stats.deliveries++;
  const last = conn.lastSeq.get(roomId);
  if (last !== undefined) {
    if (seq === last) stats.duplicates++;
    else if (seq < last) stats.outOfOrder++;
    else if (seq > last + 1) stats.lost += seq - last - 1;
  }
  if (last === undefined || seq > last) conn.lastSeq.set(roomId, seq);
  const at = body.indexOf('t=');
  if (at >= 0) {
    const sentAt = Number.parseFloat(body.slice(at + 2));
    if (Number.isFinite(sentAt)) histogram.recordValue(Math.max(1, Math.round((now() - sentAt) * 1000)));
  }
}

const SEQ = /"seq":(\d+)/;
const ROOM = /"roomId":"([^"]+)"/;
const BODY = /"body":"t=([\d.]+)/;
const REPLY_ID = /"id":(\d+)/;

function onParleyFrame(conn: Conn, data: string): void {
  if (!data.startsWith('{"type":"event"')) {
    if (data.includes('"type":"reply"') && data.includes('"message"')) {
      stats.acked++;
      const id = REPLY_ID.exec(data);
      const sentAt = id === null ? undefined : conn.sentAt.get(Number(id[1]));
      if (sentAt !== undefined) {
        conn.sentAt.delete(Number(id?.[1]));
        ackHistogram.recordValue(Math.max(1, Math.round((now() - sentAt) * 1000)));
      }
    }
    return;
  }
  const seq = SEQ.exec(data);
  const room = ROOM.exec(data);
  const body = BODY.exec(data);
  if (seq === null || room === null) return;
  delivered(conn, room[1] as string, Number(seq[1]), body === null ? '' : `t=${body[1]}`);
}

async function openParley(conn: Conn): Promise<void> {
  const ws = new WebSocket(`${atServer(url).replace(/^http/, 'ws')}/ws?token=${encodeURIComponent(conn.spec.token)}`, { perMessageDeflate: false });
  conn.ws = ws;
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  ws.on('error', () => undefined);
  const pending = new Map<number, (data: string | null) => void>();
  ws.on('close', (code) => {
    // 1006 is our own terminate (or a dead peer); anything else was the server's decision (4009 slow consumer, 1013, …).
    if (code !== 1006) {
      counts.serverCloses++;
      closeCodes[code] = (closeCodes[code] ?? 0) + 1;
    }
    for (const done of pending.values()) done(null);
    pending.clear();
  });
  ws.on('message', (raw) => {
    const data = raw.toString();
    counts.frames++;
    if (data.startsWith('{"type":"presence')) {
      if (data.startsWith('{"type":"presence_batch"')) counts.presenceBatch++;
      else counts.presence++;
      return;
    }
    if (data.startsWith('{"type":"reply"')) {
      const id = /"id":(\d+)/.exec(data);
      const done = id === null ? undefined : pending.get(Number(id[1]));
      if (done !== undefined) {
        pending.delete(Number(id?.[1]));
        done(data);
      }
    }
    onParleyFrame(conn, data);
  });
  for (const roomId of conn.spec.rooms) {
    const id = conn.nextId++;
    const since = conn.lastSeq.get(roomId);
    const reply = await new Promise<string | null>((resolve) => {
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, type: 'subscribe', roomId, ...(since === undefined ? {} : { since }), ...(presenceMode === undefined ? {} : { presence: presenceMode }) }));
    });
    if (reply === null) throw new Error('closed before the subscribe reply');
    if (!reply.includes('"ok":true')) throw new Error(`subscribe refused: ${reply.slice(0, 200)}`);
    // Every event after the reply has a seq above its lastSeq: resume from there when nothing came since.
    const head = /"lastSeq":(\d+)/.exec(reply);
    if (head !== null && Number(head[1]) > (conn.lastSeq.get(roomId) ?? -1)) conn.lastSeq.set(roomId, Number(head[1]));
  }
}

async function openSocketIo(conn: Conn): Promise<void> {
  // Reconnection is the manager's own once a storm begins (dropSocketIo); a failed open is a failure.
  const socket = ioClient(atServer(conn.spec.url ?? url), { transports: ['websocket'], auth: { token: conn.spec.token }, reconnection: false, forceNew: true } as never);
  conn.io = socket;
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  // With recovery on, the server adds the packet's offset as a last argument (the client keeps it).
  socket.on('event', (e: { roomId: string; seq: number; body: string }) => delivered(conn, e.roomId, e.seq, e.body));
  for (const roomId of conn.spec.rooms) await socket.emitWithAck('join', roomId);
}

/** Opens every connection, `concurrency` at a time; `connectMs`: each one's upgrade, authentication and subscribes, ms. */
async function openAll(concurrency: number): Promise<{ failed: number; connectMs: number[]; error?: string }> {
  let failed = 0;
  let error: string | undefined;
  let next = 0;
  const connectMs: number[] = [];
  const worker = async () => {
    while (next < conns.length) {
      const conn = conns[next++] as Conn;
      try {
        const started = now();
        await (target === 'parley' ? openParley(conn) : openSocketIo(conn));
        connectMs.push(now() - started);
      } catch (e) {
        failed++;
        error ??= String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return error === undefined ? { failed, connectMs } : { failed, connectMs, error };
}

function sendOne(conn: Conn, roomId: string): void {
  // While its connection is down (storm), a sender does not send.
  if (target === 'parley' ? conn.ws?.readyState !== WebSocket.OPEN : conn.io?.connected !== true) return;
  const body = `t=${now().toFixed(3)}`;
  stats.sent++;
  if (target === 'parley') {
    const id = conn.nextId++;
    // Bounded: a send whose reply never came (its connection dropped) is forgotten after a while.
    if (conn.sentAt.size > 10_000) conn.sentAt.clear();
    conn.sentAt.set(id, now());
    conn.ws?.send(`{"id":${id},"type":"send","roomId":"${roomId}","body":"${body}"}`);
  } else {
    const sentAt = now();
    conn.io?.emit('send', { roomId, body }, (reply: { ok: boolean }) => {
      if (reply.ok) {
        stats.acked++;
        ackHistogram.recordValue(Math.max(1, Math.round((now() - sentAt) * 1000)));
      } else stats.sendErrors++;
    });
  }
}

function reset(): void {
  histogram.reset();
  ackHistogram.reset();
  for (const key of Object.keys(stats) as Array<keyof typeof stats>) stats[key] = 0;
}

/**
 * A storm holds the run open past its duration until the runner says every agent's clients are
 * back (`release`): the senders go on meanwhile, so each client's first events after its resume
 * show whether anything was missed.
 */
let heldOpen = false;

function run(durationMs: number, rateScale: number): Promise<void> {
  const senders = conns.filter((c) => c.spec.send !== undefined);
  const started = now();
  // Random starting credit spreads the senders over the second instead of firing together.
  const credit = new Map<Conn, number>(senders.map((c) => [c, Math.random()]));
  let last = started;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const t = now();
      const elapsed = (t - last) / 1000;
      last = t;
      for (const conn of senders) {
        const spec = conn.spec.send as { roomId: string; ratePerSec: number };
        let c = (credit.get(conn) ?? 0) + elapsed * spec.ratePerSec * rateScale;
        while (c >= 1) {
          sendOne(conn, spec.roomId);
          c--;
        }
        credit.set(conn, c);
      }
      if (t - started >= durationMs && !heldOpen) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
  });
}

/**
 * Parley: every connection drops at once; each comes back after the SDK's jittered backoff
 * (full jitter, first window `backoffInitialMs`) and resubscribes with `since`, retrying (next
 * backoff window) when the upgrade or subscribe fails.
 */
async function parleyStorm(backoffInitialMs: number): Promise<{ resumeMs: number[]; failed: number; attempts: number; error?: string }> {
  const started = now();
  for (const conn of conns) conn.ws?.terminate();
  const resumeMs: number[] = [];
  let failed = 0;
  let attempts = 0;
  let error: string | undefined;
  await Promise.all(
    conns.map(async (conn) => {
      const backoff = new Backoff({ initialMs: backoffInitialMs });
      for (let attempt = 0; attempt < 10; attempt++) {
        await new Promise((r) => setTimeout(r, backoff.next()));
        attempts++;
        try {
          await openParley(conn);
          resumeMs.push(now() - started);
          return;
        } catch (e) {
          error ??= String(e);
          conn.ws?.terminate();
        }
      }
      failed++;
    }),
  );
  return { resumeMs, failed, attempts, ...(error === undefined ? {} : { error }) };
}

/** How long a Socket.IO connection may take to come back before it counts as failed, ms. */
const SOCKET_IO_BACK_WITHIN_MS = 120_000;

/**
 * Socket.IO: every connection's transport closes at once (the server sees "transport close", a
 * disconnection it may recover); the manager reconnects after its jittered delay, uniform over
 * [0, jitterMs] (delay jitterMs / 2, randomization 1). A session the server recovered has its
 * rooms and the packets it missed; one it did not joins its rooms again, as an app does.
 */
async function socketIoStorm(jitterMs: number): Promise<{ resumeMs: number[]; failed: number; restored: number; error?: string }> {
  const started = now();
  const resumeMs: number[] = [];
  let failed = 0;
  let restored = 0;
  let error: string | undefined;
  await Promise.all(
    conns.map(async (conn) => {
      const socket = conn.io;
      if (socket === null) return;
      const back = new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), SOCKET_IO_BACK_WITHIN_MS);
        socket.once('connect', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      socket.io.reconnection(true);
      socket.io.reconnectionDelay(jitterMs / 2);
      socket.io.randomizationFactor(1);
      socket.io.engine.close();
      try {
        if (!(await back)) throw new Error(`not back within ${SOCKET_IO_BACK_WITHIN_MS} ms`);
        if (socket.recovered) restored++;
        else for (const roomId of conn.spec.rooms) await socket.timeout(30_000).emitWithAck('join', roomId);
        resumeMs.push(now() - started);
      } catch (e) {
        error ??= String(e);
        failed++;
      }
    }),
  );
  return { resumeMs, failed, restored, ...(error === undefined ? {} : { error }) };
}

/** A storm: every connection drops at once and comes back after a jittered wait. */
async function dropAndRecover(jitterMs: number): Promise<void> {
  const outcome = target === 'parley' ? { ...(await parleyStorm(jitterMs)), restored: 0 } : await socketIoStorm(jitterMs);
  send({
    type: 'recovered',
    recovered: outcome.resumeMs.length,
    failed: outcome.failed,
    recoveryMs: Math.max(0, ...outcome.resumeMs),
    resumeMs: outcome.resumeMs,
    restored: outcome.restored,
    ...(outcome.error === undefined ? {} : { error: outcome.error }),
  });
}

const progress = setInterval(() => send({ type: 'progress', deliveries: stats.deliveries, sent: stats.sent }), 1000);
progress.unref();

process.on('message', (message: ToAgent) => {
  void (async () => {
    switch (message.type) {
      case 'open': {
        target = message.target;
        url = message.url;
        serverAddress = message.serverAddress;
        presenceMode = message.presence;
        conns = message.connections.map((spec) => ({ spec, ws: null, io: null, nextId: 1, lastSeq: new Map(), sentAt: new Map() }));
        const result = await openAll(message.openConcurrency);
        send({ type: 'opened', connections: conns.length - result.failed, ...result });
        break;
      }
      case 'go':
        reset();
        await run(message.durationMs, message.rateScale);
        // Let the last deliveries arrive.
        await new Promise((r) => setTimeout(r, 1_000));
        send({ type: 'report', report: { ...stats, latency: hdr.encodeIntoCompressedBase64(histogram), ackLatency: hdr.encodeIntoCompressedBase64(ackHistogram) } });
        break;
      case 'drop':
        heldOpen = true;
        await dropAndRecover(message.jitterMs);
        break;
      case 'release':
        heldOpen = false;
        break;
      case 'storm':
        send({ type: 'stormed', ...(await parleyStorm(message.backoffInitialMs)) });
        break;
      case 'counts':
        send({ type: 'counts', ...counts, closeCodes });
        break;
      case 'stop':
        for (const conn of conns) {
          conn.ws?.terminate();
          conn.io?.disconnect();
        }
        process.exit(0);
    }
  })();
});
