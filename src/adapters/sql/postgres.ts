/**
 * PostgreSQL through a pg pool. BIGINT columns (times, seqs, counts) come back as JavaScript
 * numbers: every value Parley stores in them is far below 2^53. Each statement has a server-side
 * timeout, and each query a client-side one a little longer, so a stuck connection cannot hang a
 * request.
 *
 * A server restart must fail requests, never the process: every pooled client has an error
 * listener for its whole life (pg-pool listens only while a client is idle, and a client that
 * Kysely holds for a query or a transaction would otherwise throw its socket's death as an
 * unhandled 'error'), and the errors of an outage reach callers as `unavailable`.
 */
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { translateStoreOutages } from '../outage-store.js';
import { type ConnectionMonitor, isPostgresOutage } from '../outage.js';
import { type QueryObserver, type SqlDialect, queryLog } from './dialect.js';
import type { StoreWithJobs } from './job-store.js';
import { searchPostgres } from './postgres-search.js';
import { escapeLike } from './room-search.js';
import type { Database } from './schema.js';
import { SqlStore } from './sql-store.js';

const INT8_OID = 20;
/** Arbitrary, fixed: the advisory lock key that serialises migrations across processes. */
const MIGRATION_LOCK_KEY = 0x7061726c; // "parl"
/**
 * Fixed, arbitrary: the first half of the two-part advisory keys of lockKeys. Two-part keys never
 * meet the one-part migration key, whatever the hash of a name.
 */
const KEY_LOCK_SPACE = 0x6e616d65; // "name"

export interface PostgresOptions {
  poolSize: number;
  statementTimeoutMs: number;
  /**
   * What the URL reaches: PostgreSQL itself, or a PgBouncer in transaction mode, which passes
   * no startup parameters: `statement_timeout` is then the role's (ALTER ROLE … SET), and only
   * the client's own query timeout is applied here. Nothing else differs: no statement is
   * prepared by name and every setting is transaction-local, so any server connection serves.
   */
  pooler?: 'none' | 'pgbouncer';
  connectTimeoutMs?: number;
  /**
   * Told when connections die (the server restarted, the network dropped), when calls fail for
   * that, and when a call succeeds again. Without one, connection errors are ignored here: the
   * calls they break still fail with `unavailable`.
   */
  monitor?: ConnectionMonitor;
  /** Told every statement run through the query builder, after it ran (tests read the plans of real statements). */
  onQuery?: QueryObserver;
}

function postgresFlavour(statementTimeoutMs: number): SqlDialect {
  return {
    name: 'postgres',
    lockRows: true,
    maxParameters: 60_000,
    write: (db, fn) => db.transaction().execute(fn),
    async lockMigrations(trx) {
      // No timeout for a migration, whatever the role says (behind PgBouncer the role's
      // statement_timeout applies to every connection): it takes as long as it takes.
      // A utility statement, not a function call: on a fresh server connection a SELECT of
      // set_config spends longer looking up its function than a 1 ms role timeout allows.
      await sql`SET LOCAL statement_timeout = 0`.execute(trx);
      await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(trx);
    },
    async lockKeys(trx, keys) {
      // In one order for every transaction, so two that want the same keys cannot deadlock. Keys
      // whose hashes collide only wait for each other.
      for (const key of [...new Set(keys)].sort()) await sql`SELECT pg_advisory_xact_lock(${KEY_LOCK_SPACE}, hashtext(${key}))`.execute(trx);
    },
    search: (db, query) => searchPostgres(db, query, statementTimeoutMs),
    isUniqueViolation: (error) => (error as { code?: unknown } | null)?.code === '23505',
    // The LIKE itself is what the pg_trgm index (rooms_public_name_trgm) serves.
    roomNameCandidates: () => sql<boolean>`TRUE`,
    roomNameCandidateRows: (needle) =>
      sql`SELECT 1 FROM rooms WHERE visibility = 'public' AND lower(name) LIKE ${`%${escapeLike(needle)}%`} ESCAPE '\\'`,
    nameCodePointKey: sql<string>`lower(name) COLLATE "C"`,
    roomIdCodePointKey: sql<string>`id COLLATE "C"`,
    userCodePointKey: (column) => sql<string>`${sql.ref(column)} COLLATE "C"`,
  };
}

/**
 * A PgBouncer refuses the startup parameters a direct connection sends: `error` said so, and
 * what to set instead. Any other error is answered as it is.
 */
export function explainPoolerRefusal(error: unknown): unknown {
  const message = error instanceof Error ? error.message : '';
  if (!message.startsWith('unsupported startup parameter')) return error;
  return new Error(
    `DATABASE_URL reaches a connection pooler (PgBouncer: "${message}"): set DATABASE_POOLER=pgbouncer, and statement_timeout on the database role (ALTER ROLE … SET statement_timeout = '5s').`,
    { cause: error },
  );
}

/** A pool with every client's error path handled; `timeoutMs` null: no statement or query timeout. */
export function openPool(url: string, options: PostgresOptions, max: number, timeoutMs: number | null): pg.Pool {
  const parsed = new URL(url);
  const pool = new pg.Pool({
    connectionString: url,
    // libpq falls back to the OS user name; where none is set (containers, CI) name one.
    ...(parsed.username === '' ? { user: process.env.PGUSER ?? 'postgres' } : {}),
    max,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    idleTimeoutMillis: 30_000,
    ...(timeoutMs === null ? {} : options.pooler === 'pgbouncer' ? { query_timeout: timeoutMs + 1_000 } : { statement_timeout: timeoutMs, query_timeout: timeoutMs + 1_000 }),
    application_name: 'parley',
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
    },
  });
  const lost = (error: unknown) => options.monitor?.lost(error);
  // Every client gets its own listener when it joins the pool, so it is never without one,
  // idle or checked out. pg-pool also re-emits an idle client's error on the pool: that one is
  // already counted by the client's listener, but the pool must listen too, or it throws.
  pool.on('connect', (client) => client.on('error', lost));
  pool.on('error', () => undefined);
  return pool;
}

/** The query builder over a pool of `options.poolSize` connections to `url`. */
export function openPostgresDatabase(url: string, options: PostgresOptions): Kysely<Database> {
  return new Kysely<Database>({
    dialect: new PostgresDialect({ pool: openPool(url, options, options.poolSize, options.statementTimeoutMs) }),
    ...queryLog(options.onQuery),
  });
}

/** Errors of an outage of the database answer `unavailable` (outage-store.ts). */
export function translatePostgresOutages<S extends object>(target: S, monitor?: ConnectionMonitor): S {
  return translateStoreOutages(target, { isOutage: isPostgresOutage, message: 'The database is unavailable; retry shortly.', monitor });
}

/** The store on `url`; `db` when given is the query builder it uses (shared with sharding's own statements). */
export function openPostgresStore(url: string, options: PostgresOptions, db: Kysely<Database> = openPostgresDatabase(url, options)): StoreWithJobs {
  // Migrations on a connection of their own, with no timeout: building an index of a large
  // table, or waiting for another node's migration, takes as long as it takes.
  const migrations = () => new Kysely<Database>({ dialect: new PostgresDialect({ pool: openPool(url, options, 1, null) }) });
  return translatePostgresOutages(new SqlStore(db, postgresFlavour(options.statementTimeoutMs), migrations), options.monitor);
}
