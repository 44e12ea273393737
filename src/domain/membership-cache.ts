/**
 * Cache-aside for "is this user a member of this room, with which role": asked on every send,
 * so it must not cost a query each time. Entries expire after `ttlMs` and are dropped at once
 * when this process appends a membership change; the map is bounded (oldest entries go first).
 * Concurrent misses for one key share one store query (single flight).
 */
import type { MemberRecord, Role } from './types.js';

interface Entry {
  role: Role | null;
  expiresAt: number;
}

export class MembershipCache {
  readonly #entries = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<Role | null>>();
  readonly #load: (roomId: string, userId: string) => Promise<MemberRecord | undefined>;
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  /** Bumped by every invalidation, so a load that started before it cannot store a stale answer. */
  #generation = 0;
  hits = 0;
  misses = 0;

  constructor(load: (roomId: string, userId: string) => Promise<MemberRecord | undefined>, options: { ttlMs?: number; maxEntries?: number } = {}) {
    this.#load = load;
    this.#ttlMs = options.ttlMs ?? 60_000;
    this.#maxEntries = options.maxEntries ?? 200_000;
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
  }

  #put(key: string, role: Role | null): void {
    if (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { role, expiresAt: Date.now() + this.#ttlMs });
  }
}
