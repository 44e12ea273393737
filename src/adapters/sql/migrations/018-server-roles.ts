import type { Migration } from './index.js';

/**
 * `server_roles`: who administers the server (as opposed to a room's roles, in members). One
 * row per user who holds a server role; `admin` is the only one. It lives on the primary with
 * the accounts, and every check reads it there, so a revocation holds at once on every node.
 */
export const serverRoles: Migration = {
  version: 18,
  name: 'server-roles',
  sqlite: [
    `CREATE TABLE server_roles (
      user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      role TEXT NOT NULL CHECK (role IN ('admin')),
      granted_at INTEGER NOT NULL
    )`,
  ],
  postgres: [
    `CREATE TABLE server_roles (
      user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
      role TEXT NOT NULL CHECK (role IN ('admin')),
      granted_at BIGINT NOT NULL
    )`,
  ],
};
