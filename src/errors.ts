/**
 * The error catalogue: every error a client can see, with its stable code and HTTP status,
 * and every WebSocket close code Parley uses with what the client should do about it.
 * docs/protocol.md carries the same tables; test/errors.test.ts ties the two together.
 */

export const ERROR_STATUS = {
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  /** For rate_limited and unavailable: seconds until a retry may succeed. */
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, retryAfterSeconds?: number) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toBody(): ErrorBody {
    const error: ErrorBody['error'] = { code: this.code, message: this.message };
    if (this.details !== undefined) error.details = this.details;
    return { error };
  }
}

export const validationFailed = (message: string, details?: Record<string, unknown>) =>
  new AppError('validation_failed', message, details);
export const unauthorized = (message = 'Authentication is required.') => new AppError('unauthorized', message);
export const forbidden = (message: string) => new AppError('forbidden', message);
export const notFound = (message: string) => new AppError('not_found', message);
export const conflict = (message: string, details?: Record<string, unknown>) => new AppError('conflict', message, details);
export const rateLimited = (retryAfterMs: number) =>
  new AppError('rate_limited', 'Too many requests; slow down.', { retryAfterMs }, Math.max(1, Math.ceil(retryAfterMs / 1000)));
export const unavailable = (message: string, retryAfterSeconds = 1) =>
  new AppError('unavailable', message, undefined, retryAfterSeconds);

/** The body sent for any error that is not an AppError: never the stack or the cause. */
export const internalBody = (): ErrorBody => ({
  error: { code: 'internal', message: 'Something went wrong on our side; it has been logged.' },
});

/** WebSocket close codes and what a client does on each. */
export const CLOSE = {
  /** Server going away (shutdown). Reconnect with jittered backoff. */
  goingAway: 1001,
  /** The frame was not valid UTF-8 text (RFC 6455). Do not resend it. */
  invalidData: 1007,
  /** Policy: origin refused, or the session was revoked (logout). Do not reconnect with the same token. */
  policy: 1008,
  /** Frame larger than the limit. */
  tooBig: 1009,
  /** Service restart. Reconnect with jittered backoff and resume. */
  restart: 1012,
  /** Overloaded. Reconnect later with backoff. */
  tryAgainLater: 1013,
  /** The connection kept sending past its rate limit. Reconnect after a pause. */
  rateLimited: 4008,
  /** Slow consumer: the unsent backlog passed the limit. Reconnect and resume with `since`. */
  slowConsumer: 4009,
} as const;
