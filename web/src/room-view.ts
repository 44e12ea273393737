/**
 * One open room: its history (newest page first, older pages as the reader scrolls up), live
 * events from the SDK in seq order, a composer whose messages show as pending until the server
 * acknowledges them, and who is typing.
 */
import type { ParleyClient } from '../../client/index.js';
import type { Message, MemberRoom, StreamEvent, User } from '../../src/protocol/wire.js';
import { describeError, formatTime, h, setText } from './dom.js';

const PAGE = 50;
const TYPING_SHOWN_MS = 3_000;
const TYPING_SENT_EVERY_MS = 1_500;

export class RoomView {
  readonly element: HTMLElement;
  readonly roomId: string;
  readonly #client: ParleyClient;
  readonly #me: User;
  readonly #list = h('ol', { class: 'messages', 'data-testid': 'message-list' });
  readonly #typing = h('p', { class: 'typing', 'aria-live': 'polite', 'data-testid': 'typing' });
  readonly #error = h('p', { class: 'error', role: 'alert' });
  readonly #composer = h('textarea', { rows: '2', maxlength: '4000', placeholder: 'Write a message', 'aria-label': 'Message', 'data-testid': 'composer' });
  readonly #rows = new Map<number, HTMLElement>();
  readonly #typists = new Map<string, { name: string; timer: ReturnType<typeof setTimeout> }>();
  #oldest: number | null = null;
  #hasMore = true;
  #loadingOlder = false;
  #lastTypingSent = 0;
  #closed = false;

