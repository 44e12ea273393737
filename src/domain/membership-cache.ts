/**
 * Cache-aside for "is this user a member of this room, with which role": asked on every send,
 * so it must not cost a query each time; and for "who are the members of this room", asked when
 * a room opens on this node (for its online list).
 *
 * A membership change updates what is cached in place: the (room, user) entry is dropped (one
 * primary-key read brings it back), and the room's member list gains or loses that one id, here
 * for this process's appends and on every other node through the bus. Changes carry the seq of
 * their stream event, and a list holds as of a seq, so a change that arrives late (the bus does
 * not order messages of different publishers) or twice is ignored when the list already shows
 * a later state of that user. Entries expire after `ttlMs`, which bounds how long a change lost
 * by the bus can go unseen; clear() forgets everything (after the bus reported a loss). Both
 * maps are bounded, the lists in bytes. Concurrent misses for one key share one store query.
 */
import { SingleFlightCache } from './single-flight-cache.js';
import type { MembershipRecord, Role } from './types.js';

export interface MembershipCacheOptions {
  ttlMs?: number;
  /** Most (room, user) entries kept. */
  maxEntries?: number;
  /** Most rooms whose member list is kept. */
  maxRooms?: number;
  /** Bytes the member lists may take in all (about ID_BYTES a member). */
  maxListBytes?: number;
  /** Loads the user ids of a room's members and the seq they hold as of (Store.listMemberIds). */
  loadMemberIds?: (roomId: string) => Promise<{ ids: string[]; asOfSeq: number }>;
}

/** What one member id costs in a list: the string and its slot in a Set, measured roughly. */
export const ID_BYTES = 80;

interface MemberList {
  ids: Set<string>;
  asOfSeq: number;
  /** The seq of the last change applied per user since the list was loaded. */
  changed: Map<string, number>;
}

const roleKey = (roomId: string, userId: string): string => `${roomId}\u0000${userId}`;

export class MembershipCache {
  readonly #roles: SingleFlightCache<MembershipRecord>;
  readonly #lists: SingleFlightCache<MemberList>;
  readonly #load: (roomId: string, userId: string) => Promise<MembershipRecord>;
  readonly #loadMemberIds: (roomId: string) => Promise<{ ids: string[]; asOfSeq: number }>;

  /** `load`: the membership as of a seq (Store.membership). */
  constructor(load: (roomId: string, userId: string) => Promise<MembershipRecord>, options: MembershipCacheOptions = {}) {
    this.#load = load;
    this.#loadMemberIds = options.loadMemberIds ?? (() => Promise.reject(new Error('no member list loader configured')));
    const ttlMs = options.ttlMs ?? 60_000;
    this.#roles = new SingleFlightCache({ ttlMs, maxEntries: options.maxEntries ?? 200_000 });
    // Sized so that a user in 10,000 rooms (or a node serving that many) keeps them all.
    this.#lists = new SingleFlightCache({
      ttlMs,
      maxEntries: options.maxRooms ?? 20_000,
      maxWeight: options.maxListBytes ?? 64 * 1024 * 1024,
      weigh: (list) => (list.ids.size + list.changed.size) * ID_BYTES,
    });
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

  /** Bytes the member lists take now (roughly). */
  get listBytes(): number {
    return this.#lists.weight;
  }

  /** The user ids of the room's members (do not change the set: it is the cache's). */
  async memberIds(roomId: string): Promise<ReadonlySet<string>> {
    const list = await this.#lists.get(roomId, async () => {
      const { ids, asOfSeq } = await this.#loadMemberIds(roomId);
      return { ids: new Set(ids), asOfSeq, changed: new Map() };
    });
    return list.ids;
  }

  async role(roomId: string, userId: string): Promise<Role | null> {
    return (await this.membership(roomId, userId)).role;
  }

  /** The role and the seq it holds as of: an entry may be older than the stream, never wrong about that seq. */
  membership(roomId: string, userId: string): Promise<MembershipRecord> {
    return this.#roles.get(roleKey(roomId, userId), () => this.#load(roomId, userId));
  }

  /**
   * `userId` joined or left the room at `seq` (null: something changed, it is not known what:
   * the room's list is dropped).
   */
  changed(roomId: string, userId: string, change: { joined: boolean; seq: number } | null): void {
    this.#roles.invalidate(roleKey(roomId, userId));
    if (change === null) {
      this.#lists.invalidate(roomId);
      return;
    }
    this.#lists.update(roomId, (list) => {
      // Already seen as of a later seq (the load, or a later change of this user): nothing to do.
      if (change.seq <= (list.changed.get(userId) ?? list.asOfSeq)) return list;
      list.changed.set(userId, change.seq);
      if (change.joined) list.ids.add(userId);
      else list.ids.delete(userId);
      return list;
    });
  }

  /** Forgets everything cached (the bus may have lost changes). */
  clear(): void {
    this.#roles.clear();
    this.#lists.clear();
  }
}
