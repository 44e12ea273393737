/**
 * Who is online in one room open on this node, kept up to date from the room's presence
 * messages instead of asked of the presence store for every subscriber, and the changes since
 * the last flush, coalesced: a user who goes offline and comes back within one window is no
 * change at all. Pure: the shell (room-hub.ts) loads the initial set, feeds the changes, and
 * flushes on a timer.
 */
export interface PresenceChange {
  userId: string;
  online: boolean;
}

export class RoomPresence {
  readonly #online = new Set<string>();
  #loaded = false;
  /** Changes that came before the initial set was loaded: applied over it, in order. */
  #early: PresenceChange[] = [];
  /** Users changed since the last flush, with their state before the first of those changes. */
  readonly #pending = new Map<string, boolean>();
  readonly #maxEarly: number;
  /** Members who left while the room was open here, oldest first (bounded like the early changes). */
  readonly #left = new Set<string>();
  readonly #joinedEarly = new Set<string>();
  /** The online set as a JSON array, built once per change of it (subscribe replies share it). */
  #json: string | null = null;

  constructor(maxEarly = 10_000) {
    this.#maxEarly = maxEarly;
  }

  get loaded(): boolean {
    return this.#loaded;
  }

  /** The members online now (read-only: the set is this object's). */
  get online(): ReadonlySet<string> {
    return this.#online;
  }

  /** The online set as a JSON array of ids. */
  get onlineJson(): string {
    this.#json ??= JSON.stringify([...this.#online]);
    return this.#json;
  }

  /** The initial set (from the presence store, for the room's members); changes seen meanwhile follow it. */
  load(online: Iterable<string>): void {
    this.#json = null;
    this.#online.clear();
    // One who left meanwhile may still be in the member list the set was read for.
    for (const userId of online) if (!this.#left.has(userId)) this.#online.add(userId);
    this.#loaded = true;
    const early = this.#early;
    this.#early = [];
    for (const c of early) this.change(c.userId, c.online);
  }

  /** Forgets the set and what was heard for its load (which failed): the next subscriber loads it again, fresh. */
  unload(): void {
    this.#json = null;
    this.#early = [];
    this.#joinedEarly.clear();
    this.#loaded = false;
    this.#online.clear();
    this.#pending.clear();
  }

  /** Whether changes wait for a flush. */
  get pending(): boolean {
    return this.#pending.size > 0;
  }

  /**
   * A member joined (again): their changes count from now on. Before the load, they are kept to
   * be looked up after it (the set may be read for a member list without them).
   */
  joined(userId: string): void {
    this.#left.delete(userId);
    if (!this.#loaded && this.#joinedEarly.size < this.#maxEarly) this.#joinedEarly.add(userId);
  }

  /** Members who joined before the load: to look up once it is done (each returned once). */
  takeJoinedEarly(): string[] {
    const ids = [...this.#joinedEarly];
    this.#joinedEarly.clear();
    return ids;
  }

  /** A user came online or went offline in the room (before the load: kept, and applied over it). */
  change(userId: string, online: boolean): void {
    if (this.#left.has(userId)) return;
    if (!this.#loaded) {
      if (this.#early.length < this.#maxEarly) this.#early.push({ userId, online });
      return;
    }
    if (!this.#pending.has(userId)) this.#pending.set(userId, this.#online.has(userId));
    if (this.#online.has(userId) !== online) this.#json = null;
    if (online) this.#online.add(userId);
    else this.#online.delete(userId);
  }

  /**
   * A member left the room: no longer counted, no change to announce about them, and changes
   * about them heard later (announced before the leave, delivered after it) are ignored until
   * they join again.
   */
  remove(userId: string): void {
    this.#left.delete(userId);
    this.#left.add(userId);
    if (this.#left.size > this.#maxEarly) this.#left.delete(this.#left.values().next().value as string);
    if (this.#online.delete(userId)) this.#json = null;
    this.#pending.delete(userId);
    this.#early = this.#early.filter((c) => c.userId !== userId);
  }

  /**
   * The net changes since the last flush (a user back where they started is none), in the order
   * first seen, at most `max` of them: the rest stay pending for the next flush, where they may
   * still cancel out.
   */
  flush(max = Number.POSITIVE_INFINITY): PresenceChange[] {
    const changes: PresenceChange[] = [];
    for (const [userId, before] of this.#pending) {
      if (changes.length >= max) break;
      this.#pending.delete(userId);
      const now = this.#online.has(userId);
      if (now !== before) changes.push({ userId, online: now });
    }
    return changes;
  }
}
