/**
 * Applies the migrations not yet recorded in parley_migrations, all in one transaction that
 * holds the migration lock, so processes starting together apply each exactly once.
 *
 * A schema newer than this Parley knows is normal during a rolling upgrade: the first upgraded
 * node (or `parley migrate`) applied the new release's migrations while older nodes still run
 * and restart. Such a node runs on it unless an applied migration is a contract step that needs
 * a newer Parley (parley_migrations.requires_known, written from Migration.contract): then it
 * refuses to start, naming the migration.
 */
import { type Kysely, sql } from 'kysely';
import type { SqlDialect } from './dialect.js';
import { MIGRATIONS } from './migrations/index.js';
import type { Database } from './schema.js';

export async function migrate(db: Kysely<Database>, dialect: SqlDialect): Promise<void> {
  await dialect.write(db, async (trx) => {
    await dialect.lockMigrations(trx);
    await sql`CREATE TABLE IF NOT EXISTS parley_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`.execute(trx);
    // Added beside the table rather than by a numbered migration: a node of the release before
    // it refuses every schema newer than its own, and this column alone must not make one.
    if (!(await hasRequiresKnown(trx, dialect))) await sql`ALTER TABLE parley_migrations ADD COLUMN requires_known INTEGER NOT NULL DEFAULT 0`.execute(trx);
    const rows = await trx.selectFrom('parley_migrations').select(['version', 'name', 'requires_known']).execute();
    const applied = new Set(rows.map((r) => Number(r.version)));
    const known = Math.max(...MIGRATIONS.map((m) => m.version));
    const refusing = rows.filter((r) => Number(r.requires_known) > known).sort((a, b) => Number(a.version) - Number(b.version))[0];
    if (refusing !== undefined) {
      throw new Error(
        `The database schema is at version ${Math.max(...applied)}; its migration ${refusing.version} (${refusing.name}) removes what this Parley reads, and needs a Parley that knows migration ${refusing.requires_known} (this one knows ${known}); upgrade Parley.`,
      );
    }
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration[dialect.name]) await sql.raw(statement).execute(trx);
      await migration.data?.(trx);
      await trx
        .insertInto('parley_migrations')
        .values({ version: migration.version, name: migration.name, applied_at: Date.now(), requires_known: migration.contract?.requiresKnown ?? 0 })
        .execute();
    }
  });
}

async function hasRequiresKnown(trx: Kysely<Database>, dialect: SqlDialect): Promise<boolean> {
  const found =
    dialect.name === 'sqlite'
      ? await sql<{ n: number }>`SELECT count(*) AS n FROM pragma_table_info('parley_migrations') WHERE name = 'requires_known'`.execute(trx)
      : await sql<{ n: string }>`SELECT count(*) AS n FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'parley_migrations' AND column_name = 'requires_known'`.execute(trx);
  return Number(found.rows[0]?.n ?? 0) > 0;
}
