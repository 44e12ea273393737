/**
 * Expand, then contract (src/adapters/sql/migrations/index.ts): nodes of the previous release
 * keep running while a new release's migrations are applied, so a migration must not remove
 * what their code may read, nor add what their writes cannot fill.
 *
 * Every migration is applied in turn to an empty database, on SQLite and on PostgreSQL, and the
 * schema is read from the catalog before and after it:
 * - a table or column that was there before and is gone after (dropped, or renamed) must be
 *   named in the migration's `contract.removes`, and `removes` names nothing else;
 * - a column added to a table that existed before must take NULL or have a default (an older
 *   node's INSERT does not name it).
 *
 * What this cannot see: whether the previous release's code reads what was removed (every
 * removal needs the marker, read or not); changed types, constraints or meanings of columns that
 * stay; data steps that rewrite rows. Those are for review, and a migration that needs older nodes
 * stopped for them is marked `contract` too.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { Migration } from '../../src/adapters/sql/migrations/index.js';
import { MIGRATIONS } from '../../src/adapters/sql/migrations/index.js';
import type { Database } from '../../src/adapters/sql/schema.js';
import { createTestDatabase, requirePostgres } from '../support/postgres.js';

interface Column {
  /** Takes NULL, or has a default (or is generated): an INSERT that does not name it works. */
  fillable: boolean;
}
/** Table → column → what it is. */
type Schema = Map<string, Map<string, Column>>;

interface Rig {
  dialect: 'sqlite' | 'postgres';
  db: Kysely<Database>;
  schema(): Promise<Schema>;
  close(): Promise<void>;
}

/** SQLite's full-text shadow tables come and go with their virtual table: not the schema's own. */
const FTS_SHADOW = /_(data|idx|content|docsize|config)$/;

function sqliteRig(): Rig {
  const raw = new Sqlite(':memory:');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  return {
    dialect: 'sqlite',
    db,
    schema: async () => {
      const tables = raw.prepare("SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as Array<{ name: string; sql: string | null }>;
      const virtual = tables.filter((t) => /^CREATE VIRTUAL TABLE/i.test(t.sql ?? '')).map((t) => t.name);
      const schema: Schema = new Map();
      for (const { name } of tables) {
        if (FTS_SHADOW.test(name) && virtual.some((v) => name.startsWith(`${v}_`))) continue;
        const columns = raw.prepare('SELECT name, "notnull" AS required, dflt_value AS dflt, hidden FROM pragma_table_xinfo(?)').all(name) as Array<{ name: string; required: number; dflt: string | null; hidden: number }>;
        // hidden 1: a virtual table's hidden column (FTS5's own); 2, 3: generated.
        schema.set(name, new Map(columns.filter((c) => c.hidden !== 1).map((c) => [c.name, { fillable: c.required === 0 || c.dflt !== null || c.hidden >= 2 }])));
      }
      return schema;
    },
    close: () => db.destroy(),
  };
}

async function postgresRig(url: string): Promise<Rig> {
  const pool = new pg.Pool({ connectionString: url, user: 'postgres', max: 1 });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    dialect: 'postgres',
    db,
    schema: async () => {
      const { rows } = await pool.query<{ table_name: string; column_name: string; is_nullable: string; column_default: string | null; is_generated: string; is_identity: string }>(
        `SELECT c.table_name, c.column_name, c.is_nullable, c.column_default, c.is_generated, c.is_identity
           FROM information_schema.columns c JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'`,
      );
      const schema: Schema = new Map();
      for (const r of rows) {
        const table = schema.get(r.table_name) ?? new Map<string, Column>();
        table.set(r.column_name, { fillable: r.is_nullable === 'YES' || r.column_default !== null || r.is_generated === 'ALWAYS' || r.is_identity === 'YES' });
        schema.set(r.table_name, table);
      }
      return schema;
    },
    close: () => db.destroy(),
  };
}

/** What applying one migration did that older nodes may not survive, as messages (empty: nothing). */
function violations(migration: Migration, before: Schema, after: Schema): string[] {
  const removed: string[] = [];
  const unfillable: string[] = [];
  for (const [table, columns] of before) {
    const now = after.get(table);
    if (now === undefined) {
      removed.push(table);
      continue;
    }
    for (const column of columns.keys()) if (!now.has(column)) removed.push(`${table}.${column}`);
    for (const [column, c] of now) if (!columns.has(column) && !c.fillable) unfillable.push(`${table}.${column}`);
  }
  const declared = new Set(migration.contract?.removes ?? []);
  const out: string[] = [];
  for (const r of removed) if (!declared.has(r)) out.push(`removes ${r} without marking it in contract.removes`);
  for (const d of declared) if (!removed.includes(d)) out.push(`contract.removes names ${d}, which it does not remove`);
  for (const u of unfillable) out.push(`adds ${u} NOT NULL without a default to a table older nodes write`);
  if (migration.contract !== undefined && !(migration.contract.requiresKnown >= 1 && migration.contract.requiresKnown < migration.version)) {
    out.push(`contract.requiresKnown ${migration.contract.requiresKnown} is not an earlier migration`);
  }
  return out;
}

