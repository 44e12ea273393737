/**
 * The client's one error class. Every failure the SDK reports, whether the server answered with
 * the protocol's error shape (REST or WebSocket) or the client gave up on its own (timeout,
 * network down, outbox full, client closed), is a `ParleyError` carrying a code of the
 * protocol's catalogue, so an application handles both the same way.
 */
import { ERROR_STATUS as CATALOGUE_STATUS } from '../src/protocol/catalogue.js';
import type { ErrorCode, WireError } from '../src/protocol/wire.js';

/** The HTTP status PROTOCOL.md gives each code; WebSocket and local errors carry it too. */
export const ERROR_STATUS: Readonly<Record<ErrorCode, number>> = CATALOGUE_STATUS;

/** Where an error came from: an HTTP answer, a WebSocket reply, or the client itself. */
export type ErrorSource = 'http' | 'ws' | 'client';

export interface ParleyErrorInit {
  status?: number;
  details?: Record<string, unknown>;
  retryAfterMs?: number;
  source?: ErrorSource;
  cause?: unknown;
}

/** An error of the Parley protocol, as seen by the client. */
export class ParleyError extends Error {
  /** The stable code of PROTOCOL.md's catalogue. */
  readonly code: ErrorCode;
  /** The HTTP status: the response's for REST errors, the catalogue's for the others. */
  readonly status: number;
  /** The error's `details` object, when the server sent one. */
  readonly details: Record<string, unknown> | undefined;
  /**
   * For `rate_limited` and `unavailable`: milliseconds to wait before retrying, from
   * `details.retryAfterMs` when present, else from the `Retry-After` header (seconds).
   */
  readonly retryAfterMs: number | undefined;
  readonly source: ErrorSource;

  constructor(code: ErrorCode, message: string, init: ParleyErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'ParleyError';
    this.code = code;
    this.status = init.status ?? ERROR_STATUS[code] ?? 500;
    this.details = init.details;
    this.retryAfterMs = init.retryAfterMs ?? retryAfterFromDetails(init.details);
    this.source = init.source ?? 'client';
  }

  /** Builds the error from the protocol's `error` object (REST body or WebSocket reply). */
  static fromWire(error: unknown, source: ErrorSource, status?: number, retryAfterHeader?: string | null): ParleyError {
    const wire = asWireError(error);
    if (wire === undefined) {
      return new ParleyError(codeForStatus(status), `The server answered ${status ?? 'an error'} without an error body.`, { source, ...(status === undefined ? {} : { status }) });
    }
    const init: ParleyErrorInit = { source };
    if (status !== undefined) init.status = status;
    if (wire.details !== undefined) init.details = wire.details;
    const fromHeader = parseRetryAfter(retryAfterHeader);
    if (retryAfterFromDetails(wire.details) === undefined && fromHeader !== undefined) init.retryAfterMs = fromHeader;
    return new ParleyError(wire.code, wire.message, init);
  }
}

const CODES = new Set<string>(Object.keys(ERROR_STATUS));

function asWireError(value: unknown): WireError | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { code, message, details } = value as { code?: unknown; message?: unknown; details?: unknown };
  if (typeof code !== 'string') return undefined;
  // An unknown code from a newer server is kept readable without widening ErrorCode.
  const known = CODES.has(code) ? (code as ErrorCode) : 'internal';
  const wire: WireError = { code: known, message: typeof message === 'string' ? message : code };
  if (typeof details === 'object' && details !== null && !Array.isArray(details)) wire.details = details as Record<string, unknown>;
  return wire;
}

function retryAfterFromDetails(details: Record<string, unknown> | undefined): number | undefined {
  const ms = details?.retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/** `Retry-After` in seconds (the only form Parley sends); an HTTP date is also accepted. */
function parseRetryAfter(header: string | null | undefined): number | undefined {
  if (header === null || header === undefined || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function codeForStatus(status: number | undefined): ErrorCode {
  for (const [code, s] of Object.entries(ERROR_STATUS)) if (s === status) return code as ErrorCode;
  return status !== undefined && status >= 500 ? 'unavailable' : 'internal';
}

/** The error every request still waiting gets when the client is closed. */
export const clientClosed = (): ParleyError => new ParleyError('unavailable', 'The client was closed.');
