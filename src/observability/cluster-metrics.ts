/**
 * `/metrics` for a whole node in cluster mode. A scrape lands on one worker (the port is
 * shared); that worker asks the primary, which collects every worker's registry over IPC, adds
 * its own (restarts), and merges them: counters and histograms are summed, and so are the
 * process gauges (a node's RSS is the sum of its processes). The worker answers with the result.
 *
 * Every step has a deadline: a worker that does not answer within COLLECT_TIMEOUT_MS is left
 * out of that scrape (and counted in `parley_metrics_workers_missing`), never waited for.
 */
import type { Worker } from 'node:cluster';
import { AggregatorRegistry, Gauge, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';

type Dump = Array<MetricObjectWithValues<MetricValue<string>>>;

export type MetricsMessage =
  | { parley: 'metrics'; type: 'collect'; id: number }
  | { parley: 'metrics'; type: 'dump'; id: number }
  | { parley: 'metrics'; type: 'dumped'; id: number; metrics: Dump }
  | { parley: 'metrics'; type: 'result'; id: number; text: string };

export const isMetricsMessage = (m: unknown): m is MetricsMessage => typeof m === 'object' && m !== null && (m as { parley?: unknown }).parley === 'metrics';

const COLLECT_TIMEOUT_MS = 3_000;

/** Worker side: answers the primary's dumps, and asks it for the node's merged metrics. */
export class WorkerMetrics {
  readonly #registry: Registry;
  readonly #waiting = new Map<number, (text: string) => void>();
  #nextId = 1;

  constructor(registry: Registry) {
    this.#registry = registry;
    process.on('message', (message: unknown) => {
      if (!isMetricsMessage(message)) return;
      if (message.type === 'dump') {
        this.#registry.getMetricsAsJSON().then((metrics) => {
          const reply: MetricsMessage = { parley: 'metrics', type: 'dumped', id: message.id, metrics: metrics as Dump };
          // The primary may be gone (shutting down): the scrape then times out, nothing else.
          process.send?.(reply, undefined, undefined, () => undefined);
        }, () => undefined);
      } else if (message.type === 'result') {
        this.#waiting.get(message.id)?.(message.text);
        this.#waiting.delete(message.id);
      }
    });
  }

  /** The node's metrics text; rejects past the deadline. */
  collect(): Promise<string> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error('the cluster primary did not answer for metrics in time'));
      }, COLLECT_TIMEOUT_MS + 1_000);
      this.#waiting.set(id, (text) => {
        clearTimeout(timer);
        resolve(text);
      });
      const ask: MetricsMessage = { parley: 'metrics', type: 'collect', id };
      process.send?.(ask, undefined, undefined, () => undefined);
    });
  }
}

/** Primary side: merges the workers' registries and its own. */
export class PrimaryMetrics {
  readonly #registry: Registry;
  readonly #workers: () => Worker[];
  readonly #pending = new Map<number, { dumps: Dump[]; expected: number; done: () => void }>();
  readonly #missing: Gauge;
  #nextId = 1;

  constructor(registry: Registry, workers: () => Worker[]) {
    this.#registry = registry;
    this.#workers = workers;
    this.#missing = new Gauge({ name: 'parley_metrics_workers_missing', help: 'Workers whose metrics did not arrive in time for this scrape.', registers: [registry] });
  }

  /** Routes the metrics messages of one worker. */
  attach(worker: Worker): void {
    worker.on('message', (message: unknown) => {
      if (!isMetricsMessage(message)) return;
      if (message.type === 'collect') {
        this.merged().then(
          (text) => {
            if (!worker.isConnected()) return;
            const reply: MetricsMessage = { parley: 'metrics', type: 'result', id: message.id, text };
            worker.send(reply);
          },
          () => undefined,
        );
      } else if (message.type === 'dumped') {
        const pending = this.#pending.get(message.id);
        if (pending === undefined) return;
        pending.dumps.push(message.metrics);
        if (pending.dumps.length >= pending.expected) pending.done();
      }
    });
  }

  /** Every worker's metrics and the primary's, merged into one exposition text. */
  async merged(): Promise<string> {
    const id = this.#nextId++;
    const workers = this.#workers().filter((w) => w.isConnected());
    const dumps: Dump[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, COLLECT_TIMEOUT_MS);
      function finish() {
        clearTimeout(timer);
        resolve();
      }
      this.#pending.set(id, { dumps, expected: workers.length, done: finish });
      const ask: MetricsMessage = { parley: 'metrics', type: 'dump', id };
      for (const w of workers) w.send(ask);
      if (workers.length === 0) finish();
    });
    this.#pending.delete(id);
    this.#missing.set(workers.length - dumps.length);
    const own = (await this.#registry.getMetricsAsJSON()) as Dump;
    return AggregatorRegistry.aggregate([...dumps, own]).metrics();
  }
}
