import type { Migration } from './index.js';

/**
 * Mentions, notifications, blocks and e-mail digests (src/notifications/).
 *
 * - `notifications`: one row per user and room event that concerns them; `id` grows with every
 *   row, so it is the cursor of the list and of the read marker. Unique per (user, room, seq):
 *   a notifier run repeated after a crash writes nothing twice.
 * - `notification_cursors`: per room, the seq up to which the notifier has read the stream.
 *   Rooms that exist now start at their head (their history notifies nobody).
 * - `notification_prefs`: a member's level (all, mentions, none) and mute for one room.
 * - `notification_settings`: per user, the read marker, the e-mail address, whether digests
 *   are on, and the notification id up to which a digest was sent.
 * - `blocks`: who blocked whom.
 */
export const notifications: Migration = {
  version: 15,
  name: 'notifications',
  sqlite: [
    `CREATE TABLE notifications (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      kind TEXT NOT NULL,
      actor_id TEXT NOT NULL REFERENCES users (id),
      created_at INTEGER NOT NULL,
      UNIQUE (user_id, room_id, seq)
    )`,
    'CREATE INDEX notifications_user ON notifications (user_id, id)',
    `CREATE TABLE notification_cursors (
      room_id TEXT PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
      cursor_seq INTEGER NOT NULL
    )`,
    'INSERT INTO notification_cursors (room_id, cursor_seq) SELECT id, last_seq FROM rooms',
    `CREATE TABLE notification_prefs (
      user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
      level TEXT NOT NULL,
      muted_until INTEGER,
      PRIMARY KEY (room_id, user_id)
    )`,
    `CREATE TABLE notification_settings (
      user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      read_up_to INTEGER NOT NULL DEFAULT 0,
      email TEXT,
      email_digest INTEGER NOT NULL DEFAULT 1,
      digest_sent_up_to INTEGER NOT NULL DEFAULT 0
    )`,
    `CREATE TABLE blocks (
      user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      blocked_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      created_at INTEGER NOT NULL,
      PRIMARY KEY (user_id, blocked_id)
    )`,
    'CREATE INDEX blocks_blocked ON blocks (blocked_id, user_id)',
  ],
  postgres: [
    `CREATE TABLE notifications (
      id BIGSERIAL PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
      seq BIGINT NOT NULL,
      kind TEXT NOT NULL,
      actor_id TEXT NOT NULL REFERENCES users (id),
      created_at BIGINT NOT NULL,
      UNIQUE (user_id, room_id, seq)
    )`,
    'CREATE INDEX notifications_user ON notifications (user_id, id)',
    `CREATE TABLE notification_cursors (
      room_id TEXT PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
      cursor_seq BIGINT NOT NULL
    )`,
    'INSERT INTO notification_cursors (room_id, cursor_seq) SELECT id, last_seq FROM rooms',
    `CREATE TABLE notification_prefs (
      user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
      level TEXT NOT NULL,
      muted_until BIGINT,
      PRIMARY KEY (room_id, user_id)
    )`,
    `CREATE TABLE notification_settings (
      user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      read_up_to BIGINT NOT NULL DEFAULT 0,
      email TEXT,
      email_digest INTEGER NOT NULL DEFAULT 1,
      digest_sent_up_to BIGINT NOT NULL DEFAULT 0
    )`,
    `CREATE TABLE blocks (
      user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      blocked_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      created_at BIGINT NOT NULL,
      PRIMARY KEY (user_id, blocked_id)
    )`,
    'CREATE INDEX blocks_blocked ON blocks (blocked_id, user_id)',
  ],
};
