/** The HTTP API and static web client (Fastify). */
import { timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import cookie from '@fastify/cookie';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Config } from '../config.js';
import { newId } from '../domain/ids.js';
import type { Services } from '../domain/services.js';
import { AppError, unavailable, validationFailed } from '../errors.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import { context, contextFrom, SpanKind, SpanStatusCode, trace, tracer, tracingEnabled } from '../observability/tracing.js';
import type { Span } from '@opentelemetry/api';
import { DEFAULT_WEB_DIR } from '../paths.js';
import { SHED_RETRY_AFTER_SECONDS } from '../resilience/load-shedder.js';
import { buildSchemas, fieldName } from '../protocol/schemas.js';
import { clientErrorHandler, connectionCap, guardConnections, openFileLimit } from './connections.js';
import type { HttpContext } from './context.js';
import { errorHandler, frameworkErrorHandler, sendError } from './errors.js';
import { registerJsonParser } from './json-parser.js';
import { malformedQuery, parseQuery } from './query.js';
import { RestApi } from './route.js';
import { registerWebClient } from './web-client.js';
import { authRoutes } from './routes/auth.js';
import { botRoutes } from './routes/bots.js';
import { exportRoutes } from './routes/exports.js';
import { fileRoutes } from './routes/files.js';
import { webhookRoutes } from './routes/webhooks.js';
import { incomingWebhookRoutes } from './routes/incoming-webhooks.js';
import { messageRoutes } from './routes/messages.js';
import { threadRoutes } from './routes/threads.js';
import { referenceRoutes } from './routes/reference.js';
import { moderationRoutes } from './routes/moderation.js';
import { roomRoutes } from './routes/rooms.js';
import { peopleRoutes } from './routes/people.js';
import { notificationRoutes } from './routes/notifications.js';
import { adminRoutes } from './routes/admin.js';
import { administrationRoutes } from './routes/administration.js';
import { blockRoutes } from './routes/blocks.js';

export interface Health {
  /** Null when ready, else why not. */
  notReadyReason(): Promise<string | null>;
  /** True while new requests are turned away for event-loop lag (load shedding). */
  overloaded?(): boolean;
}

/** The routes that take a file as their body (http/routes/files.ts): they bound their own body's time. */
const UPLOAD_PATH = /^\/api\/v1\/(?:rooms\/[^/?]+\/(?:uploads|avatar)|me\/avatar)(?:\?|$)/;
const isUpload = (request: IncomingMessage): boolean => (request.method === 'POST' || request.method === 'PUT') && UPLOAD_PATH.test(request.url ?? '');

/** Answered even while shedding: liveness, readiness and metrics must stay observable under load. */
const NEVER_SHED = new Set(['/healthz', '/readyz', '/metrics']);

export interface Observability {
  metrics: Metrics;
  /** The exposition text for /metrics: this process's, or the whole node's in a cluster. */
  text(): Promise<string>;
}

