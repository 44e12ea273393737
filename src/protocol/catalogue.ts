/**
 * The catalogue of what a client can be told went wrong: every error code with its HTTP status
 * and whether retrying helps, and every WebSocket close code Parley uses with whether the client
 * reconnects. Pure data, shared by the server (src/errors.ts) and the client SDK
 * (client/errors.ts, client/realtime.ts). docs/protocol.md carries the same two tables;
 * test/errors.test.ts checks them against each other in both directions.
 */

/** Error code → HTTP status and whether (and how) to retry. */
export const ERRORS = {
  validation_failed: { status: 400, retry: 'no' },
  unauthorized: { status: 401, retry: 'after logging in' },
  forbidden: { status: 403, retry: 'no' },
  not_found: { status: 404, retry: 'no' },
  conflict: { status: 409, retry: 'no' },
  payload_too_large: { status: 413, retry: 'no' },
  unsupported_media_type: { status: 415, retry: 'no' },
  range_not_satisfiable: { status: 416, retry: 'no' },
  rate_limited: { status: 429, retry: 'after the wait' },
  unavailable: { status: 503, retry: 'with backoff' },
  internal: { status: 500, retry: 'maybe' },
} as const;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_STATUS = Object.fromEntries(Object.entries(ERRORS).map(([code, e]) => [code, e.status])) as { readonly [K in ErrorCode]: (typeof ERRORS)[K]['status'] };

/** WebSocket close codes and whether the client reconnects after them. */
export const CLOSE_CODES = {
  /** Server going away (shutdown). Reconnect with jittered backoff, resume with `since`. */
  goingAway: { code: 1001, reconnect: true },
  /** The frame was not valid UTF-8 text (RFC 6455). Do not resend it. */
  invalidData: { code: 1007, reconnect: true },
  /** Policy: the session was revoked (logout). Do not reconnect with the same token. */
  policy: { code: 1008, reconnect: false },
  /** Frame larger than the limit. Do not resend it. */
  tooBig: { code: 1009, reconnect: true },
  /** Service restart. Reconnect with jittered backoff and resume. */
  restart: { code: 1012, reconnect: true },
  /** Overloaded, or a dependency is down. Reconnect later with backoff. */
  tryAgainLater: { code: 1013, reconnect: true },
  /** The connection kept sending past its rate limit. Reconnect after a pause. */
  rateLimited: { code: 4008, reconnect: true },
  /** Slow consumer: the unsent backlog passed the limit. Reconnect and resume with `since`. */
  slowConsumer: { code: 4009, reconnect: true },
} as const;

export const CLOSE = Object.fromEntries(Object.entries(CLOSE_CODES).map(([name, c]) => [name, c.code])) as { readonly [K in keyof typeof CLOSE_CODES]: (typeof CLOSE_CODES)[K]['code'] };
