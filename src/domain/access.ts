/**
 * Authorization for room operations; every service method that touches a room starts here.
 * A room a user may not see answers not_found, never forbidden, so ids of private rooms and
 * DMs reveal nothing. A public room the user has not joined answers forbidden.
 */
import { forbidden, notFound } from '../errors.js';
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
    const role = await this.#members.role(roomId, userId);
    if (role !== null) return role;
    const room = await this.#store.findRoom(roomId);
    if (room === undefined || room.visibility !== 'public') throw notFound(NO_SUCH_ROOM);
    throw forbidden('Join this room first.');
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
