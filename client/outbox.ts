/**
 * The outbox: sends waiting for their `ok` reply. Pure queue logic, no I/O or timers; the
 * realtime session drives it.
 *
 * Each send gets a `clientMsgId` when it enters and keeps it for life, so when a connection dies
 * before the reply, or a reply times out, the very same frame is sent again and the server's
 * idempotency (PROTOCOL.md guarantee 3) turns the repeat into the first message, never a second.
 *
 * Limits:
 * - `limit` (default 1000 sends): past it, `add` throws a `rate_limited` ParleyError at once
 *   rather than letting memory grow while the server is unreachable.
 * - `maxInFlight` (default 16 sends): at most this many are on the wire awaiting replies;
 *   the server refuses a connection's sends past its own queue depth (64) with rate_limited,
 *   so a 1000-message backlog after a reconnect is fed in windows instead.
 *
 * Order: entries are (re)sent in the order they were added. A `rate_limited` or `unavailable`
 * reply pauses the whole outbox until the wait it names has passed, and the refused entry keeps
 * its place, so the retried sends go out in their original order.
 */
import { ParleyError } from './errors.js';

export interface OutboxOptions {
  /** Most sends held, waiting or in flight. Default 1000. */
  limit?: number;
  /** Most sends on the wire at once. Default 16. */
  maxInFlight?: number;
}

export interface SendFrame {
  roomId: string;
  body: string;
  clientMsgId: string;
  /** Upload ids to attach (body may then be ''). */
  attachments?: string[];
  /** A reply in the thread of this top-level message. */
  threadRoot?: number;
}

export interface OutboxEntry<T> {
  readonly frame: SendFrame;
  /** The caller's handle for this send (the session keeps the promise's resolvers here). */
  readonly handle: T;
  /** The request id of the attempt on the wire, or null while waiting to be sent. */
  requestId: number | null;
  /** Times the frame was put on the wire. */
  attempts: number;
}

export class Outbox<T> {
  readonly limit: number;
  readonly maxInFlight: number;
  readonly #entries = new Map<string, OutboxEntry<T>>();
  #inFlight = 0;
  #pausedUntil = 0;

  constructor(options: OutboxOptions = {}) {
    this.limit = options.limit ?? 1000;
    this.maxInFlight = options.maxInFlight ?? 16;
    if (!(this.limit >= 1)) throw new RangeError('outbox limit must be >= 1');
    if (!(this.maxInFlight >= 1)) throw new RangeError('outbox maxInFlight must be >= 1');
  }

  get size(): number {
    return this.#entries.size;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Sends are held back until this time (ms since the epoch); 0 when not paused. */
  get pausedUntil(): number {
    return this.#pausedUntil;
  }

  get(clientMsgId: string): OutboxEntry<T> | undefined {
    return this.#entries.get(clientMsgId);
  }

  /** Adds a send; throws ParleyError `rate_limited` when the outbox is full. */
  add(frame: SendFrame, handle: T): OutboxEntry<T> {
    if (this.#entries.size >= this.limit) {
      throw new ParleyError('rate_limited', `The outbox is full: ${this.limit} sends are already waiting for the server.`, {
        details: { limit: this.limit },
      });
    }
    if (this.#entries.has(frame.clientMsgId)) throw new RangeError(`clientMsgId ${frame.clientMsgId} is already in the outbox`);
    const entry: OutboxEntry<T> = { frame, handle, requestId: null, attempts: 0 };
    this.#entries.set(frame.clientMsgId, entry);
    return entry;
  }

  /** The entries to put on the wire now, oldest first, within the in-flight window. */
  due(now: number): OutboxEntry<T>[] {
    if (now < this.#pausedUntil) return [];
    const due: OutboxEntry<T>[] = [];
    let room = this.maxInFlight - this.#inFlight;
    for (const entry of this.#entries.values()) {
      if (room <= 0) break;
      if (entry.requestId !== null) continue;
      due.push(entry);
      room--;
    }
    return due;
  }

  /** Records that the entry's frame went out as request `requestId`. */
  markSent(clientMsgId: string, requestId: number): void {
    const entry = this.#entries.get(clientMsgId);
    if (entry === undefined || entry.requestId !== null) return;
    entry.requestId = requestId;
    entry.attempts++;
    this.#inFlight++;
  }

  /** Removes an entry for good (acknowledged, refused, or abandoned) and returns it. */
  settle(clientMsgId: string): OutboxEntry<T> | undefined {
    const entry = this.#entries.get(clientMsgId);
    if (entry === undefined) return undefined;
    if (entry.requestId !== null) this.#inFlight--;
    this.#entries.delete(clientMsgId);
    return entry;
  }

  /** The attempt got no answer (reply timeout): the entry waits to be sent again, same clientMsgId. */
  retry(clientMsgId: string): void {
    const entry = this.#entries.get(clientMsgId);
    if (entry === undefined || entry.requestId === null) return;
    entry.requestId = null;
    this.#inFlight--;
  }

  /** The server asked to wait (rate_limited, unavailable): the entry is retried after `waitMs`, in its place. */
  pause(clientMsgId: string, waitMs: number, now: number): void {
    if (!this.#entries.has(clientMsgId)) return;
    this.retry(clientMsgId);
    this.#pausedUntil = Math.max(this.#pausedUntil, now + Math.max(0, waitMs));
  }

  /** The connection closed: every in-flight entry waits to be resent on the next one. */
  connectionLost(): void {
    for (const entry of this.#entries.values()) entry.requestId = null;
    this.#inFlight = 0;
  }

  /** Empties the outbox (the client is closing) and returns what was in it. */
  drain(): OutboxEntry<T>[] {
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    this.#inFlight = 0;
    return entries;
  }
}

/**
 * A fresh clientMsgId (UUID v4). `crypto.randomUUID` exists in Node 20 and in browsers, but
 * only in secure contexts there (https, localhost); a page served over plain http falls back to
 * `crypto.getRandomValues`, which every context has.
 */
export function newClientMsgId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = ((b[6] as number) & 0x0f) | 0x40;
  b[8] = ((b[8] as number) & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
