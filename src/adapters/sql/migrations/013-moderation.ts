import type { Migration } from './index.js';

/**
 * Moderation and room settings.
 *
 * - `rooms.archived_at`: an archived room stays readable but refuses sends, edits and joins;
 *   null while it is open.
 * - `events.member_id`, `events.data`: a moderation event names the member it is about (the
 *   actor stays in `user_id`) and carries its fields (until, reason, role, what changed) as
 *   JSON, so a resume replays it as it was published.
 * - `room_restrictions`: the bans and mutes in force, one row per (room, user, kind); `until`
 *   null is for ever. A ban outlives the membership it ended, so it is not on `members`; a mute
 *   is not either, so leaving and rejoining does not lift it.
 * - `audit_log`: every moderation action, keyed by the seq of its stream event (unique per room,
 *   and the cursor the log is paged by, newest first).
 * - Rooms can be renamed now: on SQLite the trigram table of public room names (migration 4)
 *   follows renames through a trigger, as it follows inserts; PostgreSQL's indexes follow alone.
 */
export const moderation: Migration = {
  version: 13,
  name: 'moderation',
  sqlite: [
    'ALTER TABLE rooms ADD COLUMN archived_at INTEGER',
    'ALTER TABLE events ADD COLUMN member_id TEXT REFERENCES users (id)',
    'ALTER TABLE events ADD COLUMN data TEXT',
    `CREATE TABLE room_restrictions (
      room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
      user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      kind TEXT NOT NULL CHECK (kind IN ('ban', 'mute')),
      until INTEGER,
      reason TEXT,
      created_by TEXT NOT NULL REFERENCES users (id),
      created_at INTEGER NOT NULL,
      PRIMARY KEY (room_id, user_id, kind)
    ) WITHOUT ROWID`,
    `CREATE TABLE audit_log (
      room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      action TEXT NOT NULL,
      actor_id TEXT NOT NULL REFERENCES users (id),
      member_id TEXT REFERENCES users (id),
      data TEXT,
      created_at INTEGER NOT NULL,
      PRIMARY KEY (room_id, seq)
    ) WITHOUT ROWID`,
    `CREATE TRIGGER rooms_name_fts_rename AFTER UPDATE OF name ON rooms WHEN new.visibility = 'public' BEGIN
      DELETE FROM rooms_name_fts WHERE room_id = new.id;
      INSERT INTO rooms_name_fts (room_id, name) VALUES (new.id, new.name);
    END`,
  ],
  postgres: [
    'ALTER TABLE rooms ADD COLUMN archived_at BIGINT',
    'ALTER TABLE events ADD COLUMN member_id TEXT REFERENCES users (id)',
    'ALTER TABLE events ADD COLUMN data TEXT',
    `CREATE TABLE room_restrictions (
      room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
      user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      kind TEXT NOT NULL CHECK (kind IN ('ban', 'mute')),
      until BIGINT,
      reason TEXT,
      created_by TEXT NOT NULL REFERENCES users (id),
      created_at BIGINT NOT NULL,
      PRIMARY KEY (room_id, user_id, kind)
    )`,
    `CREATE TABLE audit_log (
      room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
      seq BIGINT NOT NULL,
      action TEXT NOT NULL,
      actor_id TEXT NOT NULL REFERENCES users (id),
      member_id TEXT REFERENCES users (id),
      data TEXT,
      created_at BIGINT NOT NULL,
      PRIMARY KEY (room_id, seq)
    )`,
  ],
};
