/**
 * The WebSocket session: one connection at a time, kept alive and resumed.
 *
 * - Requests carry an integer `id` unique for the session's life, so a late reply from an old
 *   connection can never be taken for the answer to a new request. Each has a timeout; a request
 *   still waiting when its connection closes is rejected (`unavailable`), except sends, which
 *   live in the outbox and are resent with the same clientMsgId.
 * - An application-level ping every `pingIntervalMs`; if no frame at all arrives within
 *   `pongTimeoutMs` after it, the connection is taken as dead (a half-open TCP connection shows
 *   no close for minutes) and replaced. Any frame counts as a sign of life, since a pong queued
 *   behind a burst of events arrives late on a healthy connection.
 * - Reconnects with jittered backoff after any close but an explicit close() and 1008 (policy:
 *   origin refused or session revoked: retrying with the same credentials cannot succeed).
 *   The backoff resets only after a connection stayed open `STABLE_MS`, so a server that
 *   accepts and drops at once (overloaded, 1013) is not hammered at the initial delay.
 * - After each (re)connect every room is subscribed again with `since` = last seq delivered, and
 *   the stream tracker drops the duplicates of the replay; a gap triggers a resubscribe.
 */
import type { Message, PresenceBatchEvent, Reply, ServerFrame, StreamEvent } from '../src/protocol/wire.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import type { Emitter } from './emitter.js';
import { clientClosed, ParleyError } from './errors.js';
import type { ConnectionState, ParleyEvents, StateChange, SubscribeResult } from './events.js';
import { newClientMsgId, Outbox, type OutboxOptions } from './outbox.js';
import { StreamTracker } from './stream-tracker.js';
import { type WebSocketConstructor, type WebSocketLike, WS_OPEN } from './websocket.js';
import { CLOSE } from '../src/protocol/catalogue.js';

/** A connection open this long proves the server healthy again: the backoff starts over. */
const STABLE_MS = 5000;
/** Wait before retrying a subscribe or send the server refused as transient without saying how long. */
const DEFAULT_RETRY_MS = 1000;
/** The close code the client uses when it drops a connection that stopped answering. */
const DEAD_CONNECTION = 4000;
/** Longest close() waits for the socket's close handshake. */
const CLOSE_WAIT_MS = 1000;


/** What a send may carry besides its text. */
export interface SendOptions {
  /** Ids of the caller's uploads to this room (RestClient.uploadFile), attached in this order. */
  attachments?: string[];
  /** Send it as a reply in the thread of this top-level message (its seq). */
  threadRoot?: number;
}

export interface RealtimeOptions {
  /** The socket URL, read at each attempt (the token may have changed). */
  url: () => string;
  WebSocket: WebSocketConstructor | undefined;
  events: Emitter<ParleyEvents>;
  /** Per-request reply timeout in ms. */
  requestTimeoutMs: number;
  /** Interval of application pings, in ms. */
  pingIntervalMs: number;
  /** How long after a ping the connection may stay silent before it is replaced, in ms. */
  pongTimeoutMs: number;
  backoff?: BackoffOptions;
  outbox?: OutboxOptions;
  /** What subscriptions hear of presence (the subscribe frame's `presence`). */
  presence: 'full' | 'batch' | 'none';
  /**
   * Asked when an attempt failed before the socket opened (a browser cannot see the upgrade's
   * 401): resolves to an error when the session is known to be invalid, null otherwise.
   */
  checkAuth?: () => Promise<ParleyError | null>;
}

type OkReply = Extract<Reply, { ok: true }>;
type RequestBody = Record<string, unknown> & { type: string };

interface Deferred<T> {
  resolve(value: T): void;
  reject(error: ParleyError): void;
}

interface Pending {
  reply(frame: Reply): void;
  timeout(): void;
  /** The connection closed before the reply. */
  lost(): void;
  timer: ReturnType<typeof setTimeout>;
}

interface Queued {
  body: RequestBody;
  deferred: Deferred<OkReply>;
  /** The request's timeout covers the wait for the connection too. */
  deadline: number;
  timer: ReturnType<typeof setTimeout>;
}

