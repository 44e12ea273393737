/**
 * The one way events enter room streams: group-committed appends, then, in commit order,
 * cache invalidation and publication on the bus. Events are published only after they are
 * durable, so a receiver never sees an event the store could lose.
 */
import type { AppendOutcome, AppendRequest, Store } from '../ports.js';
import { GroupCommitter } from './group-commit.js';
import type { MembershipCache } from './membership-cache.js';
import type { Publisher } from './publisher.js';
import type { StreamEventRecord } from './types.js';

export interface StreamWriterOptions {
  maxBatch: number;
  maxQueue: number;
  onError(error: unknown): void;
  /** Observes every committed batch (metrics). */
  onBatch?(size: number): void;
}

export class StreamWriter {
  readonly #store: Store;
  readonly #publisher: Publisher;
  readonly #members: MembershipCache;
  readonly #committer: GroupCommitter;
  readonly #onError: (error: unknown) => void;

  constructor(store: Store, publisher: Publisher, members: MembershipCache, options: StreamWriterOptions) {
    this.#store = store;
    this.#publisher = publisher;
    this.#members = members;
    this.#onError = options.onError;
    this.#committer = new GroupCommitter(store, {
      maxBatch: options.maxBatch,
      maxQueue: options.maxQueue,
      onError: (error) => options.onError(error),
      onCommitted: (_requests, outcomes) => {
        options.onBatch?.(outcomes.length);
        for (const outcome of outcomes) if (outcome.status === 'appended') this.committed(outcome.event);
      },
    });
  }

  append(request: AppendRequest): Promise<AppendOutcome> {
    return this.#committer.append(request);
  }

  /** Hands on an event committed outside the group committer (room and DM creation). */
  committed(event: StreamEventRecord): void {
    if (event.kind === 'member_joined' || event.kind === 'member_left') {
      this.#members.invalidate(event.roomId, event.user.id);
      this.#publisher.membershipChanged(event.roomId, event.user.id);
    }
    this.#publisher.streamEvent(event);
    if (event.kind === 'member_left') this.#publisher.roomRemoved(event.user.id, event.roomId);
    if (event.kind === 'member_joined') {
      const userId = event.user.id;
      this.#store.findRoom(event.roomId).then((room) => {
        if (room !== undefined) this.#publisher.roomAdded(userId, room);
      }, this.#onError);
    }
  }

  get depth(): number {
    return this.#committer.depth;
  }

  flush(): Promise<void> {
    return this.#committer.flush();
  }
}