export async function buildHttp(services: Services, config: Config, log: Logger, health: Health, observe: Observability): Promise<FastifyInstance> {
  const deadlines = { headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS, requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS };
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: config.HTTP_BODY_LIMIT_BYTES,
    trustProxy: config.TRUST_PROXY,
    genReqId: (req) => {
      const incoming = req.headers['x-request-id'];
      return typeof incoming === 'string' && /^[\w.-]{1,64}$/.test(incoming) ? incoming : newId();
    },
    requestIdHeader: false,
    logController: new LogController({ disableRequestLogging: config.LOG_LEVEL !== 'debug' && config.LOG_LEVEL !== 'trace' }),
    routerOptions: { maxParamLength: 200, querystringParser: parseQuery },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler: clientErrorHandler(deadlines),
    requestTimeout: config.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    // Fastify's own 503 while closing is in its shape, not ours: the closing hook below answers.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  });
  const ctx: HttpContext = { services, config, schemas: buildSchemas({ messageMaxChars: config.MESSAGE_MAX_CHARS, maxFilesPerMessage: config.UPLOAD_MAX_FILES_PER_MESSAGE }) };
  // Before any route: it notes every route Fastify serves.
  const api = new RestApi(app, ctx);
  const maxConnections = connectionCap(config.HTTP_MAX_CONNECTIONS, openFileLimit());
  guardConnections(app.server, {
    ...deadlines,
    keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    maxConnections,
    streaming: isUpload,
    onRefused: (refused, open) => log.warn({ refused, open, maxConnections }, 'connections refused: HTTP_MAX_CONNECTIONS reached'),
  });
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    if (closing) {
      reply.header('Connection', 'close');
      throw new AppError('unavailable', 'This server is shutting down; retry.', undefined, 1);
    }
    if (health.overloaded?.() === true && !NEVER_SHED.has(request.routeOptions.url ?? '')) {
      observe.metrics.shed.labels('rest').inc();
      throw unavailable('This server is overloaded; retry shortly.', SHED_RETRY_AFTER_SECONDS);
    }
    const malformed = malformedQuery(request.query);
    if (malformed !== null) {
      throw validationFailed('The query string is malformed: a percent-escape is invalid or does not encode UTF-8.', {
        issues: malformed.map((name) => ({ path: fieldName(name), message: 'is not valid percent-encoded UTF-8' })),
      });
    }
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    // Answered before its body all arrived (a refused upload, whose route has no request
    // deadline): the connection closes after the answer, so nobody is made to send, nor the
    // server to read and discard, the rest of a body nothing will read.
    if (!request.raw.complete) reply.header('connection', 'close');
    // Error bodies name fields of the request: never let a browser read one as anything but JSON.
    reply.header('x-content-type-options', 'nosniff');
    // The request's logger names the user once authenticated (http/context.ts): the line that
    // closes the request should too.
    reply.log = request.log;
  });
  // With tracing on, each request is a span (continuing the caller's trace when it sends a
  // traceparent), active while the handler runs, so store and Redis spans are its children.
  const spans = new WeakMap<object, Span>();
  app.addHook('onRequest', (request, _reply, done) => {
    if (!tracingEnabled()) return done();
    const incoming = request.headers.traceparent;
    const parent = typeof incoming === 'string' ? contextFrom(incoming) : context.active();
    const route = request.routeOptions.url ?? 'unmatched';
    const span = tracer().startSpan(`HTTP ${request.method} ${route}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, 'http.route': route, 'parley.request.id': request.id } }, parent);
    spans.set(request, span);
    context.with(trace.setSpan(parent, span), done);
  });
  // By route pattern, never by path: /rooms/:roomId is one series, not one per room.
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    observe.metrics.httpRequestDuration.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    const span = spans.get(request);
    if (span !== undefined) {
      span.setAttribute('http.response.status_code', reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
  });
  registerJsonParser(app);
  await app.register(cookie);
  app.setErrorHandler(errorHandler);

  authRoutes(api, ctx);
  roomRoutes(api, ctx);
  peopleRoutes(api, ctx);
  moderationRoutes(api, ctx);
  messageRoutes(api, ctx);
  threadRoutes(api, ctx);
  exportRoutes(api, ctx);
  fileRoutes(api, ctx);
  webhookRoutes(api, ctx);
  botRoutes(api, ctx);
  incomingWebhookRoutes(api, ctx);
  notificationRoutes(api, ctx);
  blockRoutes(api, ctx);
  adminRoutes(api, ctx);
  administrationRoutes(api, ctx);
  referenceRoutes(api);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/metrics', async (request, reply) => {
    if (!metricsAllowed(request.headers.authorization, request.socket.remoteAddress, request.headers, config.METRICS_TOKEN)) {
      throw new AppError('forbidden', config.METRICS_TOKEN === '' ? 'Metrics are served to loopback only; set METRICS_TOKEN to scrape from elsewhere.' : 'A valid metrics token is required.');
    }
    try {
      const text = await observe.text();
      return reply.type(observe.metrics.contentType).send(text);
    } catch (error) {
      log.warn({ err: error }, 'metrics collection failed');
      throw new AppError('unavailable', 'Metrics could not be collected; retry.', undefined, 1);
    }
  });
  app.get('/readyz', async (_request, reply) => {
    const reason = await health.notReadyReason();
    // Shedding does not make a node unready: taking an overloaded node out of the pool moves
    // its load onto the others, which may then shed too. It says so, for operators.
    if (reason === null) return health.overloaded?.() === true ? { status: 'ready', shedding: true } : { status: 'ready' };
    reply.header('Retry-After', '1');
    return reply.status(503).send({ error: { code: 'unavailable', message: `Not ready: ${reason}.`, details: { reason } } });
  });

  const webDir = config.WEB_DIR === '' ? DEFAULT_WEB_DIR : config.WEB_DIR;
  if (existsSync(webDir)) {
    await registerWebClient(app, webDir, config.ASSET_BASE_URL, log);
  } else {
    log.warn({ webDir }, 'web client not built: run npm run build to serve it');
  }
  app.setNotFoundHandler((_request, reply) => sendError(reply, new AppError('not_found', 'No such endpoint.')));
  return app;
}

/**
 * With a token, only a request bearing it; without one, only a direct request from loopback (a
 * request relayed by a proxy on the same machine carries X-Forwarded-For and is refused).
 */
export function metricsAllowed(authorization: string | undefined, remote: string | undefined, headers: Record<string, unknown>, token: string): boolean {
  if (token !== '') {
    const given = Buffer.from(authorization ?? '');
    const expected = Buffer.from(`Bearer ${token}`);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
  const loopback = remote === '127.0.0.1' || remote === '::1' || remote?.startsWith('::ffff:127.') === true || remote?.startsWith('127.') === true;
  return loopback && headers['x-forwarded-for'] === undefined && headers.forwarded === undefined;
}
