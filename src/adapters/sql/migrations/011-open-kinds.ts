import type { Migration } from './index.js';

/**
 * Room events and member roles grow with the team features: the event kinds are no longer a
 * list the schema fixes (the stream rules decide what a room accepts, and new kinds would
 * otherwise each need a table rebuild on SQLite), and a member may now be an `admin`.
 *
 * SQLite cannot drop a CHECK: `events` and `members` are rebuilt, rows copied as they are.
 * Neither table is referenced by another, so the copy, drop and rename keep every key.
 */
export const openKinds: Migration = {
  version: 11,
  name: 'open-kinds',
  sqlite: [
    `CREATE TABLE events_next (
      room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      kind TEXT NOT NULL,
      target INTEGER,
      user_id TEXT NOT NULL REFERENCES users(id),
      created_at INTEGER NOT NULL,
      PRIMARY KEY (room_id, seq)
    ) WITHOUT ROWID`,
    'INSERT INTO events_next (room_id, seq, kind, target, user_id, created_at) SELECT room_id, seq, kind, target, user_id, created_at FROM events',
    'DROP TABLE events',
    'ALTER TABLE events_next RENAME TO events',
    `CREATE TABLE members_next (
      room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
      joined_at INTEGER NOT NULL,
      last_read_seq INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (room_id, user_id)
    ) WITHOUT ROWID`,
    'INSERT INTO members_next (room_id, user_id, role, joined_at, last_read_seq) SELECT room_id, user_id, role, joined_at, last_read_seq FROM members',
    'DROP TABLE members',
    'ALTER TABLE members_next RENAME TO members',
    'CREATE INDEX members_user ON members (user_id, room_id)',
  ],
  postgres: [
    'ALTER TABLE events DROP CONSTRAINT events_kind_check',
    'ALTER TABLE members DROP CONSTRAINT members_role_check',
    `ALTER TABLE members ADD CONSTRAINT members_role_check CHECK (role IN ('owner', 'admin', 'member'))`,
  ],
};
