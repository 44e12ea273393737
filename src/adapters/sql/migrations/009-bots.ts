import type { Migration } from './index.js';

/**
 * Bots and incoming webhooks.
 *
 * - `users.bot_owner_id`: a bot is a user account owned by a person (null for people); a
 *   person's bots are found by it. `users.deactivated_at`: a deleted bot keeps its row, since
 *   its messages still name it, and its username stays taken so nobody can pass for it.
 * - `sessions_user`: a bot's tokens are sessions; rotating or deleting it revokes all of them,
 *   found by user.
 * - `incoming_webhooks`: one row per webhook, found by the hash of its URL's secret (the secret
 *   itself is never stored), by room to list them, by bot to delete them with it.
 */
export const bots: Migration = {
  version: 9,
  name: 'bots',
  sqlite: [
    'ALTER TABLE users ADD COLUMN bot_owner_id TEXT REFERENCES users (id)',
    'ALTER TABLE users ADD COLUMN deactivated_at INTEGER',
    'CREATE INDEX users_bot_owner ON users (bot_owner_id, created_at) WHERE bot_owner_id IS NOT NULL',
    'CREATE INDEX sessions_user ON sessions (user_id)',
    `CREATE TABLE incoming_webhooks (
      id TEXT PRIMARY KEY,
      room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
      bot_id TEXT NOT NULL REFERENCES users (id),
      creator_id TEXT NOT NULL REFERENCES users (id),
      name TEXT NOT NULL,
      token_hash TEXT NOT NULL UNIQUE,
      created_at INTEGER NOT NULL
    )`,
    'CREATE INDEX incoming_webhooks_room ON incoming_webhooks (room_id, created_at)',
    'CREATE INDEX incoming_webhooks_bot ON incoming_webhooks (bot_id)',
  ],
  postgres: [
    'ALTER TABLE users ADD COLUMN bot_owner_id TEXT REFERENCES users (id)',
    'ALTER TABLE users ADD COLUMN deactivated_at BIGINT',
    'CREATE INDEX users_bot_owner ON users (bot_owner_id, created_at) WHERE bot_owner_id IS NOT NULL',
    'CREATE INDEX sessions_user ON sessions (user_id)',
    `CREATE TABLE incoming_webhooks (
      id TEXT PRIMARY KEY,
      room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
      bot_id TEXT NOT NULL REFERENCES users (id),
      creator_id TEXT NOT NULL REFERENCES users (id),
      name TEXT NOT NULL,
      token_hash TEXT NOT NULL UNIQUE,
      created_at BIGINT NOT NULL
    )`,
    'CREATE INDEX incoming_webhooks_room ON incoming_webhooks (room_id, created_at)',
    'CREATE INDEX incoming_webhooks_bot ON incoming_webhooks (bot_id)',
  ],
};
