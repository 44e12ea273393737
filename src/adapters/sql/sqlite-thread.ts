/**
 * The embedded store off the event loop: better-sqlite3 is synchronous, so every statement run
 * on the main thread holds the event loop (a group-committed batch of DM traffic held it for
 * tens of milliseconds). Here worker threads own the connections and run the Store calls; the
 * main thread only posts them and receives the answers, and SQLite works on other cores.
 *
 * Two threads, each with its own connection to the file (WAL lets readers read while the
 * writer writes), and a routing table of which Store method runs where:
 * - `writer`: every call but those routed elsewhere, in the order they were made (but that a
 *   stream append is served before calls still waiting: sqlite-worker.ts), on one connection
 *   (the SqlStore's guarantees hold as they are);
 * - `search`: full-text searches, on a read-only connection, so that a search, however long,
 *   never delays a send, a session lookup or any other call.
 * Each thread is bounded and watched (store-thread.ts): a thread that stops answering is
 * detached and replaced, and its calls fail with `unavailable`. SQLite's own "not now" errors
 * (busy, locked, I/O, disk full, cannot open) reach callers as `unavailable` too.
 */
import type { Store } from '../../ports.js';
import { translateStoreOutages } from '../outage-store.js';
import { type ConnectionMonitor, isSqliteOutage } from '../outage.js';
import type { StoreWithJobs } from './job-store.js';
import { StoreThread, type StoreThreadStats } from './store-thread.js';

type ThreadName = 'writer' | 'search';

/**
 * Which thread runs each Store method; methods not listed run on the writer. Only methods that
 * never write may go to a read-only thread.
 */
const ROUTES: Partial<Record<keyof Store, ThreadName>> = { search: 'search' };
const READ_ONLY: Record<ThreadName, boolean> = { writer: false, search: true };

/** A thread of the writer that answers nothing for this long while calls wait is stuck, ms. */
export const STALL_MS = 30_000;

export interface ThreadedStoreOptions {
  /** Each connection's page cache, MiB (SQLITE_CACHE_MB). */
  cacheMb?: number;
  /** Calls waiting for or running on one thread; past it a call fails with `unavailable` at once. */
  maxQueued: number;
  /** The writer thread's stall limit, ms (default STALL_MS). */
  stallMs?: number;
  /**
   * The search thread's stall limit, ms: longer than a search may run (each stops at its own
   * deadline first), so only a thread stuck outside a search's checks reaches it.
   */
  searchStallMs: number;
  onDetached?(thread: string, calls: number): void;
  /**
   * Start the read-only threads as soon as the schema is migrated, so that the first search
   * does not wait for a thread to start (a store opened only to migrate leaves this off).
   */
  startReadersAfterMigrate?: boolean;
  /** Told of outage errors (busy, I/O, …) and of the first success after them. */
  monitor?: ConnectionMonitor;
}

export type ThreadedStore = StoreWithJobs & {
  /** The state of each thread, for tests and diagnostics. */
  threads(): StoreThreadStats[];
};

export function openThreadedSqliteStore(file: string, options: ThreadedStoreOptions): ThreadedStore {
  const threads: Record<ThreadName, StoreThread> = {
    writer: new StoreThread({ name: 'writer', file, readonly: READ_ONLY.writer, cacheMb: options.cacheMb, maxQueued: options.maxQueued, stallMs: options.stallMs ?? STALL_MS, onDetached: options.onDetached }),
    search: new StoreThread({ name: 'search', file, readonly: READ_ONLY.search, cacheMb: options.cacheMb, maxQueued: options.maxQueued, stallMs: options.searchStallMs, onDetached: options.onDetached }),
  };
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    // Readers first (their running searches are cancelled), then the writer, which finishes
    // the calls already made and checkpoints the WAL as it closes.
    closing ??= threads.search.close().then(() => threads.writer.close());
    return closing;
  };
  const stats = () => Object.values(threads).map((t) => t.stats());
  // Read-only threads open the file once the schema is in place (they start on their first
  // call otherwise).
  const migrate = (...args: unknown[]) =>
    // Not watched by the stall limit: a migration may rebuild an index of a large database.
    threads.writer.call('migrate', args, { unwatched: true }).then((value) => {
      if (options.startReadersAfterMigrate === true) {
        for (const [name, thread] of Object.entries(threads)) if (READ_ONLY[name as ThreadName]) thread.warm();
      }
      return value;
    });
  const routed = new Proxy({} as StoreWithJobs, {
    get(_target, property) {
      if (property === 'close') return close;
      if (property === 'migrate') return migrate;
      if (typeof property !== 'string' || property === 'then') return undefined;
      const thread = threads[ROUTES[property as keyof Store] ?? 'writer'];
      return (...args: unknown[]) => thread.call(property, args);
    },
  });
  const translated = translateStoreOutages(routed, { isOutage: isSqliteOutage, message: 'The database is busy or unavailable; retry shortly.', monitor: options.monitor });
  return new Proxy(translated as ThreadedStore, {
    get(target, property, receiver) {
      return property === 'threads' ? stats : Reflect.get(target, property, receiver);
    },
  });
}
