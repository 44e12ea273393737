/**
 * One open room: its history (the newest page first, older pages as the reader scrolls up), live
 * events in seq order, a composer whose messages show as pending until the server acknowledges
 * them, who is typing, and the read marker, moved when the newest message is on screen.
 * Files join the next message from the attach button, dropped anywhere on the room, or pasted;
 * each uploads at once, and sending waits until none is still uploading.
 */
import type { MemberRoom, ParleyClient, StreamEvent, User } from '../../client/index.js';
import { describeError, h, setText } from './dom.js';
import { MessageList } from './message-list.js';
import { roomLabel } from './rooms-view.js';
import { UploadTray } from './uploads.js';

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
  readonly #send = h('button', { type: 'submit', 'data-testid': 'send' }, 'Send');
  readonly #uploads: UploadTray;
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

    this.#uploads = new UploadTray({ client, roomId: room.id, onChange: () => this.#updateSend() });
    const fileInput = h('input', { type: 'file', multiple: true, hidden: true, tabindex: '-1', 'data-testid': 'file-input' });
    fileInput.addEventListener('change', () => {
      this.#uploads.add(fileInput.files ?? []);
      // The same file can be chosen again.
      fileInput.value = '';
      this.#composer.focus();
    });
    const attach = h('button', { type: 'button', class: 'secondary attach', title: 'Attach files', 'aria-label': 'Attach files', 'data-testid': 'attach' }, '📎');
    attach.addEventListener('click', () => fileInput.click());
    const form = h('form', { class: 'composer' }, attach, fileInput, this.#composer, this.#send);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#sendMessage();
    });
    this.#composer.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#sendMessage();
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
      this.#uploads.element,
      form,
      h('div', { class: 'drop-zone', 'aria-hidden': 'true' }, 'Drop files to attach them'),
      this.#list.lightbox.element,
    );
    this.#acceptFiles(this.element);
  }

  /** Files dropped anywhere on the room, or pasted in it, join the next message. */
  #acceptFiles(zone: HTMLElement): void {
    const carriesFiles = (event: DragEvent) => event.dataTransfer?.types.includes('Files') === true;
    // Entering a child counts before leaving its parent: the highlight goes when the count is 0.
    let depth = 0;
    const highlight = (on: boolean) => zone.classList.toggle('dropping', on);
    zone.addEventListener('dragenter', (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth++;
      highlight(true);
    });
    zone.addEventListener('dragover', (event) => {
      if (!carriesFiles(event) || event.dataTransfer === null) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
    });
    zone.addEventListener('dragleave', (event) => {
      if (!carriesFiles(event)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) highlight(false);
    });
    zone.addEventListener('drop', (event) => {
      if (!carriesFiles(event)) return;
      event.preventDefault();
      depth = 0;
      highlight(false);
      this.#uploads.add(event.dataTransfer?.files ?? []);
      this.#composer.focus();
    });
    zone.addEventListener('paste', (event) => {
      const data = event.clipboardData;
      if (data === null || data.files.length === 0) return;
      // Cells or a passage copied from a document come as text, markup and a picture of
      // themselves: the text is what was meant. A copied image or file comes without both.
      const picturedText = data.types.includes('text/plain') && data.types.includes('text/html') && [...data.files].every((f) => f.type.startsWith('image/'));
      if (picturedText) return;
      event.preventDefault();
      this.#uploads.add(data.files);
    });
  }

  /** The send button waits, saying so, while a file is still uploading. */
  #updateSend(): void {
    const uploading = this.#uploads.uploading;
    this.#send.disabled = uploading;
    setText(this.#send, uploading ? 'Uploading…' : 'Send');
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
    // Files chosen for a message never sent: cancelled, and deleted from the server.
    this.#uploads.discard();
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

  #sendMessage(): void {
    if (this.#uploads.uploading) {
      this.#uploads.sayWaiting();
      return;
    }
    const body = this.#composer.value.trim();
    const attachments = this.#uploads.finished();
    if (body === '' && attachments.length === 0) return;
    this.#composer.value = '';
    this.#uploads.clear();
    this.#lastTypingSent = 0;
    setText(this.#error, '');
    const pending = this.#list.addPending(this.#me, body, attachments);
    this.#list.scrollToBottom();
    this.#client.send(this.roomId, body, { attachments: attachments.map((a) => a.id) }).then(
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
