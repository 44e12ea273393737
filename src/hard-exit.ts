/**
 * Exiting the process on time, even with a worker thread stuck in native code.
 *
 * On Node 20, process.exit() (and a natural exit) stops every worker thread and joins it
 * before the process ends. Stopping a thread only takes effect when it next runs JavaScript,
 * so a thread inside a long native call (a SQLite statement that never calls back) holds the
 * exit for as long as that call lasts: the shutdown deadline would pass with the process still
 * there. Threads that may block like this are tracked here; exitProcess() ends them first,
 * waits a short grace for them, and when one is still running it logs why and kills its own
 * process (SIGKILL cannot be held by a thread).
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from './observability/log.js';

const threads = new Set<Worker>();
let exiting: Promise<never> | null = null;

/** How long the last log line may take to be written before the process kills itself, ms. */
const LOG_FLUSH_MS = 250;

/** Grace given to tracked threads to stop once asked, ms. */
export const THREAD_EXIT_GRACE_MS = 1_000;

/** Tracks `worker` until it exits, so that exitProcess() can end it or know it is stuck. */
export function trackThread(worker: Worker): void {
  threads.add(worker);
  worker.once('exit', () => threads.delete(worker));
}

/**
 * Ends the process with `code`: stops every tracked thread, then exits; a thread that is not
 * gone within `graceMs` is stuck in native code, and the process kills itself instead (the
 * exit status is then the signal's).
 */
export function exitProcess(code: number, log: Logger, graceMs = THREAD_EXIT_GRACE_MS): Promise<never> {
  // Once: a deadline and a close finishing at the same moment exit with the first one's code.
  exiting ??= exit(code, log, graceMs);
  return exiting;
}

async function exit(code: number, log: Logger, graceMs: number): Promise<never> {
  if (threads.size > 0) {
    const stopped = Promise.all([...threads].map((w) => w.terminate())).then(() => true);
    // A referenced timer: while it runs, the process cannot reach a natural exit (which would
    // join the stuck thread too).
    const late = new Promise<false>((resolve) => setTimeout(() => resolve(false), graceMs));
    if (!(await Promise.race([stopped, late]))) {
      log.fatal({ threads: threads.size, code }, 'a worker thread is stuck in a native call and cannot be stopped; killing the process');
      // pino writes asynchronously (on the libuv thread pool) and its flush() does not wait
      // for a write in flight: give the line a moment to reach stdout before the kill.
      await new Promise((resolve) => setTimeout(resolve, LOG_FLUSH_MS));
      process.kill(process.pid, 'SIGKILL');
    }
  }
  process.exit(code);
}
