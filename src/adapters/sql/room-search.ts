/**
 * Public rooms by name (Store.listPublicRooms), with work that follows the result rather than
 * the number of rooms; the indexes are migration 4's.
 *
 * - No query: the first page of rooms_public_name, in name order.
 * - A query of TRIGRAM_MIN characters or more: the rooms whose lower-cased name contains it
 *   (a substring, as always). First the first WALK_PER_RESULT × `limit` rooms in name order are
 *   read and filtered: a query most names match ("room" in a directory of "Room 1", "Room 2",
 *   …) has its page there, in order. Otherwise the rooms are narrowed by the dialect's trigram
 *   index, filtered exactly by LIKE and sorted: the cost is that of the rooms that match, which
 *   are then fewer than one in WALK_PER_RESULT of those read by the walk.
 * - A shorter query, which no trigram index can serve: the rooms whose lower-cased name starts
 *   with it, read as one range of an index in code-point order, in that order, up to `limit`.
 */
import { type Kysely, sql } from 'kysely';
import type { RoomRecord } from '../../domain/types.js';
import type { SqlDialect } from './dialect.js';
import { toRoom } from './mappers.js';
import type { Database } from './schema.js';

/** Characters (code points) a query needs for the trigram index; shorter ones match name prefixes. */
export const TRIGRAM_MIN = 3;

/** Rooms read in name order per result asked, before the trigram index is asked instead. */
export const WALK_PER_RESULT = 10;

const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The least string above every string starting with `prefix`, in code-point order (the last
 * code point incremented, surrogates skipped); null when there is none (it ends in U+10FFFF).
 */
export function prefixEnd(prefix: string): string | null {
  const points = [...prefix];
  const last = points.pop()?.codePointAt(0);
  if (last === undefined) return null;
  const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
  return next > 0x10ffff ? null : points.join('') + String.fromCodePoint(next);
}

export async function listPublicRooms(db: Kysely<Database>, dialect: SqlDialect, q: string | undefined, limit: number): Promise<RoomRecord[]> {
  const needle = (q ?? '').toLowerCase();
  const rooms = db.selectFrom('rooms').selectAll().where('visibility', '=', 'public');
  let query: typeof rooms;
  if (needle === '') {
    query = rooms.orderBy(sql`lower(name)`).orderBy('id');
  } else if ([...needle].length >= TRIGRAM_MIN) {
    const contains = sql<boolean>`lower(name) LIKE ${`%${escapeLike(needle)}%`} ESCAPE '\\'`;
    // The first rooms in name order: the page when most names match. The matches among them
    // are the first matches of all, in order, so a full page here is the answer.
    const first = await db
      .selectFrom(rooms.orderBy(sql`lower(name)`).orderBy('id').limit(WALK_PER_RESULT * limit).as('w'))
      .selectAll()
      .where(contains)
      .orderBy(sql`lower(name)`)
      .orderBy('id')
      .limit(limit)
      .execute();
    if (first.length >= limit) return first.map(toRoom);
    query = rooms.where(dialect.roomNameCandidates(needle)).where(contains).orderBy(sql`lower(name)`).orderBy('id');
  } else {
    const key = dialect.nameCodePointKey;
    const end = prefixEnd(needle);
    query = rooms
      .where(sql<boolean>`${key} >= ${needle}`)
      .$if(end !== null, (b) => b.where(sql<boolean>`${key} < ${end}`))
      .where(sql<boolean>`lower(name) LIKE ${`${escapeLike(needle)}%`} ESCAPE '\\'`)
      .orderBy(key)
      .orderBy('id');
  }
  return (await query.limit(limit).execute()).map(toRoom);
}
