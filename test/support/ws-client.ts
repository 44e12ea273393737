/**
 * A raw protocol client for tests: real WebSocket, explicit frames, every inbound frame
 * recorded. Tests of the SDK use the SDK; tests of the server's wire behaviour use this, so
 * nothing between the test and the wire hides a server mistake.
 */
import WebSocket from 'ws';
import type { Json } from './json.js';

export type Frame = Record<string, Json>;

export class WsTestClient {
  readonly ws: WebSocket;
  readonly frames: Frame[] = [];
  closeCode: number | null = null;
  closeReason = '';
  #nextId = 1;
  #waiters: Array<{ match: (f: Frame) => boolean; resolve: (f: Frame) => void }> = [];
  #closed: Promise<number>;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as Frame;
      this.frames.push(frame);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    this.#closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        resolve(code);
      }),
    );
  }

  static connect(url: string, options: { token?: string; headers?: Record<string, string>; maxPayload?: number } = {}): Promise<WsTestClient> {
    const target = options.token === undefined ? url : `${url}?token=${encodeURIComponent(options.token)}`;
    const ws = new WebSocket(target, { headers: options.headers ?? {}, maxPayload: options.maxPayload ?? 16 * 1024 * 1024 });
    const client = new WsTestClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode, body })));
      });
      ws.once('error', reject);
    });
  }

  /** Sends a request and resolves with its reply. */
  async request(frame: Frame, timeoutMs = 5000): Promise<Frame> {
    const id = this.#nextId++;
    const reply = this.waitFor((f) => f.type === 'reply' && f.id === id, timeoutMs);
    this.ws.send(JSON.stringify({ id, ...frame }));
    return reply;
  }

  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** The first frame, already received or still to come, that matches. */
  waitFor(match: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return this.#waitNew(match, timeoutMs);
  }

  /** The next frame received from now on that matches. */
  waitNext(match: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    return this.#waitNew(match, timeoutMs);
  }

  #waitNew(match: (f: Frame) => boolean, timeoutMs: number): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs);
      this.#waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  events(roomId: string): Frame[] {
    return this.frames.filter((f) => f.type === 'event' && f.roomId === roomId);
  }

  async waitForEvents(roomId: string, count: number, timeoutMs = 10_000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.events(roomId).length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} events in ${roomId}, got ${this.events(roomId).length}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.events(roomId);
  }

  closed(timeoutMs = 5000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<number>((_, reject) => {
      timer = setTimeout(() => reject(new Error('not closed in time')), timeoutMs);
    });
    // The timer cleared once settled: a long deadline must not keep the test process alive.
    return Promise.race([this.#closed, late]).finally(() => clearTimeout(timer));
  }

  close(): void {
    this.ws.close();
  }
}
