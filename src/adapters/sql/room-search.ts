/**
 * Public rooms by name (Store.listPublicRooms), with work that follows the result rather than
 * the number of rooms; the indexes are migration 4's.
 *
 * - No query: the first page of rooms_public_name, in name order.
 * - A query of TRIGRAM_MIN characters or more: the rooms whose lower-cased name contains it
 *   (a substring, as always). The matches are first counted through the dialect's trigram
 *   index, up to CANDIDATES_PER_RESULT × `limit` + 1. At most that many: they are read, filtered
 *   exactly by LIKE and sorted (the cost of the rooms that match). More (a word most names
 *   hold): the first CANDIDATES_PER_RESULT × `limit` rooms in name order are read and filtered,
 *   and a full page there is the answer; only when the matches lie further on in name order are
 *   they all read and sorted (then the cost is again that of the matches).
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

/** Matches counted per result asked before walking the name index instead of sorting the matches. */
export const CANDIDATES_PER_RESULT = 20;

/** `s` matched literally inside a LIKE pattern with ESCAPE '\\'. */
export const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

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
    const pattern = `%${escapeLike(needle)}%`;
    const contains = sql<boolean>`lower(name) LIKE ${pattern} ESCAPE '\\'`;
    const cap = CANDIDATES_PER_RESULT * limit;
    const counted = await sql<{ n: number }>`SELECT count(*) AS n FROM (${dialect.roomNameCandidateRows(needle)} LIMIT ${cap + 1}) c`.execute(db);
    if (Number(counted.rows[0]?.n ?? 0) > cap) {
      // Many matches: the first `cap` rooms in name order (a LIMIT on the bare walk, which every
      // planner takes from the name index), filtered. The matches among them are the first of
      // all, in order: a full page there is the answer.
      const first = await db
        .selectFrom(rooms.orderBy(sql`lower(name)`).orderBy('id').limit(cap).as('w'))
        .selectAll()
        .where(contains)
        .orderBy(sql`lower(name)`)
        .orderBy('id')
        .limit(limit)
        .execute();
      if (first.length >= limit) return first.map(toRoom);
    }
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
