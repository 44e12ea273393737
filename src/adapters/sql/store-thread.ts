/**
 * One worker thread that owns a SQLite connection and answers Store calls sent to it by message
 * (sqlite-worker.ts), one at a time (in arrival order, stream appends first); and its watchdog.
 *
 * - Bounded: at most `maxQueued` calls wait for (or run on) the thread; past it a call fails at
 *   once with `unavailable` (load shedding), instead of queueing behind a slow thread.
 * - Stuck threads are detached: when calls wait and the thread has answered none of them for
 *   `stallMs`, every call in flight on it fails with `unavailable`, the thread is told to stop
 *   (it ends when it next runs JavaScript; a transaction it left open rolls back with its
 *   connection), and the next call starts a fresh thread with a connection of its own. A
 *   statement already inside SQLite cannot be stopped from outside: an autocommit statement
 *   that was running may still complete after its call was answered `unavailable` (as with any
 *   store whose answer is lost; sends retried with their clientMsgId are not stored twice).
 * - At most MAX_DETACHED detached threads may still be running; past that no fresh thread is
 *   started and calls fail with `unavailable` until one of them ends (the node then reports
 *   itself not ready).
 * - A thread that dies is replaced on the next call; the calls it held fail with `unavailable`.
 * - Cancellation: the first element of a shared Int32Array is a generation. Each call carries
 *   the generation it was posted under; incrementing it (cancelAll) stops the search running on
 *   the thread at its next candidate and makes the thread refuse every call posted before.
 */
import { Worker } from 'node:worker_threads';
import { type AppError, unavailable } from '../../errors.js';
import { trackThread } from '../../hard-exit.js';
import { type Answer, type Call, READY, revive, type ThreadData } from './thread-protocol.js';

/** Detached threads still running (stuck in native code) beyond which no fresh one is started. */
export const MAX_DETACHED = 4;
/**
 * How long a thread may take to start and open its connection before it counts as stuck, ms
 * (the stall limit applies from then on; from TypeScript sources the loader alone takes ~1 s).
 */
const STARTUP_MS = 30_000;
/** How long close() waits for the thread to end after its connection is closed, ms. */
const CLOSE_GRACE_MS = 2_000;

export interface StoreThreadOptions {
  /** Names the thread in errors, logs and stats. */
  name: string;
  file: string;
  /** A read-only connection: only read-only Store methods may be routed to it. */
  readonly: boolean;
  /** The connection's page cache, MiB (SQLITE_CACHE_MB); SQLite's default (2 MiB) when absent. */
  cacheMb?: number;
  maxQueued: number;
  stallMs: number;
  /** The thread was detached, failing `calls` calls. */
  onDetached?(name: string, calls: number): void;
}

