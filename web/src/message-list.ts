/**
 * The scrolling list of a room's stream: messages, edits shown in place, tombstones for deleted
 * messages, member joined/left lines, and my own messages while they wait for the server.
 *
 * Rows are kept in seq order whatever order they arrive in (a history page, live events, a late
 * acknowledgement); rows still pending have no seq yet and stay at the bottom.
 */
import type { Attachment, Message, StreamEvent, User } from '../../client/index.js';
import { Lightbox, renderAttachments } from './attachments.js';
import { formatDateTime, formatTime, h, replaceChildren, setText } from './dom.js';

/** How close to an edge, in pixels, still counts as being at it. */
const EDGE_PX = 48;

type Shown = Pick<Message, 'author' | 'body' | 'createdAt' | 'editedAt' | 'deleted'> & { attachments?: readonly Attachment[] };

/** What tells a pending message of mine from another: its text and the files it carries. */
function pendingKey(m: Pick<Shown, 'body' | 'attachments'>): string {
  return JSON.stringify([m.body, (m.attachments ?? []).map((a) => a.id)]);
}

export class MessageList {
  readonly element = h('ol', { class: 'message-list', 'data-testid': 'message-list', 'aria-label': 'Messages' });
  /** Where images open full size; its element belongs anywhere in the page but inside the list. */
  readonly lightbox = new Lightbox();
  readonly #meId: string;
  /** The first row: what lies above the oldest message loaded. */
  readonly #edge = h('li', { class: 'history-edge', 'data-testid': 'history-edge' });
  readonly #messages = new Map<number, HTMLElement>();
  /** My messages not acknowledged yet, oldest first. */
  readonly #pending: Array<{ row: HTMLElement; key: string }> = [];
  #oldestMessageSeq: number | null = null;
  #newestSeq = 0;

