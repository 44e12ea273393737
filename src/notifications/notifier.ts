/**
 * The notifier: turns new messages into notifications, off the send path. After a commit the
 * writer tells `committed`; once per room per short window a `notify-room` job is enqueued,
 * never waited for. The job reads the room's events after the room's notifier cursor (a row per
 * room), asks each source (sources.ts) whom each message concerns, applies the rules every
 * notification obeys, writes the rows (one per user and message: a repeated run writes nothing
 * twice and pushes nothing twice) and pushes each new one to all of its user's connections
 * through the bus. Then it moves the cursor. A sweep every minute runs rooms still behind their
 * stream (the process died between a commit and its enqueue): at least once, as webhooks.
 *
 * The rules, in order: only members are notified, never the author; nobody who blocked the
 * author; nobody while they muted the room; `none` notifies nothing, `mentions` (the default,
 * but `all` in direct messages) @username, @room and followed-thread replies, `all` every message.
 */
import type { Job, JobQueue, RateLimiter, Store } from '../ports.js';
import type { Publisher } from '../domain/publisher.js';
import type { MessageRecord, NewNotification, NotificationKind, NotifyLevel, NotifyPrefRecord, RoomRecord, StreamEventRecord, UserRecord } from '../domain/types.js';
import { KIND_RANK, mentionsSource, type NotificationSource, type SourceContext } from './sources.js';
import { notificationView } from './views.js';

export const NOTIFY_QUEUE = 'notify-room';
export const NOTIFY_SWEEP_QUEUE = 'notify-sweep';

/** Events read per page; a run reads a few pages, then hands on to another job. */
const PAGE = 200;
const PAGES_PER_RUN = 5;
/** Rows per INSERT: an @room in a large room writes in batches. */
const INSERT_BATCH = 500;
const WINDOW_MS = 50;
/**
 * Rooms one notifier job runs. A job per room cost its enqueue, claim and completion (three
 * writes to the job queue) for each room of DM traffic, where a room gets a message or two per
 * window; a window's rooms now share jobs.
 */
const ROOMS_PER_JOB = 100;
const SWEEP_BATCH = 500;
const RETRIES = { attempts: 30, backoff: { baseMs: 1_000, maxMs: 300_000 } };

export interface NotifierOptions {
  /** One token per @room, keyed per author and room (NOTIFY_ROOM_MENTIONS_PER_HOUR). */
  roomMentions: RateLimiter;
  onError(error: unknown, context: string): void;
  now?: () => number;
}

/** The level a member has in a room without a preference of their own. */
export const defaultLevel = (room: Pick<RoomRecord, 'visibility'>): NotifyLevel => (room.visibility === 'dm' ? 'all' : 'mentions');

export class Notifier {
  readonly #store: Store;
  readonly #jobs: JobQueue;
  readonly #publisher: Publisher;
  readonly #options: NotifierOptions;
  readonly #now: () => number;
  readonly #sources: NotificationSource[] = [mentionsSource];
  /** Rooms with messages committed this window → their highest seq. */
  readonly #pending = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(store: Store, jobs: JobQueue, publisher: Publisher, options: NotifierOptions) {
    this.#store = store;
    this.#jobs = jobs;
    this.#publisher = publisher;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Another reason to notify (see sources.ts): asked about every new message after those before it. */
  addSource(source: NotificationSource): void {
    this.#sources.push(source);
  }

