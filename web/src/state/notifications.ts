/**
 * My notifications (mentions, @room, followed threads, rooms at level `all`): the unread count
 * the bell shows, kept live by the `notification` and `notifications_read` events, and the list
 * it opens. The server keeps one read marker, so the count is fetched again whenever it moves
 * rather than worked out here.
 */
import { signal } from '@preact/signals';
import type { Notification, NotificationEvent } from '../../../client/index.js';
import type { Api } from '../api.js';
import { describeError } from '../format.js';

const LIST_LIMIT = 30;

export class NotificationsState {
  readonly unread = signal(0);
  /** The server counts no further: there are at least `unread`. */
  readonly capped = signal(false);
  /** The list, newest first; null until the bell is first opened. */
  readonly items = signal<readonly Notification[] | null>(null);
  /** Older notifications than those listed exist. */
  readonly hasMore = signal(false);
  readonly loadingMore = signal(false);
  readonly expanded = signal(false);
  readonly error = signal('');
  readonly #api: Api;
  #countGeneration = 0;
  #counting = false;

  constructor(api: Api) {
    this.#api = api;
  }

  /** Fetches the unread count afresh (on start, and whenever the read marker moved). */
  async refreshCount(): Promise<void> {
    const generation = ++this.#countGeneration;
    this.#counting = true;
    try {
      const { unread, unreadCapped } = await this.#api.unreadNotifications();
      if (generation !== this.#countGeneration) return;
      this.unread.value = unread;
      this.capped.value = unreadCapped === true;
    } catch (error) {
      if (generation === this.#countGeneration) this.error.value = describeError(error);
    } finally {
      if (generation === this.#countGeneration) this.#counting = false;
    }
  }

  onNotification({ notification }: NotificationEvent): void {
    // A count being fetched may or may not include this one: fetch it again, which does.
    if (this.#counting) void this.refreshCount();
    else this.unread.value += 1;
    const items = this.items.peek();
    if (items !== null && !items.some((n) => n.id === notification.id)) this.items.value = [notification, ...items];
  }

  /** The marker moved (here or on another connection of mine). */
  onRead(upTo: string): void {
    const items = this.items.peek();
    // Ids order notifications compared as numbers: everything up to the marker is read.
    if (items !== null) this.items.value = items.map((n) => (!n.read && Number(n.id) <= Number(upTo) ? { ...n, read: true } : n));
    void this.refreshCount();
  }

  async toggle(): Promise<void> {
    const expanded = !this.expanded.peek();
    this.expanded.value = expanded;
    if (expanded) await this.#load();
  }

  close(): void {
    this.expanded.value = false;
  }

  async #load(): Promise<void> {
    this.hasMore.value = false;
    try {
      const page = await this.#api.notifications(LIST_LIMIT);
      this.items.value = page.notifications;
      this.hasMore.value = page.hasMore;
      this.error.value = '';
    } catch (error) {
      this.error.value = describeError(error);
    }
  }

  /** The next page of older notifications, below those listed. */
  async loadOlder(): Promise<void> {
    const items = this.items.peek();
    const oldest = items?.at(-1);
    if (items === null || oldest === undefined || this.loadingMore.peek()) return;
    this.loadingMore.value = true;
    try {
      const page = await this.#api.notifications(LIST_LIMIT, oldest.id);
      // The list was read afresh meanwhile (the bell reopened): this page would leave a gap.
      if (this.items.peek()?.at(-1)?.id !== oldest.id) return;
      const known = new Set(this.items.peek()?.map((n) => n.id));
      this.items.value = [...(this.items.peek() ?? []), ...page.notifications.filter((n) => !known.has(n.id))];
      this.hasMore.value = page.hasMore;
      this.error.value = '';
    } catch (error) {
      this.error.value = describeError(error);
    } finally {
      this.loadingMore.value = false;
    }
  }

  /** Opening one marks it (and every older one) read. */
  async markRead(notification: Notification): Promise<void> {
    if (notification.read) return;
    try {
      await this.#api.markNotificationsRead(notification.id);
      this.onRead(notification.id);
    } catch (error) {
      this.error.value = describeError(error);
    }
  }
}
