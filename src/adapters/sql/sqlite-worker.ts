/**
 * The thread that owns a SQLite connection (see store-thread.ts): runs each Store call it is
 * sent, in arrival order, and answers with the result or the error. A call posted before the
 * last cancellation (its generation is older than the shared flag's) is refused unrun.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { unavailable } from '../../errors.js';
import { openSqliteStore } from './sqlite.js';
import { type Answer, type Call, READY, serialize, type ThreadData } from './thread-protocol.js';

const port = parentPort;
if (port === null) throw new Error('sqlite-worker runs as a worker thread');
const data = workerData as ThreadData;
const store = openSqliteStore(data.file, { readonly: data.readonly, cancel: data.cancel }) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;

port.postMessage(READY);
port.on('message', (call: Call) => {
  const method = store[call.method];
  const run =
    call.generation !== Atomics.load(data.cancel, 0)
      ? Promise.reject(unavailable('The call was cancelled; retry.'))
      : typeof method === 'function'
        ? method.apply(store, call.args)
        : Promise.reject(new Error(`no store method ${call.method}`));
  Promise.resolve(run).then(
    (value) => port.postMessage({ id: call.id, ok: true, value } satisfies Answer),
    (error: unknown) => port.postMessage({ id: call.id, ok: false, error: serialize(error) } satisfies Answer),
  );
});
