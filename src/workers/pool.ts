/**
 * The worker-thread pool: CPU work over a millisecond (rendering an export, parsing large
 * inputs, image work) runs here, never on the event loop. Bounded twice: `threads` run at once,
 * and at most `maxQueue` tasks wait; one more is refused at once with `unavailable` (its job
 * retries later) rather than queueing without bound. A task's input and output are copied
 * between threads (structured clone): pass pages, not whole histories.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { unavailable } from '../errors.js';
import type { TaskCall, TaskInput, TaskName, TaskOutput } from './tasks.js';

/** The tasks module, as TypeScript under a development loader or as built JavaScript. */
const ENTRY = new URL(`./tasks${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

export interface WorkerPoolOptions {
  /** Threads; 'auto': the cores minus one, at least one. */
  threads: number | 'auto';
  maxQueue: number;
  /** A thread idle this long exits (it is started again on demand), ms. */
  idleTimeoutMs?: number;
}

export interface WorkerPoolStats {
  threads: number;
  queued: number;
  completed: number;
  /** Share of the pool's capacity used since it started, 0 to 1. */
  utilization: number;
}

export class WorkerPool {
  readonly #pool: Piscina;
  readonly #maxQueue: number;
  #closing: Promise<void> | null = null;

  constructor(options: WorkerPoolOptions) {
    const threads = options.threads === 'auto' ? Math.max(1, availableParallelism() - 1) : options.threads;
    this.#maxQueue = options.maxQueue;
    this.#pool = new Piscina({
      filename: ENTRY.href,
      minThreads: 0,
      maxThreads: threads,
      idleTimeout: options.idleTimeoutMs ?? 30_000,
      // Ours is checked first (below), with the domain's error; this one is a backstop.
      maxQueue: options.maxQueue,
      // A task holds one page of input and its output: a small heap, collected often, keeps a
      // long run (a million-message export) from growing the process by what it has thrown away.
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 256 },
    });
  }

  async run<N extends TaskName>(name: N, input: TaskInput<N>, signal?: AbortSignal): Promise<TaskOutput<N>> {
    if (this.#closing !== null) throw unavailable('The worker pool is shutting down.');
    if (this.#pool.queueSize >= this.#maxQueue) throw unavailable('The worker pool is busy; retry shortly.');
    const call: TaskCall = { name, input };
    return (await this.#pool.run(call, signal === undefined ? {} : { signal })) as TaskOutput<N>;
  }

  stats(): WorkerPoolStats {
    return { threads: this.#pool.threads.length, queued: this.#pool.queueSize, completed: this.#pool.completed, utilization: this.#pool.utilization };
  }

  /** Waits for the tasks in flight, then ends the threads. */
  close(): Promise<void> {
    this.#closing ??= this.#pool.close();
    return this.#closing;
  }
}
