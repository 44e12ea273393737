/**
 * Where the bus is in-process (one machine, no REDIS_URL or NATS_URL), `parley admin` at the
 * console reaches no running node: what it changes is in the store, but its bus messages go
 * nowhere. The node reads the server's audit log instead, every interval (one indexed read), and
 * acts on the console's entries as the bus messages would have made it act:
 * - an action that ends sessions: the gateway rechecks that user's connections (each closed with
 *   1008 when its session no longer holds);
 * - a room archived or opened: the room's subscribers get its `room_updated` event (a resync of
 *   the room from the store);
 * - a user deleted: the rooms open here are resynced (their `member_left` events) and the
 *   membership cache is cleared.
 */
import type { ServerAuditRecord } from '../domain/types.js';
import type { Store } from '../ports.js';

/** The audit actions after which a user's sessions may no longer hold. */
const ENDS_SESSIONS = new Set(['user_disabled', 'password_reset', 'sessions_revoked', 'user_deleted']);
const ROOM_EVENTS = new Set(['room_archived', 'room_opened']);
/** Entries read per page while catching up. */
const PAGE = 100;

export interface ConsoleWatchActions {
  recheckSessions(userId: string): Promise<unknown>;
  resyncRoom(roomId: string): void;
  /** A user left every room they were in: every open room and the membership cache catch up. */
  usersLeft(): void;
}

/**
 * How far below the newest id seen an entry may still arrive: on PostgreSQL ids are drawn from a
 * sequence before their transactions commit, so a lower id can commit after a higher one.
 */
const LATE = 200;

export class ConsoleWatch {
  readonly #store: Store;
  readonly #actions: ConsoleWatchActions;
  /** The newest id seen; entries above `seen - LATE` are checked against `handled`. */
  #seen = 0;
  readonly #handled = new Set<number>();
  #polling = false;

  constructor(store: Store, actions: ConsoleWatchActions) {
    this.#store = store;
    this.#actions = actions;
  }

  /** Starts from the newest entries now: what came before (down to the window a late one may arrive in) is not this node's to act on. */
  async start(): Promise<void> {
    const entries = await this.#store.listServerAudit(undefined, LATE);
    this.#seen = entries[0]?.id ?? 0;
    for (const e of entries) this.#handled.add(e.id);
    // Ids of the window not read (rolled back, or not committed yet) are left to arrive.
  }

  /** Reads the entries since the last poll (page by page, newest first) and acts on the console's once each; a poll while one runs does nothing. */
  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      await this.#poll();
    } finally {
      this.#polling = false;
    }
  }

  async #poll(): Promise<void> {
    const floor = this.#seen - LATE;
    const fresh: ServerAuditRecord[] = [];
    let before: number | undefined;
    for (;;) {
      const entries = (await this.#store.listServerAudit(before, PAGE)).filter((e) => e.id > floor);
      fresh.push(...entries.filter((e) => !this.#handled.has(e.id)));
      if (entries.length < PAGE) break;
      before = entries.at(-1)?.id;
    }
    const console = fresh.filter((e) => e.via === 'console');
    const users = new Set<string>();
    for (const e of console) {
      if (e.user === null || !ENDS_SESSIONS.has(e.action)) continue;
      users.add(e.user.id);
      // The bots disabled or deleted with their owner.
      const bots = e.data?.bots;
      if (Array.isArray(bots)) for (const bot of bots) if (typeof bot === 'string') users.add(bot);
    }
    const rooms = new Set(console.filter((e) => e.roomId !== null && ROOM_EVENTS.has(e.action)).map((e) => e.roomId as string));
    for (const userId of users) await this.#actions.recheckSessions(userId);
    for (const roomId of rooms) this.#actions.resyncRoom(roomId);
    if (console.some((e) => e.action === 'user_deleted')) this.#actions.usersLeft();
    for (const e of fresh) this.#handled.add(e.id);
    this.#seen = fresh.reduce((max, e) => Math.max(max, e.id), this.#seen);
    for (const id of this.#handled) if (id <= this.#seen - LATE) this.#handled.delete(id);
  }
}
