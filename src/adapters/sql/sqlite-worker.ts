/**
 * The thread that owns a SQLite connection (see store-thread.ts): runs each Store call it is
 * sent, one at a time, in arrival order but for stream appends, which go first (below), and
 * answers with the result or the error (a message carries one call or several, and so does an
 * answer). A call posted before the
 * last cancellation (its generation is older than the shared flag's) is refused unrun.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
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
 * The Store methods served before the others: a stream append is what a sender waits for, while
 * the calls queued beside it are mostly the stream's consumers (the search indexer, the
 * notifier), whose lag nobody waits on. Taking an append before calls posted earlier keeps every
 * guarantee: those calls have not been answered yet, so their callers cannot have acted on them,
 * and the appends among themselves keep their order.
 */
const URGENT = new Set(['append']);
/** Urgent calls run in a row while other calls wait, at most; then one of those runs. */
const URGENT_STREAK = 8;

const urgent: Call[] = [];
const others: Call[] = [];
let streak = 0;
let draining = false;

function enqueue(message: Call | Call[]): void {
  for (const call of Array.isArray(message) ? message : [message]) (URGENT.has(call.method) ? urgent : others).push(call);
}

/** The next call: an urgent one first, unless others have waited through a streak of them. */
function next(): Call | undefined {
  if (urgent.length > 0 && (others.length === 0 || streak < URGENT_STREAK)) {
    streak += 1;
    return urgent.shift();
  }
  streak = 0;
  return others.shift();
}

/**
 * One call at a time, each finishing before the next starts (a close waits for the calls before
 * it). Between calls the messages that came meanwhile are taken off the port at once, so an
 * append posted while a call ran is seen before the next call is chosen.
 */
async function drain(): Promise<void> {
  draining = true;
  const p = port as NonNullable<typeof port>;
  for (;;) {
    for (let m = receiveMessageOnPort(p); m !== undefined; m = receiveMessageOnPort(p)) enqueue(m.message as Call | Call[]);
    const call = next();
    if (call === undefined) break;
    await run(call);
  }
  draining = false;
}

port.on('message', (message: Call | Call[]) => {
  enqueue(message);
  if (!draining) void drain();
});
