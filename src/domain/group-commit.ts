/**
 * Group commit: appends that arrive while a transaction is in flight wait and go together in
 * the next one. There is no artificial delay: under light load every append commits alone and
 * at once; under heavy load batches grow by themselves up to `maxBatch`, so throughput follows
 * the store's transactions per second times the batch size, not its round trips.
 *
 * Batches commit one after the other, so outcomes are handed on (and events published) in
 * commit order.
 */
import { AppError, unavailable } from '../errors.js';
import { type AppendOutcome, type AppendRequest, PartialAppendError, type Store } from '../ports.js';

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
      while (this.#queue.length > 0) await this.#commit(this.#queue.splice(0, this.#options.maxBatch));
    } finally {
      this.#running = null;
    }
  }

  /**
   * Commits a batch. When its transaction fails for a reason other than an outage, one request
   * may be the cause (input the store refuses): the batch is split in halves and each committed
   * on its own, down to single requests, so only the culprit fails and the others commit in
   * their order. An outage fails every request of the batch with `unavailable` at once. A
   * batch over several databases may commit on some only (PartialAppendError): the requests
   * committed are answered, the others fail as above.
   */
  async #commit(batch: Pending[]): Promise<void> {
    const requests = batch.map((p) => p.request);
    let outcomes: AppendOutcome[];
    try {
      outcomes = await this.#store.append(requests);
    } catch (error) {
      if (error instanceof PartialAppendError) {
        // Rooms on several databases, some of which committed: those requests are done; the
        // others failed as a batch of their own would have.
        const done = batch.filter((_, i) => error.outcomes[i] !== undefined);
        if (done.length > 0) this.#settle(done, error.outcomes.filter((o): o is AppendOutcome => o !== undefined));
        await this.#failed(
          batch.filter((_, i) => error.outcomes[i] === undefined),
          error.cause,
        );
        return;
      }
      await this.#failed(batch, error);
      return;
    }
    this.#settle(batch, outcomes);
  }

  /** The batch's transaction failed with `error`: see #commit. */
  async #failed(batch: Pending[], error: unknown): Promise<void> {
    if (batch.length === 0) return;
    if (batch.length > 1 && !isOutage(error)) {
      const half = Math.ceil(batch.length / 2);
      await this.#commit(batch.slice(0, half));
      await this.#commit(batch.slice(half));
      return;
    }
    this.#options.onError(error, batch.length);
    this.#options.onCommitFailed?.(batch.length);
    // An outage (`unavailable`) is retried by the client; a single request the store refuses
    // is answered with that error (a bug: the edge should have refused it).
    for (const p of batch) p.reject(error);
  }

  #settle(batch: Pending[], outcomes: AppendOutcome[]): void {
    const requests = batch.map((p) => p.request);
    try {
      this.#options.onCommitted(requests, outcomes);
    } catch (error) {
      // Publishing is best effort (receivers repair gaps from the store); the commit stands.
      this.#options.onError(error, batch.length);
    }
    for (const [i, p] of batch.entries()) p.resolve(outcomes[i] as AppendOutcome);
  }
}

const isOutage = (error: unknown): boolean => error instanceof AppError && error.code === 'unavailable';
