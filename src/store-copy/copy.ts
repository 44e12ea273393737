/**
 * `parley data copy`: makes the target database hold what the source holds, table by table, a
 * batch at a time, memory bounded by the batch whatever the size.
 *
 * Every run is one pass over one snapshot of the source, and makes the target equal to it:
 * 1. The target is migrated to this build's schema, which must be the source's too.
 * 2. Rows the target has and the source has not (a session ended, a reaction taken back, a
 *    member who left since an earlier run) are deleted, children before parents.
 * 3. The source is read in key order; each batch's keys are looked up on the target, and the
 *    rows missing there are inserted, the rows that differ (an edit, a room's last_seq, a read
 *    marker) updated, by key (INSERT … ON CONFLICT DO UPDATE). Rows already equal are not
 *    written: a run repeated copies nothing and reports 0 new rows, and a run after an
 *    interruption writes only what the interrupted one had not (the target's rows are the
 *    progress record, and rows changed meanwhile are caught too). Parents before children.
 * 4. PostgreSQL sequences are set past the copied maxima.
 * 5. The verification (verify.ts) compares the target with the same snapshot.
 *
 * Derived data is not copied but rebuilt as the rows are written (tables.ts, EXCLUDED): the
 * SQLite full-text tables by their triggers, PostgreSQL's search_vector as a generated column,
 * both from the copied search_text; the stream cursors (the search indexer's among them) are
 * rows like the others, copied with the search_text they describe.
 */
import { type Kysely, sql } from 'kysely';
import { MIGRATIONS } from '../adapters/sql/migrations/index.js';
import type { Database } from '../adapters/sql/schema.js';
import { deleteKeys, keyOf, lookup, MAX_PARAMETERS, parkClashes, readBatch, type Row, sameRow, type Side, type Slice, upsert } from './rows.js';
import { type DataStore, DataCopyError, listTables, schemaVersion } from './stores.js';
import { MOVABLE_UNIQUES, planCopy, type TablePlan, UNOWNED_SEQUENCES } from './tables.js';

export const LATEST_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

export interface TableCounts {
  /** Rows read from the source. */
  read: number;
  inserted: number;
  updated: number;
  deleted: number;
  /** Target rows whose unique value another row took, set aside until their own batch (tables.ts, MOVABLE_UNIQUES). */
  parked: number;
}

export type Emit = (line: Record<string, unknown>) => void;

export interface CopyOptions {
  /** Rows per batch (fewer where a table's columns would pass the parameter limit). */
  batch: number;
  emit: Emit;
}

/** Refuses a source whose schema is not this build's, and a target newer than it. */
export async function checkVersions(source: DataStore, target: DataStore): Promise<number> {
  const version = await schemaVersion(source.db, source.kind);
  if (version === null) throw new DataCopyError(`${source.name} holds no Parley database (no parley_migrations table)`);
  if (version < LATEST_VERSION) throw new DataCopyError(`the source's schema is at version ${version}, older than this Parley's (${LATEST_VERSION}): run \`parley migrate\` on the source (or start a node on it) first`);
  if (version > LATEST_VERSION) throw new DataCopyError(`the source's schema is at version ${version}, newer than this Parley knows (${LATEST_VERSION}): copy with the Parley version that wrote it`);
  const targetVersion = await schemaVersion(target.db, target.kind);
  if (targetVersion !== null && targetVersion > LATEST_VERSION) throw new DataCopyError(`the target's schema is at version ${targetVersion}, newer than this Parley knows (${LATEST_VERSION})`);
  return version;
}

const emptyCounts = (): TableCounts => ({ read: 0, inserted: 0, updated: 0, deleted: 0, parked: 0 });

/** The slices a table is walked in: a self-referencing table's roots first (see TablePlan.selfReference). */
const slicesOf = (plan: TablePlan): (Slice | null)[] => (plan.selfReference === null ? [null] : [{ column: plan.selfReference, isNull: true }, { column: plan.selfReference, isNull: false }]);

const batchOf = (plan: TablePlan, batch: number): number => Math.max(1, Math.min(batch, Math.floor(MAX_PARAMETERS / plan.columns.length)));

