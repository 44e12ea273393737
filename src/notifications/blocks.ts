/**
 * Blocks: a user blocks another. The blocked user's messages notify the blocker of nothing
 * (notifier.ts), and neither can open a direct-message room with the other nor send into the
 * one they have: 403 `forbidden` with `details.reason: "blocked"`. Either side's block
 * suffices, so a block cannot be used to message someone who can no longer answer.
 */
import { AppError, notFound, validationFailed } from '../errors.js';
import type { Store } from '../ports.js';
import type { BlockedUser } from '../protocol/wire.js';
import { userView } from '../domain/views.js';

/** Rooms whose DM pair is remembered: a room's visibility and members of a DM never change. */
const ROOMS_KEPT = 10_000;

export const blockedError = (): AppError => new AppError('forbidden', 'One of you blocked the other: no direct messages between you.', { reason: 'blocked' });

export class Blocks {
  readonly #store: Store;
  readonly #now: () => number;
  /** roomId → the two user ids of a DM, or null for any other room. */
  readonly #dmPairs = new Map<string, [string, string] | null>();

  constructor(store: Store, now: () => number = Date.now) {
    this.#store = store;
    this.#now = now;
  }

  async block(userId: string, blockedId: string): Promise<void> {
    if (blockedId === userId) throw validationFailed('You cannot block yourself.', { issues: [{ path: 'userId', message: 'must be another user' }] });
    if ((await this.#store.findUserById(blockedId)) === undefined) throw notFound('No such user.');
    await this.#store.block(userId, blockedId, this.#now());
  }

  /** Unblocking someone not blocked changes nothing. */
  async unblock(userId: string, blockedId: string): Promise<void> {
    await this.#store.unblock(userId, blockedId);
  }

  async list(userId: string): Promise<BlockedUser[]> {
    return (await this.#store.listBlocks(userId)).map((b) => ({ user: userView(b.user), createdAt: new Date(b.createdAt).toISOString() }));
  }

  /** Refuses a DM between the two when either blocked the other. */
  async checkDm(userId: string, otherId: string): Promise<void> {
    if (await this.#store.blockedEitherWay(userId, otherId)) throw blockedError();
  }

  /** Refuses a send into a DM room whose two users are blocked either way; other rooms pass without a query once known. */
  async checkSend(roomId: string, userId: string): Promise<void> {
    let pair = this.#dmPairs.get(roomId);
    if (pair === undefined) {
      const room = await this.#store.findRoom(roomId);
      if (room === undefined) return;
      const ids = room.dmKey?.split(':');
      pair = ids !== undefined && ids.length === 2 ? [ids[0] as string, ids[1] as string] : null;
      if (this.#dmPairs.size >= ROOMS_KEPT) this.#dmPairs.clear();
      this.#dmPairs.set(roomId, pair);
    }
    if (pair === null) return;
    const other = pair[0] === userId ? pair[1] : pair[0];
    await this.checkDm(userId, other);
  }
}
