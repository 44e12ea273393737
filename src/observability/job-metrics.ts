/**
 * Metrics of the slow-work path: job runs by queue and outcome, how long they ran, the depth
 * of each queue by state (read from the backend at each scrape), and the worker-thread pool.
 * Queue depths are the backend's, the same from every process: merged across a node's workers
 * by taking the largest, not the sum.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { JobObserver, RunOutcome } from '../jobs/observer.js';
import type { JobCounts, JobQueue } from '../ports.js';
import type { WorkerPool } from '../workers/pool.js';

const RUN_BUCKETS = [0.005, 0.025, 0.1, 0.5, 1, 2.5, 10, 30, 120, 600];

export class JobMetrics implements JobObserver {
  readonly #runs: Counter<'queue' | 'outcome'>;
  readonly #seconds: Histogram<'queue'>;

  constructor(registry: Registry, source: { jobs: () => JobQueue | null; queues: () => string[]; pool: () => WorkerPool | null }) {
    this.#runs = new Counter({
      name: 'parley_job_runs_total',
      help: 'Runs of jobs ended in this process, by queue and outcome: completed, retry (failed, runs again after its backoff), dead (out of attempts or failed permanently), released (given back at shutdown), lost (its lease lapsed; another process ran it).',
      labelNames: ['queue', 'outcome'] as const,
      registers: [registry],
    });
    this.#seconds = new Histogram({
      name: 'parley_job_run_seconds',
      help: 'How long runs of jobs took, by queue.',
      labelNames: ['queue'] as const,
      buckets: RUN_BUCKETS,
      registers: [registry],
    });
    new Gauge({
      name: 'parley_jobs',
      help: 'Jobs by queue and state (waiting, delayed, active, dead), as the job backend counts them at the scrape.',
      labelNames: ['queue', 'state'] as const,
      registers: [registry],
      aggregator: 'max',
      async collect() {
        const jobs = source.jobs();
        if (jobs === null) return;
        this.reset();
        for (const queue of source.queues()) {
          let counts: JobCounts;
          try {
            counts = await jobs.counts(queue);
          } catch {
            // The backend is down: its outage is logged and shown elsewhere; no figure is better than a wrong one.
            continue;
          }
          for (const [state, n] of Object.entries(counts)) this.set({ queue, state }, n);
        }
      },
    });
    new Gauge({
      name: 'parley_worker_pool_threads',
      help: 'Threads of the worker-thread pool running now.',
      registers: [registry],
      collect() {
        this.set(source.pool()?.stats().threads ?? 0);
      },
    });
    new Gauge({
      name: 'parley_worker_pool_queued',
      help: 'Tasks waiting for a thread of the worker-thread pool.',
      registers: [registry],
      collect() {
        this.set(source.pool()?.stats().queued ?? 0);
      },
    });
  }

  ran(queue: string, outcome: RunOutcome, seconds: number): void {
    this.#runs.inc({ queue, outcome });
    if (outcome !== 'released') this.#seconds.observe({ queue }, seconds);
  }

  /** Jobs this process ran to completion since it started, every queue together. */
  async completedTotal(): Promise<number> {
    return (await this.#runs.get()).values.reduce((sum, v) => (v.labels.outcome === 'completed' ? sum + v.value : sum), 0);
  }
}