  /** An event was committed: a message gets its room a notifier run, once per room per window. */
  committed(event: StreamEventRecord): void {
    if (event.kind !== 'message' || this.#closed) return;
    const pending = this.#pending.get(event.roomId);
    this.#pending.set(event.roomId, Math.max(pending ?? 0, event.seq));
    this.#timer ??= setTimeout(() => void this.#flush(), WINDOW_MS).unref();
  }

  /**
   * Before the job queue closes: the runs of this window are enqueued now, and commits after
   * this enqueue nothing (the rooms' cursors stay behind their streams, and the sweep of the
   * next process to start runs them).
   */
  close(): Promise<void> {
    this.#closed = true;
    return this.#flush();
  }

  #flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const rooms = [...this.#pending];
    this.#pending.clear();
    const enqueued: Promise<unknown>[] = [];
    for (let i = 0; i < rooms.length; i += ROOMS_PER_JOB) {
      const part = rooms.slice(i, i + ROOMS_PER_JOB);
      const [firstRoom, firstSeq] = part[0] as [string, number];
      // Keyed by its first room and seq: the same window enqueued twice is one job.
      const enqueue = this.#jobs
        .enqueue(NOTIFY_QUEUE, { roomIds: part.map(([roomId]) => roomId) }, { key: `notify:${firstRoom}:${firstSeq}:${part.length}`, ...RETRIES })
        .catch((error: unknown) => this.#options.onError(error, 'enqueueing a notifier run'));
      enqueued.push(enqueue);
    }
    return Promise.allSettled(enqueued).then(() => undefined);
  }

  /**
   * Runs the job's rooms (`roomIds`, or the one `roomId` of a job from before rooms shared
   * jobs). Every room is run; a failure fails the job after the others, which then find
   * nothing new when it is retried.
   */
  async run(job: Job): Promise<void> {
    const roomIds = Array.isArray(job.payload.roomIds) ? job.payload.roomIds.map(String) : [String(job.payload.roomId)];
    let failure: { error: unknown } | null = null;
    for (const roomId of roomIds) {
      try {
        await this.#runRoom(roomId);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== null) throw failure.error;
  }

  /** Notifies for the room's events after its cursor, then moves the cursor. */
  async #runRoom(roomId: string): Promise<void> {
    let cursor = await this.#store.notificationCursor(roomId);
    for (let page = 0; page < PAGES_PER_RUN; page++) {
      const events = await this.#store.readEvents(roomId, cursor, PAGE);
      if (events.length === 0) return;
      const messages = events.flatMap((e) => (e.kind === 'message' && e.message !== null && !e.message.deleted ? [e.message] : []));
      if (messages.length > 0) await this.#notify(roomId, messages);
      cursor = events.at(-1)?.seq ?? cursor;
      await this.#store.advanceNotificationCursor(roomId, cursor);
      if (events.length < PAGE) return;
    }
    // More remain: another run goes on, so one busy room does not hold this worker.
    await this.#jobs.enqueue(NOTIFY_QUEUE, { roomId }, { key: `notify:${roomId}:from:${cursor}`, ...RETRIES });
  }

  /** Runs every room still behind its stream. */
  async sweep(): Promise<void> {
    const minute = Math.floor(this.#now() / 60_000);
    for (const roomId of await this.#store.roomsBehindNotifier(SWEEP_BATCH)) {
      await this.#jobs.enqueue(NOTIFY_QUEUE, { roomId }, { key: `notify:${roomId}:sweep:${minute}`, ...RETRIES });
    }
  }

  async #notify(roomId: string, messages: MessageRecord[]): Promise<void> {
    const room = await this.#store.findRoom(roomId);
    if (room === undefined) return;
    const members = new Set((await this.#store.listMemberIds(roomId)).ids);
    const prefs = new Map<string, NotifyPrefRecord>((await this.#store.listNotifyPrefs(roomId)).map((p) => [p.userId, p]));
    const fallback = defaultLevel(room);
    const levelOf = (userId: string): NotifyLevel => prefs.get(userId)?.level ?? fallback;
    const everything = [...members].filter((id) => levelOf(id) === 'all');
    const users = new Map<string, Promise<UserRecord | undefined>>();
    const context: SourceContext = {
      members,
      findUser: (username) => {
        const known = users.get(username);
        if (known !== undefined) return known;
        const found = this.#store.findUserByUsername(username);
        users.set(username, found);
        return found;
      },
      allowRoomMention: async (authorId, id) => (await this.#options.roomMentions.consume(`${authorId}:${id}`)).allowed,
    };
    const blockers = new Map<string, Promise<Set<string>>>();
    const now = this.#now();
    const rows: NewNotification[] = [];
    for (const message of messages) {
      const best = new Map<string, NotificationKind>();
      const consider = (userId: string, kind: NotificationKind) => {
        const had = best.get(userId);
        if (had === undefined || KIND_RANK[kind] > KIND_RANK[had]) best.set(userId, kind);
      };
      for (const source of this.#sources) for (const c of await source.candidates(message, context)) consider(c.userId, c.kind);
      for (const userId of everything) consider(userId, 'message');
      best.delete(message.author.id);
      if (best.size === 0) continue;
      const authorId = message.author.id;
      if (!blockers.has(authorId)) blockers.set(authorId, this.#store.blockersOf(authorId).then((ids) => new Set(ids)));
      const blockedBy = await (blockers.get(authorId) as Promise<Set<string>>);
      for (const [userId, kind] of best) {
        if (!members.has(userId) || blockedBy.has(userId)) continue;
        const pref = prefs.get(userId);
        if (pref?.mutedUntil != null && pref.mutedUntil > now) continue;
        const level = levelOf(userId);
        if (level === 'none' || (level === 'mentions' && kind === 'message')) continue;
        rows.push({ userId, roomId, seq: message.seq, kind, actorId: authorId, createdAt: message.createdAt });
      }
    }
    const bySeq = new Map(messages.map((m) => [m.seq, m]));
    for (let i = 0; i < rows.length; i += INSERT_BATCH) {
      const written = await this.#store.insertNotifications(rows.slice(i, i + INSERT_BATCH));
      for (const n of written) {
        const message = bySeq.get(n.seq) as MessageRecord;
        const record = { id: n.id, roomId, roomName: room.name, seq: n.seq, kind: n.kind, actor: message.author, createdAt: n.createdAt, body: message.body };
        this.#publisher.notification(n.userId, { type: 'notification', notification: notificationView(record, 0) });
      }
    }
  }
}
