import type { Migration } from './index.js';

/**
 * The event pipeline (src/pipeline/):
 *
 * - `stream_cursors`: per room and consumer of its stream, the seq up to which that consumer
 *   has taken the room's events: `log` (the relay to the event log) and `search` (the search
 *   indexer). It lives beside the room's events, on the room's shard. Rooms that exist now are
 *   indexed already: `search` starts at their head, and `search_floor` records that head (the
 *   indexer writes nothing for events at or below it, which the relay may send again). The relay
 *   starts at 0, so a deployment that turns the event log on sends its whole history to it once.
 * - `messages.search_seq`: the seq of the stream event whose text `search_text` holds. The
 *   indexer writes a message's text only from a later event than the one it holds, so events
 *   taken twice or out of order never put an older text back.
 */
export const eventPipeline: Migration = {
  version: 17,
  name: 'event-pipeline',
  sqlite: [
    `CREATE TABLE stream_cursors (
      room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
      consumer TEXT NOT NULL,
      cursor_seq INTEGER NOT NULL,
      PRIMARY KEY (room_id, consumer)
    )`,
    `INSERT INTO stream_cursors (room_id, consumer, cursor_seq) SELECT id, 'search', last_seq FROM rooms`,
    `INSERT INTO stream_cursors (room_id, consumer, cursor_seq) SELECT id, 'search_floor', last_seq FROM rooms`,
    'ALTER TABLE messages ADD COLUMN search_seq INTEGER NOT NULL DEFAULT 0',
  ],
  postgres: [
    `CREATE TABLE stream_cursors (
      room_id TEXT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
      consumer TEXT NOT NULL,
      cursor_seq BIGINT NOT NULL,
      PRIMARY KEY (room_id, consumer)
    )`,
    `INSERT INTO stream_cursors (room_id, consumer, cursor_seq) SELECT id, 'search', last_seq FROM rooms`,
    `INSERT INTO stream_cursors (room_id, consumer, cursor_seq) SELECT id, 'search_floor', last_seq FROM rooms`,
    'ALTER TABLE messages ADD COLUMN search_seq BIGINT NOT NULL DEFAULT 0',
  ],
};
