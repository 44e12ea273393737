/**
 * The cluster primary of `parley start --workers N`: one worker per core sharing the port,
 * a crashed worker restarted with backoff, `SIGHUP` reloading workers one at a time with no
 * refused connection, `SIGTERM`/`SIGINT` shutting every worker down in order. It holds no
 * connections and no data; it routes the IPC bus between workers (when no Redis or NATS is
 * configured) and counts restarts.
 */
import cluster, { type Worker } from 'node:cluster';
import { IpcBusRouter, type IpcEndpoint } from '../adapters/ipc/bus.js';
import { THREAD_EXIT_GRACE_MS } from '../hard-exit.js';
import type { Logger } from '../observability/log.js';
import { type SupervisorMessage, isSupervisorMessage } from './messages.js';

export interface SupervisorOptions {
  workers: number;
  shutdownTimeoutMs: number;
  /** Restart delay after a crash: doubles per crash in a row, from `minMs` up to `maxMs`. */
  backoff?: { minMs: number; maxMs: number };
  log: Logger;
  /** Every worker forked (at start, on restart, on reload), before it is ready. */
  onFork?(worker: Worker): void;
  /** A worker died unasked and is being restarted. */
  onRestart?(): void;
}

/** A worker that lived this long was not crash-looping: its successor starts without delay. */
const STABLE_AFTER_MS = 30_000;
/**
 * How long past its own shutdown deadline a worker is given before it is killed: a worker
 * with a thread stuck in native code ends it within THREAD_EXIT_GRACE_MS and then kills
 * itself after logging why (hard-exit.ts); killed from here first, it could not say.
 */
export const RETIRE_MARGIN_MS = THREAD_EXIT_GRACE_MS + 1_000;

export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #log: Logger;
  readonly #router: IpcBusRouter;
  /** Workers that are, or will be, serving (not those being retired). */
  readonly #active = new Set<Worker>();
  readonly #startedAt = new Map<Worker, number>();
  #crashesInARow = 0;
  #stopping = false;
  #reloading: Promise<void> | null = null;
  restarts = 0;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#log = options.log;
    this.#router = new IpcBusRouter((error) => this.#log.warn({ err: error }, 'bus message not delivered to a worker (it is exiting)'));
  }

  get workerCount(): number {
    return this.#active.size;
  }

  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.#options.workers }, () => this.#fork()));
    this.#log.info({ workers: this.#active.size }, 'cluster ready');
  }

  /** Forks a worker and resolves once it listens (rejects if it dies first). */
  #fork(): Promise<Worker> {
    const worker = cluster.fork();
    this.#active.add(worker);
    this.#startedAt.set(worker, Date.now());
    this.#router.attach(worker as unknown as IpcEndpoint);
    this.#options.onFork?.(worker);
    worker.on('exit', (code, signal) => this.#onExit(worker, code, signal));
    return new Promise((resolve, reject) => {
      const onMessage = (message: unknown) => {
        if (isSupervisorMessage(message) && message.type === 'ready') {
          worker.off('message', onMessage);
          resolve(worker);
        }
      };
      worker.on('message', onMessage);
      worker.once('exit', (code) => reject(new Error(`worker ${worker.process.pid} exited with ${code} before it was ready`)));
    });
  }

  #onExit(worker: Worker, code: number | null, signal: string | null): void {
    this.#router.detach(worker as unknown as IpcEndpoint);
    const wasActive = this.#active.delete(worker);
    const lived = Date.now() - (this.#startedAt.get(worker) ?? Date.now());
    this.#startedAt.delete(worker);
    if (this.#stopping || !wasActive) return;
    // An active worker died: restart it, backing off when workers crash in a row.
    this.#crashesInARow = lived > STABLE_AFTER_MS ? 1 : this.#crashesInARow + 1;
    const { minMs, maxMs } = this.#options.backoff ?? { minMs: 100, maxMs: 10_000 };
    const delay = this.#crashesInARow <= 1 ? 0 : Math.min(maxMs, minMs * 2 ** (this.#crashesInARow - 2));
    this.restarts++;
    this.#options.onRestart?.();
    this.#log.error({ pid: worker.process.pid, code, signal, restartInMs: delay }, 'worker died; restarting');
    setTimeout(() => {
      if (this.#stopping) return;
      this.#fork().catch((error: unknown) => this.#log.error({ err: error }, 'restarted worker failed'));
    }, delay).unref();
  }

  /**
   * Replaces every worker, one at a time: the new one listens before the old one stops
   * accepting, so the port always has a listener and no connection is refused. The old one
   * drains (1012 to its clients, which reconnect to the others) and exits.
   */
  reload(): Promise<void> {
    this.#reloading ??= (async () => {
      const old = [...this.#active];
      this.#log.info({ workers: old.length }, 'rolling reload');
      for (const worker of old) {
        if (this.#stopping) break;
        await this.#fork();
        await this.#retire(worker);
      }
      this.#log.info('rolling reload done');
    })().finally(() => {
      this.#reloading = null;
    });
    return this.#reloading;
  }

  /** Asks a worker to shut down gracefully; kills it past the deadline. */
  #retire(worker: Worker): Promise<void> {
    this.#active.delete(worker);
    if (worker.isDead()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#log.error({ pid: worker.process.pid }, 'worker did not stop in time; killing it');
        worker.process.kill('SIGKILL');
      }, this.#options.shutdownTimeoutMs + RETIRE_MARGIN_MS);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      const message: SupervisorMessage = { parley: 'supervisor', type: 'shutdown' };
      worker.send(message);
    });
  }

  /** Shuts every worker down in order and resolves when all have exited. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    await Promise.all(workers.map((w) => this.#retire(w)));
  }
}
