/**
 * The thread that owns the SQLite connection (see sqlite-thread.ts): runs each Store call it is
 * sent, one at a time in arrival order, and answers with the result or the error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { AppError } from '../../errors.js';
import { openSqliteStore } from './sqlite.js';

export interface Call {
  id: number;
  method: string;
  args: unknown[];
}

export type Answer = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: SerializedError };

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  details?: Record<string, unknown>;
  retryAfterSeconds?: number;
}

const port = parentPort;
if (port === null) throw new Error('sqlite-worker runs as a worker thread');
const store = openSqliteStore((workerData as { file: string }).file) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;

function serialize(error: unknown): SerializedError {
  if (error instanceof AppError) {
    return { name: 'AppError', message: error.message, code: error.code, ...(error.details === undefined ? {} : { details: error.details }), ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }) };
  }
  const e = error as { name?: unknown; message?: unknown; code?: unknown };
  return { name: typeof e?.name === 'string' ? e.name : 'Error', message: typeof e?.message === 'string' ? e.message : String(error), ...(typeof e?.code === 'string' ? { code: e.code } : {}) };
}

port.on('message', (call: Call) => {
  const method = store[call.method];
  const run = typeof method === 'function' ? method.apply(store, call.args) : Promise.reject(new Error(`no store method ${call.method}`));
  Promise.resolve(run).then(
    (value) => port.postMessage({ id: call.id, ok: true, value } satisfies Answer),
    (error: unknown) => port.postMessage({ id: call.id, ok: false, error: serialize(error) } satisfies Answer),
  );
});
