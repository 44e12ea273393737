/**
 * Authorization for room operations; every service method that touches a room starts here.
 * A room a user may not see answers not_found, never forbidden, so ids of private rooms and
 * DMs reveal nothing. A public room the user has not joined answers forbidden.
 */
import { type AppError, notFound, refused } from '../errors.js';
import type { Store } from '../ports.js';
import type { MembershipCache } from './membership-cache.js';
import type { RoomRecord, Role } from './types.js';

const NO_SUCH_ROOM = 'No such room.';

export class Access {
  readonly #store: Store;
  readonly #members: MembershipCache;

  constructor(store: Store, members: MembershipCache) {
    this.#store = store;
    this.#members = members;
  }

  /** The caller's role in the room, or not_found / forbidden. Cached: no query on the hot path. */
  async requireMember(roomId: string, userId: string): Promise<Role> {
    return (await this.requireMembership(roomId, userId)).role;
  }

  /**
   * The caller's role and the seq of the room's stream it holds as of (a cached answer may be
   * older than the stream: a subscription checks what happened since), or not_found / forbidden.
   */
  async requireMembership(roomId: string, userId: string): Promise<{ role: Role; asOfSeq: number }> {
    const { role, asOfSeq } = await this.#members.membership(roomId, userId);
    if (role !== null) return { role, asOfSeq };
    throw await this.refusal(roomId);
  }

  /** The error for someone who is not a member: not_found for a room they may not see, forbidden for a public one. */
  async refusal(roomId: string): Promise<AppError> {
    const room = await this.#store.findRoom(roomId);
    if (room === undefined || room.visibility !== 'public') return notFound(NO_SUCH_ROOM);
    return refused('not_member');
  }

  /** The room if the caller may see it: members see any room, everybody sees public ones. */
  async requireVisible(roomId: string, userId: string): Promise<{ room: RoomRecord; role: Role | null }> {
    const [room, role] = await Promise.all([this.#store.findRoom(roomId), this.#members.role(roomId, userId)]);
    if (room === undefined || (role === null && room.visibility !== 'public')) throw notFound(NO_SUCH_ROOM);
    return { room, role };
  }

  /** The room, whoever asks: for callers that have already checked access. */
  async room(roomId: string): Promise<RoomRecord> {
    const room = await this.#store.findRoom(roomId);
    if (room === undefined) throw notFound(NO_SUCH_ROOM);
    return room;
  }
}
