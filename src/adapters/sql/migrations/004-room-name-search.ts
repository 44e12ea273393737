import type { Migration } from './index.js';

/**
 * Public room search (GET /rooms/public?q=) whose cost follows its result, not the number of
 * rooms (issue 10): `lower(name) LIKE '%q%'` alone reads every public room.
 *
 * - Queries of 3 characters or more keep their meaning (a case-insensitive substring of the
 *   name) and are narrowed by a trigram index first: on PostgreSQL a pg_trgm GIN index on
 *   lower(name), which serves the LIKE itself (pg_trgm is a trusted extension: the database
 *   owner may create it); on SQLite an FTS5 table with the trigram tokenizer, holding each
 *   public room's id and name, asked for the query as a phrase. The LIKE then filters exactly.
 *   The GIN index is written at each insert (fastupdate off): with a pending list, rooms
 *   created since the last vacuum made the planner cost the index high enough to read every
 *   room instead (seen here), and creating a room is rare enough to pay the write.
 *   Rooms are never renamed, made private or deleted by Parley, so the table only follows
 *   inserts (and a room row missing from it can never be listed: results join rooms).
 * - Queries of 1 or 2 characters, too short for trigrams, match the start of the name: one
 *   range of an index on lower(name) in code-point order (SQLite's BINARY, PostgreSQL's "C"
 *   collation), walked in that order, so only the page asked for is read.
 * - The list without a query, and an unselective query on PostgreSQL, walk rooms_public_name,
 *   rebuilt here with the id that breaks ties in the order.
 */
export const roomNameSearch: Migration = {
  version: 4,
  name: 'room-name-search',
  sqlite: [
    'DROP INDEX IF EXISTS rooms_public_name',
    `CREATE INDEX rooms_public_name ON rooms (lower(name), id) WHERE visibility = 'public'`,
    `CREATE VIRTUAL TABLE rooms_name_fts USING fts5 (room_id UNINDEXED, name, tokenize = 'trigram')`,
    `INSERT INTO rooms_name_fts (room_id, name) SELECT id, name FROM rooms WHERE visibility = 'public'`,
    `CREATE TRIGGER rooms_name_fts_insert AFTER INSERT ON rooms WHEN new.visibility = 'public' BEGIN
      INSERT INTO rooms_name_fts (room_id, name) VALUES (new.id, new.name);
    END`,
  ],
  postgres: [
    'CREATE EXTENSION IF NOT EXISTS pg_trgm',
    'DROP INDEX IF EXISTS rooms_public_name',
    `CREATE INDEX rooms_public_name ON rooms (lower(name), id) WHERE visibility = 'public'`,
    `CREATE INDEX rooms_public_name_trgm ON rooms USING GIN (lower(name) gin_trgm_ops) WITH (fastupdate = off) WHERE visibility = 'public'`,
    `CREATE INDEX rooms_public_name_prefix ON rooms ((lower(name) COLLATE "C"), id) WHERE visibility = 'public'`,
  ],
};
