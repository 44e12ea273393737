/** The HTTP API and static web client (Fastify). */
import { existsSync } from 'node:fs';
import cookie from '@fastify/cookie';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import type { Config } from '../config.js';
import { newId } from '../domain/ids.js';
import type { Services } from '../domain/services.js';
import { AppError } from '../errors.js';
import type { Logger } from '../observability/log.js';
import { DEFAULT_WEB_DIR } from '../paths.js';
import { buildSchemas } from '../protocol/schemas.js';
import type { HttpContext } from './context.js';
import { errorHandler, sendError } from './errors.js';
import { registerJsonParser } from './json-parser.js';
import { authRoutes } from './routes/auth.js';
import { messageRoutes } from './routes/messages.js';
import { roomRoutes } from './routes/rooms.js';

export interface Health {
  /** Null when ready, else why not. */
  notReadyReason(): Promise<string | null>;
}

export async function buildHttp(services: Services, config: Config, log: Logger, health: Health): Promise<FastifyInstance> {
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
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  registerJsonParser(app);
  await app.register(cookie);
  app.setErrorHandler(errorHandler);

  const ctx: HttpContext = { services, config, schemas: buildSchemas({ messageMaxChars: config.MESSAGE_MAX_CHARS }) };
  authRoutes(app, ctx);
  roomRoutes(app, ctx);
  messageRoutes(app, ctx);

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const reason = await health.notReadyReason();
    if (reason === null) return { status: 'ready' };
    reply.header('Retry-After', '1');
    return reply.status(503).send({ error: { code: 'unavailable', message: `Not ready: ${reason}.`, details: { reason } } });
  });

  const webDir = config.WEB_DIR === '' ? DEFAULT_WEB_DIR : config.WEB_DIR;
  if (existsSync(webDir)) {
    await app.register(fastifyStatic, {
      root: webDir,
      wildcard: false,
      index: 'index.html',
      // Cache-Control is set per file below.
      cacheControl: false,
      setHeaders: (res, filePath) => {
        // Assets carry a content hash in their names and never change; the page that names them
        // must always be fresh.
        res.setHeader('Cache-Control', /[\\/]assets[\\/]/.test(filePath) ? 'public, max-age=31536000, immutable' : 'no-cache');
        res.setHeader('X-Content-Type-Options', 'nosniff');
        res.setHeader('Content-Security-Policy', "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'");
      },
    });
  } else {
    log.warn({ webDir }, 'web client not built: run npm run build to serve it');
  }
  app.setNotFoundHandler((_request, reply) => sendError(reply, new AppError('not_found', 'No such endpoint.')));
  return app;
}