export class RealtimeSession {
  readonly #options: RealtimeOptions;
  readonly #events: Emitter<ParleyEvents>;
  readonly #backoff: Backoff;
  readonly #tracker = new StreamTracker();
  readonly #outbox: Outbox<Deferred<Message>>;
  /** Requests on the wire, by id. */
  readonly #pending = new Map<number, Pending>();
  /** Requests made while no connection was open, sent when one opens. */
  readonly #queued = new Set<Queued>();
  /** subscribe() calls waiting for their room's first successful reply. */
  readonly #waiters = new Map<string, Deferred<SubscribeResult>[]>();
  /** Timers that belong to the current connection, cleared when it closes. */
  readonly #connectionTimers = new Set<ReturnType<typeof setTimeout>>();
  #state: ConnectionState = 'closed';
  #ws: WebSocketLike | null = null;
  #nextId = 1;
  #connecting: { promise: Promise<void>; deferred: Deferred<void> } | null = null;
  #closing: Promise<void> | null = null;
  #reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  #pingTimer: ReturnType<typeof setInterval> | null = null;
  #pongTimer: ReturnType<typeof setTimeout> | null = null;
  #pumpTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: RealtimeOptions) {
    this.#options = options;
    this.#events = options.events;
    this.#backoff = new Backoff(options.backoff);
    this.#outbox = new Outbox(options.outbox);
  }

  get state(): ConnectionState {
    return this.#state;
  }

  lastSeq(roomId: string): number | undefined {
    return this.#tracker.lastSeq(roomId);
  }

  // Lifecycle

  connect(): Promise<void> {
    if (this.#state === 'open') return Promise.resolve();
    if (this.#connecting !== null) return this.#connecting.promise;
    if (this.#options.WebSocket === undefined) {
      return Promise.reject(new TypeError("No WebSocket implementation: pass the `WebSocket` option (in Node 20: `import WebSocket from 'ws'`)."));
    }
    let deferred!: Deferred<void>;
    const promise = new Promise<void>((resolve, reject) => {
      deferred = { resolve, reject };
    });
    this.#connecting = { promise, deferred };
    this.#closing = null;
    this.#setState({ state: 'connecting' });
    this.#open();
    return promise;
  }

  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    const ws = this.#ws;
    this.#closing = new Promise<void>((resolve) => {
      if (ws === null || ws.readyState > WS_OPEN) return resolve();
      const done = setTimeout(resolve, CLOSE_WAIT_MS);
      ws.onclose = () => {
        clearTimeout(done);
        resolve();
      };
    });
    this.#stop({ state: 'closed', closeCode: 1000, reason: 'closed by the client' }, clientClosed(), 1000);
    return this.#closing;
  }

  /**
   * While waiting to reconnect, tries again now instead of at the end of the backoff wait (a
   * person pressing "retry"). Does nothing in any other state.
   */
  retryNow(): void {
    if (this.#state !== 'reconnecting' || this.#reconnectTimer === null) return;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#open();
  }

  // Rooms

  subscribe(roomId: string, since?: number): Promise<SubscribeResult> {
    this.#tracker.track(roomId, since);
    const promise = new Promise<SubscribeResult>((resolve, reject) => {
      const list = this.#waiters.get(roomId) ?? [];
      list.push({ resolve, reject });
      this.#waiters.set(roomId, list);
    });
    if (this.#state === 'open' && !this.#tracker.isSubscribing(roomId)) this.#subscribeRoom(roomId);
    return promise;
  }

  async unsubscribe(roomId: string): Promise<void> {
    this.#tracker.remove(roomId);
    this.#settleWaiters(roomId, new ParleyError('unavailable', `Unsubscribed from ${roomId} before the subscription completed.`));
    if (this.#state !== 'open') return;
    await this.request({ type: 'unsubscribe', roomId });
  }

  // Messages

  send(roomId: string, body: string, options: SendOptions = {}): Promise<Message> {
    return new Promise<Message>((resolve, reject) => {
      const frame = {
        roomId,
        body,
        clientMsgId: newClientMsgId(),
        ...(options.attachments !== undefined && options.attachments.length > 0 ? { attachments: [...options.attachments] } : {}),
        ...(options.threadRoot === undefined ? {} : { threadRoot: options.threadRoot }),
      };
      // Throws rate_limited synchronously when full: the promise rejects at once.
      this.#outbox.add(frame, { resolve, reject });
      this.#pump();
    });
  }

  /** Sends a notice that gets no reply; dropped when not connected (typing is ephemeral). */
  notify(body: RequestBody): void {
    if (this.#state === 'open') this.#write(body);
  }

  /**
   * Sends a request and resolves with its ok reply. Made while (re)connecting, it waits for the
   * connection, within the same timeout; after close() it fails at once.
   */
  request(body: RequestBody, timeoutMs = this.#options.requestTimeoutMs): Promise<OkReply> {
    return new Promise<OkReply>((resolve, reject) => {
      const deferred: Deferred<OkReply> = { resolve, reject };
      if (this.#state === 'open') {
        this.#sendRequest(body, timeoutMs, plainCallbacks(body, timeoutMs, deferred));
        return;
      }
      if (this.#connecting === null) {
        reject(new ParleyError('unavailable', 'The client is not connected: call connect() first.'));
        return;
      }
      const queued: Queued = {
        body,
        deferred,
        deadline: Date.now() + timeoutMs,
        timer: setTimeout(() => {
          this.#queued.delete(queued);
          reject(new ParleyError('unavailable', `No connection within ${timeoutMs} ms for ${body.type}.`));
        }, timeoutMs),
      };
      this.#queued.add(queued);
    });
  }

  // Connection

  #open(): void {
    const WebSocketImpl = this.#options.WebSocket as WebSocketConstructor;
    let ws: WebSocketLike;
    try {
      ws = new WebSocketImpl(this.#options.url());
    } catch (error) {
      const failure = new ParleyError('validation_failed', `The WebSocket could not be created: ${String(error)}`, { cause: error });
      this.#stop({ state: 'closed', error: failure }, failure);
      return;
    }
    this.#ws = ws;
    let opened = false;
    ws.onopen = () => {
      if (this.#ws !== ws) return;
      opened = true;
      this.#onOpen();
    };
    ws.onmessage = (event) => {
      if (this.#ws === ws) this.#onFrame(event.data);
    };
    ws.onclose = (event) => {
      if (this.#ws === ws) this.#onClose(event.code, event.reason, opened);
    };
    // Errors are always followed by a close; the handler must stay set (ws throws on an unhandled 'error').
    ws.onerror = () => {};
    // An upgrade that is never answered (a server accepting TCP but hung, a proxy holding the
    // request) must not stall the session: give up on it and try again.
    this.#later(this.#options.requestTimeoutMs, () => {
      if (this.#ws === ws && !opened) this.#replaceDeadConnection('the connection did not open in time');
    });
  }

  #onOpen(): void {
    const deferred = this.#connecting?.deferred;
    this.#connecting = null;
    this.#setState({ state: 'open' });
    this.#later(STABLE_MS, () => this.#backoff.reset());
    this.#pingTimer = setInterval(() => this.#ping(), this.#options.pingIntervalMs);
    for (const roomId of this.#tracker.rooms()) this.#subscribeRoom(roomId);
    for (const queued of [...this.#queued]) {
      this.#queued.delete(queued);
      clearTimeout(queued.timer);
      const left = Math.max(1, queued.deadline - Date.now());
      this.#sendRequest(queued.body, left, plainCallbacks(queued.body, left, queued.deferred));
    }
    this.#pump();
    deferred?.resolve();
  }

  #onClose(code: number, reason: string, opened: boolean): void {
    this.#dropConnection();
    if (code === CLOSE.policy) {
      const error = new ParleyError('unauthorized', `The server closed the connection by policy: ${reason || 'origin refused or session revoked'}.`, { source: 'ws' });
      this.#stop({ state: 'closed', closeCode: code, reason, error }, error);
      return;
    }
    this.#scheduleReconnect(code, reason);
    if (!opened && this.#options.checkAuth !== undefined) {
      const timer = this.#reconnectTimer;
      this.#options.checkAuth().then(
        (error) => {
          // Only if nothing happened meanwhile: the same wait for the same reconnect.
          if (error !== null && this.#reconnectTimer === timer && this.#state === 'reconnecting') {
            this.#stop({ state: 'closed', closeCode: code, reason, error }, error);
          }
        },
        () => {},
      );
    }
  }

  #scheduleReconnect(code: number, reason: string): void {
    const delay = this.#backoff.next();
    this.#setState({ state: 'reconnecting', closeCode: code, reason, retryInMs: delay });
    this.#connecting ??= makeConnecting();
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this.#open();
    }, delay);
  }

  /** Forgets the current socket and everything tied to it; the session's own state stays. */
  #dropConnection(): void {
    const ws = this.#ws;
    this.#ws = null;
    if (ws !== null) {
      ws.onopen = null;
      ws.onmessage = null;
      if (this.#closing === null) ws.onclose = null;
      ws.onerror = () => {};
    }
    if (this.#pingTimer !== null) clearInterval(this.#pingTimer);
    if (this.#pongTimer !== null) clearTimeout(this.#pongTimer);
    if (this.#pumpTimer !== null) clearTimeout(this.#pumpTimer);
    this.#pingTimer = this.#pongTimer = this.#pumpTimer = null;
    for (const timer of this.#connectionTimers) clearTimeout(timer);
    this.#connectionTimers.clear();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.lost();
    }
    this.#tracker.connectionLost();
    this.#outbox.connectionLost();
  }

  /** Ends the session for good (until the next connect()): everything waiting fails with `error`. */
  #stop(change: StateChange, error: ParleyError, closeCode?: number): void {
    const ws = this.#ws;
    this.#dropConnection();
    if (ws !== null && ws.readyState <= WS_OPEN) {
      try {
        ws.close(closeCode ?? 1000, change.reason);
      } catch {
        // Already closing.
      }
    }
    if (this.#reconnectTimer !== null) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    const connecting = this.#connecting;
    this.#connecting = null;
    for (const queued of this.#queued) {
      clearTimeout(queued.timer);
      queued.deferred.reject(error);
    }
    this.#queued.clear();
    for (const entry of this.#outbox.drain()) entry.handle.reject(error);
    for (const roomId of [...this.#waiters.keys()]) this.#settleWaiters(roomId, error);
    this.#setState(change);
    connecting?.deferred.reject(error);
  }

  #setState(change: StateChange): void {
    if (change.state === 'closed' && this.#state === 'closed') return;
    this.#state = change.state;
    this.#events.emit('state', change);
  }

  #later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#connectionTimers.delete(timer);
      fn();
    }, ms);
    this.#connectionTimers.add(timer);
  }

  // Heartbeat

  #ping(): void {
    if (this.#state !== 'open') return;
    this.#write({ type: 'ping' });
    this.#pongTimer ??= setTimeout(() => {
      this.#pongTimer = null;
      this.#replaceDeadConnection();
    }, this.#options.pongTimeoutMs);
  }

  #replaceDeadConnection(reason = 'no answer to ping'): void {
    const ws = this.#ws;
    this.#dropConnection();
    try {
      // A close handshake cannot complete on a dead connection: `ws` offers terminate() to drop
      // the socket now; the browser's close() gives the socket up on its own.
      const terminable = ws as (WebSocketLike & { terminate?: () => void }) | null;
      if (typeof terminable?.terminate === 'function') terminable.terminate();
      else ws?.close(DEAD_CONNECTION, reason);
    } catch {
      // Already closing.
    }
    this.#scheduleReconnect(1006, reason);
  }

  // Frames

  #write(frame: Record<string, unknown>): boolean {
    const ws = this.#ws;
    if (ws === null || ws.readyState !== WS_OPEN) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Puts a request on the wire (the connection is open) and returns its id. */
  #sendRequest(body: RequestBody, timeoutMs: number, callbacks: Omit<Pending, 'timer'>): number {
    const id = this.#nextId++;
    const pending: Pending = {
      ...callbacks,
      timer: setTimeout(() => {
        if (this.#pending.delete(id)) callbacks.timeout();
      }, timeoutMs),
    };
    this.#pending.set(id, pending);
    this.#write({ id, ...body });
    return id;
  }

  #onFrame(data: unknown): void {
    if (this.#pongTimer !== null) {
      clearTimeout(this.#pongTimer);
      this.#pongTimer = null;
    }
    let frame: ServerFrame;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data)) as ServerFrame;
    } catch {
      return; // Not JSON: nothing in the protocol can be done with it.
    }
    if (typeof frame !== 'object' || frame === null) return;
    switch (frame.type) {
      case 'reply': {
        if (typeof frame.id !== 'number') return;
        const pending = this.#pending.get(frame.id);
        if (pending === undefined) return; // Timed out already.
        this.#pending.delete(frame.id);
        clearTimeout(pending.timer);
        pending.reply(frame);
        return;
      }
      case 'event':
        return this.#onStreamEvent(frame);
      case 'room_removed':
        this.#tracker.remove(frame.roomId);
        this.#settleWaiters(frame.roomId, new ParleyError('forbidden', `No longer a member of ${frame.roomId}.`, { source: 'ws' }));
        this.#events.emit('room_removed', frame);
        return;
      case 'presence_batch':
        return this.#onPresenceBatch(frame);
      case 'notification':
        this.#events.emit('notification', frame);
        return;
      case 'notifications_read':
        this.#events.emit('notifications_read', frame);
        return;
      case 'typing':
      case 'presence':
      case 'read':
      case 'room_added':
      case 'user_updated':
        // TS cannot narrow the emitted pair through a union case; each branch is exact.
        return this.#emitNotice(frame);
      case 'pong':
        return;
    }
  }

  #emitNotice(frame: Extract<ServerFrame, { type: 'typing' | 'presence' | 'read' | 'room_added' | 'user_updated' }>): void {
    if (frame.type === 'typing') this.#events.emit('typing', frame);
    else if (frame.type === 'presence') this.#events.emit('presence', frame);
    else if (frame.type === 'read') this.#events.emit('read', frame);
    else if (frame.type === 'user_updated') this.#events.emit('user_updated', frame);
    else this.#events.emit('room_added', frame);
  }

  /** A batch is also told as one `presence` event per change, so listeners of those hear every change. */
  #onPresenceBatch(frame: PresenceBatchEvent): void {
    if (!Array.isArray(frame.online) || !Array.isArray(frame.offline)) return;
    for (const userId of frame.online) this.#events.emit('presence', { type: 'presence', roomId: frame.roomId, userId, online: true });
    for (const userId of frame.offline) this.#events.emit('presence', { type: 'presence', roomId: frame.roomId, userId, online: false });
    this.#events.emit('presence_batch', frame);
  }

  #onStreamEvent(event: StreamEvent): void {
    switch (this.#tracker.accept(event)) {
      case 'deliver':
        this.#events.emit('event', event);
        return;
      case 'gap':
        // A subscribe in flight replays from the last delivered seq: it repairs this gap too.
        if (!this.#tracker.isSubscribing(event.roomId)) this.#subscribeRoom(event.roomId);
        return;
      case 'duplicate':
      case 'unsubscribed':
        return;
    }
  }

  // Subscriptions

  #subscribeRoom(roomId: string): void {
    const since = this.#tracker.beginSubscribe(roomId);
    const presence = this.#options.presence;
    const body: RequestBody = {
      type: 'subscribe',
      roomId,
      ...(since === undefined ? {} : { since }),
      ...(presence === 'full' ? {} : { presence }),
    };
    this.#sendRequest(body, this.#options.requestTimeoutMs, {
      reply: (frame) => {
        if (!frame.ok) return this.#subscribeRefused(roomId, ParleyError.fromWire(frame.error, 'ws'));
        const lastSeq = typeof frame.lastSeq === 'number' ? frame.lastSeq : 0;
        const outcome = this.#tracker.subscribed(roomId, { lastSeq, recovered: frame.recovered !== false });
        if (outcome === undefined) return; // Unsubscribed meanwhile.
        if (!outcome.recovered) this.#events.emit('recovery_needed', { roomId, since: outcome.since, lastSeq: outcome.lastSeq });
        const online = Array.isArray(frame.online) ? frame.online.filter((u): u is string => typeof u === 'string') : [];
        const onlineCount = typeof frame.onlineCount === 'number' ? frame.onlineCount : online.length;
        this.#settleWaiters(roomId, { lastSeq: outcome.lastSeq, recovered: outcome.recovered, online, onlineCount, onlineComplete: Array.isArray(frame.online) });
      },
      timeout: () => {
        this.#tracker.subscribeFailed(roomId);
        if (this.#tracker.has(roomId)) this.#subscribeRoom(roomId);
      },
      lost: () => {},
    });
  }

  #subscribeRefused(roomId: string, error: ParleyError): void {
    this.#tracker.subscribeFailed(roomId);
    if (isTransient(error)) {
      this.#later(error.retryAfterMs ?? DEFAULT_RETRY_MS, () => {
        if (this.#tracker.has(roomId) && !this.#tracker.isSubscribing(roomId)) this.#subscribeRoom(roomId);
      });
      return;
    }
    this.#tracker.remove(roomId);
    this.#settleWaiters(roomId, error);
    this.#events.emit('subscription_lost', { roomId, error });
  }

  #settleWaiters(roomId: string, outcome: SubscribeResult | ParleyError): void {
    const waiters = this.#waiters.get(roomId);
    if (waiters === undefined) return;
    this.#waiters.delete(roomId);
    for (const w of waiters) {
      if (outcome instanceof ParleyError) w.reject(outcome);
      else w.resolve(outcome);
    }
  }

  // Outbox

  /** Puts the outbox's due sends on the wire, and arranges to come back when it is paused. */
  #pump(): void {
    if (this.#state !== 'open') return;
    const now = Date.now();
    for (const entry of this.#outbox.due(now)) {
      const { clientMsgId } = entry.frame;
      const id = this.#sendRequest({ type: 'send', ...entry.frame }, this.#options.requestTimeoutMs, {
        reply: (frame) => this.#onSendReply(clientMsgId, frame),
        timeout: () => {
          // No answer: the same frame again; the server's idempotency makes the repeat harmless.
          this.#outbox.retry(clientMsgId);
          this.#pump();
        },
        lost: () => {},
      });
      this.#outbox.markSent(clientMsgId, id);
    }
    const paused = this.#outbox.pausedUntil - now;
    if (paused > 0 && this.#outbox.size > this.#outbox.inFlight && this.#pumpTimer === null) {
      this.#pumpTimer = setTimeout(() => {
        this.#pumpTimer = null;
        this.#pump();
      }, paused);
    }
  }

  #onSendReply(clientMsgId: string, frame: Reply): void {
    if (frame.ok) {
      const entry = this.#outbox.settle(clientMsgId);
      entry?.handle.resolve(frame.message as Message);
    } else {
      const error = ParleyError.fromWire(frame.error, 'ws');
      if (isTransient(error)) {
        this.#outbox.pause(clientMsgId, error.retryAfterMs ?? DEFAULT_RETRY_MS, Date.now());
      } else {
        this.#outbox.settle(clientMsgId)?.handle.reject(error);
      }
    }
    this.#pump();
  }
}

/** Refusals that say "not now" rather than "no": retried after the wait they name. */
function isTransient(error: ParleyError): boolean {
  return error.code === 'rate_limited' || error.code === 'unavailable';
}

function plainCallbacks(body: RequestBody, timeoutMs: number, deferred: Deferred<OkReply>): Omit<Pending, 'timer'> {
  return {
    reply: (frame) => (frame.ok ? deferred.resolve(frame) : deferred.reject(ParleyError.fromWire(frame.error, 'ws'))),
    timeout: () => deferred.reject(new ParleyError('unavailable', `No reply to ${body.type} within ${timeoutMs} ms.`)),
    lost: () => deferred.reject(new ParleyError('unavailable', `The connection closed before the reply to ${body.type}.`)),
  };
}

function makeConnecting(): { promise: Promise<void>; deferred: Deferred<void> } {
  let deferred!: Deferred<void>;
  const promise = new Promise<void>((resolve, reject) => {
    deferred = { resolve, reject };
  });
  // Nobody may be awaiting a reconnect: an unobserved rejection must not crash Node.
  promise.catch(() => {});
  return { promise, deferred };
}
