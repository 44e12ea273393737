/** What every route module receives. */
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { Authenticated } from '../domain/accounts.js';
import type { Services } from '../domain/services.js';
import type { Schemas } from '../protocol/schemas.js';
import { credentialsFrom } from './credentials.js';
import { checkCookieRequest } from './csrf.js';

export interface HttpContext {
  services: Services;
  config: Config;
  schemas: Schemas;
}

/**
 * The caller's session, or unauthorized. Checked against the store on every request, so a
 * logout takes effect at once. A session cookie changes state only from an allowed origin (csrf.ts).
 */
export async function authenticate(ctx: HttpContext, request: FastifyRequest): Promise<Authenticated> {
  const { token, via } = credentialsFrom(request.headers);
  if (via === 'cookie') checkCookieRequest(request, ctx.config.ALLOWED_ORIGINS);
  const auth = await ctx.services.accounts.authenticate(token);
  // From here on the request's log lines name the user, beside its request id.
  request.log = request.log.child({ userId: auth.user.id });
  return auth;
}
