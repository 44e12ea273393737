/** POST /auth/register, /auth/login, /auth/logout; GET /me. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerRole } from '../../domain/types.js';
import { profileView } from '../../domain/views.js';
import { rateLimited } from '../../errors.js';
import { responses } from '../../protocol/responses.js';
import type { HttpContext } from '../context.js';
import { SESSION_COOKIE } from '../credentials.js';
import type { RestApi } from '../route.js';

export function authRoutes(api: RestApi, ctx: HttpContext): void {
  const { accounts, ops } = ctx.services;
  const { rest } = ctx.schemas;
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

  api.route({
    method: 'POST',
    path: '/api/v1/auth/register',
    operationId: 'register',
    tag: 'Accounts',
    summary: 'Create an account',
    description:
      'Answers the new user and a session token, and sets the session cookie (`parley_session`, HttpOnly, SameSite=Lax). ' +
      'A taken username, or a name that resembles another user\'s, is `conflict` with `details.field` and `details.reason`. Limited per client IP.',
    auth: false,
    before: limit,
    body: rest.register,
    bodyName: 'registration',
    status: 201,
    response: responses.Session,
    errors: ['conflict', 'rate_limited'],
    handler: async ({ body, reply }) => {
      const { user, token } = await accounts.register(body);
      ops.emit('user.registered', { userId: user.id });
      setCookie(reply, token);
      return { user: profileView(user), token };
    },
  });

  api.route({
    method: 'POST',
    path: '/api/v1/auth/login',
    operationId: 'login',
    tag: 'Accounts',
    summary: 'Log in',
    description:
      'Answers the user and a new session token, and sets the session cookie. The username is case-insensitive; ' +
      'a wrong username and a wrong password get the same `unauthorized`. The user carries `serverRole` when they are a server administrator. An account a server administrator disabled is `forbidden` (reason `account_disabled`), said only once the password is right. Limited per client IP.',
    auth: false,
    before: limit,
    body: rest.login,
    bodyName: 'login',
    status: 200,
    response: responses.Session,
    errors: ['unauthorized', 'forbidden', 'rate_limited'],
    handler: async ({ body, reply, request }) => {
      let session: Awaited<ReturnType<typeof accounts.login>>;
      try {
        session = await accounts.login(body);
      } catch (error) {
        if ((error as { code?: string }).code === 'unauthorized') ops.emit('login.failed', { ip: request.ip });
        throw error;
      }
      const { user, token } = session;
      ops.emit('login.succeeded', { userId: user.id, ip: request.ip });
      setCookie(reply, token);
      return { user: withServerRole(profileView(user), await ctx.services.store.serverRole(user.id)), token };
    },
  });

  api.route({
    method: 'POST',
    path: '/api/v1/auth/logout',
    operationId: 'logout',
    tag: 'Accounts',
    summary: 'Log out',
    description: 'The session stops working everywhere at once: its WebSocket connections are closed with 1008.',
    auth: true,
    status: 204,
    errors: [],
    handler: async ({ session, reply }) => {
      await accounts.logout(session);
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/me',
    operationId: 'getMe',
    tag: 'Accounts',
    summary: 'The caller',
    description: 'With their profile as it is now (status, avatar), and `serverRole` when they are a server administrator.',
    auth: true,
    status: 200,
    response: responses.UserResult,
    errors: [],
    handler: async ({ session }) => {
      const [me, role] = await Promise.all([ctx.services.people.me(session.user.id), ctx.services.store.serverRole(session.user.id)]);
      return { user: withServerRole(profileView(me), role) };
    },
  });
}

/** The caller's own view: `serverRole` present for a server administrator. */
function withServerRole<U extends object>(view: U, role: ServerRole | null): U & { serverRole?: ServerRole } {
  return role === null ? view : { ...view, serverRole: role };
}
