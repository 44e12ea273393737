/**
 * Migration 2 rebuilds SQLite's search index from the messages table: a database written by
 * the first schema is searchable, room by room, as soon as it is migrated.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { initial } from '../../src/adapters/sql/migrations/001-initial.js';
import { openSqliteStore } from '../../src/adapters/sql/sqlite.js';
import { newId } from '../../src/domain/ids.js';
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
      // A user as the first schema stores one (later migrations add columns to users).
      const u: UserRecord = { id: newId(), username: `old_${newId().slice(0, 6)}`.toLowerCase(), displayName: 'old', passwordHash: 'x', createdAt: Date.now() };
      raw.prepare('INSERT INTO users (id, username, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)').run(u.id, u.username, u.displayName, u.passwordHash, u.createdAt);
      raw.close();

      const store = openSqliteStore(file);
      try {
        const a = (await store.createRoom({ id: newId(), name: 'a', visibility: 'public', topic: '', createdAt: Date.now() }, u.id)).room.id;
        const b = (await store.createRoom({ id: newId(), name: 'b', visibility: 'public', topic: '', createdAt: Date.now() }, u.id)).room.id;
        const t0 = Date.now();
        const bodies: Array<[string, string]> = [[a, 'alpha first'], [b, 'alpha second'], [a, 'alpha third'], [a, 'alpha doomed'], [b, 'alpha before edit']];
        await store.append(bodies.map(([roomId, body], i) => ({ kind: 'message', roomId, userId: u.id, id: newId(), body, clientMsgId: null, at: t0 + i })));
        await store.append([
          { kind: 'delete', roomId: a, userId: u.id, target: 4, at: t0 + 10 },
          { kind: 'edit', roomId: b, userId: u.id, target: 3, body: 'alpha after edit', at: t0 + 11 },
        ]);

        await store.migrate();
        const search = async (terms: string[], roomId?: string) =>
          (await store.search({ userId: u.id, terms, roomId, limit: 10, maxCandidates: 100, deadlineAt: Date.now() + 10_000 })).hits.map((h) => h.message.body);
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
