import { sql } from 'kysely';
import { foldName } from '../../../protocol/text.js';
import type { Migration } from './index.js';

/** Users folded a page at a time: one UPDATE per page, its parameters well under both dialects' limits. */
const PAGE = 500;

/**
 * Each user's display name in its folded form (foldName), indexed, so that registering a
 * username that another user's display name reads as, or a display name that reads as another
 * user's username, is found with one indexed query (see SqlStore.createUser). Existing users
 * are folded here, in the migration's transaction; names that already clash stay as they are.
 */
export const displayNameFolded: Migration = {
  version: 3,
  name: 'display_name_folded',
  sqlite: [
    `ALTER TABLE users ADD COLUMN display_name_folded TEXT NOT NULL DEFAULT ''`,
    `CREATE INDEX users_display_name_folded ON users (display_name_folded)`,
  ],
  postgres: [
    `ALTER TABLE users ADD COLUMN display_name_folded TEXT NOT NULL DEFAULT ''`,
    `CREATE INDEX users_display_name_folded ON users (display_name_folded)`,
  ],
  async data(trx) {
    let after = '';
    for (;;) {
      const rows = await trx.selectFrom('users').select(['id', 'display_name']).where('id', '>', after).orderBy('id').limit(PAGE).execute();
      const last = rows.at(-1);
      if (last === undefined) return;
      const cases = rows.map((r) => sql`WHEN ${r.id} THEN ${foldName(r.display_name)}`);
      await sql`UPDATE users SET display_name_folded = CASE id ${sql.join(cases, sql` `)} END WHERE id IN (${sql.join(rows.map((r) => r.id))})`.execute(trx);
      after = last.id;
    }
  },
};
