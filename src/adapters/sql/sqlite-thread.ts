/**
 * The embedded store off the event loop: better-sqlite3 is synchronous, so every statement run
 * on the main thread holds the event loop (a group-committed batch of DM traffic held it for
 * tens of milliseconds). Here one worker thread owns the connection and runs the Store calls;
 * the main thread only posts them and receives the answers, and SQLite works on another core.
 *
 * Guarantees are the SqlStore's: calls are started in the order they were made, on one
 * connection. A call unanswered within CALL_TIMEOUT_MS ends the thread (an open transaction
 * rolls back) and fails with `unavailable`, as do the other calls in flight; a thread that dies
 * is replaced on the next call. The database is on disk: nothing acknowledged is lost. As with
 * any store, a commit that lands in the instant before the deadline is reported as failed;
 * a retried send with its clientMsgId is not stored twice. SQLite's own "not now" errors (busy,
 * locked, I/O, disk full, cannot open) reach callers as `unavailable` too.
 */
import { Worker } from 'node:worker_threads';
import { AppError, type ErrorCode, unavailable } from '../../errors.js';
import type { Store } from '../../ports.js';
import { translateStoreOutages } from '../outage-store.js';
import { type ConnectionMonitor, isSqliteOutage } from '../outage.js';
import type { Answer, Call, SerializedError } from './sqlite-worker.js';

const CALL_TIMEOUT_MS = 30_000;

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: NodeJS.Timeout;
}

function revive(error: SerializedError): Error {
  if (error.name === 'AppError') return new AppError(error.code as ErrorCode, error.message, error.details, error.retryAfterSeconds);
  return Object.assign(new Error(error.message), { name: error.name, ...(error.code === undefined ? {} : { code: error.code }) });
}

export function openThreadedSqliteStore(file: string, options: { monitor?: ConnectionMonitor } = {}): Store {
  // The worker's source sits beside this file: .ts when run from source, .js when built.
  const entry = new URL(`./sqlite-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let worker: Worker | null = null;
  let closed = false;

  const fail = (error: unknown) => {
    for (const [id, p] of pending) {
      clearTimeout(p.timer);
      p.reject(error);
      pending.delete(id);
    }
  };
  const start = (): Worker => {
    // Run from TypeScript sources (development, tests), the thread loads its entry through tsx
    // itself: a worker thread does not inherit the loader of its process.
    const w = entry.pathname.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`, { eval: true, workerData: { file } })
      : new Worker(entry, { workerData: { file } });
    w.on('message', (answer: Answer) => {
      const p = pending.get(answer.id);
      if (p === undefined) return;
      pending.delete(answer.id);
      clearTimeout(p.timer);
      if (answer.ok) p.resolve(answer.value);
      else p.reject(revive(answer.error));
    });
    w.on('error', (error) => fail(unavailable(`The store thread failed: ${error.message}`)));
    w.on('exit', () => {
      if (worker === w) worker = null;
      fail(unavailable('The store thread stopped; retry.'));
    });
    // The thread does not keep the process alive by itself; pending calls do.
    w.unref();
    return w;
  };
  const call = (method: string, args: unknown[], closing = false): Promise<unknown> => {
    if (closed && !closing) return Promise.reject(unavailable('The store is closed.'));
    worker ??= start();
    const id = nextId++;
    const target = worker;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // The thread is stuck: end it, so that no call answered here as failed can still
        // commit later (an open transaction rolls back with its connection). Every call in
        // flight fails with it; the next call starts a fresh thread.
        void target.terminate();
        pending.delete(id);
        reject(unavailable('The store did not answer in time; retry.'));
      }, CALL_TIMEOUT_MS);
      pending.set(id, { resolve, reject, timer });
      target.postMessage({ id, method, args } satisfies Call);
    });
  };
  const close = async (): Promise<void> => {
    if (closed) return;
    // From now on calls are refused; the store closes its connection (checkpointing the WAL)
    // after the calls already sent, then the thread ends.
    closed = true;
    const w = worker;
    if (w !== null) await call('close', [], true).catch(() => undefined);
    worker = null;
    if (w !== null) await w.terminate();
  };
  const threaded = new Proxy({} as Store, {
    get(_target, property) {
      if (property === 'close') return close;
      if (typeof property !== 'string' || property === 'then') return undefined;
      return (...args: unknown[]) => call(property, args);
    },
  });
  return translateStoreOutages(threaded, { isOutage: isSqliteOutage, message: 'The database is busy or unavailable; retry shortly.', monitor: options.monitor });
}