  constructor(me: User) {
    this.#meId = me.id;
    this.element.append(this.#edge);
  }

  /** The newest seq of the room's stream this list has caught up with, 0 when none. */
  get newestSeq(): number {
    return this.#newestSeq;
  }

  /** The stream is known up to `seq`, including events that show no row (a join before the page was opened). */
  advanceTo(seq: number): void {
    this.#newestSeq = Math.max(this.#newestSeq, seq);
  }

  /** The oldest message seq loaded, or null before any. */
  get oldestMessageSeq(): number | null {
    return this.#oldestMessageSeq;
  }

  /** Says what is above the oldest message: more to load, loading, or the room's beginning. */
  setEdge(state: 'more' | 'loading' | 'start' | 'empty'): void {
    const text = { more: '', loading: 'Loading older messages…', start: 'This is the beginning of the room.', empty: 'No messages yet. Say hello!' }[state];
    setText(this.#edge, text);
    this.#edge.dataset.state = state;
  }

  /** Shows a message, or replaces the row of the same seq (an edit, a delete, a repeat). */
  upsert(message: Message): void {
    const row = this.#messageRow(message);
    const existing = this.#messages.get(message.seq);
    this.#messages.set(message.seq, row);
    if (existing !== undefined) existing.replaceWith(row);
    else this.#insert(row, message.seq);
    if (this.#oldestMessageSeq === null || message.seq < this.#oldestMessageSeq) this.#oldestMessageSeq = message.seq;
    if (this.#edge.dataset.state === 'empty') this.setEdge('start');
    this.#newestSeq = Math.max(this.#newestSeq, message.seq);
  }

  /**
   * Adds a page of history (any order) above what is shown, keeping the rows the reader is
   * looking at where they are on screen.
   */
  prependPage(messages: Message[]): void {
    const list = this.element;
    const fromBottom = list.scrollHeight - list.scrollTop;
    for (const message of messages) this.upsert(message);
    list.scrollTop = list.scrollHeight - fromBottom;
  }

  /** Applies one live stream event. */
  apply(event: StreamEvent): void {
    switch (event.kind) {
      case 'message':
        if (event.message === undefined) break;
        this.upsert(event.message);
        if (event.message.author.id === this.#meId) this.#settlePending(pendingKey(event.message));
        break;
      case 'edit':
        // An edit of a message not loaded yet shows when its page is loaded.
        if (event.message !== undefined && this.#messages.has(event.message.seq)) this.upsert(event.message);
        break;
      case 'delete': {
        const row = event.target === undefined ? undefined : this.#messages.get(event.target);
        if (row !== undefined) renderTombstone(row);
        break;
      }
      case 'member_joined':
      case 'member_left': {
        const verb = event.kind === 'member_joined' ? 'joined the room' : 'left the room';
        const row = h('li', { class: 'notice', 'data-testid': 'notice', 'data-seq': String(event.seq) }, `${event.user.displayName} ${verb}`);
        if (this.element.querySelector(`:scope > [data-seq="${event.seq}"]`) === null) this.#insert(row, event.seq);
        break;
      }
    }
    this.#newestSeq = Math.max(this.#newestSeq, event.seq);
  }

  /** Shows a message of mine that the server has not acknowledged yet; returns its row. */
  addPending(author: User, body: string, attachments: readonly Attachment[] = []): HTMLElement {
    const row = this.#row({ author, body, attachments, createdAt: new Date().toISOString(), editedAt: null, deleted: false });
    row.classList.add('pending');
    row.setAttribute('aria-busy', 'true');
    this.element.append(row);
    this.#pending.push({ row, key: pendingKey({ body, attachments }) });
    return row;
  }

  /** The server stored the pending message: its row takes its place in seq order. */
  acknowledge(pending: HTMLElement, message: Message): void {
    this.#dropPending(pending);
    this.upsert(message);
  }

  /** The server refused the pending message. */
  fail(pending: HTMLElement): void {
    const index = this.#pending.findIndex((p) => p.row === pending);
    if (index !== -1) this.#pending.splice(index, 1);
    pending.classList.replace('pending', 'failed');
    pending.removeAttribute('aria-busy');
  }

  isAtBottom(): boolean {
    const list = this.element;
    return list.scrollHeight - list.scrollTop - list.clientHeight < EDGE_PX;
  }

  isNearTop(): boolean {
    return this.element.scrollTop < EDGE_PX;
  }

  /** True when the rows do not fill the list, so no scrolling up can ask for more. */
  hasRoomForMore(): boolean {
    return this.element.scrollHeight <= this.element.clientHeight;
  }

  scrollToBottom(): void {
    this.element.scrollTop = this.element.scrollHeight;
  }

  /**
   * A message of mine came in on the stream before its acknowledgement: the oldest pending row
   * with its text and files is that message (sends are stored in order), so it goes now rather
   * than showing twice until the acknowledgement.
   */
  #settlePending(key: string): void {
    const pending = this.#pending.find((p) => p.key === key);
    if (pending !== undefined) this.#dropPending(pending.row);
  }

  #dropPending(row: HTMLElement): void {
    const index = this.#pending.findIndex((p) => p.row === row);
    if (index !== -1) this.#pending.splice(index, 1);
    row.remove();
  }

  /** Inserts after the last row with a smaller seq; pending rows (no seq) stay below. */
  #insert(row: HTMLElement, seq: number): void {
    for (let node = this.element.lastElementChild; node !== null && node !== this.#edge; node = node.previousElementSibling) {
      const at = (node as HTMLElement).dataset.seq;
      if (at !== undefined && Number(at) < seq) {
        node.after(row);
        return;
      }
    }
    this.#edge.after(row);
  }

  #messageRow(message: Message): HTMLElement {
    const row = this.#row(message);
    row.dataset.seq = String(message.seq);
    return row;
  }

  #row(m: Shown): HTMLElement {
    const mine = m.author.id === this.#meId;
    const row = h(
      'li',
      { class: mine ? 'message mine' : 'message', 'data-testid': 'message' },
      h(
        'div',
        { class: 'meta' },
        h('span', { class: 'message-author', 'data-testid': 'message-author', title: `@${m.author.username}` }, m.author.displayName),
        h('time', { datetime: m.createdAt, title: formatDateTime(m.createdAt) }, formatTime(m.createdAt)),
        m.editedAt === null ? null : h('span', { class: 'edited', 'data-testid': 'edited', title: formatDateTime(m.editedAt) }, '(edited)'),
      ),
      // A message of files alone has no text: no empty paragraph under its author.
      m.body === '' && !m.deleted && (m.attachments?.length ?? 0) > 0 ? null : h('p', { class: 'message-body', 'data-testid': 'message-body' }, m.body),
      m.deleted ? null : renderAttachments(m.attachments, this.lightbox),
    );
    if (m.deleted) renderTombstone(row);
    return row;
  }
}

function renderTombstone(row: HTMLElement): void {
  row.classList.add('deleted');
  row.querySelector('.edited')?.remove();
  row.querySelector('.attachments')?.remove();
  let body = row.querySelector('.message-body');
  if (body === null) {
    body = h('p', { class: 'message-body', 'data-testid': 'message-body' });
    row.append(body);
  }
  replaceChildren(body, 'message deleted');
}
