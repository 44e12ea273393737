/**
 * Migration 2 rebuilds SQLite's search index from the messages table: a database written by
 * the first schema is searchable, room by room, as soon as it is migrated.
 */
import { searchIndexed } from '../support/search-index.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { initial } from '../../src/adapters/sql/migrations/001-initial.js';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { newId } from '../../src/domain/ids.js';
import { searchText } from '../../src/domain/search.js';
import type { UserRecord } from '../../src/domain/types.js';

describe('SQLite search index migration', () => {
  it('a database of the first schema is searchable once migrated, with its edits and deletes', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-migrate-'));
    const file = path.join(dir, 'parley.db');
    try {
      // The first schema, as a database created before migration 2 has it.
      const raw = new Sqlite(file);
      raw.pragma('journal_mode = WAL');
      raw.exec('CREATE TABLE parley_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      for (const statement of initial.sqlite) raw.exec(statement);
      raw.prepare('INSERT INTO parley_migrations VALUES (1, ?, ?)').run(initial.name, Date.now());
      // A user, two rooms and their messages as the first schema stores them, written in SQL:
      // today's store code reads columns later migrations add, so it cannot write this schema.
      const u: UserRecord = { id: newId(), username: `old_${newId().slice(0, 6)}`.toLowerCase(), displayName: 'old', passwordHash: 'x', createdAt: Date.now() };
      raw.prepare('INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(u.id, u.username, u.displayName, u.passwordHash, u.createdAt);
      const [a, b] = [newId(), newId()];
      const t0 = Date.now();
      // Both rooms as the first schema left them after these sends, an edit in b and a delete in a.
      for (const [roomId, name, lastSeq] of [[a, 'a', 5], [b, 'b', 4]] as const) {
        raw.prepare("INSERT INTO rooms (id, name, visibility, topic, created_at, last_seq, last_activity_at, dm_key) VALUES (?, ?, 'public', '', ?, ?, ?, NULL)").run(roomId, name, t0, lastSeq, t0 + 11);
        raw.prepare("INSERT INTO members (room_id, user_id, role, joined_at, last_read_seq) VALUES (?, ?, 'owner', ?, 1)").run(roomId, u.id, t0);
        raw.prepare("INSERT INTO events (room_id, seq, kind, target, user_id, created_at) VALUES (?, 1, 'member_joined', NULL, ?, ?)").run(roomId, u.id, t0);
      }
      // In the order they were sent (the search index's rowids follow it), each as it is now.
      const sent: Array<[string, number, string, { edited?: string; deleted?: true }]> = [
        [a, 2, 'alpha first', {}],
        [b, 2, 'alpha second', {}],
        [a, 3, 'alpha third', {}],
        [a, 4, 'alpha doomed', { deleted: true }],
        [b, 3, 'alpha before edit', { edited: 'alpha after edit' }],
      ];
      const message = raw.prepare(
        'INSERT INTO messages (room_id, seq, id, author_id, body, created_at, edited_at, deleted, client_msg_id, search_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)',
      );
      const event = raw.prepare('INSERT INTO events (room_id, seq, kind, target, user_id, created_at) VALUES (?, ?, ?, ?, ?, ?)');
      for (const [i, [roomId, seq, body, later]] of sent.entries()) {
        const now = later.deleted ? '' : (later.edited ?? body);
        message.run(roomId, seq, newId(), u.id, now, t0 + i, later.edited === undefined ? null : t0 + 11, later.deleted ? 1 : 0, searchText(now));
        event.run(roomId, seq, 'message', null, u.id, t0 + i);
      }
      event.run(a, 5, 'delete', 4, u.id, t0 + 10);
      event.run(b, 4, 'edit', 3, u.id, t0 + 11);
      raw.close();

      const store = openSqliteStore(file);
      try {
        await store.migrate();
        const search = async (terms: string[], roomId?: string) =>
          (await searchIndexed(store, { userId: u.id, terms, roomId, limit: 10, maxCandidates: 100, deadlineAt: Date.now() + 10_000 })).hits.map((h) => h.message.body);
        assert.deepEqual(await search(['alph']), ['alpha after edit', 'alpha third', 'alpha second', 'alpha first']);
        assert.deepEqual(await search(['alpha'], a), ['alpha third', 'alpha first']);
        assert.deepEqual(await search(['before']), []);
        assert.deepEqual(await search(['doomed']), []);
        // New messages go on being indexed by the new triggers.
        await store.append([{ kind: 'message', roomId: b, userId: u.id, id: newId(), body: 'alpha newest', clientMsgId: null, at: t0 + 20 }]);
        assert.deepEqual(await search(['alpha'], b), ['alpha newest', 'alpha after edit', 'alpha second']);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
