/** POST /auth/register, /auth/login, /auth/logout; GET /me. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { userView } from '../../domain/views.js';
import { rateLimited } from '../../errors.js';
import { parse } from '../../protocol/schemas.js';
import { type HttpContext, authenticate } from '../context.js';
import { SESSION_COOKIE } from '../credentials.js';

export function authRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { accounts } = ctx.services;
  const limit = async (request: FastifyRequest) => {
    const result = await ctx.services.authLimiter.consume(`ip:${request.ip}`);
    if (!result.allowed) throw rateLimited(result.retryAfterMs);
  };
  const setCookie = (reply: FastifyReply, token: string) =>
    reply.setCookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'lax',
      secure: ctx.config.COOKIE_SECURE,
      path: '/',
      maxAge: ctx.config.SESSION_TTL_HOURS * 3600,
    });

  app.post('/api/v1/auth/register', async (request, reply) => {
    await limit(request);
    const input = parse(ctx.schemas.rest.register, request.body, 'registration');
    const { user, token } = await accounts.register(input);
    setCookie(reply, token);
    return reply.status(201).send({ user: userView(user), token });
  });

  app.post('/api/v1/auth/login', async (request, reply) => {
    await limit(request);
    const input = parse(ctx.schemas.rest.login, request.body, 'login');
    const { user, token } = await accounts.login(input);
    setCookie(reply, token);
    return reply.status(200).send({ user: userView(user), token });
  });

  app.post('/api/v1/auth/logout', async (request, reply) => {
    const auth = await authenticate(ctx, request);
    await accounts.logout(auth);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.status(204).send();
  });

  app.get('/api/v1/me', async (request) => {
    const { user } = await authenticate(ctx, request);
    return { user: userView(user) };
  });
}
