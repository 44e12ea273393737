/**
 * One client WebSocket: its user and session, its subscriptions, and its outgoing queue.
 *
 * Outgoing frames are queued and written once per event-loop turn (write-scheduler.ts), as
 * prebuilt frames written straight to the TCP socket. When the kernel stops taking a socket's
 * bytes and what is left unsent passes `slowConsumerBytes`, the client is too slow to keep up:
 * the connection is closed with 4009 rather than letting its backlog grow the heap, and the
 * client reconnects and resumes from its last seq.
 */
import type { Socket } from 'node:net';
import type { RawData, WebSocket } from 'ws';
import { type Bucket, type BucketRule, fullBucket, take } from '../core/token-bucket.js';
import type { UserRecord } from '../domain/types.js';
import { CLOSE } from '../errors.js';
import { type Framed, frameText } from './frame.js';
import { countSocketWrite, type Flushable, scheduleFlush } from './write-scheduler.js';

export interface ConnectionOptions {
  slowConsumerBytes: number;
  frameRule: BucketRule;
  onSlowConsumer(conn: Connection): void;
}

const SETTLED: Promise<void> = Promise.resolve();

export class Connection implements Flushable {
  readonly id: string;
  readonly user: UserRecord;
  readonly tokenHash: string;
  /** Rooms this connection is subscribed to, or subscribing to, with the claim of that subscribe (RoomHub.claim). */
  readonly rooms = new Map<string, number>();
  /** Cleared by each heartbeat ping, set by the pong. */
  alive = true;
  /** Serializes sends, edits and deletes so one connection's messages are stored in the order sent. */
  lane: Promise<void> = SETTLED;
  laneDepth = 0;
  /** Requests read and not yet answered. */
  inflight = 0;
  /** False once a shutdown stopped reading its frames. */
  reading = true;
  /** When its session expires (epoch ms): the heartbeat closes it then with 1008. */
  expiresAt = Number.POSITIVE_INFINITY;
  /**
   * False until the session was checked again after the user's channel was subscribed (a logout
   * racing the upgrade could otherwise go unnoticed); frames wait in `held` until then.
   */
  confirmed = false;
  held: Array<{ data: RawData; isBinary: boolean }> = [];
  heldBytes = 0;

  readonly #ws: WebSocket;
  readonly #socket: Socket;
  readonly #options: ConnectionOptions;
  readonly #frames: Bucket;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #closed = false;

  constructor(id: string, ws: WebSocket, user: UserRecord, tokenHash: string, options: ConnectionOptions) {
    this.id = id;
    this.#ws = ws;
    // ws keeps the TCP socket as _socket: writing prebuilt frames to it directly is what lets
    // one frame serve every socket and a turn's frames leave in one syscall.
    this.#socket = (ws as unknown as { _socket: Socket })._socket;
    this.user = user;
    this.tokenHash = tokenHash;
    this.#options = options;
    this.#frames = fullBucket(options.frameRule, Date.now());
  }

  get isOpen(): boolean {
    return !this.#closed && this.#ws.readyState === this.#ws.OPEN;
  }

  /** Unsent bytes: our queue and the socket's. */
  get backlog(): number {
    return this.#queuedBytes + this.#socket.writableLength;
  }

  /** Counts one inbound frame against the connection's rate; false when over it. */
  takeFrame(): boolean {
    return take(this.#frames, this.#options.frameRule, Date.now()).allowed;
  }

  /** Queues a prebuilt frame; returns false if the connection is closed (or just got closed as slow). */
  write(framed: Framed): boolean {
    if (!this.isOpen) return false;
    if (this.#isSlow(framed.size)) {
      this.#options.onSlowConsumer(this);
      this.close(CLOSE.slowConsumer, 'slow consumer: resume with since');
      return false;
    }
    this.#queue.push(framed.header, framed.payload);
    this.#queuedBytes += framed.size;
    scheduleFlush(this);
    return true;
  }

  /**
   * A consumer is slow when the kernel has stopped taking its bytes (the socket holds some) and
   * what it holds plus our queue passes the limit. A burst to a client that keeps up (replies,
   * a full replay) only fills our queue for one turn; it is bounded separately, at eight times the limit.
   */
  #isSlow(size: number): boolean {
    const refused = this.#socket.writableLength;
    const queued = this.#queuedBytes + size;
    if (refused > 0) return refused + queued > this.#options.slowConsumerBytes;
    return queued > 8 * this.#options.slowConsumerBytes;
  }

  writeJson(frame: object): boolean {
    return this.write(frameText(JSON.stringify(frame)));
  }

  flush(): void {
    if (this.#queue.length === 0) return;
    const queue = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    if (!this.isOpen) return;
    this.#socket.cork();
    for (const buffer of queue) this.#socket.write(buffer);
    this.#socket.uncork();
    countSocketWrite();
  }

  /** Sends what is queued, then the close frame. Idempotent. */
  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#ws.close(code, reason);
    // A connection paused by a shutdown must read again to see the client's close frame (frames
    // read from now on are ignored: the connection is no longer open).
    if (this.#ws.isPaused) this.#ws.resume();
  }

  terminate(): void {
    this.#closed = true;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#ws.terminate();
  }

  ping(): void {
    if (this.isOpen) this.#ws.ping();
  }

  /**
   * Stops reading frames (shutdown): what was read is still answered; the rest is never acted on.
   * ws may still emit frames it had already buffered: those are ignored too (`reading` is false),
   * so nothing can be stored after the drain that waits for the answers has ended.
   */
  stopReading(): void {
    this.reading = false;
    if (this.isOpen) this.#ws.pause();
  }
}
