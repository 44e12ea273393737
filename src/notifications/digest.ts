/**
 * E-mail digests of missed mentions. A sweep (every NOTIFY_DIGEST_INTERVAL_MS) finds users with
 * an address and digests on whose @username or @room notifications have stayed unread, and not
 * mailed, for NOTIFY_DIGEST_AFTER_MIN; those offline now (no connection on any node) get a
 * `notify-digest` job, keyed by user and newest notification, so a digest is enqueued once. The
 * job checks again (still offline, still on, still unmailed), sends one mail listing them, then
 * notes how far it covered: each mention is mailed once. A refused or silent SMTP server fails
 * the job, which is retried with backoff (NOTIFY_DIGEST_ATTEMPTS); a crash between the send and
 * the note may send it twice (at least once, like every job).
 */
import type { Job, JobQueue, Store } from '../ports.js';
import type { NotificationRecord } from '../domain/types.js';
import type { Mailer } from './mailer.js';
import { excerpt } from './views.js';

export const DIGEST_SWEEP_QUEUE = 'notify-digest-sweep';
export const DIGEST_QUEUE = 'notify-digest';

/** Users one sweep looks at; the rest wait for the next. */
const SWEEP_BATCH = 500;
/** Mentions listed in one mail; more are counted. */
const LISTED = 20;
const MENTION_KINDS: ReadonlySet<string> = new Set(['mention', 'room_mention']);

export interface DigestOptions {
  afterMs: number;
  attempts: number;
  /** Links in the mail start with it. */
  publicUrl: string;
  /** Which of these users hold a connection now, on any node. */
  online(userIds: string[]): Promise<Set<string>>;
  now?: () => number;
}

/** Where a mention is in the web app. */
export const messageLink = (publicUrl: string, roomId: string, seq: number): string =>
  `${publicUrl.replace(/\/$/, '')}/#/rooms/${encodeURIComponent(roomId)}/${seq}`;

export class Digests {
  readonly #store: Store;
  readonly #jobs: JobQueue;
  readonly #mailer: Mailer;
  readonly #options: DigestOptions;
  readonly #now: () => number;

  constructor(store: Store, jobs: JobQueue, mailer: Mailer, options: DigestOptions) {
    this.#store = store;
    this.#jobs = jobs;
    this.#mailer = mailer;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async sweep(): Promise<void> {
    const owed = await this.#store.digestCandidates(this.#now() - this.#options.afterMs, SWEEP_BATCH);
    if (owed.length === 0) return;
    const online = await this.#options.online(owed.map((c) => c.userId));
    for (const c of owed) {
      if (online.has(c.userId)) continue;
      await this.#jobs.enqueue(DIGEST_QUEUE, { userId: c.userId, upTo: c.upTo }, { key: `digest:${c.userId}:${c.upTo}`, attempts: this.#options.attempts, backoff: { baseMs: 5_000, maxMs: 600_000 } });
    }
  }

  async send(job: Job): Promise<void> {
    const userId = String(job.payload.userId);
    const upTo = Number(job.payload.upTo);
    const settings = await this.#store.notificationSettings(userId);
    if (settings.email === null || !settings.emailDigest || settings.digestSentUpTo >= upTo) return;
    // Back online since the sweep: they see their notifications; a later sweep decides again.
    if ((await this.#options.online([userId])).has(userId)) return;
    const after = Math.max(settings.readUpTo, settings.digestSentUpTo);
    const page = await this.#store.listNotifications(userId, { after, limit: 500 });
    const missed = page.filter((n) => n.id <= upTo && MENTION_KINDS.has(n.kind));
    const user = await this.#store.findUserById(userId);
    if (missed.length > 0 && user !== undefined) await this.#mailer.send({ to: settings.email, ...this.compose(user.displayName, missed) });
    await this.#store.markDigestSent(userId, upTo);
  }

  /** The mail: plain text only, so nothing in a message can be markup in a mail reader. */
  compose(displayName: string, missed: NotificationRecord[]): { subject: string; text: string } {
    const n = missed.length;
    const subject = n === 1 ? 'You were mentioned on Parley' : `${n} mentions you missed on Parley`;
    const lines = [`Hi ${displayName},`, '', n === 1 ? 'While you were away you were mentioned once:' : `While you were away you were mentioned ${n} times:`, ''];
    for (const m of missed.slice(0, LISTED)) {
      const at = new Date(m.createdAt).toISOString().slice(0, 16).replace('T', ' ');
      lines.push(`${m.roomName}: ${m.actor.displayName} (@${m.actor.username}), ${at} UTC${m.kind === 'room_mention' ? ', to the whole room' : ''}`);
      lines.push(`  ${excerpt(m.body).replaceAll('\n', '\n  ')}`);
      lines.push(`  ${messageLink(this.#options.publicUrl, m.roomId, m.seq)}`, '');
    }
    if (n > LISTED) lines.push(`…and ${n - LISTED} more.`, '');
    lines.push('You get this because you were offline. Turn these e-mails off in your notification settings.');
    return { subject, text: lines.join('\n') };
  }
}
