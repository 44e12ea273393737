/**
 * The jobs a process knows: each feature declares its queues (a handler, a concurrency, a
 * lease) and its repeat schedules here; the process then works them, or only enqueues when
 * JOBS_WORK is off (a `parley worker` process works them instead).
 */
import type { JobHandler, JobQueue, JobPayload } from '../ports.js';

export interface JobDefinition {
  queue: string;
  handler: JobHandler;
  /** Runs of this queue at once in one process. */
  concurrency: number;
  visibilityTimeoutMs?: number;
}

export interface RepeatDefinition {
  queue: string;
  name: string;
  everyMs: number;
  payload: JobPayload;
}

export class JobRuntime {
  readonly #definitions = new Map<string, JobDefinition>();
  readonly #repeats: RepeatDefinition[] = [];

  define(definition: JobDefinition): void {
    if (this.#definitions.has(definition.queue)) throw new Error(`queue ${definition.queue} is defined twice`);
    this.#definitions.set(definition.queue, definition);
  }

  repeat(definition: RepeatDefinition): void {
    this.#repeats.push(definition);
  }

  get queues(): string[] {
    return [...this.#definitions.keys()];
  }

  /**
   * Registers the repeat schedules (every process does: each period still runs once) and, when
   * `work`, starts working every defined queue.
   */
  async start(jobs: JobQueue, work: boolean): Promise<void> {
    for (const r of this.#repeats) await jobs.repeat(r.queue, r.name, r.everyMs, r.payload);
    if (!work) return;
    for (const d of this.#definitions.values()) {
      await jobs.work(d.queue, d.handler, { concurrency: d.concurrency, ...(d.visibilityTimeoutMs === undefined ? {} : { visibilityTimeoutMs: d.visibilityTimeoutMs }) });
    }
  }
}
