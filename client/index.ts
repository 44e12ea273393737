/**
 * The Parley client SDK, for browsers and Node (pure ESM; no Node-only import anywhere in
 * client/, so a bundler can target the browser).
 *
 * ```ts
 * // Node 20
 * import WebSocket from 'ws';
 * const client = new ParleyClient({ baseUrl: 'http://localhost:3000', token, WebSocket });
 * // Browser (same origin, session cookie from login)
 * const client = new ParleyClient({ baseUrl: location.origin });
 *
 * client.on('event', (e) => render(e));
 * await client.connect();
 * await client.subscribe(roomId);
 * await client.send(roomId, 'hello');
 * ```
 *
 * It completes the server's delivery guarantee on the client side: the last seq per room is
 * remembered, connections are re-established with jittered exponential backoff, rooms are
 * resubscribed with `since` so missed events are replayed, duplicates are dropped, gaps are
 * repaired, and unacknowledged sends are resent with the same `clientMsgId`.
 */
import type { Message } from '../src/protocol/wire.js';
import type { BackoffOptions } from './backoff.js';
import { Emitter, type Listener } from './emitter.js';
import { ParleyError } from './errors.js';
import type { ConnectionState, ParleyEvents, SubscribeResult } from './events.js';
import { RealtimeSession, type SendOptions } from './realtime.js';
import { type FetchLike, RestClient } from './rest.js';
import { type WebSocketConstructor, webSocketUrl } from './websocket.js';

export type { AdminCreateUserInput, AdminRequest, AdminRoomPage, AdminRoomQuery, AdminUserPage, AdminUserQuery, AdminUserState, ServerAuditPage } from './admin.js';
export { AdminClient, isServerRoleRefusal } from './admin.js';
export type { BackoffOptions } from './backoff.js';
export { Backoff } from './backoff.js';
export { ERROR_STATUS, ParleyError, type ErrorSource } from './errors.js';
export type { ConnectionState, ParleyEvents, RecoveryNeeded, StateChange, SubscribeResult, SubscriptionLost } from './events.js';
export type { OutboxOptions } from './outbox.js';
export type { SendOptions } from './realtime.js';
export { applyEvent } from './fold.js';
export type { AuditPage, CreateRoomInput, FetchLike, FollowedThreadsQuery, HistoryPage, HistoryQuery, Member, MemberPage, NotificationPage, NotificationQuery, PageQuery, ProfileInput, RestrictionInput, SearchQuery, Session, ThreadQuery, UnreadNotifications } from './rest.js';
export { RestClient } from './rest.js';
export { StreamTracker, type Verdict } from './stream-tracker.js';
export type { WebSocketConstructor, WebSocketLike } from './websocket.js';
export type * from '../src/protocol/wire.js';

export interface ParleyClientOptions {
  /**
   * The server's HTTP origin, with a path prefix if it is mounted under one, e.g.
   * `https://chat.example.com`. The socket URL is derived from it (`wss://chat.example.com/ws`).
   * Default in a browser: `location.origin`; required in Node.
   */
  baseUrl?: string;
  /**
   * The session token from register or login. Sent as `Authorization: Bearer` over REST and as
   * `?token=` on the socket. Leave it out in a browser to use the HttpOnly session cookie.
   */
  token?: string | null;
  /**
   * The WebSocket constructor. Default: the global `WebSocket` (browsers). Node 20 has none:
   * pass `ws`'s default export.
   */
  WebSocket?: WebSocketConstructor;
  /** The fetch implementation for REST calls. Default: the global fetch. */
  fetch?: FetchLike;
  /** Timeout of each REST request, WebSocket request and WebSocket opening, in ms; past it: ParleyError `unavailable` (a socket that does not open is replaced). Default 10 000. */
  requestTimeoutMs?: number;
  /** Reconnect backoff (full jitter): initialMs 500, maxMs 30 000, factor 2 by default. */
  backoff?: BackoffOptions;
  /** Interval of application-level pings, in ms. Default 25 000. */
  pingIntervalMs?: number;
  /** Silence after a ping, in ms, after which the connection is dropped and replaced. Default 10 000. */
  pongTimeoutMs?: number;
  /**
   * Sends waiting for their acknowledgement: at most `limit` (default 1000; past it send()
   * rejects at once with `rate_limited`), at most `maxInFlight` on the wire (default 16).
   */
  outbox?: { limit?: number; maxInFlight?: number };
  /**
   * What subscriptions hear of presence. `full` (the default): one `presence` frame per change
   * and the full online list. `batch` (recommended for rooms of thousands, with a server that
   * offers it): a room's changes arrive together once per short window (`presence_batch`, also
   * emitted as one `presence` event per change), and the subscribe result of a large room
   * carries the online count, not the list (`onlineComplete: false`). `none`: no presence.
   */
  presence?: 'full' | 'batch' | 'none';
}

