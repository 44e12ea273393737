/**
 * Cache-aside for "is this user a member of this room, with which role": asked on every send,
 * so it must not cost a query each time; and for "who are the members of this room", asked on
 * every subscribe (for its online list), so a reconnection storm does not cost one member list
 * query per client per room. Entries expire after `ttlMs` and are dropped at once
 * when this process appends a membership change; the map is bounded (oldest entries go first).
 * Concurrent misses for one key share one store query (single flight).
 */
import type { MemberRecord, Role } from './types.js';

interface Entry {
  role: Role | null;
  expiresAt: number;
}

export interface MembershipCacheOptions {
  ttlMs?: number;
  /** Most (room, user) entries kept. */
  maxEntries?: number;
  /** Most rooms whose member list is kept. */
  maxRooms?: number;
  /** Loads the user ids of a room's members. */
  loadMemberIds?: (roomId: string) => Promise<string[]>;
}

export class MembershipCache {
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<Role | null>>();
  readonly #rooms = new Map<string, { ids: string[]; expiresAt: number }>();
  readonly #roomsInflight = new Map<string, Promise<string[]>>();
  readonly #load: (roomId: string, userId: string) => Promise<MemberRecord | undefined>;
  readonly #loadMemberIds: (roomId: string) => Promise<string[]>;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #maxRooms: number;
  /** Bumped by every invalidation, so a load that started before it cannot store a stale answer. */
  #generation = 0;
  hits = 0;
  misses = 0;
  /** Lookups of member lists (memberIds), apart from the role lookups above. */
  readonly lists = { hits: 0, misses: 0 };

  constructor(load: (roomId: string, userId: string) => Promise<MemberRecord | undefined>, options: MembershipCacheOptions = {}) {
    this.#load = load;
    this.#loadMemberIds = options.loadMemberIds ?? (() => Promise.reject(new Error('no member list loader configured')));
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#maxEntries = options.maxEntries ?? 200_000;
    this.#maxRooms = options.maxRooms ?? 2_000;
  }

  /** The user ids of the room's members. */
  async memberIds(roomId: string): Promise<string[]> {
    const entry = this.#rooms.get(roomId);
    if (entry !== undefined && entry.expiresAt > Date.now()) {
      this.lists.hits++;
      return entry.ids;
    }
    this.lists.misses++;
    let pending = this.#roomsInflight.get(roomId);
    if (pending === undefined) {
      const generation = this.#generation;
      pending = this.#loadMemberIds(roomId).then(
        (ids) => {
          this.#roomsInflight.delete(roomId);
          if (generation === this.#generation) {
            if (this.#rooms.size >= this.#maxRooms) {
              const oldest = this.#rooms.keys().next();
              if (!oldest.done) this.#rooms.delete(oldest.value);
            }
            this.#rooms.set(roomId, { ids, expiresAt: Date.now() + this.#ttlMs });
          }
          return ids;
        },
        (error: unknown) => {
          this.#roomsInflight.delete(roomId);
          throw error;
        },
      );
      this.#roomsInflight.set(roomId, pending);
    }
    return pending;
  }

  async role(roomId: string, userId: string): Promise<Role | null> {
    const key = `${roomId}\u0000${userId}`;
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.expiresAt > Date.now()) {
      this.hits++;
      return entry.role;
    }
    this.misses++;
    let pending = this.#inflight.get(key);
    if (pending === undefined) {
      const generation = this.#generation;
      pending = this.#load(roomId, userId).then(
        (member) => {
          this.#inflight.delete(key);
          const role = member?.role ?? null;
          if (generation === this.#generation) this.#put(key, role);
          return role;
        },
        (error: unknown) => {
          this.#inflight.delete(key);
          throw error;
        },
      );
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  invalidate(roomId: string, userId: string): void {
    this.#generation++;
    this.#entries.delete(`${roomId}\u0000${userId}`);
    this.#inflight.delete(`${roomId}\u0000${userId}`);
    this.#rooms.delete(roomId);
    this.#roomsInflight.delete(roomId);
  }

  #put(key: string, role: Role | null): void {
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { role, expiresAt: Date.now() + this.#ttlMs });
  }
}
