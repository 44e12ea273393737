/**
 * Presence: a user is online while they hold a connection. Coming online and going offline
 * are announced in every room of the user, as `presence` events.
 *
 * Connecting and disconnecting never fail because presence could not be recorded: while its
 * store is down (`unavailable`) the change is skipped, and heals by itself. The adapter keeps
 * this node's connections and writes them back with its next heartbeat; entries a failed
 * disconnect left behind expire within the TTL and are swept and announced offline. Only the
 * announcement of that one change is lost. `onlineIn` has no such fallback: it answers
 * `unavailable`, since an empty list would be a wrong answer, not a late one.
 */
import { AppError } from '../errors.js';
import type { Presence, Store } from '../ports.js';
import type { Publisher } from './publisher.js';

export class PresenceService {
  readonly #store: Store;
  readonly #presence: Presence;
  readonly #publisher: Publisher;
  readonly #memberIds: (roomId: string) => Promise<string[]>;

  /** `memberIds`: the user ids of a room's members (cached: asked on every subscribe). */
  constructor(store: Store, presence: Presence, publisher: Publisher, memberIds: (roomId: string) => Promise<string[]>) {
    this.#store = store;
    this.#presence = presence;
    this.#publisher = publisher;
    this.#memberIds = memberIds;
  }

  async connected(userId: string, connectionId: string): Promise<void> {
    await skipOutage(async () => {
      if (await this.#presence.connect(userId, connectionId)) await this.#announce(userId, true);
    });
  }

  async disconnected(userId: string, connectionId: string): Promise<void> {
    await skipOutage(async () => {
      if (await this.#presence.disconnect(userId, connectionId)) await this.#announce(userId, false);
    });
  }

  /** Announces users whose connections expired with a crashed node. */
  async expired(userIds: string[]): Promise<void> {
    for (const userId of userIds) await this.#announce(userId, false);
  }

  /** Online members of a room. */
  async onlineIn(roomId: string): Promise<string[]> {
    return [...(await this.#presence.online(await this.#memberIds(roomId)))];
  }

  async #announce(userId: string, online: boolean): Promise<void> {
    for (const roomId of await this.#store.listMemberRoomIds(userId)) {
      this.#publisher.toRoom(roomId, { type: 'presence', roomId, userId, online });
    }
  }
}

/** Runs a presence change; an outage skips it (see above), any other error is the caller's. */
async function skipOutage(change: () => Promise<void>): Promise<void> {
  try {
    await change();
  } catch (error) {
    if (!(error instanceof AppError && error.code === 'unavailable')) throw error;
  }
}
