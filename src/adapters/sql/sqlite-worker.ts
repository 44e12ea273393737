/**
 * The thread that owns a SQLite connection (see store-thread.ts): runs each Store call it is
 * sent, in arrival order, and answers with the result or the error (a message carries one call or
 * several, and so does an answer). A call posted before the
 * last cancellation (its generation is older than the shared flag's) is refused unrun.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { unavailable } from '../../errors.js';
import { openSqliteStore } from './sqlite.js';
import { type Answer, type Call, READY, serialize, type ThreadData } from './thread-protocol.js';

const port = parentPort;
if (port === null) throw new Error('sqlite-worker runs as a worker thread');
const data = workerData as ThreadData;
const store = openSqliteStore(data.file, { readonly: data.readonly, cacheMb: data.cacheMb, cancel: data.cancel }) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;

port.postMessage(READY);

/**
 * Answers made in one task go back in one message, as the calls came (a message may carry
 * several, run in order).
 */
let outbox: Answer[] = [];
function answer(a: Answer): void {
  outbox.push(a);
  if (outbox.length === 1) queueMicrotask(flush);
}
function flush(): void {
  const answers = outbox;
  outbox = [];
  (port as NonNullable<typeof port>).postMessage(answers.length === 1 ? answers[0] : answers);
}

/**
 * Runs one call: refused unrun when posted before the last cancellation (checked as it starts,
 * so a cancel reaches the calls queued behind a running search too). Settles once answered.
 */
function run(call: Call): Promise<void> {
  const method = store[call.method];
  const result =
    call.generation !== Atomics.load(data.cancel, 0)
      ? Promise.reject(unavailable('The call was cancelled; retry.'))
      : typeof method === 'function'
        ? Promise.resolve().then(() => method.apply(store, call.args))
        : Promise.reject(new Error(`no store method ${call.method}`));
  return result.then(
    (value) => answer({ id: call.id, ok: true, value }),
    (error: unknown) => answer({ id: call.id, ok: false, error: serialize(error) }),
  );
}

/**
 * One call at a time, in arrival order, whether they came one per message or several in one:
 * each finishes before the next starts (a close waits for the calls before it).
 */
let running: Promise<void> = Promise.resolve();
port.on('message', (message: Call | Call[]) => {
  for (const call of Array.isArray(message) ? message : [message]) running = running.then(() => run(call));
});
