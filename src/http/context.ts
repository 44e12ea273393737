/** What every route module receives. */
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { Authenticated } from '../domain/accounts.js';
import type { Services } from '../domain/services.js';
import type { Schemas } from '../protocol/schemas.js';
import { tokenFromHeaders } from './credentials.js';

export interface HttpContext {
  services: Services;
  config: Config;
  schemas: Schemas;
}

/** The caller's session, or unauthorized. Checked against the store on every request, so a logout takes effect at once. */
export async function authenticate(ctx: HttpContext, request: FastifyRequest): Promise<Authenticated> {
  const auth = await ctx.services.accounts.authenticate(tokenFromHeaders(request.headers));
  // From here on the request's log lines name the user, beside its request id.
  request.log = request.log.child({ userId: auth.user.id });
  return auth;
}
