/**
 * The WebSocket gateway: authenticates at the HTTP upgrade (401/403 before any 101), holds the
 * connections, routes each user's channel to their connections, keeps heartbeats, and closes
 * everything in order on shutdown.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RawData, WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.js';
import { newId } from '../domain/ids.js';
import type { Services } from '../domain/services.js';
import { AppError, CLOSE, type ErrorBody, rateLimited } from '../errors.js';
import { tokenFromHeaders } from '../http/credentials.js';
import type { Logger } from '../observability/log.js';
import { logFailure } from '../observability/outage-log.js';
import { Metrics } from '../observability/metrics.js';
import type { Bus } from '../ports.js';
import { decodeUser } from '../protocol/bus-codec.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { frameText } from './frame.js';
import { type HandlerContext, handleMessage } from './handlers.js';
import { originAllowed } from './origin.js';
import type { RoomHub } from './room-hub.js';

/** Bytes of frames a connection may send before its session is confirmed (a few milliseconds). */
const MAX_HELD_BYTES = 1024 * 1024;
/** Retry-After of a refused connection over MAX_CONNECTIONS_PER_USER. */
const CONNECTION_RETRY_MS = 5_000;

export interface GatewayOptions {
  /** True while new connections are turned away for event-loop lag (load shedding). */
  overloaded?(): boolean;
}

interface UserChannel {
  connections: Set<Connection>;
  ready: Promise<(() => Promise<void>) | null>;
}

/** What every connection's handlers share: the gateway's own services, with its logger. */
type SharedContext = Readonly<HandlerContext>;

/**
 * A connection's handler context: the shared parts read through the prototype, so each
 * connection holds three fields. Heap snapshots of 3,000 connections found the object literal
 * this replaces (a getter among its properties) and its logger closure each with a property
 * table of their own, about 600 bytes a connection.
 */
class ConnectionContext implements HandlerContext {
  readonly #shared: SharedContext;
  readonly #conn: Connection;
  #child: Logger | undefined;

  constructor(shared: SharedContext, conn: Connection) {
    this.#shared = shared;
    this.#conn = conn;
  }

  get services(): Services {
    return this.#shared.services;
  }

  get hub(): RoomHub {
    return this.#shared.hub;
  }

  get config(): Config {
    return this.#shared.config;
  }

  get metrics(): Metrics {
    return this.#shared.metrics;
  }

  /** Made on first use: most connections never log. */
  get log(): Logger {
    this.#child ??= this.#shared.log.child({ connectionId: this.#conn.id, userId: this.#conn.user.id });
    return this.#child;
  }
}

export class Gateway {
  readonly #services: Services;
  readonly #hub: RoomHub;
  readonly #bus: Bus;
  readonly #config: Config;
  readonly #log: Logger;
  readonly #metrics: Metrics;
  readonly #wss: WebSocketServer;
  readonly #connections = new Set<Connection>();
  readonly #users = new Map<string, UserChannel>();
  readonly #heartbeat: NodeJS.Timeout;
  /** Presence updates of closed connections still in flight: shutdown waits for them. */
  readonly #presenceUpdates = new Set<Promise<void>>();
  #accepting = true;
  /** Shared by every connection. */
  readonly #connectionOptions: ConnectionOptions;
  readonly #shared: SharedContext;
  readonly #overloaded: () => boolean;
  slowConsumerCloses = 0;

