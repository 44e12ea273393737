/**
 * Cache-aside for "is this user a member of this room, with which role": asked on every send,
 * so it must not cost a query each time; and for "who are the members of this room", asked on
 * every subscribe (for its online list), so a reconnection storm does not cost one member list
 * query per client per room. Entries expire after `ttlMs` and are dropped at once when a
 * membership changes (this process's appends, and every other node's through the bus); both
 * maps are bounded. Concurrent misses for one key share one store query (single flight).
 */
import { SingleFlightCache } from './single-flight-cache.js';
import type { MembershipRecord, Role } from './types.js';

export interface MembershipCacheOptions {
  ttlMs?: number;
  /** Most (room, user) entries kept. */
  maxEntries?: number;
  /** Most rooms whose member list is kept. */
  maxRooms?: number;
  /** Most member ids kept over all those lists (about 60 bytes each). */
  maxListedMembers?: number;
  /** Loads the user ids of a room's members. */
  loadMemberIds?: (roomId: string) => Promise<string[]>;
}

const roleKey = (roomId: string, userId: string): string => `${roomId}\u0000${userId}`;

export class MembershipCache {
  readonly #roles: SingleFlightCache<MembershipRecord>;
  readonly #lists: SingleFlightCache<string[]>;
  readonly #load: (roomId: string, userId: string) => Promise<MembershipRecord>;
  readonly #loadMemberIds: (roomId: string) => Promise<string[]>;

  /** `load`: the membership as of a seq (Store.membership). */
  constructor(load: (roomId: string, userId: string) => Promise<MembershipRecord>, options: MembershipCacheOptions = {}) {
    this.#load = load;
    this.#loadMemberIds = options.loadMemberIds ?? (() => Promise.reject(new Error('no member list loader configured')));
    const ttlMs = options.ttlMs ?? 60_000;
    this.#roles = new SingleFlightCache({ ttlMs, maxEntries: options.maxEntries ?? 200_000 });
    this.#lists = new SingleFlightCache({ ttlMs, maxEntries: options.maxRooms ?? 2_000, maxWeight: options.maxListedMembers ?? 1_000_000, weigh: (ids) => ids.length });
  }

  /** Hits and misses of role lookups. */
  get hits(): number {
    return this.#roles.counts.hits;
  }

  get misses(): number {
    return this.#roles.counts.misses;
  }

  /** Hits and misses of member-list lookups. */
  get lists(): { hits: number; misses: number } {
    return this.#lists.counts;
  }

  /** The user ids of the room's members. */
  memberIds(roomId: string): Promise<string[]> {
    return this.#lists.get(roomId, () => this.#loadMemberIds(roomId));
  }

  async role(roomId: string, userId: string): Promise<Role | null> {
    return (await this.membership(roomId, userId)).role;
  }

  /** The role and the seq it holds as of: an entry may be older than the stream, never wrong about that seq. */
  membership(roomId: string, userId: string): Promise<MembershipRecord> {
    return this.#roles.get(roleKey(roomId, userId), () => this.#load(roomId, userId));
  }

  invalidate(roomId: string, userId: string): void {
    this.#roles.invalidate(roleKey(roomId, userId));
    this.#lists.invalidate(roomId);
  }
}
