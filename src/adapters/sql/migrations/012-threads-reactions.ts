import type { Migration } from './index.js';

/**
 * Threads and reactions.
 *
 * - `messages.thread_root`: the seq of the top-level message a reply answers (null for
 *   top-level messages); `reply_count` and `last_reply_at` on the root, updated in the
 *   transaction that appends (or deletes) a reply, so history reads one table as before.
 *   Replies are found by (room_id, thread_root, seq): a thread page and its unread count walk
 *   that index only.
 * - `events.emoji`: the emoji of reaction_added / reaction_removed events (null for others).
 * - `reactions`: one row per (message, user, emoji); the primary key makes a reaction
 *   idempotent, and its prefix (room_id, seq, user_id) finds a reader's own reactions to a page
 *   (`me`) without reading everyone's.
 * - `reaction_counts`: per message and emoji, how many reacted, and when the emoji was first
 *   added, kept by the append that adds or removes a reaction (a row leaves at zero). A page's
 *   aggregated reactions, and a message's distinct emoji (the per-message bound), are read from
 *   it: at most the bound per message, however many people reacted.
 * - `thread_follows`: who follows which thread and how far they read it. `following` 0 keeps a
 *   row (and its read marker) for someone who unfollowed, so a later reply does not make them
 *   follow again automatically.
 */
export const threadsReactions: Migration = {
  version: 12,
  name: 'threads-reactions',
  sqlite: [
    'ALTER TABLE messages ADD COLUMN thread_root INTEGER',
    'ALTER TABLE messages ADD COLUMN reply_count INTEGER NOT NULL DEFAULT 0',
    'ALTER TABLE messages ADD COLUMN last_reply_at INTEGER',
    'CREATE INDEX messages_thread ON messages (room_id, thread_root, seq) WHERE thread_root IS NOT NULL',
    'ALTER TABLE events ADD COLUMN emoji TEXT',
    `CREATE TABLE reactions (
      room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      emoji TEXT NOT NULL,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      created_at INTEGER NOT NULL,
      PRIMARY KEY (room_id, seq, user_id, emoji)
    ) WITHOUT ROWID`,
    `CREATE TABLE reaction_counts (
      room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      emoji TEXT NOT NULL,
      count INTEGER NOT NULL,
      first_at INTEGER NOT NULL,
      PRIMARY KEY (room_id, seq, emoji)
    ) WITHOUT ROWID`,
    `CREATE TABLE thread_follows (
      room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
      root_seq INTEGER NOT NULL,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      following INTEGER NOT NULL,
      last_read_seq INTEGER NOT NULL,
      PRIMARY KEY (room_id, root_seq, user_id)
    ) WITHOUT ROWID`,
    'CREATE INDEX thread_follows_user ON thread_follows (user_id, room_id, root_seq)',
  ],
  postgres: [
    'ALTER TABLE messages ADD COLUMN thread_root BIGINT',
    'ALTER TABLE messages ADD COLUMN reply_count INTEGER NOT NULL DEFAULT 0',
    'ALTER TABLE messages ADD COLUMN last_reply_at BIGINT',
    'CREATE INDEX messages_thread ON messages (room_id, thread_root, seq) WHERE thread_root IS NOT NULL',
    'ALTER TABLE events ADD COLUMN emoji TEXT',
    `CREATE TABLE reactions (
      room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
      seq BIGINT NOT NULL,
      emoji TEXT NOT NULL,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      created_at BIGINT NOT NULL,
      PRIMARY KEY (room_id, seq, user_id, emoji)
    )`,
    `CREATE TABLE reaction_counts (
      room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
      seq BIGINT NOT NULL,
      emoji TEXT NOT NULL,
      count INTEGER NOT NULL,
      first_at BIGINT NOT NULL,
      PRIMARY KEY (room_id, seq, emoji)
    )`,
    `CREATE TABLE thread_follows (
      room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
      root_seq BIGINT NOT NULL,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      following INTEGER NOT NULL,
      last_read_seq BIGINT NOT NULL,
      PRIMARY KEY (room_id, root_seq, user_id)
    )`,
    'CREATE INDEX thread_follows_user ON thread_follows (user_id, room_id, root_seq)',
  ],
};
