/**
 * The one way events enter room streams: group-committed appends, then, in commit order,
 * cache invalidation and publication on the bus. Events are published only after they are
 * durable, so a receiver never sees an event the store could lose.
 */
import { type Context, context, ROOT_CONTEXT } from '@opentelemetry/api';
import type { AppendOutcome, AppendRequest, Store } from '../ports.js';
import { GroupCommitter } from './group-commit.js';
import type { MembershipCache } from './membership-cache.js';
import { endsMembership } from './moderation-rules.js';
import { type Publisher, subjectOf } from './publisher.js';
import type { StreamEventRecord } from './types.js';

/** What the writer reports for metrics. */
export interface StreamWriterObserver {
  /** A transaction committed `size` appends, `messages` of them new messages. */
  batch(size: number, messages: number): void;
  /** One append, from being queued to its commit, in seconds. */
  committed(seconds: number): void;
  /** A transaction failed; its appends were answered `unavailable`. */
  failed(): void;
}

export interface StreamWriterOptions {
  maxBatch: number;
  maxQueue: number;
  onError(error: unknown): void;
  observer?: StreamWriterObserver;
}

export class StreamWriter {
  readonly #store: Store;
  readonly #publisher: Publisher;
  readonly #members: MembershipCache;
  readonly #committer: GroupCommitter;
  readonly #onError: (error: unknown) => void;
  readonly #observer: StreamWriterObserver | undefined;
  /** The trace context each append came in, so its event is published in it (a no-op without tracing). */
  readonly #contexts = new WeakMap<AppendRequest, Context>();
  readonly #listeners: Array<(event: StreamEventRecord) => void> = [];

  constructor(store: Store, publisher: Publisher, members: MembershipCache, options: StreamWriterOptions) {
    this.#store = store;
    this.#publisher = publisher;
    this.#members = members;
    this.#onError = options.onError;
    this.#observer = options.observer;
    this.#committer = new GroupCommitter(store, {
      maxBatch: options.maxBatch,
      maxQueue: options.maxQueue,
      onError: (error) => options.onError(error),
      onCommitFailed: () => this.#observer?.failed(),
      onCommitted: (requests, outcomes) => {
        let messages = 0;
        outcomes.forEach((outcome, i) => {
          if (outcome.status !== 'appended') return;
          if (outcome.event.kind === 'message') messages++;
          const request = requests[i] as AppendRequest;
          const traced = this.#contexts.get(request);
          if (traced === undefined) this.committed(outcome.event);
          else context.with(traced, () => this.committed(outcome.event));
        });
        this.#observer?.batch(outcomes.length, messages);
      },
    });
  }

  append(request: AppendRequest): Promise<AppendOutcome> {
    // Without tracing the active context is always the root one: nothing to keep per append.
    const active = context.active();
    if (active !== ROOT_CONTEXT) this.#contexts.set(request, active);
    const observer = this.#observer;
    if (observer === undefined) return this.#committer.append(request);
    const queuedAt = performance.now();
    return this.#committer.append(request).then((outcome) => {
      observer.committed((performance.now() - queuedAt) / 1000);
      return outcome;
    });
  }

  /** Also tells `listener` of every committed event (after the bus), never waiting for it. */
  listen(listener: (event: StreamEventRecord) => void): void {
    this.#listeners.push(listener);
  }

  /**
   * Hands on an event committed outside the group committer (room and DM creation, moderation).
   * A change of membership or role updates this node's membership cache and every other node's
   * (through the bus) before the event is published, so no node keeps answering from what the
   * cache held before it.
   */
  committed(event: StreamEventRecord): void {
    const subject = subjectOf(event);
    const ends = endsMembership(event.kind) && event.wasNotMember !== true;
    if (event.kind === 'member_joined' || event.kind === 'member_role_changed' || ends) {
      // A role change keeps the member in (joined) and drops their cached role.
      const joined = !ends;
      this.#members.changed(event.roomId, subject, { joined, seq: event.seq });
      this.#publisher.membershipChanged(event.roomId, subject, joined, event.seq);
    }
    this.#publisher.streamEvent(event);
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.#onError(error);
      }
    }
    if (ends) this.#publisher.roomRemoved(subject, event.roomId);
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
