/**
 * One POST of a delivery to an endpoint: bounded in time (a deadline for the whole exchange),
 * in what it reads back (the status, and at most RESPONSE_LIMIT bytes of body, discarded), and
 * in where it may connect (url.ts). Redirects are not followed: a receiver answers 2xx or the
 * delivery failed.
 */
import http from 'node:http';
import https from 'node:https';
import { guardedLookup } from './url.js';

const RESPONSE_LIMIT = 64 * 1024;

export interface PostResult {
  /** The endpoint answered with this status (2xx: delivered). */
  status: number | null;
  /** Why there is no status: refused, timed out, reset. */
  error: string | null;
  durationMs: number;
}

export function postWebhook(url: string, body: string, headers: Record<string, string>, options: { timeoutMs: number; allowPrivate: boolean; signal?: AbortSignal }): Promise<PostResult> {
  const startedAt = performance.now();
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (status: number | null, error: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, error, durationMs: Math.round(performance.now() - startedAt) });
    };
    const request = client.request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'Parley-Webhooks/1' },
        lookup: guardedLookup(options.allowPrivate) as unknown as http.RequestOptions['lookup'],
        agent: false,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      },
      (response) => {
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          // Enough to know it answered; the rest is not ours to hold.
          if (read > RESPONSE_LIMIT) response.destroy();
        });
        response.on('error', () => finish(response.statusCode ?? null, null));
        response.on('close', () => finish(response.statusCode ?? null, null));
        response.on('end', () => finish(response.statusCode ?? null, null));
      },
    );
    const timer = setTimeout(() => {
      request.destroy(new Error(`no answer within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    request.on('error', (error) => finish(null, error.message.slice(0, 500)));
    request.end(body);
  });
}
