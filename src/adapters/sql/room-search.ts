/**
 * Public rooms by name (Store.listPublicRooms), with work that follows the result rather than
 * the number of rooms; the indexes are migration 4's.
 *
 * - No query: the first page of rooms_public_name, in name order.
 * - A query of TRIGRAM_MIN characters or more: the rooms whose lower-cased name contains it
 *   (a substring, as always), narrowed by the dialect's trigram index, then filtered exactly by
 *   LIKE and sorted: the cost is that of the rooms that match.
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
    query = rooms
      .where(dialect.roomNameCandidates(needle))
      .where(sql<boolean>`lower(name) LIKE ${`%${escapeLike(needle)}%`} ESCAPE '\\'`)
      .orderBy(sql`lower(name)`)
      .orderBy('id');
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
