/**
 * Threads: reading one, following it, marking it read, and the list of followed threads with
 * unread counts. Replies themselves are sent as messages naming their root (Messages), so they
 * are events of the room stream like any message.
 */
import { notFound, validationFailed } from '../errors.js';
import type { Store, ThreadCursor, ViewerThreadPage } from '../ports.js';
import type { Access } from './access.js';
import { withReactions } from './reactions.js';
import type { FollowedThreadRecord } from './types.js';

const NO_THREAD = 'No such thread: the seq names no top-level message of this room.';

export interface ThreadsOptions {
  /** Most unread replies counted per thread (UNREAD_COUNT_CAP). */
  unreadCap: number;
}

/** An opaque cursor of GET /threads: the last thread of a page, base64url JSON. */
export const encodeThreadCursor = (c: ThreadCursor): string => Buffer.from(JSON.stringify([c.at, c.roomId, c.rootSeq])).toString('base64url');

export function decodeThreadCursor(text: string): ThreadCursor {
  try {
    const [at, roomId, rootSeq] = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];
    if (Number.isSafeInteger(at) && typeof roomId === 'string' && Number.isSafeInteger(rootSeq)) return { at: at as number, roomId, rootSeq: rootSeq as number };
  } catch {
    // Falls through to the refusal: a cursor is only ever one this server made.
  }
  throw validationFailed('Invalid query: cursor: is not a cursor this server gave.', { issues: [{ path: 'cursor', message: 'is not a cursor this server gave' }] });
}

export class Threads {
  readonly #store: Store;
  readonly #access: Access;
  readonly #options: ThreadsOptions;

  constructor(store: Store, access: Access, options: ThreadsOptions) {
    this.#store = store;
    this.#access = access;
    this.#options = options;
  }

  /** The root and a page of its replies, oldest first after `after`, with reactions for the reader. */
  async thread(userId: string, roomId: string, rootSeq: number, after: number, limit: number, seen?: number): Promise<ViewerThreadPage> {
    await this.#access.requireMember(roomId, userId);
    const consistency = { readerId: userId, ...(seen === undefined ? {} : { seenSeq: seen }) };
    const [page, follow] = await Promise.all([this.#store.readThread(roomId, rootSeq, after, limit, consistency), this.#store.threadFollowOf(roomId, rootSeq, userId)]);
    if (page === undefined) throw notFound(NO_THREAD);
    const [root, ...replies] = await withReactions(this.#store, userId, [page.root, ...page.replies], { ...(seen === undefined ? {} : { seenSeq: seen }), upToHead: true });
    return { root: root ?? page.root, replies, hasMore: page.hasMore, following: follow.following, lastReadSeq: follow.lastReadSeq };
  }

  async follow(userId: string, roomId: string, rootSeq: number, following: boolean): Promise<void> {
    await this.#access.requireMember(roomId, userId);
    if (!(await this.#store.setThreadFollow(roomId, rootSeq, userId, following))) throw notFound(NO_THREAD);
  }

  /** Moves the caller's read marker of the thread forward; answers it. */
  async markRead(userId: string, roomId: string, rootSeq: number, seq: number): Promise<number> {
    await this.#access.requireMember(roomId, userId);
    const marker = await this.#store.markThreadRead(roomId, rootSeq, userId, seq);
    if (marker === null) throw notFound(NO_THREAD);
    return marker;
  }

  /** The caller's followed threads, latest activity first, in rooms they are still a member of. */
  async followed(userId: string, cursor: string | undefined, limit: number): Promise<{ threads: FollowedThreadRecord[]; next: string | null }> {
    const page = await this.#store.listFollowedThreads(userId, cursor === undefined ? null : decodeThreadCursor(cursor), limit, this.#options.unreadCap);
    const roots = await withReactions(
      this.#store,
      userId,
      page.threads.map((t) => t.root),
    );
    return { threads: page.threads.map((t, i) => ({ ...t, root: roots[i] ?? t.root })), next: page.next === null ? null : encodeThreadCursor(page.next) };
  }
}