  constructor(services: Services, hub: RoomHub, bus: Bus, config: Config, log: Logger, metrics: Metrics, options: GatewayOptions = {}) {
    this.#metrics = metrics;
    this.#overloaded = options.overloaded ?? (() => false);
    this.#services = services;
    this.#hub = hub;
    this.#bus = bus;
    this.#config = config;
    this.#log = log;
    this.#shared = { services, hub, config, metrics, log };
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: config.WS_MAX_PAYLOAD_BYTES, perMessageDeflate: false, clientTracking: false });
    this.#connectionOptions = {
      slowConsumerBytes: config.SLOW_CONSUMER_BYTES,
      frameRule: { ratePerSec: config.FRAME_RATE_PER_SEC, burst: config.FRAME_BURST },
      onSlowConsumer: (conn) => {
        this.slowConsumerCloses++;
        this.#metrics.slowConsumerCloses.inc();
        this.#log.warn({ connectionId: conn.id, userId: conn.user.id }, 'slow consumer closed');
      },
    };
    this.#heartbeat = setInterval(() => this.#beat(), config.HEARTBEAT_INTERVAL_MS);
    this.#heartbeat.unref();
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  /** This process's connections of one user. */
  connectionsOf(userId: string): Connection[] {
    return [...(this.#users.get(userId)?.connections ?? [])];
  }

  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.#upgrade(req, socket, head).catch((error: unknown) => {
        this.#log.error({ err: error }, 'upgrade failed');
        this.#refuse(socket, 500, { error: { code: 'internal', message: 'Something went wrong on our side; it has been logged.' } });
      });
    });
  }

  async #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    // A listener that closes over nothing: a closure here would share this function's context
    // (the request, its headers, the session) and keep it alive as long as the socket lives.
    socket.on('error', destroySocket);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws') return this.#refuse(socket, 404, { error: { code: 'not_found', message: 'No such endpoint.' } });
    if (!this.#accepting) return this.#refuse(socket, 503, { error: { code: 'unavailable', message: 'This server is shutting down; reconnect.' } }, 1);
    // Overloaded: turned away before any work (no session check), the way a dependency outage
    // is, with 1013; the connections already open are not touched.
    if (this.#overloaded()) {
      this.#metrics.shed.labels('ws').inc();
      return this.#acceptAndClose(req, socket, head, 'overloaded: retry later');
    }
    if (!originAllowed(req.headers.origin, req.headers.host, this.#config.ALLOWED_ORIGINS)) {
      return this.#refuse(socket, 403, { error: { code: 'forbidden', message: 'This origin may not open a WebSocket here.' } });
    }
    const token = tokenFromHeaders(req.headers) ?? url.searchParams.get('token') ?? undefined;
    let auth: Awaited<ReturnType<Services['accounts']['authenticate']>>;
    try {
      auth = await this.#services.accounts.authenticate(token);
    } catch (error) {
      // The token could not be checked (a dependency is down): accept, then close at once with
      // 1013. A browser cannot read the status of a refused upgrade, but it sees a close code,
      // and 1013 says "try again later" where a 503 would look like any failed connection.
      if (error instanceof AppError && error.code === 'unavailable') return this.#acceptAndClose(req, socket, head, 'authentication unavailable: retry later');
      if (error instanceof AppError) return this.#refuse(socket, error.status, error.toBody(), error.retryAfterSeconds);
      throw error;
    }
    if (socket.destroyed) return;
    // A shutdown may have begun while the session was checked: the drain and the 1012 closes
    // loop over the connections held then, and this one would escape both.
    if (!this.#accepting) return this.#refuse(socket, 503, { error: { code: 'unavailable', message: 'This server is shutting down; reconnect.' } }, 1);
    // Per process: each connection costs memory here whoever holds it.
    const held = this.#users.get(auth.user.id)?.connections.size ?? 0;
    if (held >= this.#config.MAX_CONNECTIONS_PER_USER) {
      this.#metrics.rateLimited.labels('connections').inc();
      return this.#refuse(socket, 429, rateLimited(CONNECTION_RETRY_MS).toBody(), Math.ceil(CONNECTION_RETRY_MS / 1000));
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => this.#open(ws, auth.user, auth.tokenHash, auth.expiresAt, req));
  }

  /** Completes the upgrade and closes at once with 1013: what a browser can read of "retry later". */
  #acceptAndClose(req: IncomingMessage, socket: Duplex, head: Buffer, reason: string): void {
    if (socket.destroyed) return;
    this.#metrics.wsDisconnects.labels(Metrics.closeCodeLabel(CLOSE.tryAgainLater)).inc();
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      // A bad frame from the client before the close completes is emitted as 'error'.
      ws.on('error', ignoreError);
      ws.close(CLOSE.tryAgainLater, reason);
    });
  }

  #refuse(socket: Duplex, status: number, body: ErrorBody, retryAfterSeconds?: number): void {
    this.#metrics.wsUpgradesRefused.labels(String(status)).inc();
    refuse(socket, status, body, retryAfterSeconds);
  }

  #open(ws: WebSocket, user: Connection['user'], tokenHash: string, expiresAt: number, req: IncomingMessage): void {
    const conn: Connection = new Connection(newId(), ws, user, tokenHash, this.#connectionOptions);
    conn.expiresAt = expiresAt;
    // Per connection only what must be: one handler context serves all of its frames, and its
    // child logger is made on first use (most connections never log).
    const ctx = new ConnectionContext(this.#shared, conn);
    const services = this.#services;
    const hub = this.#hub;
    const metrics = this.#metrics;
    this.#connections.add(conn);
    metrics.wsConnects.inc();
    services.ops.emit('connection.opened', { userId: user.id, connectionId: conn.id, ...((user.botOwnerId ?? null) === null ? {} : { bot: true }) });
    if (this.#log.isLevelEnabled('debug')) ctx.log.debug({ ip: req.socket.remoteAddress }, 'ws connected');

    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('message', (data, isBinary) => {
      conn.alive = true;
      if (conn.confirmed) {
        handleMessage(ctx, conn, data, isBinary);
        return;
      }
      // Frames sent before the session is confirmed wait (a client sends its subscribes at
      // once), bounded in number (past the frame burst they would be refused anyway) and in bytes.
      conn.heldBytes += rawSize(data);
      if (conn.held.length >= this.#config.FRAME_BURST || conn.heldBytes > MAX_HELD_BYTES) {
        conn.close(CLOSE.rateLimited, 'rate limited: too many frames before the session was confirmed');
      } else {
        conn.held.push({ data, isBinary });
      }
    });
    ws.on('error', (error) => ctx.log.debug({ err: error }, 'ws error'));
    ws.on('close', (code) => {
      metrics.wsDisconnects.labels(Metrics.closeCodeLabel(code)).inc();
      services.ops.emit('connection.closed', { userId: user.id, connectionId: conn.id, code });
      this.#connections.delete(conn);
      hub.disconnect(conn);
      this.#leaveUserChannel(conn);
      const leaving = services.presence
        .disconnected(user.id, conn.id)
        .catch((error: unknown) => ctx.log.error({ err: error }, 'presence update failed'))
        .finally(() => this.#presenceUpdates.delete(leaving));
      this.#presenceUpdates.add(leaving);
      if (this.#log.isLevelEnabled('debug')) ctx.log.debug({ code }, 'ws closed');
    });

    const channel = this.#joinUserChannel(conn);
    // The session was checked before the upgrade, but a logout in between published its
    // revocation before this connection listened for it. Once the user's channel is subscribed,
    // the store is asked again: a logout before this read is seen here, one after it reaches
    // the channel. Only then are frames acted on.
    channel.ready
      .then(async (stop) => {
        if (!conn.isOpen) return;
        if (stop === null) {
          conn.close(CLOSE.tryAgainLater, 'try again later: the event bus is unavailable');
          return;
        }
        if (!(await services.accounts.sessionActive(tokenHash))) {
          conn.close(CLOSE.policy, 'session revoked');
          return;
        }
        if (!conn.isOpen) return;
        conn.confirmed = true;
        const held = conn.held;
        conn.held = [];
        conn.heldBytes = 0;
        for (const frame of held) handleMessage(ctx, conn, frame.data, frame.isBinary);
        await services.presence.connected(user.id, conn.id).catch((error: unknown) => ctx.log.error({ err: error }, 'presence update failed'));
      })
      .catch((error: unknown) => {
        logFailure(ctx.log, error, 'session check failed');
        conn.close(CLOSE.tryAgainLater, 'try again later');
      });
  }

  /**
   * Closes this node's WebSockets of the user whose sessions no longer hold (ended where no bus
   * message reached this node: the console on one machine). Answers how many it closed.
   */
  async recheckSessions(userId: string): Promise<number> {
    const channel = this.#users.get(userId);
    if (channel === undefined) return 0;
    let closed = 0;
    for (const conn of [...channel.connections]) {
      if (conn.isOpen && !(await this.#services.accounts.sessionActive(conn.tokenHash))) {
        conn.close(CLOSE.policy, 'session revoked');
        closed++;
      }
    }
    return closed;
  }

  #joinUserChannel(conn: Connection): UserChannel {
    const userId = conn.user.id;
    let channel = this.#users.get(userId);
    if (channel === undefined) {
      const created: UserChannel = { connections: new Set(), ready: Promise.resolve(null) };
      created.ready = this.#bus.subscribe(`user:${userId}`, (payload) => this.#onUserPayload(created, payload)).catch((error: unknown) => {
        logFailure(this.#log, error, 'user channel subscribe failed', { userId });
        return null;
      });
      this.#users.set(userId, created);
      channel = created;
    }
    channel.connections.add(conn);
    return channel;
  }

  #leaveUserChannel(conn: Connection): void {
    const channel = this.#users.get(conn.user.id);
    if (channel === undefined) return;
    channel.connections.delete(conn);
    if (channel.connections.size > 0) return;
    this.#users.delete(conn.user.id);
    channel.ready
      .then((stop) => stop?.())
      .catch((error: unknown) => this.#log.error({ err: error }, 'user channel unsubscribe failed'));
  }

  #onUserPayload(channel: UserChannel, payload: string): void {
    const message = decodeUser(payload);
    if (message === null) {
      this.#log.error('undecodable user channel message');
      return;
    }
    if (message.type === 'revoke') {
      for (const conn of channel.connections) if (conn.tokenHash === message.tokenHash) conn.close(CLOSE.policy, 'session revoked');
      return;
    }
    if (message.removedRoomId !== null) {
      for (const conn of channel.connections) void this.#hub.unsubscribe(conn, message.removedRoomId);
    }
    const framed = frameText(message.frame);
    let written = 0;
    for (const conn of channel.connections) if (conn.confirmed && conn.write(framed)) written++;
    this.#metrics.otherFramesWritten(written);
  }

  #beat(): void {
    const now = Date.now();
    for (const conn of this.#connections) {
      // A connection does not outlive its session.
      if (conn.expiresAt <= now) {
        conn.close(CLOSE.policy, 'session expired');
        continue;
      }
      if (!conn.alive) {
        conn.terminate();
        continue;
      }
      conn.alive = false;
      conn.ping();
    }
  }

  /** Refuses new upgrades from now on (503 with Retry-After, for a load balancer to retry elsewhere). */
  stopAccepting(): void {
    this.#accepting = false;
  }

  /**
   * Stops reading frames, then waits until every request already read is answered (a send is
   * committed, then answered), or until `timeoutMs`: nothing stored goes unanswered before the
   * 1012 close. Frames not read are never acted on; the client sends them again after reconnecting.
   */
  async drain(timeoutMs: number): Promise<void> {
    for (const conn of this.#connections) conn.stopReading();
    const deadline = Date.now() + timeoutMs;
    const busy = () => {
      for (const conn of this.#connections) if (conn.inflight > 0) return true;
      return false;
    };
    while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  }

  /**
   * Stops accepting, closes every connection with `code` (1012 by default: reconnect and resume),
   * and waits for their presence to be updated, all within `budgetMs`: half for the clients to
   * answer the close (the rest are cut), half for the presence updates.
   */
  async close(code: number = CLOSE.restart, reason = 'server restarting: reconnect', budgetMs = 4_000): Promise<void> {
    this.#accepting = false;
    clearInterval(this.#heartbeat);
    for (const conn of this.#connections) conn.close(code, reason);
    const deadline = Date.now() + budgetMs / 2;
    while (this.#connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const conn of this.#connections) conn.terminate();
    this.#wss.close();
    // Users going offline with this node are announced now, while the bus is still open.
    await new Promise((r) => setImmediate(r));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([...this.#presenceUpdates]), new Promise((r) => (timer = setTimeout(r, budgetMs / 2)))]);
    clearTimeout(timer);
  }
}

function rawSize(data: RawData): number {
  if (Buffer.isBuffer(data)) return data.length;
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data.byteLength;
}

function destroySocket(this: Duplex): void {
  this.destroy();
}

function ignoreError(): void {}

/** Answers a refused upgrade with a plain HTTP response in the error shape, then closes. */
function refuse(socket: Duplex, status: number, body: ErrorBody, retryAfterSeconds?: number): void {
  if (socket.destroyed) return;
  const json = JSON.stringify(body);
  const reason = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' }[status] ?? 'Error';
  const retry = retryAfterSeconds === undefined ? '' : `Retry-After: ${retryAfterSeconds}\r\n`;
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\n${retry}Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`,
  );
}
