/**
 * The two ends of `parley data copy`: the embedded SQLite file or a PostgreSQL database, opened
 * for the copy alone (no store threads, no statement timeout), with what the copy asks of each
 * dialect's catalog. Reads of the source run inside one snapshot (`snapshot`), so that the rows
 * copied and the rows verified are the database as one commit left it, while nodes still write.
 */
import { existsSync, statSync } from 'node:fs';
import Sqlite from 'better-sqlite3';
import { openToRead } from '../adapters/sql/sqlite-open.js';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { openPool } from '../adapters/sql/postgres.js';
import { serverName } from '../adapters/sql/postgres-url.js';
import type { Database } from '../adapters/sql/schema.js';

export type StoreKind = 'sqlite' | 'postgres';

/** A refusal with a message for the operator (exit 1, no stack trace). */
export class DataCopyError extends Error {}

/** Where the data is: a PostgreSQL URL or an SQLite file. */
export type Location = { kind: 'postgres'; url: string } | { kind: 'sqlite'; file: string };

export interface DataStore {
  readonly kind: StoreKind;
  /** For messages: the file, or host:port/database (never the password). */
  readonly name: string;
  readonly db: Kysely<Database>;
  /** Runs `fn` with reads of one consistent snapshot of the database. */
  snapshot<T>(fn: (q: Kysely<Database>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** `postgres://…`, `postgresql://…` or `sqlite:/path/parley.db`; anything else is misuse. */
export function parseLocation(raw: string): Location | null {
  if (raw.startsWith('sqlite:')) {
    const file = raw.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    return file === '' ? null : { kind: 'sqlite', file };
  }
  try {
    const url = new URL(raw);
    if ((url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '') return { kind: 'postgres', url: raw };
  } catch {
    return null;
  }
  return null;
}

/**
 * The longest one query of a copy may take, ms: each reads or writes one bounded batch. Checked
 * by the client (the pooler option: no statement_timeout is sent, since the URL may be a
 * PgBouncer's, and the snapshot sets its own), so a server that stops answering fails the copy
 * instead of hanging it; run it again to resume.
 */
const QUERY_TIMEOUT_MS = 300_000;

export const describeLocation = (at: Location): string => (at.kind === 'sqlite' ? `sqlite:${at.file}` : serverName(at.url));

/** An error's words: pg's connection errors are AggregateErrors with an empty message. */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return describeError(error.errors[0]);
  if (error instanceof Error) return error.message !== '' ? error.message : ((error as { code?: string }).code ?? error.name);
  return String(error);
}

/** Opens `at`; `create`: an SQLite file may be made (the target of the way back). */
export async function openDataStore(at: Location, options: { create: boolean; role: 'source' | 'target' }): Promise<DataStore> {
  const name = describeLocation(at);
  if (at.kind === 'sqlite') {
    if (!options.create && !existsSync(at.file)) throw new DataCopyError(`no database at ${at.file} (is DATA_DIR right?)`);
    let raw: Sqlite.Database;
    try {
      // A source is only read, without leaving a -wal or -shm file behind (sqlite-open.ts).
      raw = options.create ? new Sqlite(at.file, { timeout: 5_000 }) : openToRead(at.file);
      if (options.create) {
        raw.pragma('journal_mode = WAL');
        raw.pragma('synchronous = NORMAL');
        raw.pragma('foreign_keys = ON');
      }
    } catch (error) {
      throw new DataCopyError(`cannot open the ${options.role} ${name}: ${describeError(error)}`);
    }
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    return {
      kind: 'sqlite',
      name,
      db,
      // A deferred transaction takes its snapshot at its first read; WAL lets writers go on.
      snapshot: (fn) =>
        db.connection().execute(async (conn) => {
          await sql`BEGIN`.execute(conn);
          try {
            return await fn(conn);
          } finally {
            await sql`COMMIT`.execute(conn);
          }
        }),
      close: () => db.destroy(),
    };
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: openPool(at.url, { poolSize: 2, statementTimeoutMs: 0, connectTimeoutMs: 5_000, pooler: 'pgbouncer' }, 2, QUERY_TIMEOUT_MS) }) });
  try {
    await sql`SELECT 1`.execute(db);
  } catch (error) {
    await db.destroy();
    throw new DataCopyError(`cannot reach the ${options.role} ${name}: ${describeError(error)}`);
  }
  return {
    kind: 'postgres',
    name,
    db,
    snapshot: (fn) =>
      db
        .transaction()
        .setIsolationLevel('repeatable read')
        .setAccessMode('read only')
        .execute(async (trx) => {
          await sql`SET LOCAL statement_timeout = 0`.execute(trx);
          return fn(trx);
        }),
    close: () => db.destroy(),
  };
}

/** A table as the catalog lists it; SQLite's virtual tables and their shadow tables are told apart. */
export interface CatalogTable {
  name: string;
  type: 'table' | 'virtual' | 'shadow';
}

