/** Where a request's session token comes from: Bearer header, then the session cookie. */
import type { IncomingHttpHeaders } from 'node:http';

export const SESSION_COOKIE = 'parley_session';

export function tokenFromHeaders(headers: IncomingHttpHeaders): string | undefined {
  return credentialsFrom(headers).token;
}

/**
 * The token and where it came from. A browser attaches the cookie to requests other sites make
 * it send; an Authorization header only the page holding the token can set. So only requests
 * authenticated `via: 'cookie'` need the cross-site checks of csrf.ts.
 */
export function credentialsFrom(headers: IncomingHttpHeaders): { token: string | undefined; via: 'bearer' | 'cookie' | null } {
  const auth = headers.authorization;
  if (auth !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return { token: match?.[1] ?? '', via: 'bearer' };
  }
  const token = cookieValue(headers.cookie, SESSION_COOKIE);
  return { token, via: token === undefined ? null : 'cookie' };
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  }
  return undefined;
}
