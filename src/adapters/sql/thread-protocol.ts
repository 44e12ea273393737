/**
 * What the main thread and a store thread (sqlite-worker.ts) tell each other: calls, answers
 * and errors, encoded and decoded in this one place.
 */
import { AppError, type ErrorCode } from '../../errors.js';

export interface Call {
  id: number;
  method: string;
  args: unknown[];
  /** The cancel flag's value when the call was posted. */
  generation: number;
}

/** The answer to a call; READY (id 0) once the thread's connection is open and calls are served. */
export type Answer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

export const READY: Answer = { id: 0, ok: true, value: 'ready' };

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  details?: Record<string, unknown>;
  retryAfterSeconds?: number;
}

/** The thread's workerData. */
export interface ThreadData {
  file: string;
  readonly: boolean;
  /** The connection's page cache, MiB (SQLITE_CACHE_MB). */
  cacheMb?: number;
  /** Shared with the thread that posts the calls: element 0 is the cancel generation. */
  cancel: Int32Array;
}

export function serialize(error: unknown): SerializedError {
  if (error instanceof AppError) {
    return { name: 'AppError', message: error.message, code: error.code, ...(error.details === undefined ? {} : { details: error.details }), ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }) };
  }
  const e = error as { name?: unknown; message?: unknown; code?: unknown };
  return { name: typeof e?.name === 'string' ? e.name : 'Error', message: typeof e?.message === 'string' ? e.message : String(error), ...(typeof e?.code === 'string' ? { code: e.code } : {}) };
}

export function revive(error: SerializedError): Error {
  if (error.name === 'AppError') return new AppError(error.code as ErrorCode, error.message, error.details, error.retryAfterSeconds);
  return Object.assign(new Error(error.message), { name: error.name, ...(error.code === undefined ? {} : { code: error.code }) });
}