/** A Parley client: the REST API and a self-healing realtime session. */
export class ParleyClient {
  /** Every REST call of the protocol (accounts, rooms, history, search…), sharing this client's token. */
  readonly rest: RestClient;
  readonly #events = new Emitter<ParleyEvents>();
  readonly #session: RealtimeSession;
  readonly #baseUrl: string;

  /**
   * Creates a client; nothing is connected until {@link ParleyClient.connect}.
   * @throws TypeError when no baseUrl is given outside a browser.
   */
  constructor(options: ParleyClientOptions = {}) {
    const baseUrl = options.baseUrl ?? (typeof location === 'undefined' ? undefined : location.origin);
    if (baseUrl === undefined) throw new TypeError('ParleyClient needs a baseUrl outside a browser.');
    this.#baseUrl = baseUrl;
    const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    const restOptions: ConstructorParameters<typeof RestClient>[0] = { baseUrl, token: options.token ?? null, requestTimeoutMs, seen: (roomId) => this.#session.lastSeq(roomId) };
    if (options.fetch !== undefined) restOptions.fetch = options.fetch;
    this.rest = new RestClient(restOptions);
    const WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    this.#session = new RealtimeSession({
      url: () => webSocketUrl(this.#baseUrl, this.rest.token),
      WebSocket: WebSocketImpl,
      events: this.#events,
      requestTimeoutMs,
      pingIntervalMs: options.pingIntervalMs ?? 25_000,
      pongTimeoutMs: options.pongTimeoutMs ?? 10_000,
      presence: options.presence ?? 'full',
      ...(options.backoff === undefined ? {} : { backoff: options.backoff }),
      ...(options.outbox === undefined ? {} : { outbox: options.outbox }),
      checkAuth: () => this.#checkAuth(),
    });
  }

  /** The realtime session's state. */
  get state(): ConnectionState {
    return this.#session.state;
  }

  /**
   * Sets the session token (after login or register) for REST calls and the next socket
   * connection; null falls back to the cookie. An open socket keeps the credentials it was
   * opened with: call close() then connect() to switch users on it.
   */
  setToken(token: string | null): void {
    this.rest.token = token;
  }

  /**
   * Opens the realtime session. Resolves once a connection is open (retrying with backoff until
   * then); rejects with a ParleyError if the client is closed first: by close(), by a 1008
   * close, or because the session proved invalid. Calling it again while connecting or open
   * returns the same wait. After close(), connect() starts again and resumes the subscriptions.
   */
  connect(): Promise<void> {
    return this.#session.connect();
  }

  /**
   * Closes the realtime session for good (no reconnect). Requests and sends still waiting
   * reject with `unavailable`. The subscription set and last seqs are kept, so a later connect()
   * resumes them. Idempotent: a second call returns the same promise.
   */
  close(): Promise<void> {
    return this.#session.close();
  }

  /**
   * While the session waits to reconnect (state `reconnecting`), tries at once rather than at the
   * end of the backoff wait: for a "retry now" button. Does nothing in any other state.
   */
  retryNow(): void {
    this.#session.retryNow();
  }

  /**
   * Subscribes to a room's stream, now and after every reconnect, until unsubscribe().
   * Resolves with the first successful subscribe reply (waiting for the connection if needed);
   * rejects when the server refuses for good (`forbidden`, `not_found`…; the room is then
   * dropped) or the client closes. Transient refusals and timeouts are retried.
   * @param since The last seq the application already holds (from REST history, say): the
   *   server replays every event after it. Ignored if the client already tracks the room.
   */
  subscribe(roomId: string, options: { since?: number } = {}): Promise<SubscribeResult> {
    return this.#session.subscribe(roomId, options.since);
  }

