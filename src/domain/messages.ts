/** Messages: send, edit, delete, history, read markers, typing. */
import { type AppError, forbidden, notFound, rateLimited, validationFailed } from '../errors.js';
import type { AppendOutcome, RateLimiter, Store } from '../ports.js';
import type { Access } from './access.js';
import type { CacheAside } from './cache-aside.js';
import { newId } from './ids.js';
import type { Publisher } from './publisher.js';
import type { StreamWriter } from './stream-writer.js';
import type { MessageRecord, UserRecord } from './types.js';
import { userView } from './views.js';

const rejection = (outcome: Extract<AppendOutcome, { status: 'rejected' }>, action: string): AppError => {
  if (outcome.code === 'attachment') {
    return validationFailed('An attachment is not an upload of yours to this room that is ready to attach (each upload is attached to one message, once).', {
      issues: [{ path: 'attachments', message: 'must name your own unattached uploads to this room' }],
    });
  }
  return outcome.code === 'forbidden' ? forbidden(`Only the author can ${action} this message.`) : notFound('No such message.');
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

export class Messages {
  readonly #store: Store;
  readonly #historyCache: CacheAside<HistoryPage> | null;
  readonly #access: Access;
  readonly #writer: StreamWriter;
  readonly #publisher: Publisher;
  readonly #sendLimiter: RateLimiter;
  readonly #sendChecks: SendCheck[] = [];

  constructor(store: Store, access: Access, writer: StreamWriter, publisher: Publisher, sendLimiter: RateLimiter, historyCache: CacheAside<HistoryPage> | null = null) {
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
  ): Promise<Accepted<{ message: MessageRecord; duplicate: boolean }>> {
    await this.#access.requireMember(roomId, userId);
    for (const check of this.#sendChecks) await check(roomId, userId);
    await this.#rateLimit(rateKey);
    const request = { kind: 'message' as const, roomId, userId, id: newId(), body, clientMsgId, at: Date.now(), ...(attachments.length > 0 ? { attachments } : {}) };
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

  async send(userId: string, roomId: string, body: string, clientMsgId: string | null, attachments: string[] = []) {
    return (await this.submitSend(userId, roomId, body, clientMsgId, sendKey(userId), attachments)).result;
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

  /** The author, or the room's owner, turns a message into a tombstone. */
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

  async history(userId: string, roomId: string, query: { before?: number | undefined; after?: number | undefined; limit: number }): Promise<HistoryPage> {
    await this.#access.requireMember(roomId, userId);
    const read = () =>
      this.#store.readHistory({ roomId, limit: query.limit, ...(query.before !== undefined ? { before: query.before } : {}), ...(query.after !== undefined ? { after: query.after } : {}) });
    const cache = this.#historyCache;
    if (cache === null || query.before !== undefined || query.after !== undefined) return read();
    // The newest page is what everyone opening a room asks for. Its key names the room's head
    // seq and how far retention tombstoned it: every message, edit or delete moves the head and
    // every retention pass the other, so a cached page is never stale and needs no
    // invalidation on any node.
    const head = await this.#store.roomRetention(roomId);
    const key = `history:${roomId}:${head?.lastSeq ?? 0}:${head?.purgedSeq ?? 0}:${query.limit}`;
    return (await cache.get(key, read, HISTORY_CACHE_TTL_MS)) as HistoryPage;
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
