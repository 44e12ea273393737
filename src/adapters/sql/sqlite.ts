/**
 * The embedded store: SQLite through better-sqlite3, in WAL mode, so readers never wait for the
 * writer and the workers of one machine can share the file. Writing transactions start with
 * BEGIN IMMEDIATE: they take the write lock first (waiting up to busy_timeout for another
 * process), instead of failing when a read lock cannot be upgraded.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import { Kysely, type RawBuilder, SqliteDialect, sql } from 'kysely';
import type { SearchQuery } from '../../ports.js';
import { type QueryObserver, type SqlDialect, queryLog } from './dialect.js';
import type { StoreWithJobs } from './job-store.js';
import type { Database } from './schema.js';
import { SqliteSearch } from './sqlite-search.js';
import { SqlStore } from './sql-store.js';

const BUSY_TIMEOUT_MS = 5_000;

/** One phrase of the trigram table (rooms_name_fts): its trigrams, consecutive, anywhere in the name. */
const trigramPhrase = (needle: string): string => `"${needle.replace(/"/g, '""')}"`;

class SqliteFlavour implements SqlDialect {
  readonly name = 'sqlite';
  readonly lockRows = false;
  readonly maxParameters = 32_000;
  readonly #raw: Sqlite.Database;
  readonly #search: SqliteSearch;

  constructor(raw: Sqlite.Database, cancel: Int32Array) {
    this.#raw = raw;
    this.#search = new SqliteSearch(raw, cancel);
  }

  write<T>(db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T> {
    return db.connection().execute(async (conn) => {
      await sql`BEGIN IMMEDIATE`.execute(conn);
      try {
        const result = await fn(conn);
        await sql`COMMIT`.execute(conn);
        return result;
      } catch (error) {
        // SQLite may already have rolled back by itself (e.g. on a full disk).
        if (this.#raw.inTransaction) await sql`ROLLBACK`.execute(conn);
        throw error;
      }
    });
  }

  async lockMigrations(): Promise<void> {
    // BEGIN IMMEDIATE already excludes every other writer.
  }

  async lockKeys(): Promise<void> {
    // BEGIN IMMEDIATE already excludes every other writer.
  }

  async search(_db: Kysely<Database>, query: SearchQuery) {
    // On the connection itself, not through Kysely: the rows are read one at a time, so the
    // statement can be stopped at its cap with the hits read so far kept.
    return this.#search.run(query);
  }

  roomNameCandidates(needle: string): RawBuilder<boolean> {
    return sql<boolean>`id IN (SELECT room_id FROM rooms_name_fts WHERE rooms_name_fts MATCH ${trigramPhrase(needle)})`;
  }

  roomNameCandidateRows(needle: string): RawBuilder<unknown> {
    // The trigram table alone, which FTS5 reads as it goes (an IN list would be built whole first).
    return sql`SELECT 1 FROM rooms_name_fts WHERE rooms_name_fts MATCH ${trigramPhrase(needle)}`;
  }

  // SQLite's BINARY collation compares UTF-8 bytes: code-point order.
  readonly nameCodePointKey = sql<string>`lower(name)`;
  readonly roomIdCodePointKey = sql<string>`id`;

  /** Text compares in code-point order (BINARY) here already. */
  userCodePointKey(column: 'username' | 'display_name_folded'): RawBuilder<string> {
    return sql<string>`${sql.ref(column)}`;
  }

  isUniqueViolation(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code;
    return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
  }
}

export interface SqliteStoreOptions {
  /**
   * Open the file read-only (a reader beside the writing connection: WAL lets it read while
   * the writer writes). The file must exist and be in WAL mode already.
   */
  readonly?: boolean;
  /**
   * The connection's page cache, MiB; SQLite's default (2 MiB) when absent. Pages not in it are
   * read from the file with a system call each: at 1,000,000 messages the room list (its
   * unread walks read rows scattered over the file) took 2.6 ms at p50 with the default and
   * 1.0 ms with 64 MiB, measured on its own connection.
   */
  cacheMb?: number;
  /** Shared memory whose first element another thread increments to stop a running search. */
  cancel?: Int32Array;
  /** Told every statement run through the query builder, after it ran (tests read the plans of real statements). */
  onQuery?: QueryObserver;
}

export function openSqliteStore(file: string, options: SqliteStoreOptions = {}): StoreWithJobs {
  const readonly = options.readonly ?? false;
  if (file !== ':memory:' && !readonly) mkdirSync(path.dirname(file), { recursive: true });
  const raw = new Sqlite(file, { timeout: BUSY_TIMEOUT_MS, readonly, fileMustExist: readonly });
  try {
    if (!readonly) {
      raw.pragma('journal_mode = WAL');
      raw.pragma('synchronous = NORMAL');
    }
    raw.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    raw.pragma('foreign_keys = ON');
    // Negative: a size in KiB rather than in pages. The cache grows only as pages are read.
    if (options.cacheMb !== undefined) raw.pragma(`cache_size = ${-Math.floor(options.cacheMb * 1024)}`);
  } catch (error) {
    raw.close();
    throw error;
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(raw) }), ...queryLog(options.onQuery) });
  return new SqlStore(db, new SqliteFlavour(raw, options.cancel ?? new Int32Array(new SharedArrayBuffer(4))));
}

/** Distinct statements kept prepared; past it the least recently used one is dropped. */
const STATEMENT_CACHE_SIZE = 500;
/** SQL longer than this (a batch's long parameter lists) is prepared each time, not cached. */
const STATEMENT_CACHE_MAX_SQL = 4_000;

/**
 * Kysely prepares every query it runs; compiling the SQL again each time was a tenth of the
 * send path. The same text reuses its prepared statement (better-sqlite3 statements are
 * reusable as long as they are not iterating, and Kysely runs one at a time on this connection).
 */
function withStatementCache(raw: Sqlite.Database): Sqlite.Database {
  const cache = new Map<string, Sqlite.Statement>();
  return new Proxy(raw, {
    get(target, property, receiver) {
      if (property !== 'prepare') {
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (source: string) => {
        // Statements with long IN or VALUES lists vary with the batch: not worth keeping.
        if (source.length > STATEMENT_CACHE_MAX_SQL) return target.prepare(source);
        let statement = cache.get(source);
        if (statement !== undefined) {
          // Most recently used last.
          cache.delete(source);
        } else {
          statement = target.prepare(source);
          if (cache.size >= STATEMENT_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
        }
        cache.set(source, statement);
        return statement;
      };
    },
  });
}
