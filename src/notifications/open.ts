/**
 * Builds the notification feature for a process (a node or a `parley worker`) and declares its
 * queues: the notifier's runs and sweep, and, when SMTP_URL is set and the process can tell who
 * is online, the digest sweep and sends.
 */
import { MemoryRateLimiter } from '../adapters/memory/rate-limiter.js';
import type { Config } from '../config.js';
import type { Access } from '../domain/access.js';
import type { Publisher } from '../domain/publisher.js';
import type { JobRuntime } from '../jobs/runtime.js';
import type { JobQueue, RateLimiter, Store } from '../ports.js';
import { Blocks } from './blocks.js';
import { DIGEST_QUEUE, DIGEST_SWEEP_QUEUE, Digests } from './digest.js';
import { type Mailer, smtpMailer } from './mailer.js';
import { Notifications } from './notifications.js';
import { NOTIFY_QUEUE, NOTIFY_SWEEP_QUEUE, Notifier } from './notifier.js';
import { threadRepliesSource } from './sources.js';

export const NOTIFICATION_QUEUES: readonly string[] = [NOTIFY_QUEUE, NOTIFY_SWEEP_QUEUE, DIGEST_SWEEP_QUEUE, DIGEST_QUEUE];
const NOTIFY_SWEEP_EVERY_MS = 60_000;

export interface NotificationFeature {
  notifier: Notifier;
  notifications: Notifications;
  blocks: Blocks;
  /** Null when digests are off here (no SMTP_URL, or this process cannot tell who is online). */
  digests: Digests | null;
  close(): void;
}

export interface NotificationDeps {
  store: Store;
  access: Access;
  jobs: JobQueue;
  publisher: Publisher;
  runtime: JobRuntime;
  /** The @room rate limiter shared by the nodes; this process's own when absent. */
  roomMentions?: RateLimiter;
  /** Which users hold a connection, on any node; absent in a process that cannot tell (no digests there). */
  online?: (userIds: string[]) => Promise<Set<string>>;
  onError(error: unknown, context: string): void;
  /** For tests: the mailer digests are sent with (else SMTP_URL's). */
  mailer?: Mailer;
}

/** The @room bucket: NOTIFY_ROOM_MENTIONS_PER_HOUR at once, refilled over an hour. */
export const roomMentionRule = (config: Config) => ({ ratePerSec: config.NOTIFY_ROOM_MENTIONS_PER_HOUR / 3_600, burst: config.NOTIFY_ROOM_MENTIONS_PER_HOUR });

export function openNotifications(config: Config, deps: NotificationDeps): NotificationFeature {
  const { store, jobs, runtime } = deps;
  const lease = config.JOBS_LEASE_MS;
  const notifier = new Notifier(store, jobs, deps.publisher, {
    roomMentions: deps.roomMentions ?? new MemoryRateLimiter(roomMentionRule(config)),
    onError: deps.onError,
  });
  notifier.addSource(threadRepliesSource(store));
  runtime.define({ queue: NOTIFY_QUEUE, concurrency: 2, visibilityTimeoutMs: lease, handler: (job) => notifier.run(job) });
  runtime.define({ queue: NOTIFY_SWEEP_QUEUE, concurrency: 1, visibilityTimeoutMs: lease, handler: () => notifier.sweep() });
  runtime.repeat({ queue: NOTIFY_SWEEP_QUEUE, name: 'sweep', everyMs: NOTIFY_SWEEP_EVERY_MS, payload: {} });

  let digests: Digests | null = null;
  let mailer: Mailer | null = null;
  if (config.SMTP_URL !== '' && deps.online !== undefined) {
    mailer = deps.mailer ?? smtpMailer(config.SMTP_URL, config.SMTP_FROM, config.SMTP_TIMEOUT_MS);
    const found = new Digests(store, jobs, mailer, {
      afterMs: config.NOTIFY_DIGEST_AFTER_MIN * 60_000,
      attempts: config.NOTIFY_DIGEST_ATTEMPTS,
      publicUrl: config.PUBLIC_URL === '' ? `http://localhost:${config.PORT}` : config.PUBLIC_URL,
      online: deps.online,
    });
    digests = found;
    runtime.define({ queue: DIGEST_SWEEP_QUEUE, concurrency: 1, visibilityTimeoutMs: lease, handler: () => found.sweep() });
    runtime.repeat({ queue: DIGEST_SWEEP_QUEUE, name: 'sweep', everyMs: config.NOTIFY_DIGEST_INTERVAL_MS, payload: {} });
    runtime.define({ queue: DIGEST_QUEUE, concurrency: 4, visibilityTimeoutMs: Math.max(lease, config.SMTP_TIMEOUT_MS * 4), handler: (job) => found.send(job) });
  }
  return {
    notifier,
    notifications: new Notifications(store, deps.access, deps.publisher, { unreadCap: config.UNREAD_COUNT_CAP }),
    blocks: new Blocks(store),
    digests,
    close: () => mailer?.close(),
  };
}
