/**
 * One open thread: its root and replies, oldest first, a page at a time (GET /threads/:seq),
 * live replies, edits, deletes and reactions folded in as the room stream brings them, my
 * replies sent with `threadRoot`, whether I follow it, and its read marker (moved to the newest
 * reply shown while the page is visible).
 */
import { signal } from '@preact/signals';
import { applyEvent, type Message, type StreamEvent, type User } from '../../../client/index.js';
import type { Api } from '../api.js';
import { describeError, reactionRefusal } from '../format.js';

const PAGE = 50;

export class ThreadSession {
  readonly roomId: string;
  readonly rootSeq: number;
  readonly root = signal<Message | null>(null);
  readonly replies = signal<readonly Message[]>([]);
  /** More replies than loaded, after the last one shown. */
  readonly hasMore = signal(false);
  readonly loading = signal(true);
  /** null until known. */
  readonly following = signal<boolean | null>(null);
  readonly error = signal('');
  /**
   * My replies on their way, oldest first, until their send is answered; `arrived` once the
   * stream brought them (possibly before the answer), when they show as replies instead.
   */
  readonly sending = signal<ReadonlyArray<{ id: number; body: string; arrived: boolean }>>([]);
  #sendIds = 0;
  readonly #api: Api;
  readonly #me: User;
  #closed = false;
  #readSeq = 0;

  constructor(api: Api, me: User, roomId: string, rootSeq: number) {
    this.#api = api;
    this.#me = me;
    this.roomId = roomId;
    this.rootSeq = rootSeq;
  }

  async open(): Promise<void> {
    await this.loadMore();
  }

  /** The next page of replies (the first one with the root). */
  async loadMore(): Promise<void> {
    this.loading.value = true;
    try {
      const shown = this.replies.peek();
      const page = await this.#api.thread(this.roomId, this.rootSeq, shown.at(-1)?.seq ?? 0, PAGE);
      if (this.#closed) return;
      this.root.value = page.root;
      // The page says whether I follow and how far I read; a change made here since wins.
      if (this.following.peek() === null) this.following.value = page.following;
      this.#readSeq = Math.max(this.#readSeq, page.lastReadSeq ?? 0);
      // Replies that came live while the page was read are in it too: each seq once.
      const bySeq = new Map(this.replies.peek().map((m) => [m.seq, m]));
      for (const reply of page.replies) bySeq.set(reply.seq, reply);
      this.replies.value = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
      this.hasMore.value = page.hasMore;
      this.#markRead();
    } catch (error) {
      this.#fail('The thread could not be loaded', error);
    } finally {
      if (!this.#closed) this.loading.value = false;
    }
  }

  onEvent(event: StreamEvent): void {
    const root = this.root.peek();
    if (this.#closed || root === null) return;
    const known = new Map(this.replies.peek().map((m) => [m.seq, m]));
    known.set(root.seq, root);
    const changed = applyEvent(known, event, this.#me.id);
    let replies: Message[] | null = null;
    for (const message of changed.values()) {
      if (message.seq === this.rootSeq) this.root.value = message;
      else if (known.has(message.seq)) {
        replies ??= [...this.replies.peek()];
        replies = replies.map((m) => (m.seq === message.seq ? message : m));
      } else if (message.threadRoot === this.rootSeq && !this.hasMore.peek()) {
        // A new reply shows at once only past the last page: otherwise it comes with its page.
        replies = [...(replies ?? this.replies.peek()), message];
      }
    }
    if (replies !== null) {
      this.replies.value = replies;
      this.#markRead();
    }
    if (event.kind === 'message' && event.message?.threadRoot === this.rootSeq && event.user.id === this.#me.id) {
      // Replying makes me follow (see the protocol's "Threads").
      this.following.value = true;
      // The stream is in order: my oldest reply on its way with this text is the one that arrived.
      const sending = this.sending.peek();
      const arrived = sending.findIndex((p) => !p.arrived && p.body === event.message?.body);
      if (arrived !== -1) this.sending.value = sending.map((p, i) => (i === arrived ? { ...p, arrived: true } : p));
    }
  }

  /** Sends a reply; resolves false when it was refused (the reason is the thread's error). */
  async send(text: string): Promise<boolean> {
    const body = text.trim();
    if (body === '') return false;
    this.error.value = '';
    const id = ++this.#sendIds;
    this.sending.value = [...this.sending.peek(), { id, body, arrived: false }];
    try {
      const reply = await this.#api.sendReply(this.roomId, this.rootSeq, body);
      if (!this.#closed && !this.hasMore.peek() && !this.replies.peek().some((m) => m.seq === reply.seq)) {
        this.replies.value = [...this.replies.peek(), reply].sort((a, b) => a.seq - b.seq);
      }
      return true;
    } catch (error) {
      this.#fail('Not sent', error);
      return false;
    } finally {
      this.sending.value = this.sending.peek().filter((p) => p.id !== id);
    }
  }

  async setFollowing(on: boolean): Promise<void> {
    try {
      await this.#api.follow(this.roomId, this.rootSeq, on);
      if (!this.#closed) this.following.value = on;
    } catch (error) {
      this.#fail(on ? 'Not followed' : 'Not unfollowed', error);
    }
  }

  react(seq: number, emoji: string, on: boolean): void {
    this.error.value = '';
    this.#api.react(this.roomId, seq, emoji, on).catch((error: unknown) => {
      if (!this.#closed) this.error.value = reactionRefusal(error);
    });
  }

  #markRead(): void {
    const newest = this.replies.peek().at(-1)?.seq ?? 0;
    if (this.#closed || document.visibilityState !== 'visible' || newest <= this.#readSeq) return;
    const previous = this.#readSeq;
    this.#readSeq = newest;
    this.#api.markThreadRead(this.roomId, this.rootSeq, newest).catch((error: unknown) => {
      // A marker not moved now moves with the next reply read.
      if (this.#readSeq === newest) this.#readSeq = previous;
      console.warn('Parley: the thread read marker was not saved:', describeError(error));
    });
  }

  close(): void {
    this.#closed = true;
  }

  #fail(what: string, error: unknown): void {
    if (!this.#closed) this.error.value = `${what}: ${describeError(error)}`;
  }
}
