/**
 * Where the bus is in-process (one machine, no REDIS_URL or NATS_URL), `parley admin` at the
 * console reaches no running node: it ends sessions in the store, but cannot tell the node to
 * close their WebSockets. The node reads the server's audit log instead: every interval it looks
 * for console actions that end sessions and has the gateway recheck that user's connections
 * (each closed with 1008 when its session no longer holds). One indexed read per interval.
 */
import type { Store } from '../ports.js';

/** The audit actions after which a user's sessions may no longer hold. */
const ENDS_SESSIONS = new Set(['user_disabled', 'password_reset', 'sessions_revoked', 'user_deleted']);
/** Entries read per page while catching up. */
const PAGE = 100;

export class ConsoleWatch {
  readonly #store: Store;
  readonly #recheck: (userId: string) => Promise<unknown>;
  #seen = 0;

  constructor(store: Store, recheck: (userId: string) => Promise<unknown>) {
    this.#store = store;
    this.#recheck = recheck;
  }

  /** Starts from the newest entry now: what came before is not this node's to act on. */
  async start(): Promise<void> {
    this.#seen = (await this.#store.listServerAudit(undefined, 1))[0]?.id ?? 0;
  }

  /** Reads the entries since the last poll (page by page, newest first) and rechecks each user they name once. */
  async poll(): Promise<void> {
    const users = new Set<string>();
    let before: number | undefined;
    let newest = this.#seen;
    for (;;) {
      const entries = await this.#store.listServerAudit(before, PAGE);
      const fresh = entries.filter((e) => e.id > this.#seen);
      for (const e of fresh) if (e.via === 'console' && e.user !== null && ENDS_SESSIONS.has(e.action)) users.add(e.user.id);
      newest = Math.max(newest, entries[0]?.id ?? 0);
      if (fresh.length < PAGE) break;
      before = fresh.at(-1)?.id;
    }
    for (const userId of users) await this.#recheck(userId);
    this.#seen = newest;
  }
}
