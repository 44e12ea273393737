import type { Migration } from './index.js';

/**
 * People: profiles, user search and paged member lists.
 *
 * - `users.status_text`, `users.status_expires_at`: a user's status line and when it stops
 *   showing (null: until changed). An expired status stays stored; views leave it out.
 * - User search (GET /users?q=) matches username prefixes, then folded display-name prefixes,
 *   each as one range of an index walked in code-point order, so a page reads about the page.
 *   On SQLite the username's unique index and users_display_name_folded (migration 3) are in
 *   code-point order already (BINARY); PostgreSQL's are in the database's collation, where a
 *   prefix is not a range: indexes in the "C" collation serve it.
 * - Member lists are paged in join order: members_room_joined walks a room's members from a
 *   cursor, without sorting the room.
 */
export const people: Migration = {
  version: 14,
  name: 'people',
  sqlite: [
    'ALTER TABLE users ADD COLUMN status_text TEXT',
    'ALTER TABLE users ADD COLUMN status_expires_at INTEGER',
    'CREATE INDEX members_room_joined ON members (room_id, joined_at, user_id)',
  ],
  postgres: [
    'ALTER TABLE users ADD COLUMN status_text TEXT',
    'ALTER TABLE users ADD COLUMN status_expires_at BIGINT',
    'CREATE INDEX users_username_prefix ON users ((username COLLATE "C"))',
    'CREATE INDEX users_display_name_prefix ON users ((display_name_folded COLLATE "C"), id)',
    'CREATE INDEX members_room_joined ON members (room_id, joined_at, user_id)',
  ],
};
