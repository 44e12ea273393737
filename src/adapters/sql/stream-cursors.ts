/**
 * The SQL of the event pipeline's per-room cursors and of the search index it writes, for
 * SqlStore (both dialects). A cursor row lives beside its room's events (on its shard).
 */
import { type Kysely, sql } from 'kysely';
import type { SearchIndexEntry } from '../../domain/types.js';
import type { SqlDialect } from './dialect.js';
import { keepMax } from './notifications.js';
import type { Database } from './schema.js';

export async function streamCursor(db: Kysely<Database>, roomId: string, consumer: string): Promise<number> {
  const row = await db.selectFrom('stream_cursors').select('cursor_seq').where('room_id', '=', roomId).where('consumer', '=', consumer).executeTakeFirst();
  return row === undefined ? 0 : Number(row.cursor_seq);
}

export async function advanceStreamCursor(db: Kysely<Database>, roomId: string, consumer: string, seq: number): Promise<void> {
  await db
    .insertInto('stream_cursors')
    .values({ room_id: roomId, consumer, cursor_seq: seq })
    .onConflict((oc) => oc.columns(['room_id', 'consumer']).doUpdateSet({ cursor_seq: keepMax('stream_cursors', 'cursor_seq') }))
    .execute();
}

/**
 * Rooms whose stream has events after the consumer's cursor, furthest behind first. One read of
 * every room's (id, last_seq) per sweep: the price of finding the rooms whose run was lost with
 * its process (as roomsBehindNotifier).
 */
export async function roomsBehindCursor(db: Kysely<Database>, consumer: string, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('rooms as r')
    .leftJoin('stream_cursors as c', (join) => join.onRef('c.room_id', '=', 'r.id').on('c.consumer', '=', consumer))
    .select('r.id')
    .where(sql<boolean>`r.last_seq > coalesce(c.cursor_seq, 0)`)
    .orderBy(sql`r.last_seq - coalesce(c.cursor_seq, 0)`, 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

/**
 * Writes each entry's text on its message, unless the message holds the text of a later event
 * already or was deleted, and moves the room's search cursor: one transaction, so the cursor
 * never passes what is written.
 */
export async function applySearchIndex(db: Kysely<Database>, dialect: SqlDialect, roomId: string, entries: SearchIndexEntry[], throughSeq: number): Promise<void> {
  // One text per message: the latest event's (the others would be skipped by the guard anyway).
  const latest = new Map<number, SearchIndexEntry>();
  for (const e of entries) if ((latest.get(e.messageSeq)?.eventSeq ?? -1) < e.eventSeq) latest.set(e.messageSeq, e);
  const rows = [...latest.values()];
  const chunk = Math.max(1, Math.floor(dialect.maxParameters / 3) - 1);
  await dialect.write(db, async (trx) => {
    for (let i = 0; i < rows.length; i += chunk) {
      const part = rows.slice(i, i + chunk);
      // One statement per chunk (UPDATE … FROM a VALUES list, in both dialects).
      const values = sql.join(part.map((e) => (dialect.name === 'postgres' ? sql`(${e.messageSeq}::bigint, ${e.eventSeq}::bigint, ${e.text}::text)` : sql`(${e.messageSeq}, ${e.eventSeq}, ${e.text})`)));
      await sql`
        UPDATE messages SET search_text = v.text, search_seq = v.event_seq
        FROM (${dialect.name === 'postgres' ? sql`VALUES ${values}` : sql`SELECT column1 AS seq, column2 AS event_seq, column3 AS text FROM (VALUES ${values})`}) AS v${dialect.name === 'postgres' ? sql` (seq, event_seq, text)` : sql``}
        WHERE messages.room_id = ${roomId} AND messages.seq = v.seq AND messages.search_seq < v.event_seq AND messages.deleted = 0`.execute(trx);
    }
    await advanceStreamCursor(trx, roomId, 'search', throughSeq);
  });
}

/**
 * Events of the user's rooms (or of `roomId` alone) that the search indexer has not taken yet:
 * what a search cannot find so far.
 */
export async function searchPending(db: Kysely<Database>, userId: string, roomId: string | undefined): Promise<number> {
  const row = await db
    .selectFrom('members as m')
    .innerJoin('rooms as r', 'r.id', 'm.room_id')
    .leftJoin('stream_cursors as c', (join) => join.onRef('c.room_id', '=', 'r.id').on('c.consumer', '=', 'search'))
    .select(sql<number>`coalesce(sum(CASE WHEN r.last_seq > coalesce(c.cursor_seq, 0) THEN r.last_seq - coalesce(c.cursor_seq, 0) ELSE 0 END), 0)`.as('pending'))
    .where('m.user_id', '=', userId)
    .$if(roomId !== undefined, (q) => q.where('m.room_id', '=', roomId as string))
    .executeTakeFirst();
  return Number(row?.pending ?? 0);
}
