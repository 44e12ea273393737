/**
 * The rows of one room's stream as the list shows them: messages (edits shown in place, deleted
 * ones as tombstones), member joined/left lines, and my own messages while they wait for the
 * server. Thread replies are not rows: they change their root's reply count and show in the
 * thread panel; reactions fold into the messages they are on. Rows are kept in seq order whatever order they arrive in (a history page, live events,
 * a late acknowledgement); pending rows have no seq yet and stay at the bottom.
 */
import { signal } from '@preact/signals';
import { type Attachment, applyEvent, type Message, type StreamEvent, type User } from '../../../client/index.js';

/** What a row shows of a message: a stored one, or one of mine not acknowledged yet. */
export type Shown = Pick<Message, 'author' | 'body' | 'createdAt' | 'editedAt' | 'deleted'> & { attachments?: readonly Attachment[] };

export type Row =
  | { type: 'message'; key: string; seq: number; message: Message }
  | { type: 'notice'; key: string; seq: number; text: string }
  | { type: 'pending'; key: string; message: Shown; failed: boolean };

type PendingRow = Extract<Row, { type: 'pending' }>;
type StoredRow = Exclude<Row, PendingRow>;

export type Edge = 'more' | 'loading' | 'start' | 'empty';

/** What tells a pending message of mine from another: its text and the files it carries. */
function pendingMatch(m: Pick<Shown, 'body' | 'attachments'>): string {
  return JSON.stringify([m.body, (m.attachments ?? []).map((a) => a.id)]);
}

/** The system line of a membership or moderation event ("Alice banned Bob"), null for the kinds that show none. */
export function noticeText(event: StreamEvent): string | null {
  const actor = event.user.displayName;
  const member = event.member?.displayName ?? 'someone';
  const reason = event.reason === undefined || event.reason === null || event.reason === '' ? '' : `: ${event.reason}`;
  switch (event.kind) {
    case 'member_joined':
      return `${actor} joined the room`;
    case 'member_left':
      return `${actor} left the room`;
    case 'member_kicked':
      return `${actor} removed ${member}${reason}`;
    case 'member_banned':
      return `${actor} banned ${member}${reason}`;
    case 'member_unbanned':
      return `${actor} lifted the ban of ${member}`;
    case 'member_muted':
      return `${actor} muted ${member}${reason}`;
    case 'member_unmuted':
      return `${actor} unmuted ${member}`;
    case 'member_role_changed':
      return `${actor} made ${member} ${event.role === 'admin' ? 'an admin' : `a ${event.role ?? 'member'}`}`;
    case 'room_updated': {
      const changes = event.changes ?? {};
      if (changes.archived === true) return `${actor} archived the room`;
      if (changes.archived === false) return `${actor} unarchived the room`;
      if (changes.name !== undefined) return `${actor} renamed the room to ${changes.name}`;
      if (changes.topic !== undefined) return `${actor} set the topic: ${changes.topic}`;
      return null;
    }
    default:
      return null;
  }
}

let nextPending = 0;

export class Timeline {
  readonly rows = signal<readonly Row[]>([]);
  /** What lies above the oldest message loaded. */
  readonly edge = signal<Edge>('loading');
  readonly #meId: string;
  readonly #bySeq = new Map<number, StoredRow>();
  #pending: PendingRow[] = [];
  /** Replies seen live, by seq: their delete moves their root's count. */
  readonly #replies = new Map<number, Message>();
  #oldestMessageSeq: number | null = null;
  #newestSeq = 0;

  constructor(me: User) {
    this.#meId = me.id;
  }

  /** The newest seq of the room's stream this list has caught up with, 0 when none. */
  get newestSeq(): number {
    return this.#newestSeq;
  }

  /** The oldest message seq loaded, or null before any. */
  get oldestMessageSeq(): number | null {
    return this.#oldestMessageSeq;
  }

  /** The stream is known up to `seq`, including events that show no row (a join before the page was opened). */
  advanceTo(seq: number): void {
    this.#newestSeq = Math.max(this.#newestSeq, seq);
  }