  /** Stops following a room and forgets its position. */
  unsubscribe(roomId: string): Promise<void> {
    return this.#session.unsubscribe(roomId);
  }

  /**
   * Sends a message. It gets a fresh `clientMsgId` and waits in the outbox (across reconnects;
   * the same frame is resent, so it is stored once) until the server acknowledges it as durable.
   * Resolves with the stored message. Rejects with the server's error when refused
   * (`validation_failed`, `forbidden`…; `rate_limited` and `unavailable` are retried after the
   * wait they name), with `rate_limited` at once when the outbox is full, and with `unavailable`
   * when the client is closed first.
   */
  send(roomId: string, body: string, options: SendOptions = {}): Promise<Message> {
    return this.#session.send(roomId, body, options);
  }

  /** Edits one of the caller's messages; resolves with the edited message. */
  async edit(roomId: string, seq: number, body: string): Promise<Message> {
    const reply = await this.#session.request({ type: 'edit', roomId, seq, body });
    return reply.message as Message;
  }

  /** Deletes a message (author or room owner); it becomes a tombstone. */
  async delete(roomId: string, seq: number): Promise<void> {
    await this.#session.request({ type: 'delete', roomId, seq });
  }

  /** Moves the caller's read marker in the room forward to `seq`. */
  async markRead(roomId: string, seq: number): Promise<void> {
    await this.#session.request({ type: 'read', roomId, seq });
  }

  /**
   * Adds the caller's reaction `emoji` (one emoji, or a `:shortcode:`) to message `seq`: a
   * `reaction_added` event. Idempotent: reacting so again succeeds and appends nothing. A
   * deleted message is `not_found`; a new emoji past the server's per-message bound is
   * `conflict` with `details.reason` `too_many_reactions`.
   */
  async react(roomId: string, seq: number, emoji: string): Promise<void> {
    await this.#session.request({ type: 'react', roomId, seq, emoji });
  }

  /** Takes back the caller's reaction: a `reaction_removed` event (none, and success, when there was no such reaction). */
  async unreact(roomId: string, seq: number, emoji: string): Promise<void> {
    await this.#session.request({ type: 'unreact', roomId, seq, emoji });
  }

  /** Tells the room's other subscribers the user is typing. Fire and forget; dropped while disconnected. */
  typing(roomId: string): void {
    this.#session.notify({ type: 'typing', roomId });
  }

  /** The seq of the last event delivered for a room, or undefined before the first. */
  lastSeq(roomId: string): number | undefined {
    return this.#session.lastSeq(roomId);
  }

  /**
   * Listens to an event; returns the function that stops listening.
   * - `event`: a room stream event (message, edit, delete, member_joined, member_left,
   *   reaction_added, reaction_removed, and the moderation kinds: room_updated, member_kicked,
   *   member_banned, member_unbanned, member_muted, member_unmuted, member_role_changed), in seq
   *   order, deduplicated, gapless per subscription. Thread replies are `message` events whose
   *   message has `threadRoot`; fold them (and reaction events) into what is shown with
   *   `applyEvent` (client/fold.ts).
   * - `typing`, `presence`, `read`, `room_added`, `room_removed`: the server's notices.
   * - `state`: connection state changes ({@link StateChange}).
   * - `recovery_needed`: events of a room could not be replayed; page them from REST history.
   * - `subscription_lost`: a room's resubscription was refused for good.
   */
  on<K extends keyof ParleyEvents>(type: K, listener: Listener<ParleyEvents[K]>): () => void {
    return this.#events.on(type, listener);
  }

  /** Asked when a socket failed before opening: a 401 at the upgrade is invisible to the WebSocket API. */
  async #checkAuth(): Promise<ParleyError | null> {
    try {
      await this.rest.me();
      return null;
    } catch (error) {
      return error instanceof ParleyError && error.code === 'unauthorized' ? error : null;
    }
  }
}
