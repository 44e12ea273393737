import type { Migration } from './index.js';

/**
 * Server administration (an expand step: nodes of the previous release run on it).
 *
 * - `users.disabled_at`: when a server administrator disabled the account; null while it may
 *   log in. A disabled account keeps its rows (its messages still name it) and has no sessions.
 * - `users.deleted_at`: when the account was deleted. Its row stays, erased: the username is
 *   freed (replaced by `deleted-…`), the profile, password and sessions are gone, and it stays
 *   disabled for ever. Its messages stay in their rooms, shown as a deleted user's.
 * - `server_audit`: every server administrator's action (user created, disabled, enabled,
 *   deleted, password reset, sessions revoked, role granted or revoked, room archived or opened,
 *   dead jobs retried or purged), newest first by `id`. `actor_id` is null for an action taken at
 *   the console (`parley admin`, which records `via`). It lives on the primary with the accounts;
 *   `room_id` names a room that may live on a shard, so it has no foreign key.
 */
export const administration: Migration = {
  version: 19,
  name: 'administration',
  sqlite: [
    'ALTER TABLE users ADD COLUMN disabled_at INTEGER',
    'ALTER TABLE users ADD COLUMN deleted_at INTEGER',
    `CREATE TABLE server_audit (
      id INTEGER PRIMARY KEY,
      at INTEGER NOT NULL,
      action TEXT NOT NULL,
      actor_id TEXT REFERENCES users (id),
      via TEXT NOT NULL CHECK (via IN ('api', 'console')),
      user_id TEXT REFERENCES users (id),
      room_id TEXT,
      data TEXT
    )`,
  ],
  postgres: [
    'ALTER TABLE users ADD COLUMN disabled_at BIGINT',
    'ALTER TABLE users ADD COLUMN deleted_at BIGINT',
    `CREATE TABLE server_audit (
      id BIGSERIAL PRIMARY KEY,
      at BIGINT NOT NULL,
      action TEXT NOT NULL,
      actor_id TEXT REFERENCES users (id),
      via TEXT NOT NULL CHECK (via IN ('api', 'console')),
      user_id TEXT REFERENCES users (id),
      room_id TEXT,
      data TEXT
    )`,
  ],
};
