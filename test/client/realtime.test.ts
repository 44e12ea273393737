/**
 * The SDK's realtime session against a real `ws` server on an ephemeral port. The peer below is
 * a small scripted speaker of PROTOCOL.md's WebSocket protocol (subscribe with replay, send with
 * clientMsgId idempotency, ping), not a model of Parley: each test scripts the misbehaviour it
 * needs (drop the connection, hold a reply, replay too much) through `hook`.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import WS, { WebSocketServer, type WebSocket as PeerSocket } from 'ws';
import { type ConnectionState, type Message, ParleyClient, type ParleyClientOptions, ParleyError, type StateChange, type StreamEvent } from '../../client/index.js';

interface Frame {
  [key: string]: unknown;
  type: string;
  id?: number;
  roomId?: string;
  since?: number;
  body?: string;
  clientMsgId?: string;
}

const ada = { id: 'u1', username: 'ada', displayName: 'Ada' };

class Peer {
  readonly http: Server;
  readonly wss: WebSocketServer;
  /** Every frame received, with the connection number it came on (1-based). */
  readonly received: Array<{ conn: number; frame: Frame }> = [];
  readonly urls: string[] = [];
  readonly sockets = new Set<PeerSocket>();
  readonly log = new Map<string, StreamEvent[]>();
  readonly subs = new Map<PeerSocket, Set<string>>();
  readonly byClientMsgId = new Map<string, Message>();
  replayLimit = 1000;
  /** Scripted behaviour: return true when the frame was handled. */
  hook: ((frame: Frame, socket: PeerSocket, conn: number) => boolean) | null = null;
  onConnection: ((socket: PeerSocket, conn: number) => void) | null = null;

  private constructor() {
    // Answers any REST call (the client's auth probe) with a plain 404.
    this.http = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'not_found', message: 'No such endpoint.' } }));
    });
    this.wss = new WebSocketServer({ server: this.http, path: '/ws' });
    this.wss.on('connection', (socket, req) => {
      this.urls.push(req.url ?? '');
      const conn = this.urls.length;
      this.sockets.add(socket);
      this.subs.set(socket, new Set());
      socket.on('close', () => {
        this.sockets.delete(socket);
        this.subs.delete(socket);
      });
      socket.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as Frame;
        this.received.push({ conn, frame });
        if (this.hook?.(frame, socket, conn) !== true) this.handle(frame, socket);
      });
      this.onConnection?.(socket, conn);
    });
  }

  static async start(port = 0): Promise<Peer> {
    const peer = new Peer();
    await new Promise<void>((resolve) => peer.http.listen(port, '127.0.0.1', resolve));
    return peer;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  get connections(): number {
    return this.urls.length;
  }

  frames(type: string): Frame[] {
    return this.received.filter((r) => r.frame.type === type).map((r) => r.frame);
  }

  events(roomId: string): StreamEvent[] {
    let events = this.log.get(roomId);
    if (events === undefined) {
      events = [];
      this.log.set(roomId, events);
    }
    return events;
  }

  /** Appends a message event to the room's stream; `broadcast: false` leaves a gap on the live path. */
  append(roomId: string, body = 'hi', options: { clientMsgId?: string; broadcast?: boolean } = {}): StreamEvent {
    const events = this.events(roomId);
    const seq = events.length + 1;
    const message: Message = {
      roomId,
      seq,
      id: `m${roomId}${seq}`,
      author: ada,
      body,
      createdAt: new Date(0).toISOString(),
      editedAt: null,
      deleted: false,
      clientMsgId: options.clientMsgId ?? null,
    };
    const event: StreamEvent = { type: 'event', roomId, seq, kind: 'message', message, user: ada, createdAt: message.createdAt };
    events.push(event);
    if (options.clientMsgId !== undefined) this.byClientMsgId.set(options.clientMsgId, message);
    if (options.broadcast !== false) {
      for (const [socket, rooms] of this.subs) if (rooms.has(roomId)) write(socket, event);
    }
    return event;
  }

  /** The protocol's default behaviour for each request. */
  handle(frame: Frame, socket: PeerSocket): void {
    const roomId = frame.roomId ?? '';
    switch (frame.type) {
      case 'ping':
        return write(socket, { type: 'pong' });
      case 'subscribe': {
        const events = this.events(roomId);
        const lastSeq = events.length;
        let recovered = true;
        if (frame.since !== undefined) {
          if (lastSeq - frame.since > this.replayLimit) recovered = false;
          else for (const event of events.slice(frame.since)) write(socket, event);
        }
        this.subs.get(socket)?.add(roomId);
        return reply(socket, frame, { lastSeq, recovered, online: [ada.id] });
      }
      case 'unsubscribe':
        this.subs.get(socket)?.delete(roomId);
        return reply(socket, frame, {});
      case 'send': {
        const clientMsgId = frame.clientMsgId;
        const existing = clientMsgId === undefined ? undefined : this.byClientMsgId.get(clientMsgId);
        const message = existing ?? (this.append(roomId, frame.body, clientMsgId === undefined ? {} : { clientMsgId }).message as Message);
        return reply(socket, frame, { message });
      }
      case 'edit':
      case 'delete':
      case 'read':
        return reply(socket, frame, frame.type === 'edit' ? { message: { ...this.events(roomId)[0]?.message, body: frame.body } } : {});
    }
  }

  dropAll(): void {
    for (const socket of this.sockets) socket.terminate();
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

function write(socket: PeerSocket, frame: object): void {
  socket.send(JSON.stringify(frame));
}

function reply(socket: PeerSocket, request: Frame, fields: Record<string, unknown>): void {
  write(socket, { type: 'reply', id: request.id, ok: true, ...fields });
}

function replyError(socket: PeerSocket, request: Frame, code: string, message: string, details?: Record<string, unknown>): void {
  write(socket, { type: 'reply', id: request.id, ok: false, error: { code, message, ...(details === undefined ? {} : { details }) } });
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Per-test resources, released after each test even when it fails.
let peer: Peer | null = null;
let client: ParleyClient | null = null;

afterEach(async () => {
  await client?.close();
  await peer?.stop();
  client = null;
  peer = null;
});

interface Harness {
  peer: Peer;
  client: ParleyClient;
  delivered: StreamEvent[];
  states: StateChange[];
  seqs(roomId?: string): number[];
}

async function setup(options: Partial<ParleyClientOptions> = {}): Promise<Harness> {
  peer = await Peer.start();
  client = new ParleyClient({
    baseUrl: peer.baseUrl,
    token: 'tok en',
    WebSocket: WS,
    requestTimeoutMs: 1000,
    backoff: { initialMs: 5, maxMs: 20 },
    ...options,
  });
  const delivered: StreamEvent[] = [];
  const states: StateChange[] = [];
  client.on('event', (e) => delivered.push(e));
  client.on('state', (s) => states.push(s));
  return { peer, client, delivered, states, seqs: (roomId = 'a') => delivered.filter((e) => e.roomId === roomId).map((e) => e.seq) };
}

const isCode = (code: string) => (e: unknown) => e instanceof ParleyError && e.code === code;
const stateNames = (states: StateChange[]): ConnectionState[] => states.map((s) => s.state);

describe('realtime session against a scripted ws peer', () => {
  it('connects to /ws with the token and correlates replies by id, whatever their order', async () => {
    const h = await setup();
    h.peer.append('a');
    for (let i = 0; i < 4; i++) h.peer.append('b');
    // Holds the reply to the first subscribe until the second one was answered.
    let held: (() => void) | null = null;
    h.peer.hook = (frame, socket) => {
      if (frame.type === 'subscribe' && frame.roomId === 'a') {
        held = () => h.peer.handle(frame, socket);
        return true;
      }
      if (frame.type === 'subscribe' && frame.roomId === 'b') {
        h.peer.handle(frame, socket);
        held?.();
        return true;
      }
      return false;
    };
    await h.client.connect();
    assert.equal(h.peer.urls[0], '/ws?token=tok+en');
    const [a, b] = await Promise.all([h.client.subscribe('a'), h.client.subscribe('b')]);
    assert.deepEqual(a, { lastSeq: 1, recovered: true, online: ['u1'], onlineCount: 1, onlineComplete: true });
    assert.deepEqual(b, { lastSeq: 4, recovered: true, online: ['u1'], onlineCount: 1, onlineComplete: true });
    assert.deepEqual(
      h.peer.frames('subscribe').map((f) => f.presence),
      [undefined, undefined],
      'the SDK asks for nothing but the default (a server of an earlier release knows no other field)',
    );
    const ids = h.peer.frames('subscribe').map((f) => f.id);
    assert.equal(new Set(ids).size, 2);
    const edited = await h.client.edit('a', 1, 'changed');
    assert.equal(edited.body, 'changed');
    assert.deepEqual(stateNames(h.states), ['connecting', 'open']);
  });

  it('rejects a request that gets no reply within the timeout with unavailable', async () => {
    const h = await setup({ requestTimeoutMs: 80 });
    h.peer.hook = (frame) => frame.type === 'edit';
    await h.client.connect();
    const started = Date.now();
    await assert.rejects(h.client.edit('a', 1, 'x'), isCode('unavailable'));
    assert.ok(Date.now() - started >= 75);
    await h.client.markRead('a', 1); // The connection is still usable.
  });

  it('reconnects after a drop and resubscribes with since = last seq, so the replay fills the hole', async () => {
    const h = await setup();
    await h.client.connect();
    await h.client.subscribe('a');
    for (let i = 0; i < 3; i++) h.peer.append('a');
    await waitUntil(() => h.delivered.length === 3, 'three live events');
    // Two events are committed while the client is away: before its resubscribe is handled.
    h.peer.hook = (frame, _socket, conn) => {
      if (frame.type === 'subscribe' && conn === 2 && h.peer.events('a').length === 3) {
        h.peer.append('a');
        h.peer.append('a');
      }
      return false;
    };
    h.peer.dropAll();
    await waitUntil(() => h.delivered.length === 5, 'the replayed events');
    const resubscribe = h.peer.received.find((r) => r.conn === 2 && r.frame.type === 'subscribe');
    assert.equal(resubscribe?.frame.since, 3);
    assert.deepEqual(h.seqs(), [1, 2, 3, 4, 5]);
    assert.equal(h.client.lastSeq('a'), 5);
    h.peer.append('a');
    await waitUntil(() => h.delivered.length === 6, 'a live event after the resume');
    const names = stateNames(h.states);
    assert.deepEqual(names.slice(0, 2), ['connecting', 'open']);
    assert.ok(names.indexOf('reconnecting') > 1 && names.lastIndexOf('open') > names.indexOf('reconnecting'));
    assert.equal(h.states.find((s) => s.state === 'reconnecting')?.closeCode, 1006);
  });

  it('drops the duplicates of a replay that repeats delivered events', async () => {
    const h = await setup();
    await h.client.connect();
    await h.client.subscribe('a');
    for (let i = 0; i < 3; i++) h.peer.append('a');
    await waitUntil(() => h.delivered.length === 3, 'three events');
    // A replay from far too early, then a live event repeated too.
    h.peer.hook = (frame, socket) => {
      if (frame.type !== 'subscribe') return false;
      for (const event of h.peer.events('a')) write(socket, event);
      h.peer.subs.get(socket)?.add('a');
      reply(socket, frame, { lastSeq: h.peer.events('a').length, recovered: true, online: [] });
      write(socket, h.peer.events('a')[3] as StreamEvent);
      return true;
    };
    h.peer.dropAll();
    h.peer.append('a');
    await waitUntil(() => h.peer.connections === 2, 'the reconnect');
    await sleep(50);
    assert.deepEqual(h.seqs(), [1, 2, 3, 4]);
  });

  it('repairs a gap in the live stream by resubscribing with since', async () => {
    const h = await setup();
    await h.client.connect();
    await h.client.subscribe('a');
    h.peer.append('a');
    h.peer.append('a', 'lost on the way', { broadcast: false });
    h.peer.append('a');
    await waitUntil(() => h.delivered.length === 3, 'the repaired stream');
    assert.deepEqual(h.seqs(), [1, 2, 3]);
    assert.deepEqual(h.peer.frames('subscribe').map((f) => f.since), [undefined, 1]);
    assert.equal(h.peer.connections, 1);
  });

  it('emits recovery_needed when the server cannot replay, then continues from its lastSeq', async () => {
    const h = await setup();
    const notices: unknown[] = [];
    h.client.on('recovery_needed', (n) => notices.push(n));
    await h.client.connect();
    await h.client.subscribe('a');
    h.peer.append('a');
    await waitUntil(() => h.delivered.length === 1, 'one event');
    h.peer.replayLimit = 2;
    h.peer.dropAll();
    for (let i = 0; i < 5; i++) h.peer.append('a');
    await waitUntil(() => notices.length === 1, 'recovery_needed');
    assert.deepEqual(notices, [{ roomId: 'a', since: 1, lastSeq: 6 }]);
    h.peer.append('a');
    await waitUntil(() => h.delivered.length === 2, 'the next live event');
    assert.deepEqual(h.seqs(), [1, 7]);
  });

  it('resends an unacked send after a drop with the same clientMsgId, and the message is stored once', async () => {
    const h = await setup();
    await h.client.connect();
    // The first send is stored, then the connection dies before its reply leaves.
    h.peer.hook = (frame, socket, conn) => {
      if (frame.type !== 'send' || conn !== 1) return false;
      h.peer.append(frame.roomId ?? '', frame.body, { clientMsgId: frame.clientMsgId as string });
      socket.terminate();
      return true;
    };
    const message = await h.client.send('a', 'hello');
    const sends = h.peer.frames('send');
    assert.equal(sends.length, 2);
    assert.equal(typeof sends[0]?.clientMsgId, 'string');
    assert.equal(sends[1]?.clientMsgId, sends[0]?.clientMsgId);
    assert.notEqual(sends[1]?.id, sends[0]?.id);
    assert.equal(message.seq, 1);
    assert.equal(message.clientMsgId, sends[0]?.clientMsgId);
    assert.equal(h.peer.events('a').length, 1);
  });

  it('queues sends made before connect() and sends them, in order, once open', async () => {
    const h = await setup();
    const sent = [h.client.send('a', 'one'), h.client.send('a', 'two')];
    await h.client.connect();
    const messages = await Promise.all(sent);
    assert.deepEqual(messages.map((m) => [m.seq, m.body]), [[1, 'one'], [2, 'two']]);
  });

  it('retries a rate_limited send after retryAfterMs; rejects validation_failed without retrying', async () => {
    const h = await setup();
    let refused = 0;
    h.peer.hook = (frame, socket) => {
      if (frame.type !== 'send') return false;
      if (frame.body === 'bad') {
        replyError(socket, frame, 'validation_failed', 'body: too long', { field: 'body' });
        return true;
      }
      if (refused++ === 0) {
        replyError(socket, frame, 'rate_limited', 'Too many requests; slow down.', { retryAfterMs: 60 });
        return true;
      }
      return false;
    };
    await h.client.connect();
    const started = Date.now();
    const message = await h.client.send('a', 'ok');
    assert.ok(Date.now() - started >= 55, 'waited retryAfterMs');
    assert.equal(message.body, 'ok');
    const [first, second] = h.peer.frames('send');
    assert.equal(second?.clientMsgId, first?.clientMsgId);
    await assert.rejects(h.client.send('a', 'bad'), (e: unknown) => isCode('validation_failed')(e) && (e as ParleyError).details?.field === 'body');
    await sleep(80);
    assert.equal(h.peer.frames('send').filter((f) => f.body === 'bad').length, 1);
  });

  it('rejects a send at once when the outbox is full', async () => {
    const h = await setup({ outbox: { limit: 2 } });
    void h.client.send('a', '1').catch(() => {});
    void h.client.send('a', '2').catch(() => {});
    await assert.rejects(h.client.send('a', '3'), isCode('rate_limited'));
  });

  it('stops for good on close code 1008: state closed, no reconnect, waiting sends rejected', async () => {
    const h = await setup();
    h.peer.hook = (frame, socket) => {
      if (frame.type !== 'send') return false;
      socket.close(1008, 'session revoked');
      return true;
    };
    await h.client.connect();
    const sending = h.client.send('a', 'hello');
    await assert.rejects(sending, isCode('unauthorized'));
    const last = h.states.at(-1);
    assert.equal(last?.state, 'closed');
    assert.equal(last?.closeCode, 1008);
    assert.equal(last?.reason, 'session revoked');
    await sleep(150);
    assert.equal(h.peer.connections, 1);
    assert.equal(h.client.state, 'closed');
  });

  it('replaces a connection that stops answering pings, but keeps one that answers', async () => {
    const h = await setup({ pingIntervalMs: 20, pongTimeoutMs: 40 });
    await h.client.connect();
    await sleep(150);
    assert.equal(h.peer.connections, 1, 'pongs keep the connection');
    assert.ok(h.peer.frames('ping').length >= 3);
    h.peer.hook = (frame) => frame.type === 'ping';
    await waitUntil(() => h.peer.connections >= 2, 'a new connection');
    assert.equal(h.states.find((s) => s.state === 'reconnecting')?.reason, 'no answer to ping');
  });

  it('close() rejects waiting requests and sends, is idempotent, and never reconnects', async () => {
    const h = await setup();
    h.peer.hook = (frame) => frame.type === 'edit' || frame.type === 'send';
    await h.client.connect();
    const editing = h.client.edit('a', 1, 'x');
    const sending = h.client.send('a', 'y');
    await waitUntil(() => h.peer.frames('send').length === 1, 'the send on the wire');
    const rejected = Promise.all([assert.rejects(editing, isCode('unavailable')), assert.rejects(sending, isCode('unavailable'))]);
    const closing = h.client.close();
    assert.equal(h.client.close(), closing);
    await closing;
    await rejected;
    await sleep(50);
    assert.equal(h.peer.connections, 1);
    assert.equal(h.client.state, 'closed');
  });

  it('rejects a refused subscribe and does not resubscribe that room after a reconnect', async () => {
    const h = await setup();
    h.peer.hook = (frame, socket) => {
      if (frame.type !== 'subscribe' || frame.roomId !== 'secret') return false;
      replyError(socket, frame, 'not_found', 'No such room.');
      return true;
    };
    await h.client.connect();
    await assert.rejects(h.client.subscribe('secret'), isCode('not_found'));
    await h.client.subscribe('a');
    h.peer.dropAll();
    await waitUntil(() => h.peer.received.some((r) => r.conn === 2 && r.frame.type === 'subscribe'), 'the resubscribe');
    await sleep(30);
    assert.deepEqual(h.peer.received.filter((r) => r.conn === 2 && r.frame.type === 'subscribe').map((r) => r.frame.roomId), ['a']);
  });

  it('passes typing, presence, read and membership notices through', async () => {
    const h = await setup();
    const seen: string[] = [];
    for (const type of ['typing', 'presence', 'read', 'room_added', 'room_removed'] as const) h.client.on(type, (e) => seen.push(e.type));
    h.peer.onConnection = (socket) => {
      write(socket, { type: 'typing', roomId: 'a', user: ada });
      write(socket, { type: 'presence', roomId: 'a', userId: 'u2', online: true });
      write(socket, { type: 'read', roomId: 'a', seq: 3 });
      write(socket, { type: 'room_added', room: { id: 'b', name: 'b', visibility: 'public', topic: '', createdAt: '', lastSeq: 0 } });
      write(socket, { type: 'room_removed', roomId: 'b' });
    };
    await h.client.connect();
    await waitUntil(() => seen.length === 5, 'five notices');
    assert.deepEqual(seen, ['typing', 'presence', 'read', 'room_added', 'room_removed']);
    h.client.typing('a');
    await waitUntil(() => h.peer.frames('typing').length === 1, 'the typing notice');
    assert.deepEqual(h.peer.frames('typing')[0], { type: 'typing', roomId: 'a' });
  });

  it('tells a presence_batch as one presence event per change, then the batch itself', async () => {
    const h = await setup({ presence: 'batch' });
    const seen: string[] = [];
    h.client.on('presence', (e) => seen.push(`${e.userId}:${e.online}`));
    h.client.on('presence_batch', (e) => seen.push(`batch:${e.onlineCount}`));
    h.peer.onConnection = (socket) => {
      write(socket, { type: 'presence_batch', roomId: 'a', online: ['u2', 'u3'], offline: ['u4'], onlineCount: 7 });
    };
    await h.client.connect();
    await waitUntil(() => seen.length === 4, 'four notices');
    assert.deepEqual(seen, ['u2:true', 'u3:true', 'u4:false', 'batch:7']);
    h.peer.append('a');
    await h.client.subscribe('a');
    assert.deepEqual(
      h.peer.frames('subscribe').map((f) => f.presence),
      ['batch'],
    );
  });

  it('keeps retrying while the server is down and resolves connect() once it is up', async () => {
    const h = await setup();
    const { port } = h.peer.http.address() as AddressInfo;
    await h.peer.stop();
    const connecting = h.client.connect();
    await waitUntil(() => h.states.filter((s) => s.state === 'reconnecting').length >= 2, 'failed attempts');
    // Up again on the same port, so the client's URL reaches it.
    peer = await Peer.start(port);
    await connecting;
    assert.equal(h.client.state, 'open');
  });

  it('retryNow() reconnects at once instead of waiting out the backoff, and does nothing while open', async () => {
    const h = await setup({ backoff: { initialMs: 60_000, maxMs: 60_000 } });
    await h.client.connect();
    h.client.retryNow();
    assert.equal(h.peer.connections, 1, 'an open session is left alone');
    h.peer.dropAll();
    await waitUntil(() => h.client.state === 'reconnecting', 'waiting to reconnect');
    h.client.retryNow();
    await waitUntil(() => h.client.state === 'open', 'reconnected without the wait');
    assert.equal(h.peer.connections, 2);
  });
});

describe('realtime session: an upgrade that is never answered', () => {
  it('gives up on it after the request timeout and tries again', async () => {
    // Accepts TCP connections and never answers the HTTP upgrade.
    const sockets = new Set<import('node:net').Socket>();
    const hung = (await import('node:net')).createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const port = (hung.address() as AddressInfo).port;
    const client = new ParleyClient({ baseUrl: `http://127.0.0.1:${port}`, token: 't', WebSocket: WS as never, requestTimeoutMs: 200, backoff: { initialMs: 10, maxMs: 20 } });
    const reasons: string[] = [];
    client.on('state', (change) => {
      if (change.state === 'reconnecting') reasons.push(change.reason ?? '');
    });
    const connecting = client.connect().catch((error: unknown) => error);
    const deadline = Date.now() + 5_000;
    while (reasons.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await client.close();
    await connecting;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => hung.close(() => resolve()));
    assert.ok(reasons.length >= 2, `reconnect attempts: ${reasons.length}`);
    assert.ok(reasons.every((r) => r === 'the connection did not open in time'), reasons.join(', '));
    assert.ok(sockets.size >= 2, 'each attempt opened a new TCP connection');
  });
});
