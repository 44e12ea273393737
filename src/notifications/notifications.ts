/**
 * What a user reads and sets about their notifications: the list (cursor paged), the unread
 * count, the read marker, each room's level and mute, their e-mail address and digest setting.
 * Writing notifications is the notifier's (notifier.ts), off the send path.
 */
import { validationFailed } from '../errors.js';
import type { Access } from '../domain/access.js';
import type { Publisher } from '../domain/publisher.js';
import type { NotifyLevel } from '../domain/types.js';
import type { Store } from '../ports.js';
import type { Notification, RoomNotificationPrefs } from '../protocol/wire.js';
import { defaultLevel } from './notifier.js';
import { notificationView } from './views.js';

export interface NotificationPageQuery {
  before?: number | undefined;
  after?: number | undefined;
  limit: number;
}

export interface NotificationsOptions {
  /** Unread notifications counted exactly; past it the count is capped (UNREAD_COUNT_CAP). */
  unreadCap: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export class Notifications {
  readonly #store: Store;
  readonly #access: Access;
  readonly #publisher: Publisher;
  readonly #options: NotificationsOptions;

  constructor(store: Store, access: Access, publisher: Publisher, options: NotificationsOptions) {
    this.#store = store;
    this.#access = access;
    this.#publisher = publisher;
    this.#options = options;
  }

  /** Newest first (before a cursor, or from the newest), or oldest first after a cursor. */
  async list(userId: string, query: NotificationPageQuery): Promise<{ notifications: Notification[]; hasMore: boolean }> {
    if (query.before !== undefined && query.after !== undefined) throw validationFailed('Use before or after, not both.');
    const [settings, rows] = await Promise.all([
      this.#store.notificationSettings(userId),
      this.#store.listNotifications(userId, {
        limit: query.limit + 1,
        ...(query.before === undefined ? {} : { before: query.before }),
        ...(query.after === undefined ? {} : { after: query.after }),
      }),
    ]);
    return { notifications: rows.slice(0, query.limit).map((n) => notificationView(n, settings.readUpTo)), hasMore: rows.length > query.limit };
  }

  async unreadCount(userId: string): Promise<{ unread: number; unreadCapped?: true }> {
    const settings = await this.#store.notificationSettings(userId);
    const cap = this.#options.unreadCap;
    const unread = await this.#store.countUnreadNotifications(userId, settings.readUpTo, cap + 1);
    return unread > cap ? { unread: cap, unreadCapped: true } : { unread };
  }

  /**
   * Marks every notification up to `upTo` read: the marker only moves forward, and never past the
   * newest notification (so those still to come are unread). Tells the user's other connections.
   */
  async markRead(userId: string, upTo: number): Promise<void> {
    const [newest] = await this.#store.listNotifications(userId, { limit: 1 });
    const marker = await this.#store.advanceNotificationsRead(userId, Math.min(upTo, newest?.id ?? 0));
    this.#publisher.notification(userId, { type: 'notifications_read', upTo: String(marker) });
  }

  async roomPrefs(userId: string, roomId: string): Promise<RoomNotificationPrefs> {
    await this.#access.requireMember(roomId, userId);
    const [room, pref] = await Promise.all([this.#access.room(roomId), this.#store.findNotifyPref(roomId, userId)]);
    return { level: pref?.level ?? defaultLevel(room), mutedUntil: iso(pref?.mutedUntil ?? null) };
  }

  /** Sets the level and the mute (null or absent: not muted; a past time is no mute). */
  async setRoomPrefs(userId: string, roomId: string, input: { level: NotifyLevel; mutedUntil?: string | null | undefined }): Promise<RoomNotificationPrefs> {
    await this.#access.requireMember(roomId, userId);
    const mutedUntil = input.mutedUntil === undefined || input.mutedUntil === null ? null : Date.parse(input.mutedUntil);
    await this.#store.setNotifyPref(roomId, { userId, level: input.level, mutedUntil });
    return { level: input.level, mutedUntil: iso(mutedUntil) };
  }

  async email(userId: string): Promise<{ email: string | null }> {
    return { email: (await this.#store.notificationSettings(userId)).email };
  }

  async setEmail(userId: string, email: string | null): Promise<{ email: string | null }> {
    await this.#store.updateNotificationSettings(userId, { email });
    return { email };
  }

  async settings(userId: string): Promise<{ emailDigest: boolean }> {
    return { emailDigest: (await this.#store.notificationSettings(userId)).emailDigest };
  }

  async setSettings(userId: string, input: { emailDigest: boolean }): Promise<{ emailDigest: boolean }> {
    await this.#store.updateNotificationSettings(userId, { emailDigest: input.emailDigest });
    return { emailDigest: input.emailDigest };
  }
}
