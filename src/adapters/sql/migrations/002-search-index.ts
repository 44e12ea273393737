import type { Migration } from './index.js';

/**
 * A search index whose cost follows the page asked for, not the size of the history.
 *
 * SQLite: the FTS5 table is rebuilt with
 * - a `room` column holding the room id as one token (its UTF-8 bytes in hex), so a search in
 *   one room is narrowed by FTS5 itself and a quiet room of a busy server stays cheap;
 * - prefix indexes for 1 to 3 characters, so a short prefix (`a*`) reads one list instead of
 *   merging the lists of every word that starts with it;
 * - detail=column (no word positions: only word-prefix matches are ever asked) and no stored
 *   content (contentless, with deletes by rowid), which keeps the index small;
 * - rows only for live messages (a deleted message's search_text is empty).
 * The index is filled from the messages table, so existing databases are searchable at once.
 *
 * PostgreSQL: an index on messages by time, so the newest matches can be walked in order and
 * the walk stops at the search's candidate cap instead of reading every match.
 */
export const searchIndex: Migration = {
  version: 2,
  name: 'search-index',
  sqlite: [
    'DROP TRIGGER IF EXISTS messages_fts_insert',
    'DROP TRIGGER IF EXISTS messages_fts_update',
    'DROP TRIGGER IF EXISTS messages_fts_delete',
    'DROP TABLE IF EXISTS messages_fts',
    `CREATE VIRTUAL TABLE messages_fts USING fts5 (
      search_text, room,
      content = '', contentless_delete = 1, detail = column, prefix = '1 2 3',
      tokenize = 'unicode61 remove_diacritics 2'
    )`,
    `INSERT INTO messages_fts (rowid, search_text, room)
      SELECT pk, search_text, hex(room_id) FROM messages WHERE search_text <> ''`,
    `CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.search_text <> '' BEGIN
      INSERT INTO messages_fts (rowid, search_text, room) VALUES (new.pk, new.search_text, hex(new.room_id));
    END`,
    `CREATE TRIGGER messages_fts_update AFTER UPDATE OF search_text, room_id ON messages BEGIN
      DELETE FROM messages_fts WHERE rowid = old.pk AND old.search_text <> '';
      INSERT INTO messages_fts (rowid, search_text, room) SELECT new.pk, new.search_text, hex(new.room_id) WHERE new.search_text <> '';
    END`,
    `CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.search_text <> '' BEGIN
      DELETE FROM messages_fts WHERE rowid = old.pk;
    END`,
  ],
  postgres: ['CREATE INDEX messages_created_at ON messages (created_at DESC, room_id, seq DESC)'],
};