export async function listTables(q: Kysely<Database>, kind: StoreKind): Promise<CatalogTable[]> {
  if (kind === 'sqlite') {
    const { rows } = await sql<{ name: string; type: string }>`SELECT name, type FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'virtual', 'shadow')`.execute(q);
    return rows.filter((r) => !r.name.startsWith('sqlite_')).map((r) => ({ name: r.name, type: r.type as CatalogTable['type'] }));
  }
  const { rows } = await sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`.execute(q);
  return rows.map((r) => ({ name: r.name, type: 'table' }));
}

export interface CatalogColumn {
  name: string;
  /** PostgreSQL's type name (to type the parameters of a key lookup); '' on SQLite. */
  type: string;
}

/** The columns a copy can write: generated ones (PostgreSQL's search_vector) are left out. */
export async function listColumns(q: Kysely<Database>, kind: StoreKind, table: string): Promise<CatalogColumn[]> {
  if (kind === 'sqlite') {
    // table_info leaves out hidden and generated columns.
    const { rows } = await sql<{ name: string }>`SELECT name FROM pragma_table_info(${table}) ORDER BY cid`.execute(q);
    return rows.map((r) => ({ name: r.name, type: '' }));
  }
  const { rows } = await sql<{ name: string; type: string }>`
    SELECT column_name AS name, data_type AS type FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = ${table} AND is_generated = 'NEVER'
    ORDER BY ordinal_position`.execute(q);
  return rows;
}

export async function primaryKey(q: Kysely<Database>, kind: StoreKind, table: string): Promise<string[]> {
  if (kind === 'sqlite') {
    const { rows } = await sql<{ name: string; pk: number }>`SELECT name, pk FROM pragma_table_info(${table}) WHERE pk > 0 ORDER BY pk`.execute(q);
    return rows.map((r) => r.name);
  }
  const { rows } = await sql<{ name: string }>`
    SELECT a.attname AS name FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
    WHERE i.indrelid = to_regclass(quote_ident(${table})) AND i.indisprimary
    ORDER BY array_position(i.indkey, a.attnum)`.execute(q);
  return rows.map((r) => r.name);
}

export interface ForeignKey {
  table: string;
  column: string;
  parent: string;
}

export async function foreignKeys(q: Kysely<Database>, kind: StoreKind, tables: string[]): Promise<ForeignKey[]> {
  const keys: ForeignKey[] = [];
  if (kind === 'sqlite') {
    for (const table of tables) {
      const { rows } = await sql<{ table: string; from: string }>`SELECT "table", "from" FROM pragma_foreign_key_list(${table})`.execute(q);
      for (const r of rows) keys.push({ table, column: r.from, parent: r.table });
    }
    return keys;
  }
  const { rows } = await sql<{ table: string; column: string; parent: string }>`
    SELECT c.conrelid::regclass::text AS table, a.attname AS column, c.confrelid::regclass::text AS parent
    FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
    WHERE c.contype = 'f' AND c.connamespace = to_regnamespace(current_schema())`.execute(q);
  return rows.map((r) => ({ table: r.table.replace(/^"|"$/g, ''), column: r.column, parent: r.parent.replace(/^"|"$/g, '') }));
}

/** The newest migration recorded, or null when the database holds no Parley schema at all. */
export async function schemaVersion(q: Kysely<Database>, kind: StoreKind): Promise<number | null> {
  const tables = await listTables(q, kind);
  if (!tables.some((t) => t.name === 'parley_migrations')) return null;
  const row = await q.selectFrom('parley_migrations').select((eb) => eb.fn.max('version').as('v')).executeTakeFirst();
  return row?.v == null ? 0 : Number(row.v);
}

/**
 * What makes a database itself, whatever address reached it: on PostgreSQL the server's start
 * time (one per running server) and the database; on SQLite the file's device and inode.
 */
export async function identity(store: DataStore): Promise<string> {
  if (store.kind === 'sqlite') {
    const { rows } = await sql<{ file: string }>`SELECT file FROM pragma_database_list WHERE name = 'main'`.execute(store.db);
    const file = rows[0]?.file ?? '';
    const stat = file === '' ? null : statSync(file);
    return `sqlite:${stat === null ? store.name : `${stat.dev}:${stat.ino}`}`;
  }
  const { rows } = await sql<{ id: string }>`SELECT pg_postmaster_start_time()::text || '/' || current_database() || '/' || current_schema() AS id`.execute(store.db);
  return `postgres:${rows[0]?.id ?? store.name}`;
}

/**
 * Refuses a target that holds events newer than the source's newest: nodes have written to it
 * (started on it after a cut-over, say), and a copy would delete what they wrote. `--force`
 * copies anyway.
 */
export async function refuseNewerTarget(source: DataStore, target: DataStore): Promise<void> {
  const newest = async (store: DataStore) => {
    const tables = await listTables(store.db, store.kind);
    if (!tables.some((t) => t.name === 'events')) return null;
    const { rows } = await sql<{ at: number | string | null }>`SELECT max(created_at) AS at FROM events`.execute(store.db);
    const at = rows[0]?.at;
    return at === null || at === undefined ? null : Number(at);
  };
  const [theirs, ours] = [await newest(target), await newest(source)];
  if (theirs !== null && (ours === null || theirs > ours)) {
    throw new DataCopyError(`the target holds events newer than the source's newest (${new Date(theirs).toISOString()} against ${ours === null ? 'none' : new Date(ours).toISOString()}): nodes have written to it, and a copy would delete what they wrote. Check where the nodes point; --force copies anyway`);
  }
}