async function apply(rig: Rig, migration: Migration): Promise<void> {
  await rig.db.transaction().execute(async (trx) => {
    for (const statement of migration[rig.dialect]) await sql.raw(statement).execute(trx);
    await migration.data?.(trx);
  });
}

/** Applies `migrations` in order; the violations of each, by version. */
async function check(rig: Rig, migrations: readonly Migration[]): Promise<Record<number, string[]>> {
  const found: Record<number, string[]> = {};
  let before = await rig.schema();
  for (const migration of migrations) {
    await apply(rig, migration);
    const after = await rig.schema();
    const v = violations(migration, before, after);
    if (v.length > 0) found[migration.version] = v;
    before = after;
  }
  return found;
}

const base: Migration = {
  version: 1,
  name: 'base',
  sqlite: ['CREATE TABLE things (id TEXT PRIMARY KEY, label TEXT NOT NULL, old_note TEXT)', 'CREATE TABLE leftovers (id TEXT PRIMARY KEY)'],
  postgres: ['CREATE TABLE things (id TEXT PRIMARY KEY, label TEXT NOT NULL, old_note TEXT)', 'CREATE TABLE leftovers (id TEXT PRIMARY KEY)'],
};
const both = (statements: string[]) => ({ sqlite: statements, postgres: statements });

const withPostgres = await requirePostgres('migration rules on PostgreSQL');

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`migration rules (${dialect})`, { skip: dialect === 'postgres' && !withPostgres }, () => {
    const open = async (): Promise<{ rig: Rig; done(): Promise<void> }> => {
      if (dialect === 'sqlite') {
        const rig = sqliteRig();
        return { rig, done: () => rig.close() };
      }
      const db = await createTestDatabase();
      const rig = await postgresRig(db.url);
      return {
        rig,
        done: async () => {
          await rig.close();
          await db.drop();
        },
      };
    };

    it('every migration expands only, or is a contract step marked with what it removes', async () => {
      const { rig, done } = await open();
      try {
        assert.deepEqual(await check(rig, MIGRATIONS), {});
      } finally {
        await done();
      }
    });

    it('catches an unmarked drop, rename or table drop, a false marker, and a NOT NULL column without a default', async () => {
      const { rig, done } = await open();
      try {
        const found = await check(rig, [
          base,
          // Expand: a nullable column, one with a default, a new table, an index.
          { version: 2, name: 'expand', ...both(["ALTER TABLE things ADD COLUMN extra TEXT", "ALTER TABLE things ADD COLUMN flag INTEGER NOT NULL DEFAULT 0", 'CREATE TABLE newer (id TEXT PRIMARY KEY)', 'CREATE INDEX things_label ON things (label)']) },
          { version: 3, name: 'drop-column', ...both(['ALTER TABLE things DROP COLUMN old_note']) },
          { version: 4, name: 'rename-column', ...both(['ALTER TABLE things RENAME COLUMN extra TO extra_text']) },
          { version: 5, name: 'drop-table', ...both(['DROP TABLE leftovers']), contract: { removes: ['leftovers', 'things.label'], requiresKnown: 4 } },
          { version: 6, name: 'not-null', sqlite: ['CREATE TABLE t2 (id TEXT PRIMARY KEY)', 'DROP TABLE things', 'CREATE TABLE things (id TEXT PRIMARY KEY, label TEXT NOT NULL, extra_text TEXT, flag INTEGER NOT NULL DEFAULT 0, required TEXT NOT NULL)'], postgres: ['CREATE TABLE t2 (id TEXT PRIMARY KEY)', 'ALTER TABLE things ADD COLUMN required TEXT NOT NULL'] },
          { version: 7, name: 'marked', ...both(['ALTER TABLE things DROP COLUMN extra_text']), contract: { removes: ['things.extra_text'], requiresKnown: 6 } },
        ]);
        assert.deepEqual(found, {
          3: ['removes things.old_note without marking it in contract.removes'],
          4: ['removes things.extra without marking it in contract.removes'],
          5: ['contract.removes names things.label, which it does not remove'],
          6: ['adds things.required NOT NULL without a default to a table older nodes write'],
        });
      } finally {
        await done();
      }
    });
  });
}
