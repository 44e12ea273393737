import type { Migration } from './index.js';

/**
 * Files: attachments and avatars.
 *
 * - `uploads`: one row per uploaded file, from the moment a node starts receiving it until its
 *   objects are deleted and it has left the daily quota's 24-hour window. `size` is the stored
 *   file's (what the wire shows); `received` is what the quota counts: the bytes reserved
 *   while it is received, then the larger of the bytes received and stored (an image
 *   re-encoded to a few bytes still cost what was sent). Found by user and time (the quota), by state and time (the sweep),
 *   by room and message (deleting a message's files).
 * - `messages.attachments`: the message's attachments as the wire shows them (JSON), written
 *   with the message and never changed but to clear it when the message is deleted: history
 *   reads one table, as before.
 * - `users.avatar_id`, `rooms.avatar_id`: the avatar in use (an upload of kind *_avatar).
 */
export const uploads: Migration = {
  version: 10,
  name: 'uploads',
  sqlite: [
    `CREATE TABLE uploads (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      room_id TEXT,
      user_id TEXT NOT NULL REFERENCES users (id),
      state TEXT NOT NULL,
      name TEXT NOT NULL,
      size INTEGER NOT NULL,
      received INTEGER NOT NULL,
      content_type TEXT NOT NULL,
      width INTEGER,
      height INTEGER,
      object_key TEXT NOT NULL,
      thumb_key TEXT,
      thumb_width INTEGER,
      thumb_height INTEGER,
      message_seq INTEGER,
      created_at INTEGER NOT NULL
    )`,
    'CREATE INDEX uploads_user ON uploads (user_id, created_at)',
    'CREATE INDEX uploads_state ON uploads (state, created_at)',
    'CREATE INDEX uploads_message ON uploads (room_id, message_seq) WHERE message_seq IS NOT NULL',
    'ALTER TABLE messages ADD COLUMN attachments TEXT',
    'ALTER TABLE users ADD COLUMN avatar_id TEXT',
    'ALTER TABLE rooms ADD COLUMN avatar_id TEXT',
  ],
  postgres: [
    `CREATE TABLE uploads (
      id TEXT PRIMARY KEY,
      kind TEXT NOT NULL,
      room_id TEXT,
      user_id TEXT NOT NULL REFERENCES users (id),
      state TEXT NOT NULL,
      name TEXT NOT NULL,
      size BIGINT NOT NULL,
      received BIGINT NOT NULL,
      content_type TEXT NOT NULL,
      width INTEGER,
      height INTEGER,
      object_key TEXT NOT NULL,
      thumb_key TEXT,
      thumb_width INTEGER,
      thumb_height INTEGER,
      message_seq BIGINT,
      created_at BIGINT NOT NULL
    )`,
    'CREATE INDEX uploads_user ON uploads (user_id, created_at)',
    'CREATE INDEX uploads_state ON uploads (state, created_at)',
    'CREATE INDEX uploads_message ON uploads (room_id, message_seq) WHERE message_seq IS NOT NULL',
    'ALTER TABLE messages ADD COLUMN attachments TEXT',
    'ALTER TABLE users ADD COLUMN avatar_id TEXT',
    'ALTER TABLE rooms ADD COLUMN avatar_id TEXT',
  ],
};
