import type { Migration } from './index.js';

/**
 * History exports and retention.
 *
 * - `exports`: one row per export a member asked for: its state and progress, and once done
 *   the size of its file (under the export directory, named by id) and when it expires.
 *   A user's active export of a room is found by (room, user); expired ones by expiry.
 * - `rooms.retention_days`: the room's own policy (null: the server's); `rooms.purged_seq`:
 *   every message up to it is past the policy and tombstoned, so the next pass starts after it
 *   instead of walking the tombstones again.
 */
export const exportsRetention: Migration = {
  version: 7,
  name: 'exports-retention',
  sqlite: [
    `CREATE TABLE exports (
      id TEXT PRIMARY KEY,
      room_id TEXT NOT NULL REFERENCES rooms (id),
      user_id TEXT NOT NULL REFERENCES users (id),
      format TEXT NOT NULL,
      state TEXT NOT NULL,
      through_seq INTEGER NOT NULL,
      done_seq INTEGER NOT NULL DEFAULT 0,
      messages INTEGER NOT NULL DEFAULT 0,
      bytes INTEGER NOT NULL DEFAULT 0,
      error TEXT,
      created_at INTEGER NOT NULL,
      finished_at INTEGER,
      expires_at INTEGER
    )`,
    'CREATE INDEX exports_room_user ON exports (room_id, user_id, created_at)',
    'CREATE INDEX exports_expiry ON exports (expires_at) WHERE expires_at IS NOT NULL',
    'ALTER TABLE rooms ADD COLUMN retention_days INTEGER',
    'ALTER TABLE rooms ADD COLUMN purged_seq INTEGER NOT NULL DEFAULT 0',
  ],
  postgres: [
    `CREATE TABLE exports (
      id TEXT PRIMARY KEY,
      room_id TEXT NOT NULL REFERENCES rooms (id),
      user_id TEXT NOT NULL REFERENCES users (id),
      format TEXT NOT NULL,
      state TEXT NOT NULL,
      through_seq BIGINT NOT NULL,
      done_seq BIGINT NOT NULL DEFAULT 0,
      messages BIGINT NOT NULL DEFAULT 0,
      bytes BIGINT NOT NULL DEFAULT 0,
      error TEXT,
      created_at BIGINT NOT NULL,
      finished_at BIGINT,
      expires_at BIGINT
    )`,
    'CREATE INDEX exports_room_user ON exports (room_id, user_id, created_at)',
    'CREATE INDEX exports_expiry ON exports (expires_at) WHERE expires_at IS NOT NULL',
    'ALTER TABLE rooms ADD COLUMN retention_days INTEGER',
    'ALTER TABLE rooms ADD COLUMN purged_seq BIGINT NOT NULL DEFAULT 0',
  ],
};
