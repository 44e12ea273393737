/**
 * Cross-site request forgery. The session cookie is SameSite=Lax, which keeps it off cross-site
 * POSTs but not off same-site ones: a page on another port or a sibling subdomain of the same
 * site gets it attached, and an empty or text/plain POST needs no CORS preflight. So a request
 * authenticated by the cookie that could change state must show where it comes from: an Origin
 * that is allowed (the same rule as the WebSocket upgrade: the request's own origin, from Host,
 * or ALLOWED_ORIGINS), and, for a POST, `Content-Type: application/json` (or, for an upload's
 * raw bytes, `application/octet-stream`), which no form and no preflight-free fetch can send. Bearer-authenticated calls cannot be forged across sites and
 * need neither.
 */
import type { FastifyRequest } from 'fastify';
import { forbidden, validationFailed } from '../errors.js';
import { originAllowed } from '../realtime/origin.js';
import { isJsonContentType } from './json-parser.js';

/** The methods a request may change state with; GET and HEAD never do here. */
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Throws unless a cookie-authenticated `request` may change state. */
export function checkCookieRequest(request: Pick<FastifyRequest, 'method' | 'headers'>, allowList: string[]): void {
  if (!STATE_CHANGING.has(request.method)) return;
  const origin = request.headers.origin;
  if (origin === undefined) throw forbidden('A request authenticated by the session cookie that changes something must carry an Origin header.');
  if (!originAllowed(origin, request.headers.host, allowList)) throw forbidden('Requests from this origin may not use the session cookie.');
  if (request.method === 'POST' && !isJsonContentType(request.headers['content-type']) && !isOctetStream(request.headers['content-type'])) {
    throw validationFailed('A POST authenticated by the session cookie must be sent with Content-Type: application/json (an upload: application/octet-stream), also without a body.');
  }
}

/** `application/octet-stream`, with parameters or not: a type that needs a CORS preflight, as JSON does. */
export function isOctetStream(header: string | undefined): boolean {
  return header !== undefined && header.split(';')[0]?.trim().toLowerCase() === 'application/octet-stream';
}
