/**
 * Room directory search (issue 10, finding 5): the bound of a name-prefix range, and migration
 * 4 on a database made by an earlier Parley, whose public rooms are searchable at once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { initial } from '../../src/adapters/sql/migrations/001-initial.js';
import { prefixEnd } from '../../src/adapters/sql/room-search.js';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';

describe('prefixEnd', () => {
  it('is the least string above every string with the prefix, in code-point order', () => {
    assert.equal(prefixEnd('ab'), 'ac');
    assert.equal(prefixEnd('a'), 'b');
    assert.equal(prefixEnd('a\u{10FFFE}'), 'a\u{10FFFF}');
    assert.equal(prefixEnd('😀'), '😁');
    // The surrogate range holds no code point: the next one after U+D7FF is U+E000.
    assert.equal(prefixEnd('\uD7FF'), '\uE000');
    assert.equal(prefixEnd('a\u{10FFFF}'), null);
    assert.equal(prefixEnd(''), null);
  });
});

describe('migration 4 on SQLite: rooms made before it are searchable', () => {
  it('fills the trigram table from the public rooms, and follows new ones', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-migrate-'));
    const file = path.join(dir, 'parley.db');
    try {
      const old = new Sqlite(file);
      for (const statement of initial.sqlite) old.exec(statement);
      old.exec('CREATE TABLE parley_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      old.prepare('INSERT INTO parley_migrations VALUES (1, ?, 0)').run(initial.name);
      old.exec(`INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES ('u1', 'owner', 'Owner', 'x', 0)`);
      const room = old.prepare('INSERT INTO rooms (id, name, visibility, topic, created_at, last_seq, last_activity_at) VALUES (?, ?, ?, ?, 0, 0, 0)');
      room.run('r1', 'Old Garden', 'public', '');
      room.run('r2', 'Secret garden', 'private', '');
      room.run('r3', 'Gardeners', 'public', '');
      old.close();
      const store = openSqliteStore(file);
      try {
        await store.migrate();
        const names = async (q: string) => (await store.listPublicRooms(q, 50)).map((r) => r.name);
        assert.deepEqual(await names('GARDEN'), ['Gardeners', 'Old Garden']);
        assert.deepEqual(await names('ga'), ['Gardeners']);
        await store.createRoom({ id: 'r4', name: 'New garden', visibility: 'public', topic: '', createdAt: 0 }, 'u1');
        await store.createRoom({ id: 'r5', name: 'Hidden garden', visibility: 'private', topic: '', createdAt: 0 }, 'u1');
        assert.deepEqual(await names('arden'), ['Gardeners', 'New garden', 'Old Garden']);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
