import type { Migration } from './index.js';

/**
 * Room sharding (sharding.ts). Applied to every database; used on the primary:
 *
 * - `room_directory`: the shard of every room created while sharding is on (a room without a
 *   row is on the primary, where every room was before). `dm_key` keeps one DM room per pair
 *   across all shards. `moving_to`: the shard a move (shard-move.ts) is taking the room to;
 *   while set, every node holds the room's writes. `move_seq`: set from `room_moves` when a move
 *   ends, so a node that polls for moves sees every one that ended since its last poll.
 * - `rooms_id_code_points`: the retention sweep walks rooms by id in code-point order (SQLite's
 *   own order), the same on every database, so the shards' pages merge into one walk.
 */
export const shards: Migration = {
  version: 16,
  name: 'shards',
  sqlite: [
    `CREATE TABLE room_directory (
      room_id TEXT PRIMARY KEY,
      shard TEXT NOT NULL,
      dm_key TEXT UNIQUE,
      moving_to TEXT,
      move_seq INTEGER,
      created_at INTEGER NOT NULL
    )`,
  ],
  postgres: [
    'CREATE SEQUENCE room_moves',
    `CREATE TABLE room_directory (
      room_id TEXT PRIMARY KEY,
      shard TEXT NOT NULL,
      dm_key TEXT UNIQUE,
      moving_to TEXT,
      move_seq BIGINT,
      created_at BIGINT NOT NULL
    )`,
    'CREATE INDEX room_directory_shard ON room_directory (shard)',
    'CREATE INDEX room_directory_moving ON room_directory (moving_to) WHERE moving_to IS NOT NULL',
    'CREATE INDEX room_directory_moved ON room_directory (move_seq) WHERE move_seq IS NOT NULL',
    'CREATE INDEX rooms_id_code_points ON rooms ((id COLLATE "C"))',
  ],
};
