import type { Presence } from '../../ports.js';

/** Presence of one process: a user is online while this process holds a connection of theirs. */
export class MemoryPresence implements Presence {
  readonly #connections = new Map<string, Set<string>>();

  async connect(userId: string, connectionId: string): Promise<boolean> {
    let set = this.#connections.get(userId);
    const cameOnline = set === undefined;
    if (set === undefined) {
      set = new Set();
      this.#connections.set(userId, set);
    }
    set.add(connectionId);
    return cameOnline;
  }

  async disconnect(userId: string, connectionId: string): Promise<boolean> {
    const set = this.#connections.get(userId);
    if (set === undefined || !set.delete(connectionId)) return false;
    if (set.size > 0) return false;
    this.#connections.delete(userId);
    return true;
  }

  async online(userIds: string[]): Promise<Set<string>> {
    return new Set(userIds.filter((id) => this.#connections.has(id)));
  }
}
