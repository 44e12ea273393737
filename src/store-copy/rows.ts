/**
 * The statements of a copy, on either dialect, all through the query builder with bound
 * parameters: a table read a batch at a time in key order (keyset pagination, so each batch is
 * one index range whatever the table's size), rows looked up by their keys, written (insert or
 * update by key) and deleted by key.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../adapters/sql/schema.js';
import type { StoreKind } from './stores.js';

export type Row = Record<string, unknown>;

export interface Side {
  q: Kysely<Database>;
  kind: StoreKind;
  /** PostgreSQL type of each key column ('' on SQLite). */
  keyTypes: string[];
}

/** Parameters per statement: under SQLite's 32,766 and PostgreSQL's 65,535. */
export const MAX_PARAMETERS = 30_000;

/** The identity of a row, the same string on both dialects (numbers and text as they are). */
export const keyOf = (row: Row, key: string[]): string => JSON.stringify(key.map((k) => row[k] ?? null));

const TYPE_NAME = /^[a-z ]+$/;

/** A key value, typed on PostgreSQL where nothing else types it (a VALUES list). */
function typed(value: unknown, type: string): RawBuilder<unknown> {
  if (type === '' || !TYPE_NAME.test(type)) return sql`${value}`;
  return sql`CAST(${value} AS ${sql.raw(type)})`;
}

/** `key IN (…)` for `keys`, one tuple per row: SQLite wants a VALUES list on the right of a row value. */
function keyIn(side: Side, key: string[], keys: unknown[][]): RawBuilder<boolean> {
  if (key.length === 1) return sql<boolean>`${sql.ref(key[0] as string)} IN (${sql.join(keys.map((k) => sql`${k[0]}`))})`;
  const tuples = sql.join(keys.map((k) => sql`(${sql.join(k.map((v, i) => typed(v, side.keyTypes[i] ?? '')))})`));
  return sql<boolean>`(${sql.join(key.map((k) => sql.ref(k)))}) IN (VALUES ${tuples})`;
}

export interface Slice {
  /** A column naming a row of the same table: only rows where it is null, or only those where it is not. */
  column: string;
  isNull: boolean;
}

/** The rows of `table` after `after` (a key, or null: from the start), `limit` of them in key order. */
export async function readBatch(side: Side, table: string, columns: string[], key: string[], after: unknown[] | null, limit: number, slice: Slice | null): Promise<Row[]> {
  const keyList = sql.join(key.map((k) => sql.ref(k)));
  const past = after === null ? sql`1 = 1` : key.length === 1 ? sql`${sql.ref(key[0] as string)} > ${after[0]}` : sql`(${keyList}) > (${sql.join(after.map((v) => sql`${v}`))})`;
  const only = slice === null ? sql`1 = 1` : slice.isNull ? sql`${sql.ref(slice.column)} IS NULL` : sql`${sql.ref(slice.column)} IS NOT NULL`;
  const { rows } = await sql<Row>`
    SELECT ${sql.join(columns.map((c) => sql.ref(c)))} FROM ${sql.table(table)}
    WHERE ${past} AND ${only} ORDER BY ${keyList} LIMIT ${limit}`.execute(side.q);
  return rows;
}

/** The rows of `table` whose keys are among `keys`, by keyOf. */
export async function lookup(side: Side, table: string, columns: string[], key: string[], keys: unknown[][]): Promise<Map<string, Row>> {
  const found = new Map<string, Row>();
  if (keys.length === 0) return found;
  const { rows } = await sql<Row>`SELECT ${sql.join(columns.map((c) => sql.ref(c)))} FROM ${sql.table(table)} WHERE ${keyIn(side, key, keys)}`.execute(side.q);
  for (const row of rows) found.set(keyOf(row, key), row);
  return found;
}

/** Same values in every column (null and absent alike). */
export function sameRow(a: Row, b: Row, columns: string[]): boolean {
  return columns.every((c) => (a[c] ?? null) === (b[c] ?? null));
}

/** Inserts `rows`, or updates the row of the same key in place. */
export async function upsert(q: Kysely<Database>, table: string, columns: string[], key: string[], rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  const values = sql.join(rows.map((row) => sql`(${sql.join(columns.map((c) => sql`${row[c] ?? null}`))})`));
  const rest = columns.filter((c) => !key.includes(c));
  const onConflict = rest.length === 0 ? sql`DO NOTHING` : sql`DO UPDATE SET ${sql.join(rest.map((c) => sql`${sql.ref(c)} = ${sql.ref(`excluded.${c}`)}`))}`;
  await sql`INSERT INTO ${sql.table(table)} (${sql.join(columns.map((c) => sql.ref(c)))}) VALUES ${values} ON CONFLICT (${sql.join(key.map((k) => sql.ref(k)))}) ${onConflict}`.execute(q);
}

export async function deleteKeys(side: Side, table: string, key: string[], keys: unknown[][]): Promise<void> {
  if (keys.length === 0) return;
  await sql`DELETE FROM ${sql.table(table)} WHERE ${keyIn(side, key, keys)}`.execute(side.q);
}

/**
 * Parks the target rows that hold, in the unique `columns`, a value one of `rows` brings under
 * another key (tables.ts, MOVABLE_UNIQUES): each `park` column set to null or to a tag of the
 * row's key. Rows with a null among `columns` clash with nothing (the constraint skips them).
 * Answers how many rows were parked.
 */
export async function parkClashes(side: Side, table: string, key: string[], columns: readonly string[], park: Readonly<Record<string, 'null' | 'tag'>>, rows: Row[]): Promise<number> {
  const incoming = rows.filter((r) => columns.every((c) => (r[c] ?? null) !== null));
  if (incoming.length === 0) return 0;
  const owner = new Map(incoming.map((r) => [JSON.stringify(columns.map((c) => r[c])), keyOf(r, key)]));
  const tuples = sql.join(incoming.map((r) => sql`(${sql.join(columns.map((c) => sql`${r[c]}`))})`));
  const match =
    columns.length === 1 ? sql`${sql.ref(columns[0] as string)} IN (${sql.join(incoming.map((r) => sql`${r[columns[0] as string]}`))})` : sql`(${sql.join(columns.map((c) => sql.ref(c)))}) IN (VALUES ${tuples})`;
  const { rows: holders } = await sql<Row>`SELECT ${sql.join([...key, ...columns].map((c) => sql.ref(c)))} FROM ${sql.table(table)} WHERE ${match}`.execute(side.q);
  const clashing = holders.filter((h) => owner.get(JSON.stringify(columns.map((c) => h[c]))) !== keyOf(h, key)).map((h) => key.map((k) => h[k]));
  if (clashing.length === 0) return 0;
  const tag = side.kind === 'postgres' ? sql`'~parked~' || ${sql.join(key.map((k) => sql`CAST(${sql.ref(k)} AS TEXT)`), sql` || '/' || `)}` : sql`'~parked~' || ${sql.join(key.map((k) => sql.ref(k)), sql` || '/' || `)}`;
  const sets = sql.join(Object.entries(park).map(([column, rule]) => sql`${sql.ref(column)} = ${rule === 'null' ? sql`NULL` : tag}`));
  await sql`UPDATE ${sql.table(table)} SET ${sets} WHERE ${keyIn(side, key, clashing)}`.execute(side.q);
  return clashing.length;
}
