import type { Presence, PresenceDrop } from '../../ports.js';

/**
 * Presence of one process: a user is online while this process holds a connection of theirs,
 * and for `graceMs` after the last one closed.
 */
export class MemoryPresence implements Presence {
  readonly #connections = new Map<string, Set<string>>();
  /** Users whose last connection closed, with the end of their grace (ms since the epoch). */
  readonly #lingering = new Map<string, number>();
  readonly #graceMs: number;

  constructor(options: { graceMs?: number } = {}) {
    this.#graceMs = options.graceMs ?? 0;
  }

  async connect(userId: string, connectionId: string): Promise<boolean> {
    let set = this.#connections.get(userId);
    const cameOnline = set === undefined && !this.#inGrace(userId);
    this.#lingering.delete(userId);
    if (set === undefined) {
      set = new Set();
      this.#connections.set(userId, set);
    }
    set.add(connectionId);
    return cameOnline;
  }

  async disconnect(userId: string, connectionId: string): Promise<PresenceDrop> {
    const set = this.#connections.get(userId);
    if (set === undefined || !set.delete(connectionId)) return 'unchanged';
    if (set.size > 0) return 'unchanged';
    this.#connections.delete(userId);
    if (this.#graceMs <= 0) return 'offline';
    this.#lingering.set(userId, Date.now() + this.#graceMs);
    return 'lingering';
  }

  async settle(userId: string): Promise<boolean> {
    const until = this.#lingering.get(userId);
    if (until === undefined || until > Date.now() || this.#connections.has(userId)) return false;
    this.#lingering.delete(userId);
    return true;
  }

  async online(userIds: string[]): Promise<Set<string>> {
    return new Set(userIds.filter((id) => this.#connections.has(id) || this.#inGrace(id)));
  }

  #inGrace(userId: string): boolean {
    return (this.#lingering.get(userId) ?? 0) > Date.now();
  }
}
