/**
 * Errors as the server raises them. The codes, statuses and close codes themselves are the
 * catalogue of src/protocol/catalogue.ts, shared with the client SDK.
 */

import { CLOSE, ERROR_STATUS, type ErrorCode } from './protocol/catalogue.js';
import type { ForbiddenReason } from './protocol/wire.js';

export { CLOSE, ERROR_STATUS, type ErrorCode };

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
export const forbidden = (message: string, details?: Record<string, unknown>) => new AppError('forbidden', message, details);


const REFUSALS: Record<ForbiddenReason, string> = {
  role: 'Your role in this room does not allow this.',
  rank: 'You can act only on members of a lower rank than yours.',
  dm: 'Direct-message rooms have no moderation.',
  not_member: 'Join this room first.',
  archived: 'This room is archived: it can be read, not changed.',
  muted: 'You are muted in this room.',
  banned: 'You are banned from this room.',
};

/** `forbidden` for a room operation, with its reason in details.reason (and a sentence of its own unless given). */
export const refused = (reason: ForbiddenReason, message = REFUSALS[reason]) => forbidden(message, { reason });
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