  has(seq: number): boolean {
    return this.#bySeq.has(seq);
  }

  /** The stored message of a seq, if loaded. */
  message(seq: number): Message | undefined {
    const row = this.#bySeq.get(seq);
    return row?.type === 'message' ? row.message : undefined;
  }

  /** My newest message not deleted, for the Up arrow. */
  lastOwnMessage(): Message | undefined {
    const rows = this.rows.peek();
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i];
      if (row?.type === 'message' && row.message.author.id === this.#meId && !row.message.deleted) return row.message;
    }
    return undefined;
  }

  /** Shows messages, replacing the rows of the same seqs (an edit, a delete, a repeat). */
  upsert(...messages: Message[]): void {
    for (const message of messages) {
      this.#bySeq.set(message.seq, { type: 'message', key: `m${message.seq}`, seq: message.seq, message });
      if (this.#oldestMessageSeq === null || message.seq < this.#oldestMessageSeq) this.#oldestMessageSeq = message.seq;
      this.#newestSeq = Math.max(this.#newestSeq, message.seq);
    }
    if (messages.length > 0 && this.edge.peek() === 'empty') this.edge.value = 'start';
    this.#publish();
  }

  /** Applies one live stream event. */
  apply(event: StreamEvent): void {
    const text = noticeText(event);
    if (text !== null) {
      if (!this.#bySeq.has(event.seq)) {
        this.#bySeq.set(event.seq, { type: 'notice', key: `n${event.seq}`, seq: event.seq, text });
        this.#publish();
      }
    } else {
      const shown: Message[] = [];
      for (const message of applyEvent(this.#known(), event, this.#meId).values()) {
        if (message.threadRoot !== undefined) this.#replies.set(message.seq, message);
        // A change to a message not loaded yet shows when its page is loaded; a new one shows now.
        // A tombstone shows no edit mark.
        else if (this.#bySeq.has(message.seq) || (event.kind === 'message' && message.seq === event.seq)) shown.push(message.deleted ? { ...message, editedAt: null } : message);
      }
      if (shown.length > 0) this.upsert(...shown);
      const sent = event.kind === 'message' ? event.message : undefined;
      if (sent !== undefined && sent.threadRoot === undefined && sent.author.id === this.#meId) this.#settlePending(pendingMatch(sent));
    }
    this.#newestSeq = Math.max(this.#newestSeq, event.seq);
  }

  /** The messages an event may change: the rows' and the replies seen live. */
  #known(): Map<number, Message> {
    const known = new Map(this.#replies);
    for (const row of this.#bySeq.values()) if (row.type === 'message') known.set(row.seq, row.message);
    return known;
  }

  /** Shows a message of mine that the server has not acknowledged yet; returns its key. */
  addPending(author: User, body: string, attachments: readonly Attachment[] = []): string {
    const key = `p${++nextPending}`;
    this.#pending = [...this.#pending, { type: 'pending', key, message: { author, body, attachments, createdAt: new Date().toISOString(), editedAt: null, deleted: false }, failed: false }];
    this.#publish();
    return key;
  }

  /** The server stored the pending message: its row takes its place in seq order. */
  acknowledge(key: string, message: Message): void {
    this.#pending = this.#pending.filter((p) => p.key !== key);
    this.upsert(message);
  }

  /** The server refused the pending message. */
  fail(key: string): void {
    this.#pending = this.#pending.map((p) => (p.key === key ? { ...p, failed: true } : p));
    this.#publish();
  }

  /**
   * A message of mine came in on the stream before its acknowledgement: the oldest pending row
   * with its text and files is that message (sends are stored in order), so it goes now rather
   * than showing twice until the acknowledgement.
   */
  #settlePending(match: string): void {
    const index = this.#pending.findIndex((p) => !p.failed && pendingMatch(p.message) === match);
    if (index === -1) return;
    this.#pending = this.#pending.filter((_, i) => i !== index);
    this.#publish();
  }

  #publish(): void {
    const stored = [...this.#bySeq.values()].sort((a, b) => a.seq - b.seq);
    this.rows.value = [...stored, ...this.#pending];
  }
}
