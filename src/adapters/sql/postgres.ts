/**
 * PostgreSQL through a pg pool. BIGINT columns (times, seqs, counts) come back as JavaScript
 * numbers: every value Parley stores in them is far below 2^53. Each statement has a server-side
 * timeout, and each query a client-side one a little longer, so a stuck connection cannot hang a
 * request.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Store } from '../../ports.js';
import type { SqlDialect } from './dialect.js';
import { searchPostgres } from './postgres-search.js';
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
