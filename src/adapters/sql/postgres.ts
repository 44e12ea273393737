/**
 * PostgreSQL through a pg pool. BIGINT columns (times, seqs, counts) come back as JavaScript
 * numbers: every value Parley stores in them is far below 2^53. Each statement has a server-side
 * timeout, and each query a client-side one a little longer, so a stuck connection cannot hang a
 * request.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { unavailable } from '../../errors.js';
import type { SearchQuery, Store } from '../../ports.js';
import type { SqlDialect } from './dialect.js';
import type { MessageRow } from './mappers.js';
import type { Database } from './schema.js';
import { SqlStore } from './sql-store.js';

const INT8_OID = 20;
/** Arbitrary, fixed: the advisory lock key that serialises migrations across processes. */
const MIGRATION_LOCK_KEY = 0x7061726c; // "parl"

export interface PostgresOptions {
  poolSize: number;
  statementTimeoutMs: number;
  connectTimeoutMs?: number;
  /** Errors of idle pooled connections (the server restarted, the network dropped). */
  onError(error: unknown): void;
}

/** PostgreSQL's code for a statement cancelled by statement_timeout. */
const QUERY_CANCELED = '57014';

function postgresFlavour(statementTimeoutMs: number): SqlDialect {
  return {
    name: 'postgres',
    lockRows: true,
    maxParameters: 60_000,
    write: (db, fn) => db.transaction().execute(fn),
    async lockMigrations(trx) {
      await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(trx);
    },
    search: (db, query) => searchPostgres(db, query, statementTimeoutMs),
    isUniqueViolation: (error) => (error as { code?: unknown } | null)?.code === '23505',
  };
}

/**
 * Full-text search with the same bounds as SQLite's: the candidates are the newest matches
 * (every room's, or one room's), at most maxCandidates of them, walked in order by the index on
 * time (or the room's primary key), then kept when the caller is a member. The statement runs
 * under its own statement_timeout (the time left to the deadline, in a transaction of its own)
 * and is answered `unavailable` when PostgreSQL cancels it.
 */
async function searchPostgres(db: Kysely<Database>, query: SearchQuery, statementTimeoutMs: number): Promise<{ rows: MessageRow[]; truncated: boolean }> {
  // Each term a quoted lexeme with prefix matching, passed as a parameter.
  const tsquery = query.terms.map((t) => `'${t.replace(/\\/g, '\\\\').replace(/'/g, "''")}':*`).join(' & ');
  const timeoutMs = Math.max(1, Math.min(statementTimeoutMs, query.deadlineAt - Date.now()));
  // Within one room its primary key gives the order (seq is commit order); across rooms, time.
  const order = query.roomId === undefined ? sql`m.created_at DESC, m.room_id, m.seq DESC` : sql`m.seq DESC`;
  const corder = query.roomId === undefined ? sql`c.created_at DESC, c.room_id, c.seq DESC` : sql`c.seq DESC`;
  try {
    return await db.transaction().execute(async (trx) => {
      // SET LOCAL with a parameter: set_config(..., true) lasts until the transaction ends.
      await sql`SELECT set_config('statement_timeout', ${String(timeoutMs)}, true)`.execute(trx);
      // One row at least (the LEFT JOIN from a single row): the count of candidates comes back
      // even when none of them is a hit.
      const result = await sql<MessageRow & { examined: number }>`
        WITH c AS MATERIALIZED (
          SELECT m.room_id, m.seq, m.created_at
          FROM messages m
          WHERE m.search_vector @@ to_tsquery('simple', ${tsquery}) ${query.roomId === undefined ? sql`` : sql`AND m.room_id = ${query.roomId}`}
          ORDER BY ${order}
          LIMIT ${query.maxCandidates + 1}
        )
        SELECT (SELECT count(*) FROM c) AS examined, h.*
        FROM (SELECT 1) AS one
        LEFT JOIN LATERAL (
          SELECT m.room_id, m.seq, m.id, m.author_id, m.body, m.created_at, m.edited_at, m.deleted, m.client_msg_id,
                 u.username AS author_username, u.display_name AS author_display_name, c.rank
          FROM (SELECT c.*, row_number() OVER (ORDER BY ${corder}) AS rank FROM c) c
          JOIN members mb ON mb.room_id = c.room_id AND mb.user_id = ${query.userId}
          JOIN messages m ON m.room_id = c.room_id AND m.seq = c.seq
          JOIN users u ON u.id = m.author_id
          WHERE c.rank <= ${query.maxCandidates} AND m.deleted = 0
          ORDER BY c.rank
          LIMIT ${query.limit}
        ) h ON true
        ORDER BY h.rank`.execute(trx);
      const examined = Number(result.rows[0]?.examined ?? 0);
      const rows = result.rows.filter((r) => r.room_id !== null);
      // More candidates than the cap: the walk stopped there, and with fewer hits than the
      // limit, more may lie beyond it.
      return { rows, truncated: rows.length < query.limit && examined > query.maxCandidates };
    });
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === QUERY_CANCELED) throw unavailable('The search took too long; retry, or narrow it to a room.');
    throw error;
  }
}

export function openPostgresStore(url: string, options: PostgresOptions): Store {
  const parsed = new URL(url);
  const pool = new pg.Pool({
    connectionString: url,
    // libpq falls back to the OS user name; where none is set (containers, CI) name one.
    ...(parsed.username === '' ? { user: process.env.PGUSER ?? 'postgres' } : {}),
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs,
    query_timeout: options.statementTimeoutMs + 1_000,
    application_name: 'parley',
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
    },
  });
  pool.on('error', options.onError);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return new SqlStore(db, postgresFlavour(options.statementTimeoutMs));
}
