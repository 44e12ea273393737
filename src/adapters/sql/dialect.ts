/**
 * What differs between SQLite and PostgreSQL, and nothing else: how a writing transaction
 * excludes other writers, how rows are locked, how full-text search is asked, how a unique
 * violation looks. Everything else is one Kysely query for both.
 */
import type { Kysely, KyselyConfig, RawBuilder } from 'kysely';
import type { SearchQuery } from '../../ports.js';
import type { MessageRow } from './mappers.js';
import type { Database } from './schema.js';

export interface SqlDialect {
  readonly name: 'sqlite' | 'postgres';
  /** Runs `fn` in a transaction in which the rows it locks (or the whole database) are its own. */
  write<T>(db: Kysely<Database>, fn: (trx: Kysely<Database>) => Promise<T>): Promise<T>;
  /** Serialises migrations between processes, inside the transaction that applies them. */
  lockMigrations(trx: Kysely<Database>): Promise<void>;
  /**
   * Inside `write`: serialises the transactions that take any of the same `keys` until they end
   * (PostgreSQL: advisory transaction locks). Where a writing transaction already excludes every
   * other writer (SQLite), nothing.
   */
  lockKeys(trx: Kysely<Database>, keys: string[]): Promise<void>;
  /** `FOR UPDATE` where rows can be locked one by one; nothing where the transaction locks everything. */
  readonly lockRows: boolean;
  /**
   * Full-text search as Store.search describes it (non-empty terms, deadline not yet passed):
   * the hits' rows, newest first, and whether the walk stopped at the candidate cap.
   */
  search(db: Kysely<Database>, query: SearchQuery): Promise<{ rows: MessageRow[]; truncated: boolean }>;
  isUniqueViolation(error: unknown): boolean;
  /**
   * A condition on `rooms` keeping at least every public room whose lower-cased name contains
   * `needle` (lower-cased, TRIGRAM_MIN characters or more), served by a trigram index; the
   * exact LIKE is applied besides (room-search.ts).
   */
  roomNameCandidates(needle: string): RawBuilder<boolean>;
  /**
   * A SELECT of one row per public room that roomNameCandidates keeps (at least every room
   * whose name contains `needle`), streaming through the trigram index, for counting them up to
   * a LIMIT appended to it.
   */
  roomNameCandidateRows(needle: string): RawBuilder<unknown>;
  /** lower(name) compared in code-point order: the key of the index that serves name prefixes. */
  readonly nameCodePointKey: RawBuilder<string>;
  /** rooms.id compared in code-point order (the order of JavaScript strings, for ids): the key of an index (migration 16). */
  readonly roomIdCodePointKey: RawBuilder<string>;
  /** A text column of `users` compared in code-point order: the key of the index that serves its prefixes (migration 14). */
  userCodePointKey(column: 'username' | 'display_name_folded'): RawBuilder<string>;
  /** SQL stores parameters in one statement up to a limit; multi-row inserts are cut to stay under it. */
  readonly maxParameters: number;
}

/** Runs `fn` over `items` in chunks whose parameters stay under the dialect's limit. */
export async function inChunks<T>(items: T[], columns: number, dialect: SqlDialect, fn: (chunk: T[]) => Promise<unknown>): Promise<void> {
  const size = Math.max(1, Math.floor(dialect.maxParameters / columns));
  for (let i = 0; i < items.length; i += size) await fn(items.slice(i, i + size));
}

/** A statement as the query builder sent it: its SQL and bound parameters. */
export type QueryObserver = (query: { sql: string; parameters: readonly unknown[] }) => void;

/** Kysely's log option calling `observer` with each statement that ran; nothing without one. */
export function queryLog(observer: QueryObserver | undefined): Pick<KyselyConfig, 'log'> {
  if (observer === undefined) return {};
  return {
    log: (event) => {
      if (event.level === 'query') observer({ sql: event.query.sql, parameters: event.query.parameters });
    },
  };
}
