import type { Migration } from './index.js';

/**
 * Accounts, sessions, rooms, membership, room streams and full-text search. Search indexes
 * `search_text`, the body folded by the application (lower case, no diacritics), so both
 * dialects match the same words without database extensions.
 */
export const initial: Migration = {
  version: 1,
  name: 'initial',
  sqlite: [
    `CREATE TABLE users (
      id TEXT PRIMARY KEY,
      username TEXT NOT NULL UNIQUE,
      display_name TEXT NOT NULL,
      password_hash TEXT NOT NULL,
      created_at INTEGER NOT NULL
    )`,
    `CREATE TABLE sessions (
      token_hash TEXT PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      created_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL
    )`,
    `CREATE INDEX sessions_expires_at ON sessions (expires_at)`,
    `CREATE TABLE rooms (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private', 'dm')),
      topic TEXT NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL,
      last_seq INTEGER NOT NULL DEFAULT 0,
      last_activity_at INTEGER NOT NULL,
      dm_key TEXT UNIQUE
    )`,
    `CREATE INDEX rooms_public_name ON rooms (lower(name)) WHERE visibility = 'public'`,
    `CREATE TABLE members (
      room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
      joined_at INTEGER NOT NULL,
      last_read_seq INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (room_id, user_id)
    ) WITHOUT ROWID`,
    `CREATE INDEX members_user ON members (user_id, room_id)`,
    `CREATE TABLE events (
      room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('message', 'edit', 'delete', 'member_joined', 'member_left')),
      target INTEGER,
      user_id TEXT NOT NULL REFERENCES users(id),
      created_at INTEGER NOT NULL,
      PRIMARY KEY (room_id, seq)
    ) WITHOUT ROWID`,
    // An explicit INTEGER PRIMARY KEY: the full-text index refers to rows by rowid, which
    // VACUUM may renumber unless it is a declared column.
    `CREATE TABLE messages (
      pk INTEGER PRIMARY KEY,
      room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
      seq INTEGER NOT NULL,
      id TEXT NOT NULL UNIQUE,
      author_id TEXT NOT NULL REFERENCES users(id),
      body TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      edited_at INTEGER,
      deleted INTEGER NOT NULL DEFAULT 0,
      client_msg_id TEXT,
      search_text TEXT NOT NULL DEFAULT '',
      UNIQUE (room_id, seq)
    )`,
    `CREATE UNIQUE INDEX messages_client_msg_id ON messages (room_id, author_id, client_msg_id) WHERE client_msg_id IS NOT NULL`,
    `CREATE VIRTUAL TABLE messages_fts USING fts5 (search_text, content = 'messages', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 2')`,
    `CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
      INSERT INTO messages_fts (rowid, search_text) VALUES (new.pk, new.search_text);
    END`,
    `CREATE TRIGGER messages_fts_update AFTER UPDATE OF search_text ON messages BEGIN
      INSERT INTO messages_fts (messages_fts, rowid, search_text) VALUES ('delete', old.pk, old.search_text);
      INSERT INTO messages_fts (rowid, search_text) VALUES (new.pk, new.search_text);
    END`,
    `CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
      INSERT INTO messages_fts (messages_fts, rowid, search_text) VALUES ('delete', old.pk, old.search_text);
    END`,
  ],
  postgres: [
    `CREATE TABLE users (
      id TEXT PRIMARY KEY,
      username TEXT NOT NULL UNIQUE,
      display_name TEXT NOT NULL,
      password_hash TEXT NOT NULL,
      created_at BIGINT NOT NULL
    )`,
    `CREATE TABLE sessions (
      token_hash TEXT PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      created_at BIGINT NOT NULL,
      expires_at BIGINT NOT NULL
    )`,
    `CREATE INDEX sessions_expires_at ON sessions (expires_at)`,
    `CREATE TABLE rooms (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private', 'dm')),
      topic TEXT NOT NULL DEFAULT '',
      created_at BIGINT NOT NULL,
      last_seq BIGINT NOT NULL DEFAULT 0,
      last_activity_at BIGINT NOT NULL,
      dm_key TEXT UNIQUE
    )`,
    `CREATE INDEX rooms_public_name ON rooms (lower(name)) WHERE visibility = 'public'`,
    `CREATE TABLE members (
      room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
      joined_at BIGINT NOT NULL,
      last_read_seq BIGINT NOT NULL DEFAULT 0,
      PRIMARY KEY (room_id, user_id)
    )`,
    `CREATE INDEX members_user ON members (user_id, room_id)`,
    `CREATE TABLE events (
      room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
      seq BIGINT NOT NULL,
      kind TEXT NOT NULL CHECK (kind IN ('message', 'edit', 'delete', 'member_joined', 'member_left')),
      target BIGINT,
      user_id TEXT NOT NULL REFERENCES users(id),
      created_at BIGINT NOT NULL,
      PRIMARY KEY (room_id, seq)
    )`,
    `CREATE TABLE messages (
      room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
      seq BIGINT NOT NULL,
      id TEXT NOT NULL UNIQUE,
      author_id TEXT NOT NULL REFERENCES users(id),
      body TEXT NOT NULL,
      created_at BIGINT NOT NULL,
      edited_at BIGINT,
      deleted SMALLINT NOT NULL DEFAULT 0,
      client_msg_id TEXT,
      search_text TEXT NOT NULL DEFAULT '',
      search_vector TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple', search_text)) STORED,
      PRIMARY KEY (room_id, seq)
    )`,
    `CREATE UNIQUE INDEX messages_client_msg_id ON messages (room_id, author_id, client_msg_id) WHERE client_msg_id IS NOT NULL`,
    `CREATE INDEX messages_search ON messages USING GIN (search_vector)`,
  ],
};
