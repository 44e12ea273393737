/**
 * How Parley signs a webhook delivery, as Stripe and GitHub sign theirs: an HMAC-SHA256 over
 * the timestamp and the raw body, with the endpoint's secret, sent as
 *
 *   Parley-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]
 *
 * (a second v1 while a rotated-out secret is still in its grace). A receiver recomputes the
 * HMAC over `${t}.${body}` with its secret, compares in constant time with any v1, and refuses a
 * `t` too far from its clock (replays). `verifySignature` is that check, for tests and for
 * receivers written in TypeScript.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'parley-signature';

/** A new endpoint secret: `whsec_` and 32 random bytes. */
export const newWebhookSecret = (): string => `whsec_${randomBytes(32).toString('base64url')}`;

const mac = (secret: string, timestamp: number, body: string): string => createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');

export function signatureHeader(secrets: string[], timestamp: number, body: string): string {
  return [`t=${timestamp}`, ...secrets.map((secret) => `v1=${mac(secret, timestamp, body)}`)].join(',');
}

/** True when `header` carries a v1 of `body` under `secret`, with a timestamp within `toleranceS` of `now`. */
export function verifySignature(header: string, secret: string, body: string, nowS = Math.floor(Date.now() / 1000), toleranceS = 300): boolean {
  const parts = header.split(',').map((p) => p.trim().split('=') as [string, string | undefined]);
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isSafeInteger(t) || Math.abs(nowS - t) > toleranceS) return false;
  const expected = Buffer.from(mac(secret, t, body));
  return parts.some(([k, v]) => k === 'v1' && v !== undefined && v.length === expected.length && timingSafeEqual(Buffer.from(v), expected));
}
