/**
 * One open room: its history (the newest page first, older pages as the reader scrolls up, or a
 * window around one message when a link or a search hit names it), live events in seq order,
 * sends shown as pending until acknowledged, edits and deletes, who is typing, who is online,
 * the read marker (moved when the newest message is on screen), what the list should do
 * with its scroll position after the next render, and the thread open beside the list.
 */
import { type Signal, signal } from '@preact/signals';
import { type Member, type MemberRoom, type Message, ParleyError, type StreamEvent, type User } from '../../../client/index.js';
import type { Api } from '../api.js';
import { describeError, formatDateTime, reactionRefusal } from '../format.js';
import { ThreadSession } from './thread.js';
import { type Edge, Timeline } from './timeline.js';
import { Uploads } from './uploads.js';

const PAGE = 50;
/** How close to an edge, in pixels, still counts as being at it. */
const EDGE_PX = 48;
/** How long "is typing" stays after the last typing notice of someone. */
const TYPING_SHOWN_MS = 4_000;
/** At most one typing notice of mine per this many ms. */
const TYPING_SENT_EVERY_MS = 2_000;

/** What the list does with its scroll position once the rows it is about to show are in place. */
export type ScrollIntent = { to: 'bottom' } | { to: 'keep'; fromBottom: number } | { to: 'message'; seq: number } | { to: 'divider' };

export interface RoomSessionOptions {
  api: Api;
  me: User;
  room: MemberRoom;
  /** My read marker in this room moved forward to `seq`. */
  onRead: (seq: number) => void;
  /** A message of someone else arrived live in this room (for the live region). */
  onIncoming: (message: Message) => void;
}

export class RoomSession {
  readonly roomId: string;
  readonly room: MemberRoom;
  readonly uploads: Uploads;
  readonly typing = signal<readonly string[]>([]);
  readonly error = signal('');
  /** The message a link or search hit named, shown highlighted. */
  readonly highlighted = signal<number | null>(null);
  /** Where the "new messages" divider goes: above the first message after this seq, by someone else. */
  readonly unreadAfter: number | null;
  /** Newer messages exist below what is loaded (the list shows a window around a message). */
  readonly hasNewer = signal(false);
  /** Messages by others that arrived while the reader was scrolled up. */
  readonly newBelow = signal(0);
  readonly members = signal<readonly Member[] | null>(null);
  readonly membersError = signal('');
  /** Why I cannot send here while a moderator has muted me; null when I may. */
  readonly muted = signal<string | null>(null);
  /** The message being edited, by seq. */
  readonly editing = signal<number | null>(null);
  /** Set before the rows change; the list applies it once they are rendered, then clears it. */
  readonly scroll = signal<ScrollIntent | null>(null);
  /** The thread shown in the side panel (its own screen on a phone). */
  readonly thread = signal<ThreadSession | null>(null);
  /** Why my last reaction was refused. */
  readonly reactionError = signal('');
  readonly #timeline: Signal<Timeline>;
  readonly #api: Api;
  readonly #me: User;
  readonly #onRead: (seq: number) => void;
  readonly #onIncoming: (message: Message) => void;
  readonly #typists = new Map<string, { name: string; timer: ReturnType<typeof setTimeout> }>();
  readonly #onVisibility = () => this.markReadIfSeen();
  #list: HTMLElement | null = null;
  #hasMore = false;
  #loadingOlder = false;
  #loadingNewer = false;
  #lastTypingSent = 0;
  #readSeq: number;
  #closed = false;
  #muteTimer: ReturnType<typeof setTimeout> | undefined;
  #membersRequest = 0;
  /** Counts the mute events about me, so an older member list does not undo one. */
  #muteEvents = 0;

