/**
 * The connection layer under Fastify: deadlines, a bound on open connections, and answers in the
 * error shape for requests that never reach a route.
 *
 * What broke without them (reproduced: 996 POST bodies trickled a byte every 10 s against a
 * process with the common open-file limit of 1024): Fastify sets no request deadline, so every
 * such connection stayed open, each holding a file descriptor. Once the process had none left,
 * the kernel still completed new connections and libuv accepted and closed them at once, so
 * /healthz, logins and everything else failed for everyone, and so would the store's next
 * connection or file. The deadlines end such connections; the bound keeps descriptors in reserve
 * however many connections are attempted, and answers the ones over it, instead of letting the
 * process run dry.
 */
import { readFileSync } from 'node:fs';
import { type IncomingMessage, maxHeaderSize, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ErrorBody } from '../errors.js';

export interface ConnectionOptions {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Null: unbounded. */
  maxConnections: number | null;
  /** Called at most once per WARN_INTERVAL_MS while connections are refused, with how many were. */
  onRefused(count: number, open: number): void;
  /**
   * Requests whose body may take longer than `requestTimeoutMs` (uploads): their handler bounds
   * them instead (an idle deadline and a minimum rate). Every other request has its deadline.
   */
  streaming?(request: IncomingMessage): boolean;
}

const WARN_INTERVAL_MS = 10_000;
/** Descriptors kept for everything but client connections: at least this, or a tenth of the limit. */
const RESERVED_FDS = 128;

/** The open-file soft limit of this process (`ulimit -n`), or null where it cannot be read. */
export function openFileLimit(read: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | null {
  let text: string;
  try {
    text = read();
  } catch {
    return null;
  }
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(text);
  if (match === null || match[1] === 'unlimited') return null;
  return Number(match[1]);
}

/** How many connections one process may hold: the option, or what the open-file limit leaves. */
export function connectionCap(option: number | 'auto', fileLimit: number | null): number | null {
  if (option !== 'auto') return option;
  if (fileLimit === null) return null;
  return Math.max(1, fileLimit - Math.max(RESERVED_FDS, Math.ceil(fileLimit / 10)));
}

/** A complete HTTP/1.1 response in the error shape that closes the connection. */
export function rawErrorResponse(status: number, reason: string, body: ErrorBody, retryAfterSeconds?: number): string {
  const json = JSON.stringify(body);
  const retry = retryAfterSeconds === undefined ? '' : `Retry-After: ${retryAfterSeconds}\r\n`;
  return `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n${retry}Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
}

const badRequest = (message: string) => rawErrorResponse(400, 'Bad Request', { error: { code: 'validation_failed', message } });

/** True when no byte of a response has been written on `socket`, so one of ours would not cut into another. */
function unanswered(socket: Duplex): boolean {
  // Node keeps the response in flight on the socket here; its own handler makes the same check.
  const inFlight = (socket as { _httpMessage?: { _headerSent?: boolean } | null })._httpMessage;
  return inFlight == null || inFlight._headerSent !== true;
}

/**
 * Answers what Node's HTTP parser refused before any route saw it (bad syntax, headers too large,
 * a deadline passed), in the error shape and never echoing the request, then closes the
 * connection. A deadline passed on a connection that never sent a byte is closed without an
 * answer: browsers open connections ahead of need, and they retry a request on one that closes,
 * where they would show an unasked-for answer as the answer to their next request.
 */
export function clientErrorHandler(options: Pick<ConnectionOptions, 'headersTimeoutMs' | 'requestTimeoutMs'>) {
  const timeout = badRequest(
    `The request did not arrive in time: headers are due within ${options.headersTimeoutMs} ms and the whole request within ${options.requestTimeoutMs} ms.`,
  );
  const tooLarge = badRequest(`The request headers are too large (at most ${maxHeaderSize} bytes, with the request line).`);
  const malformed = badRequest('The request is not valid HTTP/1.1.');
  return (error: Error & { code?: string }, socket: Duplex): void => {
    if (error.code === 'ECONNRESET' || socket.destroyed) return;
    let answer: string | null;
    if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') answer = (socket as Socket).bytesRead === 0 ? null : timeout;
    else if (error.code === 'HPE_HEADER_OVERFLOW') answer = tooLarge;
    else answer = malformed;
    if (answer !== null && socket.writable && unanswered(socket)) socket.write(answer);
    socket.destroy();
  };
}

/**
 * Sets the deadlines on `server` (Fastify has set the request and keep-alive ones from its
 * options, and answers client errors with `clientErrorHandler`) and holds open connections
 * (HTTP and WebSocket alike: each is a descriptor) to `maxConnections`; one more is answered
 * 503 unavailable and closed at once. Call before the server listens.
 */
export function guardConnections(server: Server, options: ConnectionOptions): void {
  server.headersTimeout = options.headersTimeoutMs;
  // Node's request deadline is one for every request of the server; it is kept per request below
  // instead, so that uploads can be exempt from it.
  server.requestTimeout = options.streaming === undefined ? options.requestTimeoutMs : 0;
  if (options.streaming !== undefined) bodyDeadlines(server, options.requestTimeoutMs, options.headersTimeoutMs, options.streaming);
  server.keepAliveTimeout = options.keepAliveTimeoutMs;
  // Node checks the deadlines every 30 s by default, which would let a 10 s deadline run 40 s.
  // (A documented property of http.Server, read when it starts listening, missing from @types/node 20.)
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(1_000, Math.max(50, Math.floor(options.headersTimeoutMs / 4)));
  // CONNECT (a proxy tunnel) is not served here; without a listener Node drops the connection unanswered.
  server.on('connect', (_request, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    socket.end(rawErrorResponse(404, 'Not Found', { error: { code: 'not_found', message: 'No such endpoint.' } }));
  });

  const max = options.maxConnections;
  if (max === null) return;
  const full = rawErrorResponse(503, 'Service Unavailable', { error: { code: 'unavailable', message: 'This server holds as many connections as it may; retry shortly.' } }, 1);
  let open = 0;
  let refused = 0;
  let lastWarning = 0;
  server.on('connection', (socket: Socket) => {
    open += 1;
    socket.once('close', () => {
      open -= 1;
    });
    if (open <= max) return;
    refused += 1;
    const now = Date.now();
    if (now - lastWarning >= WARN_INTERVAL_MS) {
      options.onRefused(refused, open - 1);
      refused = 0;
      lastWarning = now;
    }
    socket.on('error', () => socket.destroy());
    socket.end(full);
    socket.destroySoon();
  });
}

/**
 * The request deadline, kept per request: a request whose body has not all arrived
 * `requestTimeoutMs` after its headers is answered 400 (as Node answers its own deadline) and its
 * connection closed; a streaming one (an upload) is left to its handler.
 */
function bodyDeadlines(server: Server, requestTimeoutMs: number, headersTimeoutMs: number, streaming: (request: IncomingMessage) => boolean): void {
  const timeout = badRequest(`The request did not arrive in time: headers are due within ${headersTimeoutMs} ms and the whole request within ${requestTimeoutMs} ms.`);
  server.prependListener('request', (request: IncomingMessage, response: ServerResponse) => {
    if (requestTimeoutMs <= 0 || request.complete || streaming(request)) return;
    const timer = setTimeout(() => {
      if (request.complete) return;
      const socket = request.socket;
      if (socket.writable && unanswered(socket)) socket.write(timeout);
      socket.destroy();
    }, requestTimeoutMs);
    const clear = () => clearTimeout(timer);
    request.once('end', clear);
    response.once('close', clear);
  });
}
