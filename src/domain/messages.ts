/** Messages: send, edit, delete, history, read markers, typing. */
import { type AppError, conflict, notFound, rateLimited, refused, validationFailed } from '../errors.js';
import type { AppendOutcome, RateLimiter, Store } from '../ports.js';
import type { Access } from './access.js';
import type { CacheAside } from './cache-aside.js';
import { newId } from './ids.js';
import { withReactions } from './reactions.js';
import type { Publisher } from './publisher.js';
import type { StreamWriter } from './stream-writer.js';
import type { MessageRecord, UserRecord } from './types.js';
import { userView } from './views.js';

const rejection = (outcome: Extract<AppendOutcome, { status: 'rejected' }>, action: string): AppError => {
  if (outcome.code === 'thread_root') {
    return validationFailed('threadRoot names no live top-level message of this room (a reply answers a message that is not itself a reply).', {
      issues: [{ path: 'threadRoot', message: 'must be the seq of a top-level message of this room that is not deleted' }],
    });
  }
  if (outcome.code === 'too_many_reactions') return conflict('This message carries as many different reactions as it may; add one of those.', { reason: 'too_many_reactions' });
  if (outcome.code === 'attachment') {
    return validationFailed('An attachment is not an upload of yours to this room that is ready to attach (each upload is attached to one message, once).', {
      issues: [{ path: 'attachments', message: 'must name your own unattached uploads to this room' }],
    });
  }
  if (outcome.code === 'not_found') return notFound('No such message.');
  if (outcome.reason !== undefined) return refused(outcome.reason);
  return action === 'delete' ? refused('rank', 'Only the author, or a member of a higher rank, can delete this message.') : refused('role', `Only the author can ${action} this message.`);
};

/** The send rate limiter's bucket of a user's sends, edits and deletes. */
const sendKey = (userId: string): string => `send:${userId}`;

/** A change accepted for storage; `result` settles when it is committed (or refused). */
export interface Accepted<T> {
  result: Promise<T>;
}

export type HistoryPage = { messages: MessageRecord[]; hasMore: boolean };

/** A check a send must pass after membership (a block between the two users of a DM): throws to refuse it. */
export type SendCheck = (roomId: string, userId: string) => Promise<void>;

/** How long a cached newest page is kept: its key names the room's head, so it is never stale. */
const HISTORY_CACHE_TTL_MS = 60_000;

/** A page of history as a reader asks for it; `seen`: a seq of the room they have seen, the page includes the room up to it. */
export interface HistoryRequest {
  before?: number | undefined;
  after?: number | undefined;
  limit: number;
  topLevel?: boolean | undefined;
  seen?: number | undefined;
}

export class Messages {
  readonly #store: Store;
  readonly #historyCache: CacheAside<HistoryPage> | null;
  readonly #access: Access;
  readonly #writer: StreamWriter;
  readonly #publisher: Publisher;
  readonly #sendLimiter: RateLimiter;
  readonly #reactionsPerMessage: number;
  readonly #sendChecks: SendCheck[] = [];

  /** `reactionsPerMessage`: distinct emoji a message may carry (REACTIONS_PER_MESSAGE_MAX). */
  constructor(
    store: Store,
    access: Access,
    writer: StreamWriter,
    publisher: Publisher,
    sendLimiter: RateLimiter,
    historyCache: CacheAside<HistoryPage> | null = null,
    reactionsPerMessage = 20,
  ) {
    this.#reactionsPerMessage = reactionsPerMessage;
    this.#store = store;
    this.#historyCache = historyCache;
    this.#access = access;
    this.#writer = writer;
    this.#publisher = publisher;
    this.#sendLimiter = sendLimiter;
  }

  /** Adds a check every send passes after membership and before the rate limit. */
  checkSends(check: SendCheck): void {
    this.#sendChecks.push(check);
  }

