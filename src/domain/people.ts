/**
 * People: profiles (display name, status line; the avatar is src/files/), user search and user
 * views. A profile change reaches the user's rooms live as a `user_updated` frame on each
 * room's bus channel, so member lists on every node follow it. It is not a stream event: a
 * client that resumes re-reads members through REST rather than replaying profile changes.
 *
 * Display names are never an identity on their own: every user view keeps the username, and a
 * display name that reads as another user's username is refused (as at registration).
 */
import { notFound, rateLimited, validationFailed } from '../errors.js';
import type { RateLimiter, Store } from '../ports.js';
import type { UserUpdatedEvent } from '../protocol/wire.js';
import { foldName } from '../protocol/text.js';
import { isGone } from './actor.js';
import { decodeUserCursor, encodeUserCursor } from './cursors.js';
import type { Publisher } from './publisher.js';
import type { ProfileChanges, UserRecord } from './types.js';
import { profileView } from './views.js';

export interface ProfileInput {
  displayName?: string | undefined;
  /** null clears the status. */
  statusText?: string | null | undefined;
  /** ISO time; only with a statusText. */
  statusExpiresAt?: string | null | undefined;
}

export class People {
  readonly #store: Store;
  readonly #publisher: Publisher;
  readonly #limiter: RateLimiter;

  /** `limiter`: profile changes per user (PROFILE_RATE_PER_MIN). */
  constructor(store: Store, publisher: Publisher, limiter: RateLimiter) {
    this.#store = store;
    this.#publisher = publisher;
    this.#limiter = limiter;
  }

  /** The user as they are now (not as a cached session holds them). */
  async me(userId: string): Promise<UserRecord> {
    const user = await this.#store.findUserById(userId);
    if (user === undefined) throw notFound('No such user.');
    return user;
  }

  /**
   * Changes the caller's display name or status, and tells their rooms. A status expiry must lie
   * in the future; a display name that reads as another user's username is `conflict`.
   */
  async updateProfile(userId: string, input: ProfileInput, now = Date.now()): Promise<UserRecord> {
    const allowed = await this.#limiter.consume(`profile:${userId}`);
    if (!allowed.allowed) throw rateLimited(allowed.retryAfterMs);
    const changes: ProfileChanges = {};
    if (input.displayName !== undefined) changes.displayName = { value: input.displayName, folded: foldName(input.displayName) };
    if (input.statusText === null) changes.status = null;
    else if (input.statusText !== undefined) {
      const expiresAt = input.statusExpiresAt == null ? null : Date.parse(input.statusExpiresAt);
      if (expiresAt !== null && expiresAt <= now) {
        throw validationFailed('Invalid profile: statusExpiresAt: must be in the future.', { issues: [{ path: 'statusExpiresAt', message: 'must be in the future' }] });
      }
      changes.status = { text: input.statusText, expiresAt };
    }
    const user = await this.#store.updateProfile(userId, changes);
    if (user === undefined) throw notFound('No such user.');
    await this.#announce(user);
    return user;
  }

  /** Tells the user's rooms that their profile changed (after their avatar changed, say). */
  async announce(userId: string): Promise<void> {
    const user = await this.#store.findUserById(userId);
    if (user !== undefined) await this.#announce(user);
  }

  async #announce(user: UserRecord): Promise<void> {
    const view = profileView(user);
    for (const roomId of await this.#store.listMemberRoomIds(user.id)) {
      const frame: UserUpdatedEvent = { type: 'user_updated', roomId, user: view };
      this.#publisher.userUpdated(roomId, user.id, frame);
    }
  }

  /** A user any signed-in user may look up; a deleted bot is no longer one. */
  async get(userId: string): Promise<UserRecord> {
    const user = await this.#store.findUserById(userId);
    if (user === undefined || isGone(user)) throw notFound('No such user.');
    return user;
  }

  /**
   * Users whose username starts with `q` (an `@` before it is ignored), then users whose display
   * name starts with it as names are compared (foldName), a page at a time.
   */
  async search(q: string, after: string | undefined, limit: number): Promise<{ users: UserRecord[]; next: string | null }> {
    const text = q.trim().replace(/^@/, '');
    if (text === '') throw validationFailed('Invalid query: q: must name a user.', { issues: [{ path: 'q', message: 'must name a user' }] });
    const page = await this.#store.searchUsers({
      username: text.toLowerCase(),
      folded: foldName(text),
      after: after === undefined ? null : decodeUserCursor(after),
      limit,
    });
    return { users: page.users, next: page.next === null ? null : encodeUserCursor(page.next) };
  }
}
