/**
 * Applies the migrations not yet recorded in parley_migrations, all in one transaction that
 * holds the migration lock, so processes starting together apply each exactly once.
 */
import { type Kysely, sql } from 'kysely';
import type { SqlDialect } from './dialect.js';
import { MIGRATIONS } from './migrations/index.js';
import type { Database } from './schema.js';

export async function migrate(db: Kysely<Database>, dialect: SqlDialect): Promise<void> {
  await dialect.write(db, async (trx) => {
    await dialect.lockMigrations(trx);
    await sql`CREATE TABLE IF NOT EXISTS parley_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`.execute(trx);
    const applied = new Set((await trx.selectFrom('parley_migrations').select('version').execute()).map((r) => Number(r.version)));
    const newest = Math.max(0, ...applied);
    const known = Math.max(...MIGRATIONS.map((m) => m.version));
    if (newest > known) throw new Error(`The database schema is at version ${newest}, newer than this Parley knows (${known}); upgrade Parley.`);
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration[dialect.name]) await sql.raw(statement).execute(trx);
      await migration.data?.(trx);
      await trx.insertInto('parley_migrations').values({ version: migration.version, name: migration.name, applied_at: Date.now() }).execute();
    }
  });
}