  constructor(client: ParleyClient, me: User, room: MemberRoom) {
    this.#client = client;
    this.#me = me;
    this.roomId = room.id;
    const send = h('button', { type: 'submit', 'data-testid': 'send' }, 'Send');
    const form = h(
      'form',
      {
        class: 'composer',
        onsubmit: (event: Event) => {
          event.preventDefault();
          this.#send();
        },
      },
      this.#composer,
      send,
    );
    this.#composer.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey) {
        event.preventDefault();
        this.#send();
      }
    });
    this.#composer.addEventListener('input', () => this.#sendTyping());
    this.#list.addEventListener('scroll', () => {
      if (this.#list.scrollTop < 80) void this.#loadOlder();
      this.#markReadIfAtBottom();
    });
    this.element = h(
      'section',
      { class: 'room', 'data-testid': 'room', 'data-room-id': room.id },
      h('header', {}, h('h2', {}, room.name), room.topic === '' ? null : h('p', { class: 'topic' }, room.topic)),
      this.#list,
      this.#typing,
      this.#error,
      form,
    );
  }

  /** Loads the newest page up to the subscription point (subscribing if needed); live events follow. */
  async open(): Promise<void> {
    const lastSeq = this.#client.lastSeq(this.roomId) ?? (await this.#client.subscribe(this.roomId)).lastSeq;
    const page = await this.#client.rest.history(this.roomId, { before: lastSeq + 1, limit: PAGE });
    this.#hasMore = page.hasMore;
    for (const message of [...page.messages].reverse()) this.#upsert(message, 'append');
    this.#oldest = page.messages.at(-1)?.seq ?? null;
    this.#scrollToBottom();
    this.#markReadIfAtBottom();
  }

  /** Stops rendering; the room stays subscribed, so its unread count stays live. */
  close(): void {
    this.#closed = true;
    for (const { timer } of this.#typists.values()) clearTimeout(timer);
  }

  onEvent(event: StreamEvent): void {
    const atBottom = this.#isAtBottom();
    if ((event.kind === 'message' || event.kind === 'edit') && event.message !== undefined) {
      this.#upsert(event.message, 'append');
      this.#stopTyping(event.user.id);
    } else if (event.kind === 'delete' && event.target !== undefined) {
      const row = this.#rows.get(event.target);
      if (row !== undefined) this.#renderTombstone(row);
    } else if (event.kind === 'member_joined' || event.kind === 'member_left') {
      const verb = event.kind === 'member_joined' ? 'joined' : 'left';
      this.#list.append(h('li', { class: 'notice', 'data-seq': String(event.seq) }, `${event.user.displayName} ${verb}`));
    }
    if (atBottom) this.#scrollToBottom();
    this.#markReadIfAtBottom();
  }

  onTyping(user: User): void {
    if (user.id === this.#me.id) return;
    this.#stopTyping(user.id);
    const timer = setTimeout(() => this.#stopTyping(user.id), TYPING_SHOWN_MS);
    this.#typists.set(user.id, { name: user.displayName, timer });
    this.#renderTyping();
  }

  #stopTyping(userId: string): void {
    const typist = this.#typists.get(userId);
    if (typist === undefined) return;
    clearTimeout(typist.timer);
    this.#typists.delete(userId);
    this.#renderTyping();
  }

  #renderTyping(): void {
    const names = [...this.#typists.values()].map((t) => t.name);
    setText(this.#typing, names.length === 0 ? '' : names.length === 1 ? `${names[0]} is typing…` : `${names.join(', ')} are typing…`);
  }

  #sendTyping(): void {
    const now = Date.now();
    if (now - this.#lastTypingSent < TYPING_SENT_EVERY_MS || this.#composer.value.trim() === '') return;
    this.#lastTypingSent = now;
    this.#client.typing(this.roomId);
  }

  #send(): void {
    const body = this.#composer.value.trim();
    if (body === '') return;
    this.#composer.value = '';
    setText(this.#error, '');
    const pending = this.#row({ author: this.#me, body, createdAt: new Date().toISOString(), editedAt: null, deleted: false });
    pending.classList.add('pending');
    this.#list.append(pending);
    this.#scrollToBottom();
    this.#client.send(this.roomId, body).then(
      (message) => {
        pending.remove();
        this.#upsert(message, 'append');
        this.#scrollToBottom();
      },
      (error: unknown) => {
        pending.classList.replace('pending', 'failed');
        setText(this.#error, `Not sent: ${describeError(error)}`);
      },
    );
  }

  async #loadOlder(): Promise<void> {
    if (!this.#hasMore || this.#loadingOlder || this.#oldest === null || this.#closed) return;
    this.#loadingOlder = true;
    try {
      const page = await this.#client.rest.history(this.roomId, { before: this.#oldest, limit: PAGE });
      this.#hasMore = page.hasMore;
      // Keep the reader's place: the content above grows by what is inserted.
      const fromBottom = this.#list.scrollHeight - this.#list.scrollTop;
      for (const message of page.messages) this.#upsert(message, 'prepend');
      this.#oldest = page.messages.at(-1)?.seq ?? this.#oldest;
      this.#list.scrollTop = this.#list.scrollHeight - fromBottom;
    } catch (error) {
      setText(this.#error, describeError(error));
    } finally {
      this.#loadingOlder = false;
    }
  }

  #upsert(message: Message, where: 'append' | 'prepend'): void {
    const existing = this.#rows.get(message.seq);
    const row = this.#row(message);
    row.dataset.seq = String(message.seq);
    this.#rows.set(message.seq, row);
    if (existing !== undefined) {
      existing.replaceWith(row);
      return;
    }
    if (where === 'prepend') {
      this.#list.prepend(row);
      return;
    }
    // Live events arrive in order; a late acknowledgement may belong before newer rows.
    const after = [...this.#rows.entries()].filter(([seq]) => seq > message.seq).sort((a, b) => a[0] - b[0])[0];
    if (after !== undefined && after[1].isConnected) after[1].before(row);
    else this.#list.append(row);
  }

  #row(m: Pick<Message, 'author' | 'body' | 'createdAt' | 'editedAt' | 'deleted'>): HTMLElement {
    const row = h(
      'li',
      { class: 'message', 'data-testid': 'message' },
      h('span', { class: 'author', 'data-testid': 'message-author' }, m.author.displayName),
      h('time', { datetime: m.createdAt }, formatTime(m.createdAt)),
      h('p', { class: 'body', 'data-testid': 'message-body' }, m.body),
      m.editedAt === null ? null : h('span', { class: 'edited' }, '(edited)'),
    );
    if (m.deleted) this.#renderTombstone(row);
    return row;
  }

  #renderTombstone(row: HTMLElement): void {
    row.classList.add('deleted');
    const body = row.querySelector('.body');
    if (body !== null) setText(body, 'message deleted');
    row.querySelector('.edited')?.remove();
  }

  #isAtBottom(): boolean {
    return this.#list.scrollHeight - this.#list.scrollTop - this.#list.clientHeight < 40;
  }

  #scrollToBottom(): void {
    this.#list.scrollTop = this.#list.scrollHeight;
  }

  #markReadIfAtBottom(): void {
    if (!this.#isAtBottom() || document.visibilityState !== 'visible') return;
    const newest = Math.max(0, ...this.#rows.keys());
    if (newest > 0) this.#client.markRead(this.roomId, newest).catch((error: unknown) => console.warn('marking read failed', error));
  }
}
