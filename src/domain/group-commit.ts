/**
 * Group commit: appends that arrive while a transaction is in flight wait and go together in
 * the next one. There is no artificial delay: under light load every append commits alone and
 * at once; under heavy load batches grow by themselves up to `maxBatch`, so throughput follows
 * the store's transactions per second times the batch size, not its round trips.
 *
 * Batches commit one after the other, so outcomes are handed on (and events published) in
 * commit order.
 */
import { unavailable } from '../errors.js';
import type { AppendOutcome, AppendRequest, Store } from '../ports.js';

interface Pending {
  request: AppendRequest;
  resolve(outcome: AppendOutcome): void;
  reject(error: unknown): void;
}

export interface GroupCommitOptions {
  maxBatch: number;
  /** Most appends waiting; past it an append fails at once with `unavailable` (load shedding). */
  maxQueue: number;
  /** Called with each batch's outcomes after commit, before the callers are answered. */
  onCommitted(requests: AppendRequest[], outcomes: AppendOutcome[]): void;
  onError(error: unknown, batchSize: number): void;
  /** A transaction failed: its appends are answered `unavailable` (after onError). */
  onCommitFailed?(batchSize: number): void;
}

export class GroupCommitter {
  readonly #store: Store;
  readonly #options: GroupCommitOptions;
  #queue: Pending[] = [];
  #running: Promise<void> | null = null;

  constructor(store: Store, options: GroupCommitOptions) {
    this.#store = store;
    this.#options = options;
  }

  append(request: AppendRequest): Promise<AppendOutcome> {
    if (this.#queue.length >= this.#options.maxQueue) {
      return Promise.reject(unavailable('Too many messages are waiting to be stored; retry shortly.'));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      // Start in a microtask, so appends made in the same tick share the first transaction.
      if (this.#running === null) this.#running = Promise.resolve().then(() => this.#drain());
    });
  }

  /** Appends waiting or in flight. */
  get depth(): number {
    return this.#queue.length;
  }

  /** Resolves when every append queued so far has been committed or failed. */
  async flush(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.#options.maxBatch);
        const requests = batch.map((p) => p.request);
        let outcomes: AppendOutcome[];
        try {
          outcomes = await this.#store.append(requests);
        } catch (error) {
          this.#options.onError(error, batch.length);
          this.#options.onCommitFailed?.(batch.length);
          const failure = unavailable('The message store is unavailable; retry shortly.');
          for (const p of batch) p.reject(failure);
          continue;
        }
        try {
          this.#options.onCommitted(requests, outcomes);
        } catch (error) {
          // Publishing is best effort (receivers repair gaps from the store); the commit stands.
          this.#options.onError(error, batch.length);
        }
        batch.forEach((p, i) => p.resolve(outcomes[i] as AppendOutcome));
      }
    } finally {
      this.#running = null;
    }
  }
}
