/**
 * Migration 3 on a database made by an earlier Parley: users who registered before it get their
 * display names folded, so a username their display name reads as is refused from then on.
 * On SQLite and on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import pg from 'pg';
import { initial } from '../../src/adapters/sql/migrations/001-initial.js';
import { openPostgresStore } from '../../src/adapters/sql/postgres.js';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import type { Store } from '../../src/ports.js';
import { createTestDatabase, requirePostgres } from '../support/postgres.js';

const MIGRATIONS_TABLE = 'CREATE TABLE parley_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)';
/** Users as version 1 stored them, without folded display names; more than one page of the backfill. */
const OLD_USERS = [
  { id: 'u-victim', username: 'victim', display_name: 'victim' },
  { id: 'u-early', username: 'early', display_name: 'Ｌａｔｅｒ\u200B' },
  { id: 'u-cyr', username: 'cyr', display_name: '\u0412\u041E\u0412' },
  ...Array.from({ length: 1200 }, (_, i) => ({ id: `u-${String(i).padStart(5, '0')}`, username: `filler${i}`, display_name: `Filler ${i}` })),
];

async function expectFolded(store: Store, folded: (id: string) => Promise<string>): Promise<void> {
  await store.migrate();
  assert.equal(await folded('u-early'), 'later');
  assert.equal(await folded('u-cyr'), 'bob');
  assert.equal(await folded('u-01199'), 'filler 1199');
  assert.equal(await store.findNameConflict('later', 'someone'), 'username_resembles_display_name');
  assert.equal(await store.findNameConflict('bob', 'someone'), 'username_resembles_display_name');
  assert.equal(await store.findNameConflict('newcomer', 'victim'), 'display_name_resembles_username');
  // Applied once: a second run changes nothing.
  await store.migrate();
}

const withPostgres = await requirePostgres('migration 3 on PostgreSQL');

describe('migration 3: folded display names of existing users', () => {
  it('SQLite', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-migrate-'));
    const file = path.join(dir, 'parley.db');
    try {
      const old = new Sqlite(file);
      for (const statement of initial.sqlite) old.exec(statement);
      old.exec(MIGRATIONS_TABLE);
      old.prepare('INSERT INTO parley_migrations VALUES (1, ?, 0)').run(initial.name);
      const insert = old.prepare('INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, 0)');
      old.transaction(() => {
        for (const u of OLD_USERS) insert.run(u.id, u.username, u.display_name, 'scrypt$x');
      })();
      old.close();
      const store = openSqliteStore(file);
      try {
        const reader = new Sqlite(file, { readonly: true });
        try {
          await expectFolded(store, async (id) => (reader.prepare('SELECT display_name_folded AS f FROM users WHERE id = ?').get(id) as { f: string }).f);
        } finally {
          reader.close();
        }
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  if (!withPostgres) return;
  it('PostgreSQL', async () => {
    const db = await createTestDatabase();
    const client = new pg.Client({ connectionString: db.url, user: 'postgres' });
    await client.connect();
    try {
      for (const statement of initial.postgres) await client.query(statement);
      await client.query(MIGRATIONS_TABLE);
      await client.query('INSERT INTO parley_migrations VALUES (1, $1, 0)', [initial.name]);
      await client.query(
        'INSERT INTO users (id, username, display_name, password_hash, created_at) SELECT id, username, display_name, $4, 0 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, username, display_name)',
        [OLD_USERS.map((u) => u.id), OLD_USERS.map((u) => u.username), OLD_USERS.map((u) => u.display_name), 'scrypt$x'],
      );
      const store = openPostgresStore(db.url, { poolSize: 2, statementTimeoutMs: 10_000 });
      try {
        await expectFolded(store, async (id) => (await client.query<{ f: string }>('SELECT display_name_folded AS f FROM users WHERE id = $1', [id])).rows[0]?.f ?? '');
      } finally {
        await store.close();
      }
    } finally {
      await client.end();
      await db.drop();
    }
  });
});
