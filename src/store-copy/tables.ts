/**
 * Which tables `parley data copy` copies, in which order, by which key. The list is read from the
 * source database's catalog, not written here: every table the migrations made is copied, but
 * those excluded below with the reason, so a table added by a new migration cannot be forgotten
 * (test/integration/data-copy.postgres.test.ts plans a freshly migrated database of each
 * dialect). Parents come before the tables whose foreign keys name them.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../adapters/sql/schema.js';
import { type CatalogColumn, type CatalogTable, DataCopyError, foreignKeys, listColumns, primaryKey, type StoreKind } from './stores.js';

/** Tables never copied, and why. Their SQLite shadow tables (`<name>_data`, …) go with them. */
export const EXCLUDED: Readonly<Record<string, string>> = {
  parley_migrations: "the target's own migration writes it: the copy migrates the target to the source's version first",
  messages_fts:
    "SQLite's full-text index of messages.search_text, kept by triggers: rebuilt on an SQLite target as the messages (with their search_text and search_seq) are written; PostgreSQL derives its search_vector column from the same search_text",
  rooms_name_fts: "SQLite's trigram index of public room names, kept by triggers on rooms: rebuilt on an SQLite target as the rooms are written; PostgreSQL indexes lower(name) itself",
  parley_copy_progress: 'bookkeeping of an earlier copy tool, never data',
};

/** Columns private to one dialect, never copied: SQLite's messages.pk is the full-text index's rowid, given anew on the target. */
const PRIVATE_COLUMNS: Readonly<Record<string, readonly string[]>> = { messages: ['pk'] };

/** Where a table's primary key is a private column, the key both dialects share (a unique one). */
export const KEY_OVERRIDES: Readonly<Record<string, readonly string[]>> = { messages: ['room_id', 'seq'] };

/**
 * Unique constraints besides the key whose value a row may change between two runs (a user
 * deleted gives up their username, and another user registers it): before a batch is written,
 * target rows holding a value the batch brings under another key are parked, each column set as
 * its rule says: `null`, or `tag` (`~parked~` and the row's key: no username has a `~`). A parked
 * row is one the source holds with another value, later in the run's key order: its own batch
 * writes it as it is. STABLE_UNIQUES lists the constraints whose value never changes for a row;
 * test/integration/data-copy.postgres.test.ts holds the two lists to the catalog.
 */
export const MOVABLE_UNIQUES: Readonly<Record<string, readonly { columns: readonly string[]; park: Readonly<Record<string, 'null' | 'tag'>> }[]>> = {
  users: [{ columns: ['username'], park: { username: 'tag' } }],
  jobs: [{ columns: ['queue', 'job_key'], park: { job_key: 'null' } }],
};

/** Unique constraints besides the key that hold one value for a row's whole life, as `table(column, …)`. */
export const STABLE_UNIQUES: readonly string[] = [
  'rooms(dm_key)',
  'room_directory(dm_key)',
  'messages(id)',
  'messages(room_id, seq)',
  'messages(room_id, author_id, client_msg_id)',
  'jobs(id)',
  'incoming_webhooks(token_hash)',
  'notifications(user_id, room_id, seq)',
];

/**
 * PostgreSQL sequences no column owns, and the column whose maximum they must pass after a
 * copy (owned ones, BIGSERIAL, are found in the catalog).
 */
export const UNOWNED_SEQUENCES: Readonly<Record<string, { table: string; column: string }>> = { room_moves: { table: 'room_directory', column: 'move_seq' } };

export interface TablePlan {
  name: string;
  /** The columns written, the key's among them. */
  columns: string[];
  key: string[];
  /** PostgreSQL type of each key column on the source and on the target ('' on SQLite), for typed lookups. */
  sourceKeyTypes: string[];
  targetKeyTypes: string[];
  /**
   * A column naming another row of the same table (users.bot_owner_id): rows where it is null
   * are written first, so a bot never arrives before its owner.
   */
  selfReference: string | null;
}

/** The tables of `tables` to copy, or a refusal naming what is neither copied nor excluded. */
export function tablesToCopy(tables: CatalogTable[]): string[] {
  const copied: string[] = [];
  const virtual = new Set(tables.filter((t) => t.type === 'virtual').map((t) => t.name));
  for (const table of tables) {
    if (Object.hasOwn(EXCLUDED, table.name)) continue;
    if (table.type === 'shadow') {
      const owner = [...virtual].find((v) => table.name.startsWith(`${v}_`));
      if (owner !== undefined && Object.hasOwn(EXCLUDED, owner)) continue;
    }
    if (table.type !== 'table') throw new DataCopyError(`table ${table.name} (${table.type}) is neither copied nor excluded: add it to EXCLUDED in src/store-copy/tables.ts with the reason`);
    copied.push(table.name);
  }
  return copied;
}

/** Parents first; ties in name order. Self-references are handled within the table. */
export function parentsFirst(tables: string[], keys: { table: string; parent: string }[]): string[] {
  const pending = new Set(tables);
  const ordered: string[] = [];
  while (pending.size > 0) {
    const ready = [...pending].filter((t) => !keys.some((k) => k.table === t && k.parent !== t && pending.has(k.parent))).sort();
    if (ready.length === 0) throw new DataCopyError(`the foreign keys between ${[...pending].join(', ')} form a cycle: the copy cannot order them`);
    for (const t of ready) {
      pending.delete(t);
      ordered.push(t);
    }
  }
  return ordered;
}

/** The plan of every copied table, from the source's catalog checked against the target's. */
export async function planCopy(source: { q: Kysely<Database>; kind: StoreKind; tables: CatalogTable[] }, target: { q: Kysely<Database>; kind: StoreKind; tables: CatalogTable[] }): Promise<TablePlan[]> {
  const names = tablesToCopy(source.tables);
  const onTarget = new Set(target.tables.map((t) => t.name));
  const missing = names.filter((t) => !onTarget.has(t));
  if (missing.length > 0) throw new DataCopyError(`the target has no table ${missing.join(', ')}: is it at the source's schema version?`);
  const fks = (await foreignKeys(source.q, source.kind, names)).filter((k) => names.includes(k.parent));
  const plans: TablePlan[] = [];
  for (const name of parentsFirst(names, fks)) {
    const hidden = PRIVATE_COLUMNS[name] ?? [];
    const sourceColumns = (await listColumns(source.q, source.kind, name)).filter((c) => !hidden.includes(c.name));
    const targetColumns = new Map((await listColumns(target.q, target.kind, name)).map((c): [string, CatalogColumn] => [c.name, c]));
    const absent = sourceColumns.filter((c) => !targetColumns.has(c.name));
    if (absent.length > 0) throw new DataCopyError(`the target's table ${name} has no column ${absent.map((c) => c.name).join(', ')}: is it at the source's schema version?`);
    let key = KEY_OVERRIDES[name] ?? (await primaryKey(source.q, source.kind, name));
    if (key.some((k) => hidden.includes(k))) key = [];
    if (key.length === 0) throw new DataCopyError(`table ${name} has no primary key to copy it by: give it one, or exclude it in src/store-copy/tables.ts`);
    const byName = new Map(sourceColumns.map((c) => [c.name, c]));
    const self = fks.find((k) => k.table === name && k.parent === name);
    plans.push({
      name,
      columns: sourceColumns.map((c) => c.name),
      key: [...key],
      sourceKeyTypes: key.map((k) => byName.get(k)?.type ?? ''),
      targetKeyTypes: key.map((k) => targetColumns.get(k)?.type ?? ''),
      selfReference: self?.column ?? null,
    });
  }
  return plans;
}