export interface StoreThreadStats {
  name: string;
  /** Worker thread id of the thread serving calls now; null when none is running. */
  threadId: number | null;
  /** Threads started so far (the first, and one after each detach or death). */
  started: number;
  /** Detached threads that have not ended yet. */
  detached: number;
  /** Calls waiting for or running on the current thread. */
  queued: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

// The worker's source sits beside this file: .ts when run from source, .js when built.
const ENTRY = new URL(`./sqlite-worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

export class StoreThread {
  readonly #options: StoreThreadOptions;
  readonly #pending = new Map<number, Pending>();
  readonly #detached = new Set<Worker>();
  #worker: Worker | null = null;
  /** The current thread has opened its connection. */
  #ready = false;
  #cancel = new Int32Array(new SharedArrayBuffer(4));
  #stall: NodeJS.Timeout | null = null;
  /** Calls running that the stall limit does not apply to. */
  #unwatched = 0;
  #nextId = 1;
  #started = 0;
  #closed = false;
  /** Calls made in this task, for #outboxWorker, posted together by #flush. */
  #outbox: Call[] = [];
  #outboxWorker: Worker | null = null;

  constructor(options: StoreThreadOptions) {
    this.#options = options;
  }

  stats(): StoreThreadStats {
    return { name: this.#options.name, threadId: this.#worker?.threadId ?? null, started: this.#started, detached: this.#detached.size, queued: this.#pending.size };
  }

  /**
   * `unwatched`: the call may run for as long as it needs (a migration rebuilding an index of a
   * large database); while it runs the thread is not taken for stuck.
   */
  call(method: string, args: unknown[], options: { unwatched?: boolean } = {}): Promise<unknown> {
    if (this.#closed) return Promise.reject(unavailable('The store is closed.'));
    if (options.unwatched !== true) return this.#post(method, args);
    this.#unwatched++;
    return this.#post(method, args).finally(() => {
      this.#unwatched--;
    });
  }

  /** Starts the thread now, if none runs, so that the first call does not wait for it. */
  warm(): void {
    if (this.#closed || this.#worker !== null) return;
    try {
      this.#start();
    } catch {
      // Too many stuck threads: the next call reports it.
    }
  }

  /** Stops the search running on the thread and refuses the calls already posted to it. */
  cancelAll(): void {
    Atomics.add(this.#cancel, 0, 1);
  }

  #post(method: string, args: unknown[]): Promise<unknown> {
    if (this.#pending.size >= this.#options.maxQueued) return Promise.reject(unavailable('The store is overloaded; retry shortly.'));
    let worker: Worker;
    try {
      worker = this.#worker ?? this.#start();
    } catch (error) {
      return Promise.reject(error);
    }
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#stall ??= setTimeout(() => this.#detach(), this.#ready ? this.#options.stallMs : Math.max(this.#options.stallMs, STARTUP_MS));
      this.#send(worker, { id, method, args, generation: Atomics.load(this.#cancel, 0) });
    });
  }

  /**
   * Calls made in one task (and its microtasks) go to the thread in one message: a postMessage
   * costs the posting thread about as much as a small query costs the store (a thousand
   * connections opening at once made three calls each, and their posts were 8% of the busy time).
   * Posted at the end of the task, not of the loop's turn: a busy turn would hold every call back
   * for all of its I/O. Order is kept: the thread runs the calls one at a time, as they came.
   */
  #send(worker: Worker, call: Call): void {
    if (this.#outboxWorker !== worker) {
      // Calls still waiting for a thread left since have failed with it.
      this.#outbox = [];
      this.#outboxWorker = worker;
    }
    this.#outbox.push(call);
    if (this.#outbox.length === 1) queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    const calls = this.#outbox;
    const worker = this.#outboxWorker;
    this.#outbox = [];
    if (calls.length === 0 || worker === null || worker !== this.#worker) return;
    try {
      worker.postMessage(calls.length === 1 ? calls[0] : calls);
    } catch {
      // A call whose arguments cannot be copied fails alone; the others are posted one by one.
      for (const call of calls) {
        try {
          worker.postMessage(call);
        } catch (error) {
          const p = this.#pending.get(call.id);
          this.#pending.delete(call.id);
          this.#progress();
          p?.reject(error);
        }
      }
    }
  }

  #start(): Worker {
    if (this.#detached.size >= MAX_DETACHED) throw unavailable(`The ${this.#options.name} store threads are stuck; retry later.`);
    // A fresh cancel flag: the detached thread keeps the old one.
    this.#cancel = new Int32Array(new SharedArrayBuffer(4));
    const workerData: ThreadData = { file: this.#options.file, readonly: this.#options.readonly, cacheMb: this.#options.cacheMb, cancel: this.#cancel };
    // Run from TypeScript sources (development, tests), the thread loads its entry through tsx
    // itself: a worker thread does not inherit the loader of its process.
    const w = ENTRY.pathname.endsWith('.ts')
      ? new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(ENTRY.href)}); });`, { eval: true, workerData })
      : new Worker(ENTRY, { workerData });
    this.#started += 1;
    this.#ready = false;
    trackThread(w);
    w.on('message', (message: Answer | Answer[]) => {
      if (this.#worker !== w) return; // a detached thread's late answer: its calls have failed already
      if (Array.isArray(message)) for (const answer of message) this.#answered(answer);
      else this.#answered(message);
    });
    w.on('error', (error) => {
      if (this.#worker === w) this.#failAll(unavailable(`The store thread failed: ${error.message}`));
    });
    w.on('exit', () => {
      this.#detached.delete(w);
      if (this.#worker !== w) return;
      this.#worker = null;
      this.#failAll(unavailable('The store thread stopped; retry.'));
    });
    // The thread does not keep the process alive by itself; calls waiting on it do (the stall timer).
    w.unref();
    this.#worker = w;
    return w;
  }

  /** One answer of the current thread: READY, or a call's result or error. */
  #answered(answer: Answer): void {
    if (answer.id === READY.id) {
      this.#ready = true;
      // From now on the stall limit is the thread's own, not the startup's.
      if (this.#stall !== null) {
        clearTimeout(this.#stall);
        this.#stall = setTimeout(() => this.#detach(), this.#options.stallMs);
      }
      return;
    }
    const p = this.#pending.get(answer.id);
    if (p === undefined) return;
    this.#pending.delete(answer.id);
    this.#progress();
    if (answer.ok) p.resolve(answer.value);
    else p.reject(revive(answer.error));
  }

  /** An answer came: the thread is alive, so the stall timer starts again while calls wait. */
  #progress(): void {
    if (this.#stall === null) return;
    if (this.#pending.size === 0) {
      clearTimeout(this.#stall);
      this.#stall = null;
    } else {
      this.#stall.refresh();
    }
  }

  #failAll(error: AppError): void {
    if (this.#stall !== null) clearTimeout(this.#stall);
    this.#stall = null;
    const calls = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of calls) p.reject(error);
  }

  /** The thread answered nothing for stallMs while calls waited: leave it, fail its calls. */
  #detach(): void {
    this.#stall = null;
    const w = this.#worker;
    if (w === null) return;
    if (this.#unwatched > 0) {
      // A migration is running: not stuck, only long. Look again later.
      this.#stall = setTimeout(() => this.#detach(), this.#options.stallMs);
      return;
    }
    this.#worker = null;
    this.#detached.add(w);
    // A search stops at its next candidate; anything else ends when it returns to JavaScript.
    Atomics.add(this.#cancel, 0, 1);
    void w.terminate();
    const calls = this.#pending.size;
    this.#failAll(unavailable('The store did not answer in time; retry.'));
    this.#options.onDetached?.(this.#options.name, calls);
  }

  /**
   * Refuses new calls, lets the calls already posted finish (a read-only thread cancels them),
   * closes the connection (the writer checkpoints the WAL), and ends the thread. A thread that
   * does not end within a grace is left to exitProcess().
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const w = this.#worker;
    if (w === null) return;
    if (this.#options.readonly) this.cancelAll();
    await this.#post('close', []).catch(() => undefined);
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([w.terminate(), new Promise((resolve) => (grace = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(grace);
    if (this.#worker === w) this.#worker = null;
  }
}
