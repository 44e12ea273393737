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
 * already, was deleted, or the event is at or below the room's `search_floor` (indexed before the
 * pipeline existed); and moves the room's search cursor to `throughSeq` if it stands at
 * `afterSeq` or beyond (the events taken run on from it: the cursor never passes an event
 * nobody indexed). One transaction.
 */
export async function applySearchIndex(db: Kysely<Database>, dialect: SqlDialect, roomId: string, entries: SearchIndexEntry[], afterSeq: number, throughSeq: number): Promise<void> {
  // One text per message: the latest event's (the others would be skipped by the guard anyway).
  const latest = new Map<number, SearchIndexEntry>();
  for (const e of entries) if ((latest.get(e.messageSeq)?.eventSeq ?? -1) < e.eventSeq) latest.set(e.messageSeq, e);
  const rows = [...latest.values()].sort((a, b) => a.messageSeq - b.messageSeq);
  await dialect.write(db, async (trx) => {
    const floor = await streamCursor(trx, roomId, 'search_floor');
    // One statement per message, each by the primary key (a joined VALUES list made PostgreSQL
    // plan a walk of the room's messages).
    for (const e of rows) {
      if (e.eventSeq <= floor) continue;
      await trx
        .updateTable('messages')
        .set({ search_text: e.text, search_seq: e.eventSeq })
        .where('room_id', '=', roomId)
        .where('seq', '=', e.messageSeq)
        .where('search_seq', '<', e.eventSeq)
        .where('deleted', '=', 0)
        .execute();
    }
    if (throughSeq <= afterSeq) return;
    if (afterSeq <= 0) {
      await trx
        .insertInto('stream_cursors')
        .values({ room_id: roomId, consumer: 'search', cursor_seq: throughSeq })
        .onConflict((oc) => oc.columns(['room_id', 'consumer']).doUpdateSet({ cursor_seq: keepMax('stream_cursors', 'cursor_seq') }))
        .execute();
    } else {
      await trx
        .updateTable('stream_cursors')
        .set({ cursor_seq: throughSeq })
        .where('room_id', '=', roomId)
        .where('consumer', '=', 'search')
        .where('cursor_seq', '>=', afterSeq)
        .where('cursor_seq', '<', throughSeq)
        .execute();
    }
  });
}

/**
 * Events of the user's rooms (or of `roomId` alone) that the search indexer has not taken yet
 * (what a search cannot find so far), and the rooms they are in, furthest behind first.
 */
export async function searchPending(db: Kysely<Database>, userId: string, roomId: string | undefined): Promise<{ pending: number; rooms: string[] }> {
  const rows = await db
    .selectFrom('members as m')
    .innerJoin('rooms as r', 'r.id', 'm.room_id')
    .leftJoin('stream_cursors as c', (join) => join.onRef('c.room_id', '=', 'r.id').on('c.consumer', '=', 'search'))
    .select(['r.id', sql<number>`r.last_seq - coalesce(c.cursor_seq, 0)`.as('behind')])
    .where('m.user_id', '=', userId)
    .where(sql<boolean>`r.last_seq > coalesce(c.cursor_seq, 0)`)
    .$if(roomId !== undefined, (q) => q.where('m.room_id', '=', roomId as string))
    .execute();
  const behind = rows.map((r) => ({ id: r.id, behind: Number(r.behind) })).sort((a, b) => b.behind - a.behind);
  return { pending: behind.reduce((n, r) => n + r.behind, 0), rooms: behind.map((r) => r.id) };
}