  /**
   * Checks and queues a message. Resolves once it is accepted (authorized, within the rate
   * limit, queued for the next commit); `result` resolves once it is durable. Callers that keep
   * one sender's messages in order wait for acceptance, not for durability, before the next.
   * The same clientMsgId from the same author in the same room yields the first message and
   * stores nothing new. `rateKey` names the send rate limiter's bucket: the author's by default,
   * an incoming webhook's for its posts (each webhook is limited apart from its bot's own sends).
   */
  async submitSend(
    userId: string,
    roomId: string,
    body: string,
    clientMsgId: string | null,
    rateKey = sendKey(userId),
    attachments: string[] = [],
    threadRoot: number | null = null,
  ): Promise<Accepted<{ message: MessageRecord; duplicate: boolean }>> {
    await this.#access.requireMember(roomId, userId);
    for (const check of this.#sendChecks) await check(roomId, userId);
    await this.#rateLimit(rateKey);
    const request = {
      kind: 'message' as const,
      roomId,
      userId,
      id: newId(),
      body,
      clientMsgId,
      at: Date.now(),
      ...(attachments.length > 0 ? { attachments } : {}),
      ...(threadRoot === null ? {} : { threadRoot }),
    };
    const result = this.#writer.append(request).then((outcome) => {
      switch (outcome.status) {
        case 'appended':
          return { message: outcome.event.message as MessageRecord, duplicate: false };
        case 'duplicate':
          return { message: outcome.message, duplicate: true };
        case 'rejected':
          throw rejection(outcome, 'send');
        case 'noop':
          throw notFound('No such room.');
      }
    });
    return { result };
  }

  async send(userId: string, roomId: string, body: string, clientMsgId: string | null, attachments: string[] = [], threadRoot: number | null = null) {
    return (await this.submitSend(userId, roomId, body, clientMsgId, sendKey(userId), attachments, threadRoot)).result;
  }

  /**
   * Adds (or removes) the caller's reaction `emoji` to message `seq`: a reaction_added (or
   * reaction_removed) event. Idempotent: a reaction made already (or not made) appends nothing
   * and succeeds. A deleted or missing message is not_found; past the message's distinct-emoji
   * bound, conflict `too_many_reactions`. Shares the send rate limit.
   */
  async submitReaction(userId: string, roomId: string, seq: number, emoji: string, add: boolean): Promise<Accepted<void>> {
    await this.#access.requireMember(roomId, userId);
    await this.#rateLimit(sendKey(userId));
    const at = Date.now();
    const request = add
      ? { kind: 'reaction_added' as const, roomId, userId, target: seq, emoji, maxPerMessage: this.#reactionsPerMessage, at }
      : { kind: 'reaction_removed' as const, roomId, userId, target: seq, emoji, at };
    const result = this.#writer.append(request).then((outcome) => {
      if (outcome.status === 'rejected') throw rejection(outcome, 'react to');
    });
    return { result };
  }

  async react(userId: string, roomId: string, seq: number, emoji: string, add: boolean): Promise<void> {
    return (await this.submitReaction(userId, roomId, seq, emoji, add)).result;
  }

  async submitEdit(userId: string, roomId: string, seq: number, body: string): Promise<Accepted<MessageRecord>> {
    await this.#access.requireMember(roomId, userId);
    await this.#rateLimit(sendKey(userId));
    const result = this.#writer.append({ kind: 'edit', roomId, userId, target: seq, body, at: Date.now() }).then((outcome) => {
      if (outcome.status === 'appended' && outcome.event.message !== null) return outcome.event.message;
      throw outcome.status === 'rejected' ? rejection(outcome, 'edit') : notFound('No such message.');
    });
    return { result };
  }

  async edit(userId: string, roomId: string, seq: number, body: string): Promise<MessageRecord> {
    return (await this.submitEdit(userId, roomId, seq, body)).result;
  }

  /** The author, or a member of a higher rank (an admin, the owner), turns a message into a tombstone. */
  async submitDelete(userId: string, roomId: string, seq: number): Promise<Accepted<void>> {
    await this.#access.requireMember(roomId, userId);
    await this.#rateLimit(sendKey(userId));
    const result = this.#writer.append({ kind: 'delete', roomId, userId, target: seq, at: Date.now() }).then((outcome) => {
      if (outcome.status !== 'appended') throw outcome.status === 'rejected' ? rejection(outcome, 'delete') : notFound('No such message.');
    });
    return { result };
  }

  async delete(userId: string, roomId: string, seq: number): Promise<void> {
    return (await this.submitDelete(userId, roomId, seq)).result;
  }

  /** A page of history with reactions for the reader; `topLevel` leaves thread replies out. */
  async history(userId: string, roomId: string, query: HistoryRequest): Promise<HistoryPage> {
    const { page, head } = await this.#historyPage(userId, roomId, query);
    // Reactions as fresh as the page: up to the same head (with read replicas, see ReadConsistency).
    const room = { ...(query.seen === undefined ? {} : { seenSeq: query.seen }), ...(head === undefined ? {} : { head }), upToHead: query.before === undefined };
    return { messages: await withReactions(this.#store, userId, page.messages, room), hasMore: page.hasMore };
  }

  /** The page, and the room's head it was read as of when this read it (the newest page, cached). */
  async #historyPage(userId: string, roomId: string, query: HistoryRequest): Promise<{ page: HistoryPage; head?: { lastSeq: number; purgedSeq: number } }> {
    await this.#access.requireMember(roomId, userId);
    const topLevel = query.topLevel === true;
    const read = (head?: { lastSeq: number; purgedSeq: number }) =>
      this.#store.readHistory({
        roomId,
        limit: query.limit,
        ...(query.before !== undefined ? { before: query.before } : {}),
        ...(query.after !== undefined ? { after: query.after } : {}),
        ...(topLevel ? { topLevel } : {}),
        consistency: { readerId: userId, ...(query.seen === undefined ? {} : { seenSeq: query.seen }), ...(head === undefined ? {} : { head }) },
      });
    const cache = this.#historyCache;
    if (cache === null || query.before !== undefined || query.after !== undefined) return { page: await read() };
    // The newest page is what everyone opening a room asks for. Its key names the room's head
    // seq and how far retention tombstoned it: every message, edit or delete moves the head and
    // every retention pass the other, so a cached page is never stale and needs no
    // invalidation on any node.
    const head = await this.#store.roomRetention(roomId);
    const state = { lastSeq: head?.lastSeq ?? 0, purgedSeq: head?.purgedSeq ?? 0 };
    const key = `history:${roomId}:${state.lastSeq}:${state.purgedSeq}:${query.limit}${topLevel ? ':top' : ''}`;
    // Read as of that head at least, wherever it is read from: a page read from a replica
    // that lacks the head's last events would be cached under a key that claims them.
    return { page: (await cache.get(key, () => read(state), HISTORY_CACHE_TTL_MS)) as HistoryPage, head: state };
  }

  /** Moves the read marker forward and tells the user's other connections. */
  async markRead(userId: string, roomId: string, seq: number): Promise<number> {
    await this.#access.requireMember(roomId, userId);
    const marker = await this.#store.advanceReadMarker(roomId, userId, seq);
    this.#publisher.readMarker(userId, { type: 'read', roomId, seq: marker });
    return marker;
  }

  async typing(user: UserRecord, roomId: string): Promise<void> {
    await this.#access.requireMember(roomId, user.id);
    this.#publisher.typing(roomId, { type: 'typing', roomId, user: userView(user) });
  }

  async #rateLimit(key: string): Promise<void> {
    const result = await this.#sendLimiter.consume(key);
    if (!result.allowed) throw rateLimited(result.retryAfterMs);
  }
}
