/**
 * One open room: its history (the newest page first, older pages as the reader scrolls up), live
 * events in seq order, a composer whose messages show as pending until the server acknowledges
 * them, who is typing, and the read marker, moved when the newest message is on screen.
 */
import type { MemberRoom, ParleyClient, StreamEvent, User } from '../../client/index.js';
import { describeError, h, setText } from './dom.js';
import { MessageList } from './message-list.js';
import { roomLabel } from './rooms-view.js';

const PAGE = 50;
/** How long "is typing" stays after the last typing notice of someone. */
const TYPING_SHOWN_MS = 4_000;
/** At most one typing notice of mine per this many ms. */
const TYPING_SENT_EVERY_MS = 2_000;

export interface RoomViewOptions {
  client: ParleyClient;
  me: User;
  room: MemberRoom;
  /** My read marker in this room moved forward to `seq`. */
  onRead: (seq: number) => void;
}

export class RoomView {
  readonly element: HTMLElement;
  readonly roomId: string;
  readonly #client: ParleyClient;
  readonly #me: User;
  readonly #onRead: (seq: number) => void;
  readonly #list: MessageList;
  readonly #typing = h('p', { class: 'typing', 'aria-live': 'polite', 'data-testid': 'typing' });
  readonly #error = h('p', { class: 'error', role: 'alert', 'data-testid': 'send-error' });
  readonly #composer = h('textarea', {
    rows: '2',
    maxlength: '4000',
    placeholder: 'Write a message — Enter sends, Shift+Enter for a new line',
    'aria-label': 'Message',
    'data-testid': 'composer',
  });
  readonly #typists = new Map<string, { name: string; timer: ReturnType<typeof setTimeout> }>();
  readonly #onVisibility = () => this.#markReadIfSeen();
  #hasMore = false;
  #loadingOlder = false;
  #lastTypingSent = 0;
  #readSeq: number;
  #closed = false;

  constructor({ client, me, room, onRead }: RoomViewOptions) {
    this.#client = client;
    this.#me = me;
    this.#onRead = onRead;
    this.roomId = room.id;
    this.#readSeq = room.lastReadSeq;
    this.#list = new MessageList(me);

    const send = h('button', { type: 'submit', 'data-testid': 'send' }, 'Send');
    const form = h('form', { class: 'composer' }, this.#composer, send);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#send();
    });
    this.#composer.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#send();
      }
    });
    this.#composer.addEventListener('input', () => this.#sendTyping());
    this.#list.element.addEventListener('scroll', () => {
      if (this.#list.isNearTop()) void this.#loadOlder();
      this.#markReadIfSeen();
    });
    document.addEventListener('visibilitychange', this.#onVisibility);

    this.element = h(
      'section',
      { class: 'room', 'data-testid': 'room', 'data-room-id': room.id, 'aria-label': room.name },
      h(
        'header',
        { class: 'room-header' },
        h('h2', {}, roomLabel(room)),
        room.topic === '' ? null : h('p', { class: 'topic' }, room.topic),
      ),
      this.#list.element,
      this.#typing,
      this.#error,
      form,
    );
  }

  /** Loads the newest page up to where the live stream continues; live events follow it. */
  async open(): Promise<void> {
    const lastSeq = this.#client.lastSeq(this.roomId) ?? (await this.#client.subscribe(this.roomId)).lastSeq;
    if (this.#closed) return;
    this.#list.setEdge('loading');
    const page = await this.#client.rest.history(this.roomId, { before: lastSeq + 1, limit: PAGE });
    if (this.#closed) return;
    for (const message of page.messages) this.#list.upsert(message);
    this.#list.advanceTo(lastSeq);
    this.#hasMore = page.hasMore;
    this.#updateEdge();
    this.#list.scrollToBottom();
    this.#composer.focus();
    await this.#fillViewport();
    this.#markReadIfSeen();
  }

  /** Stops rendering; the room stays subscribed, so its unread count stays live. */
  close(): void {
    this.#closed = true;
    document.removeEventListener('visibilitychange', this.#onVisibility);
    for (const { timer } of this.#typists.values()) clearTimeout(timer);
    this.#typists.clear();
  }

  onEvent(event: StreamEvent): void {
    const atBottom = this.#list.isAtBottom();
    this.#list.apply(event);
    if (event.kind === 'message') this.#stopTyping(event.user.id);
    if (atBottom) this.#list.scrollToBottom();
    this.#markReadIfSeen();
  }

  onTyping(user: User): void {
    if (user.id === this.#me.id || this.#closed) return;
    const known = this.#typists.get(user.id);
    if (known !== undefined) clearTimeout(known.timer);
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
    let text = '';
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = 'Several people are typing…';
    setText(this.#typing, text);
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
    this.#lastTypingSent = 0;
    setText(this.#error, '');
    const pending = this.#list.addPending(this.#me, body);
    this.#list.scrollToBottom();
    this.#client.send(this.roomId, body).then(
      (message) => {
        if (this.#closed) return;
        const atBottom = this.#list.isAtBottom();
        this.#list.acknowledge(pending, message);
        if (atBottom) this.#list.scrollToBottom();
        this.#markReadIfSeen();
      },
      (error: unknown) => {
        if (this.#closed) return;
        this.#list.fail(pending);
        setText(this.#error, `Not sent: ${describeError(error)}`);
      },
    );
  }

  async #loadOlder(): Promise<void> {
    const before = this.#list.oldestMessageSeq;
    if (!this.#hasMore || this.#loadingOlder || before === null || this.#closed) return;
    this.#loadingOlder = true;
    this.#list.setEdge('loading');
    try {
      const page = await this.#client.rest.history(this.roomId, { before, limit: PAGE });
      if (this.#closed) return;
      this.#hasMore = page.hasMore;
      this.#list.prependPage(page.messages);
    } catch (error) {
      setText(this.#error, `Older messages could not be loaded: ${describeError(error)}`);
    } finally {
      this.#loadingOlder = false;
      if (!this.#closed) this.#updateEdge();
    }
  }

  /** Loads older pages until the list scrolls (or the room's beginning), so scrolling up can ask for more. */
  async #fillViewport(): Promise<void> {
    while (this.#hasMore && !this.#closed && this.#list.hasRoomForMore()) {
      const before = this.#list.oldestMessageSeq;
      await this.#loadOlder();
      if (this.#list.oldestMessageSeq === before) return;
    }
  }

  #updateEdge(): void {
    if (this.#hasMore) this.#list.setEdge('more');
    else this.#list.setEdge(this.#list.oldestMessageSeq === null ? 'empty' : 'start');
  }

  /** Moves my read marker to the newest event once it is on screen in a visible page. */
  #markReadIfSeen(): void {
    if (this.#closed || document.visibilityState !== 'visible' || !this.#list.isAtBottom()) return;
    const newest = this.#list.newestSeq;
    const previous = this.#readSeq;
    if (newest <= previous) return;
    this.#readSeq = newest;
    this.#onRead(newest);
    this.#client.markRead(this.roomId, newest).catch((error: unknown) => {
      // A marker not moved now moves with the next message read.
      if (this.#readSeq === newest) this.#readSeq = previous;
      console.warn('Parley: the read marker was not saved:', describeError(error));
    });
  }
}