/** One pass, in the source snapshot `q`: the target made equal to it. Returns the plan and the counts per table. */
export async function copyPass(q: Kysely<Database>, source: DataStore, target: DataStore, options: CopyOptions): Promise<{ plans: TablePlan[]; counts: Map<string, TableCounts> }> {
  const plans = await planCopy(
    { q, kind: source.kind, tables: await listTables(q, source.kind) },
    { q: target.db, kind: target.kind, tables: await listTables(target.db, target.kind) },
  );
  const counts = new Map(plans.map((p) => [p.name, emptyCounts()]));
  const sourceSide = (plan: TablePlan): Side => ({ q, kind: source.kind, keyTypes: plan.sourceKeyTypes });
  const targetSide = (plan: TablePlan, tq: Kysely<Database> = target.db): Side => ({ q: tq, kind: target.kind, keyTypes: plan.targetKeyTypes });

  // Rows gone from the source, children first (a self-referencing table's dependants first).
  for (const plan of [...plans].reverse()) {
    const count = counts.get(plan.name) ?? emptyCounts();
    const size = batchOf(plan, options.batch);
    for (const slice of slicesOf(plan).reverse()) {
      let after: unknown[] | null = null;
      for (;;) {
        const rows = await readBatch(targetSide(plan), plan.name, plan.key, plan.key, after, size, slice);
        if (rows.length === 0) break;
        const present = await lookup(sourceSide(plan), plan.name, plan.key, plan.key, rows.map((r) => plan.key.map((k) => r[k])));
        const gone = rows.filter((r) => !present.has(keyOf(r, plan.key))).map((r) => plan.key.map((k) => r[k]));
        if (gone.length > 0) {
          await deleteKeys(targetSide(plan), plan.name, plan.key, gone);
          count.deleted += gone.length;
        }
        if (rows.length < size) break;
        const last = rows.at(-1) as Row;
        after = plan.key.map((k) => last[k]);
      }
    }
    if (count.deleted > 0) options.emit({ progress: 'deleted', table: plan.name, deleted: count.deleted });
  }

  // Rows new or changed on the source, parents first.
  for (const plan of plans) {
    const count = counts.get(plan.name) ?? emptyCounts();
    const size = batchOf(plan, options.batch);
    for (const slice of slicesOf(plan)) {
      let after: unknown[] | null = null;
      for (;;) {
        const rows = await readBatch(sourceSide(plan), plan.name, plan.columns, plan.key, after, size, slice);
        if (rows.length === 0) break;
        count.read += rows.length;
        const existing = await lookup(targetSide(plan), plan.name, plan.columns, plan.key, rows.map((r) => plan.key.map((k) => r[k])));
        const write: Row[] = [];
        for (const row of rows) {
          const there = existing.get(keyOf(row, plan.key));
          if (there === undefined) count.inserted += 1;
          else if (!sameRow(row, there, plan.columns)) count.updated += 1;
          else continue;
          write.push(row);
        }
        if (write.length > 0) {
          await target.db.transaction().execute(async (trx) => {
            for (const unique of MOVABLE_UNIQUES[plan.name] ?? []) {
              count.parked += await parkClashes({ q: trx, kind: target.kind, keyTypes: plan.targetKeyTypes }, plan.name, plan.key, unique.columns, unique.park, write);
            }
            await upsert(trx, plan.name, plan.columns, plan.key, write);
          });
        }
        options.emit({ progress: 'copying', table: plan.name, ...count });
        if (rows.length < size) break;
        const last = rows.at(-1) as Row;
        after = plan.key.map((k) => last[k]);
      }
    }
    options.emit({ progress: 'copied', table: plan.name, ...count });
  }

  if (target.kind === 'postgres') await setSequences(target.db, plans);
  return { plans, counts };
}

/**
 * Every sequence of the target past the maximum of the column it feeds: the BIGSERIAL keys
 * (jobs, notifications, webhook deliveries) and those listed in UNOWNED_SEQUENCES. SQLite needs
 * nothing: an INTEGER PRIMARY KEY continues from the largest, and AUTOINCREMENT records the
 * largest inserted.
 */
export async function setSequences(db: Kysely<Database>, plans: TablePlan[]): Promise<void> {
  const copied = new Set(plans.map((p) => p.name));
  const { rows } = await sql<{ sequence: string; table: string | null; column: string | null }>`
    SELECT s.relname AS sequence, t.relname AS table, a.attname AS column
    FROM pg_class s
    LEFT JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'a'
    LEFT JOIN pg_class t ON t.oid = d.refobjid
    LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
    WHERE s.relkind = 'S' AND s.relnamespace = to_regnamespace(current_schema())`.execute(db);
  for (const r of rows) {
    const feeds = r.table !== null && r.column !== null ? { table: r.table, column: r.column } : UNOWNED_SEQUENCES[r.sequence];
    if (feeds === undefined) throw new DataCopyError(`sequence ${r.sequence} feeds no column the copy knows: add it to UNOWNED_SEQUENCES in src/store-copy/tables.ts`);
    if (!copied.has(feeds.table)) continue;
    await sql`SELECT setval(${r.sequence}::regclass, COALESCE((SELECT max(${sql.ref(feeds.column)}) FROM ${sql.table(feeds.table)}), 0) + 1, false)`.execute(db);
  }
}
