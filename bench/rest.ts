/** One REST call of a benchmark: bearer token, JSON body, 30 s deadline; a non-2xx answer throws. */
import type { Json } from '../test/support/json.js';

export async function call(url: string, method: string, route: string, token: string | null, body?: unknown): Promise<Record<string, Json>> {
  const res = await fetch(`${url}/api/v1${route}`, {
    method,
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return text === '' ? {} : (JSON.parse(text) as Record<string, Json>);
}