  constructor({ api, me, room, onRead, onIncoming }: RoomSessionOptions) {
    this.#api = api;
    this.#me = me;
    this.#onRead = onRead;
    this.#onIncoming = onIncoming;
    this.roomId = room.id;
    this.room = room;
    this.#readSeq = room.lastReadSeq;
    this.unreadAfter = room.unread > 0 || room.unreadCapped === true ? room.lastReadSeq : null;
    this.#timeline = signal(new Timeline(me));
    this.uploads = new Uploads(api, room.id);
    document.addEventListener('visibilitychange', this.#onVisibility);
  }

  /** The rows shown; replaced when the list jumps to a window around another message. */
  get timeline(): Timeline {
    return this.#timeline.value;
  }

  /** The list element, once rendered: scroll positions are read from it. */
  attach(list: HTMLElement | null): void {
    this.#list = list;
  }

  /**
   * Loads the newest page up to where the live stream continues, or with `seq` a window around
   * that message; live events follow.
   */
  async open(seq: number | null = null): Promise<void> {
    const lastSeq = this.#api.lastSeq(this.roomId) ?? (await this.#api.subscribe(this.roomId)).lastSeq;
    if (this.#closed) return;
    void this.loadMembers();
    if (seq !== null && seq <= lastSeq) {
      await this.#openAt(seq);
      return;
    }
    const page = await this.#api.history(this.roomId, { before: lastSeq + 1, limit: PAGE, topLevel: true });
    if (this.#closed) return;
    this.timeline.upsert(...page.messages);
    this.timeline.advanceTo(lastSeq);
    this.#hasMore = page.hasMore;
    this.#updateEdge();
    this.scroll.value = this.unreadAfter !== null && this.timeline.oldestMessageSeq !== null && this.timeline.oldestMessageSeq <= this.unreadAfter + 1 ? { to: 'divider' } : { to: 'bottom' };
    await this.#settled();
    await this.#fillViewport();
    this.markReadIfSeen();
  }

  /** Shows the pages around `seq`: older ones above it, newer ones loaded as the reader scrolls down. */
  async #openAt(seq: number): Promise<void> {
    const [older, newer] = await Promise.all([
      this.#api.history(this.roomId, { before: seq + 1, limit: PAGE, topLevel: true }),
      this.#api.history(this.roomId, { after: seq, limit: PAGE, topLevel: true }),
    ]);
    if (this.#closed) return;
    this.timeline.upsert(...older.messages, ...newer.messages);
    this.#hasMore = older.hasMore;
    this.hasNewer.value = newer.hasMore;
    if (!newer.hasMore) this.timeline.advanceTo(this.#api.lastSeq(this.roomId) ?? 0);
    this.#updateEdge();
    this.highlighted.value = seq;
    this.scroll.value = { to: 'message', seq };
    await this.#settled();
    this.markReadIfSeen();
  }

  /** Shows the message `seq` in context: scrolled to if loaded, else a window around it. */
  async jumpTo(seq: number): Promise<void> {
    if (this.timeline.has(seq)) {
      this.highlighted.value = seq;
      this.scroll.value = { to: 'message', seq };
      return;
    }
    this.#reset();
    await this.#openAt(seq);
  }

  /** Back to the newest messages (from a window around an older one). */
  async jumpToPresent(): Promise<void> {
    this.newBelow.value = 0;
    if (!this.hasNewer.peek()) {
      this.scroll.value = { to: 'bottom' };
      return;
    }
    this.#reset();
    await this.open();
  }

  /** Scrolls to the "new messages" divider, loading older pages until it is loaded. */
  async jumpToFirstUnread(): Promise<void> {
    const after = this.unreadAfter;
    if (after === null) return;
    const loaded = this.timeline.oldestMessageSeq !== null && this.timeline.oldestMessageSeq <= after + 1;
    if (loaded || !this.#hasMore) {
      this.scroll.value = { to: 'divider' };
      return;
    }
    this.#reset();
    await this.#openAt(after + 1);
  }

  #reset(): void {
    this.#timeline.value = new Timeline(this.#me);
    this.hasNewer.value = false;
    this.highlighted.value = null;
  }

  /** Shows the thread of `root` in the panel, or with null closes it. */
  openThread(root: number | null): void {
    const current = this.thread.peek();
    if (current?.rootSeq === root) return;
    current?.close();
    if (root === null) {
      this.thread.value = null;
      return;
    }
    const thread = new ThreadSession(this.#api, this.#me, this.roomId, root);
    this.thread.value = thread;
    void thread.open();
  }

  /** Adds or takes back my reaction; a refusal shows as the room's reaction error. */
  react(seq: number, emoji: string, on: boolean): void {
    this.reactionError.value = '';
    this.#api.react(this.roomId, seq, emoji, on).catch((error: unknown) => {
      if (!this.#closed) this.reactionError.value = reactionRefusal(error);
    });
  }

  /** Stops rendering; the room stays subscribed, so its unread count stays live. */
  close(): void {
    this.#closed = true;
    if (this.#muteTimer !== undefined) clearTimeout(this.#muteTimer);
    this.thread.peek()?.close();
    document.removeEventListener('visibilitychange', this.#onVisibility);
    for (const { timer } of this.#typists.values()) clearTimeout(timer);
    this.#typists.clear();
    // Files chosen for a message never sent: cancelled, and deleted from the server.
    this.uploads.discard();
  }

  onEvent(event: StreamEvent): void {
    const atBottom = this.isAtBottom();
    // Past a window around an older message the stream has a gap: live rows come with the pages.
    const shown = !this.hasNewer.peek() || event.kind === 'edit' || event.kind === 'delete';
    if (shown) this.timeline.apply(event);
    this.thread.peek()?.onEvent(event);
    if (event.kind === 'message') {
      this.#stopTyping(event.user.id);
      if (event.user.id !== this.#me.id && event.message !== undefined && event.message.threadRoot === undefined) {
        this.#onIncoming(event.message);
        if (!atBottom || this.hasNewer.peek()) this.newBelow.value++;
      }
    }
    if ((event.kind === 'member_muted' || event.kind === 'member_unmuted') && event.member?.id === this.#me.id) this.#muteEvents++;
    if (event.kind === 'member_muted' && event.member?.id === this.#me.id) this.#setMuted(mutedText(event.user.displayName, event.until ?? null, event.reason ?? null), event.until ?? null);
    if (event.kind === 'member_unmuted' && event.member?.id === this.#me.id) this.#setMuted(null);
    // Joins, leaves and moderation change who is listed and with what role; once I am out of
    // the room there is no list of it for me to read.
    const meOut = (event.kind === 'member_left' && event.user.id === this.#me.id) || ((event.kind === 'member_kicked' || event.kind === 'member_banned') && event.member?.id === this.#me.id);
    if (event.kind.startsWith('member_') && !meOut) void this.loadMembers();
    if (atBottom && shown) this.scroll.value = { to: 'bottom' };
    queueMicrotask(() => this.markReadIfSeen());
  }

  onTyping(user: User): void {
    if (user.id === this.#me.id || this.#closed) return;
    const known = this.#typists.get(user.id);
    if (known !== undefined) clearTimeout(known.timer);
    const timer = setTimeout(() => this.#stopTyping(user.id), TYPING_SHOWN_MS);
    this.#typists.set(user.id, { name: user.displayName, timer });
    this.#renderTyping();
  }

  onPresence(userId: string, online: boolean): void {
    const members = this.members.peek();
    if (members === null) return;
    this.members.value = members.map((m) => (m.user.id === userId ? { ...m, online } : m));
  }

  /** Someone's profile changed: their entry shows it at once. */
  onUserUpdated(user: User): void {
    const members = this.members.peek();
    if (members === null) return;
    this.members.value = members.map((m) => (m.user.id === user.id ? { ...m, user } : m));
  }

  async loadMembers(): Promise<void> {
    const request = ++this.#membersRequest;
    const mutesSeen = this.#muteEvents;
    try {
      const members = await this.#api.listMembers(this.roomId);
      // Each member event reloads the list: only the latest answer counts.
      if (this.#closed || request !== this.#membersRequest) return;
      this.members.value = members;
      this.membersError.value = '';
      // The list says whether I am muted here: known when the room opens, not at a refused send.
      // A mute event since the request was made knows better; so does one when I am not on
      // the list's page.
      const mine = members.find((m) => m.user.id === this.#me.id);
      if (mine === undefined || mutesSeen !== this.#muteEvents) return;
      if (mine.mutedUntil === undefined) this.#setMuted(null);
      else if (this.muted.peek() === null) this.#setMuted(mutedText(null, mine.mutedUntil, null), mine.mutedUntil);
    } catch (error) {
      if (!this.#closed) this.membersError.value = `The members could not be loaded: ${describeError(error)}`;
    }
  }

  /** Shows why I cannot send, until `until` (a mute ends by itself then, with no event), or clears it. */
  #setMuted(text: string | null, until: string | null = null): void {
    if (this.#muteTimer !== undefined) clearTimeout(this.#muteTimer);
    this.#muteTimer = undefined;
    this.muted.value = text;
    if (text === null || until === null) return;
    const left = Date.parse(until) - Date.now();
    // Timers hold at most about 24.8 days; a longer mute is checked again with the member list.
    if (left < 2 ** 31 - 1) this.#muteTimer = setTimeout(() => this.#setMuted(null), Math.max(0, left));
  }

  /** My role here: `owner` may delete anyone's message. */
  get myRole(): string | null {
    return this.members.value?.find((m) => m.user.id === this.#me.id)?.role ?? null;
  }

  #stopTyping(userId: string): void {
    const typist = this.#typists.get(userId);
    if (typist === undefined) return;
    clearTimeout(typist.timer);
    this.#typists.delete(userId);
    this.#renderTyping();
  }

  #renderTyping(): void {
    this.typing.value = [...this.#typists.values()].map((t) => t.name);
  }

  /** My composer changed: others hear I am typing, at most every few seconds. */
  typed(text: string): void {
    const now = Date.now();
    if (now - this.#lastTypingSent < TYPING_SENT_EVERY_MS || text.trim() === '') return;
    this.#lastTypingSent = now;
    this.#api.typing(this.roomId);
  }

  /**
   * Sends the composer's text and the finished uploads. Returns false when nothing was sent
   * (nothing to send, or files still uploading), so the composer keeps its text.
   */
  send(text: string, onSent: () => void): boolean {
    if (this.uploads.uploading.peek()) {
      this.uploads.sayWaiting();
      return false;
    }
    const body = text.trim();
    const attachments = this.uploads.finished();
    if (body === '' && attachments.length === 0) return false;
    this.uploads.clear();
    this.#lastTypingSent = 0;
    this.error.value = '';
    if (this.hasNewer.peek()) void this.jumpToPresent();
    const pending = this.timeline.addPending(this.#me, body, attachments);
    this.scroll.value = { to: 'bottom' };
    this.#api.send(this.roomId, body, attachments.map((a) => a.id)).then(
      (message) => {
        if (this.#closed) return;
        const atBottom = this.isAtBottom();
        this.timeline.acknowledge(pending, message);
        if (atBottom) this.scroll.value = { to: 'bottom' };
        queueMicrotask(() => this.markReadIfSeen());
        onSent();
      },
      (error: unknown) => {
        if (this.#closed) return;
        this.timeline.fail(pending);
        this.error.value = `Not sent: ${describeError(error)}`;
        // Muted before this page saw it happen (or before it was opened): the composer says so.
        if (error instanceof ParleyError && error.details?.reason === 'muted' && this.muted.peek() === null) this.muted.value = mutedText(null, null, null);
      },
    );
    return true;
  }

  /** Saves an edit of one of my messages; rejects with the reason it was refused. */
  async edit(seq: number, body: string): Promise<void> {
    const message = await this.#api.edit(this.roomId, seq, body);
    if (!this.#closed && this.timeline.has(seq)) this.timeline.upsert(message);
  }

  async delete(seq: number): Promise<void> {
    await this.#api.delete(this.roomId, seq);
  }

  /** The list scrolled: older or newer pages when at an edge, the hint and the read marker. */
  scrolled(): void {
    if (this.#isNearTop()) void this.#loadOlder();
    if (this.isAtBottom()) {
      if (this.hasNewer.peek()) void this.#loadNewer();
      else this.newBelow.value = 0;
    }
    this.markReadIfSeen();
  }

  async #loadOlder(): Promise<void> {
    const before = this.timeline.oldestMessageSeq;
    if (!this.#hasMore || this.#loadingOlder || before === null || this.#closed) return;
    this.#loadingOlder = true;
    const timeline = this.timeline;
    timeline.edge.value = 'loading';
    try {
      const page = await this.#api.history(this.roomId, { before, limit: PAGE, topLevel: true });
      if (this.#closed || timeline !== this.timeline) return;
      this.#hasMore = page.hasMore;
      const list = this.#list;
      if (list !== null) this.scroll.value = { to: 'keep', fromBottom: list.scrollHeight - list.scrollTop };
      timeline.upsert(...page.messages);
      await this.#settled();
    } catch (error) {
      this.error.value = `Older messages could not be loaded: ${describeError(error)}`;
    } finally {
      this.#loadingOlder = false;
      if (!this.#closed) this.#updateEdge();
    }
  }

  /** The next page below a window around an older message; the last one joins the live stream. */
  async #loadNewer(): Promise<void> {
    if (this.#loadingNewer || this.#closed) return;
    this.#loadingNewer = true;
    const timeline = this.timeline;
    try {
      // Events that arrived live while the last page was read are fetched too.
      for (;;) {
        const page = await this.#api.history(this.roomId, { after: timeline.newestSeq, limit: 100, topLevel: true });
        if (this.#closed || timeline !== this.timeline) return;
        timeline.upsert(...page.messages);
        if (page.hasMore) return;
        const live = this.#api.lastSeq(this.roomId) ?? 0;
        if (live <= timeline.newestSeq || page.messages.length === 0) {
          timeline.advanceTo(live);
          this.hasNewer.value = false;
          return;
        }
      }
    } catch (error) {
      this.error.value = `Newer messages could not be loaded: ${describeError(error)}`;
    } finally {
      this.#loadingNewer = false;
    }
  }

  /** Loads older pages until the list scrolls (or the room's beginning), so scrolling up can ask for more. */
  async #fillViewport(): Promise<void> {
    while (this.#hasMore && !this.#closed && this.#list !== null && this.#list.scrollHeight <= this.#list.clientHeight) {
      const before = this.timeline.oldestMessageSeq;
      await this.#loadOlder();
      if (this.timeline.oldestMessageSeq === before) return;
    }
  }

  #updateEdge(): void {
    const edge: Edge = this.#hasMore ? 'more' : this.timeline.oldestMessageSeq === null ? 'empty' : 'start';
    this.timeline.edge.value = edge;
  }

  /** Resolves after the list has rendered what was just set (Preact renders on a microtask, its layout effects with it). */
  #settled(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, 0));
  }

  isAtBottom(): boolean {
    const list = this.#list;
    return list === null || list.scrollHeight - list.scrollTop - list.clientHeight < EDGE_PX;
  }

  #isNearTop(): boolean {
    return this.#list !== null && this.#list.scrollTop < EDGE_PX;
  }

  /** Moves my read marker to the newest event once it is on screen in a visible page. */
  markReadIfSeen(): void {
    if (this.#closed || document.visibilityState !== 'visible' || this.hasNewer.peek() || !this.isAtBottom()) return;
    const newest = this.timeline.newestSeq;
    const previous = this.#readSeq;
    if (newest <= previous) return;
    this.#readSeq = newest;
    this.#onRead(newest);
    this.#api.markRead(this.roomId, newest).catch((error: unknown) => {
      // A marker not moved now moves with the next message read.
      if (this.#readSeq === newest) this.#readSeq = previous;
      console.warn('Parley: the read marker was not saved:', describeError(error));
    });
  }
}

/** What the composer says while I am muted; `by` null when it is known from the member list (who muted me is in the event only). */
function mutedText(by: string | null, until: string | null, reason: string | null): string {
  const when = until === null ? '' : ` until ${formatDateTime(until)}`;
  const who = by === null ? 'You are muted' : `${by} muted you`;
  return `${who} in this room${when}: you can read, but not send.${reason === null || reason === '' ? '' : ` Reason: ${reason}`}`;
}
