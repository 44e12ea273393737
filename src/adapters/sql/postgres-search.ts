/**
 * Full-text search on PostgreSQL with the bounds of Store.search: the candidates are the newest
 * matches (every room's, or one room's), at most maxCandidates of them, kept when the caller is
 * a member; the statements run under a statement_timeout of the time left to the deadline.
 *
 * The GIN index finds matches but cannot give them newest first: taking the newest N matches
 * from it means reading every match and sorting (measured: 375 ms for `a` on 150,000 messages),
 * while walking the index on time (or the room's primary key) and testing each message costs
 * what it reads, cheap for a frequent word and the whole table for a word that is nowhere
 * (224 ms for `zzz`). PostgreSQL's planner chooses between the two from its estimate of how
 * often a prefix occurs, which it does not know (it assumed 0.5% for a prefix that matches
 * nothing and walked the whole table). So the store looks first:
 * 1. the newest WINDOW messages are walked, streaming: a caller who finds a full page there
 *    (a member searching a common word) is answered from it, in about a millisecond;
 * 2. otherwise the same window says how often the query matches, and the candidate query is
 *    run with the plan that this frequency makes cheaper: the time walk (bitmap scans off) for
 *    a common word, the GIN index for a rare one.
 *
 * A caller in few rooms (the usual case on a big server: 50 rooms of 10,000) is searched in
 * those rooms only, since the newest matches of the whole server are then nearly all in other
 * rooms (measured at 1,000,000 messages: 490 ms for `deploy`, with 15% of the answers
 * truncated). See searchScoped.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { unavailable } from '../../errors.js';
import type { SearchQuery } from '../../ports.js';
import type { MessageRow } from './mappers.js';
import type { Database } from './schema.js';
import { SCOPED_ROOMS_MAX } from './search-scope.js';

/** Newest messages looked at before choosing a plan (about 5 ms of work). */
const WINDOW = 1_000;
/** PostgreSQL's code for a statement cancelled by statement_timeout. */
const QUERY_CANCELED = '57014';

const MESSAGE_COLUMNS = sql`m.room_id, m.seq, m.id, m.author_id, m.body, m.created_at, m.edited_at, m.deleted, m.client_msg_id, m.attachments, m.thread_root, m.reply_count, m.last_reply_at,
  u.username AS author_username, u.display_name AS author_display_name, u.bot_owner_id AS author_bot_owner_id`;

/** Newest messages of each room walked by searchScoped's first step. */
const ROOM_WINDOW = 1_000;
/** Most messages searchScoped's first step may walk in all; a caller past it is searched as one in many rooms. */
const SCOPED_WALK_MAX = 50_000;

/** Planner settings (for the rest of the transaction) that leave only ordered index walks and nested loops. */
const walkOnly = (on: boolean): RawBuilder<unknown> => {
  const value = on ? 'off' : 'on';
  return sql`set_config('enable_bitmapscan', ${value}, true), set_config('enable_hashjoin', ${value}, true),
    set_config('enable_mergejoin', ${value}, true), set_config('enable_sort', ${value}, true)`;
};

/** Each term a quoted lexeme with prefix matching, passed as a parameter. */
const toTsquery = (terms: string[]): string => terms.map((t) => `'${t.replace(/\\/g, '\\\\').replace(/'/g, "''")}':*`).join(' & ');

export async function searchPostgres(db: Kysely<Database>, query: SearchQuery, statementTimeoutMs: number): Promise<{ rows: MessageRow[]; truncated: boolean }> {
  const match = sql`m.search_vector @@ to_tsquery('simple', ${toTsquery(query.terms)})`;
  const inRoom = query.roomId === undefined ? sql`TRUE` : sql`m.room_id = ${query.roomId}`;
  // Within one room its primary key gives the order (seq is commit order); across rooms, time.
  const order = (t: string): RawBuilder<unknown> =>
    query.roomId === undefined ? sql`${sql.ref(`${t}.created_at`)} DESC, ${sql.ref(`${t}.room_id`)}, ${sql.ref(`${t}.seq`)} DESC` : sql`${sql.ref(`${t}.seq`)} DESC`;
  // The window is not larger than the cap: a page found in it examined no more than the cap.
  const window = Math.min(WINDOW, query.maxCandidates);
  // Each statement may take what is left before the deadline, so the three together do too.
  const left = (): string => String(Math.max(1, Math.min(statementTimeoutMs, query.deadlineAt - Date.now())));
  try {
    // One snapshot for every statement (REPEATABLE READ, which standbys allow): a room's size
    // read first is the size walked, and a message found is still there when its row is read.
    return await db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
      if (query.roomId === undefined) {
        await sql`SELECT set_config('statement_timeout', ${left()}, true), set_config('jit', 'off', true)`.execute(trx);
        const scoped = await searchScoped(trx, query, match, left);
        if (scoped !== null) return scoped;
      }
      // SET LOCAL with a parameter: set_config(..., true) lasts until the transaction ends.
      // Steps 1 and 2 read the newest messages by walking an index in its order, streaming;
      // without fresh statistics (a table just loaded) the planner would rather read a whole
      // room and sort it, so the other ways are turned off for them.
      // No JIT: turning plan types off makes their cost astronomical, which would start a JIT
      // compilation (measured: half a second) for a query that reads a few thousand rows.
      await sql`SELECT set_config('statement_timeout', ${left()}, true), set_config('jit', 'off', true), ${walkOnly(true)}`.execute(trx);

      // 1. The hits among the newest messages, streaming: it stops at the page.
      const recent = await sql<MessageRow>`
        SELECT ${MESSAGE_COLUMNS}
        FROM (SELECT m.room_id, m.seq, m.created_at FROM messages m WHERE ${inRoom} ORDER BY ${order('m')} LIMIT ${window}) w
        JOIN members mb ON mb.room_id = w.room_id AND mb.user_id = ${query.userId}
        JOIN messages m ON m.room_id = w.room_id AND m.seq = w.seq
        JOIN users u ON u.id = m.author_id
        WHERE ${match} AND m.deleted = 0
        ORDER BY ${order('w')}
        LIMIT ${query.limit}`.execute(trx);
      if (recent.rows.length >= query.limit) return { rows: recent.rows, truncated: false };

      await sql`SELECT set_config('statement_timeout', ${left()}, true)`.execute(trx);
      // 2. How often the query matches there, and how much there is to search: the table's
      // pages now times its rows per page at the last ANALYZE, as the planner estimates it (a
      // table never analysed, such as one just loaded, counts as 30 rows a page).
      const probe = await sql<{ scanned: number; matched: number; total: number }>`
        SELECT count(*) AS scanned, count(*) FILTER (WHERE ${match}) AS matched,
               (SELECT pg_relation_size(c.oid) / current_setting('block_size')::float8
                       * CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN c.reltuples / c.relpages ELSE 30 END
                FROM pg_class c WHERE c.oid = 'messages'::regclass) AS total
        FROM (SELECT m.search_vector FROM messages m WHERE ${inRoom} ORDER BY ${order('m')} LIMIT ${window}) m`.execute(trx);
      const { scanned, matched, total } = probe.rows[0] ?? { scanned: 0, matched: 0, total: 0 };
      // Fewer messages than the window: every match was seen, and every hit found.
      if (Number(scanned) < window) return { rows: recent.rows, truncated: false };
      const density = Number(matched) / window;
      // The time walk reads about (cap / density) messages; the GIN index reads every match.
      const walk = density > 0 && (query.maxCandidates + 1) / density <= density * Math.max(Number(total), window);
      // The walk: only the ordered index scan is left (no bitmap, no full scan and sort). The
      // GIN index: every way is open again, and the planner takes the bitmap.
      await sql`SELECT ${walkOnly(walk)}, set_config('enable_seqscan', ${walk ? 'off' : 'on'}, true), set_config('statement_timeout', ${left()}, true)`.execute(trx);
      // With the GIN index, the sort key is hidden from the time index, which is then not walked.
      const candidateOrder = walk ? order('m') : query.roomId === undefined ? sql`m.created_at + 0 DESC, m.room_id, m.seq DESC` : sql`m.seq + 0 DESC`;

      // 3. The newest cap + 1 matches, the hits among the first cap of them. One row at least
      // (the LEFT JOIN from a single row): the count comes back when no candidate is a hit.
      const result = await sql<MessageRow & { examined: number }>`
        WITH c AS MATERIALIZED (
          SELECT m.room_id, m.seq, m.created_at, row_number() OVER (ORDER BY ${order('m')}) AS rank
          FROM (SELECT m.room_id, m.seq, m.created_at FROM messages m WHERE ${match} AND ${inRoom} ORDER BY ${candidateOrder} LIMIT ${query.maxCandidates + 1}) m
        )
        SELECT (SELECT count(*) FROM c) AS examined, h.*
        FROM (SELECT 1) AS one
        LEFT JOIN LATERAL (
          SELECT ${MESSAGE_COLUMNS}, c.rank
          FROM c
          JOIN members mb ON mb.room_id = c.room_id AND mb.user_id = ${query.userId}
          JOIN messages m ON m.room_id = c.room_id AND m.seq = c.seq
          JOIN users u ON u.id = m.author_id
          WHERE c.rank <= ${query.maxCandidates} AND m.deleted = 0
          ORDER BY c.rank
          LIMIT ${query.limit}
        ) h ON true
        ORDER BY h.rank`.execute(trx);
      const examined = Number(result.rows[0]?.examined ?? 0);
      const rows = result.rows.filter((r) => r.room_id !== null);
      // More candidates than the cap: the walk stopped there, and with fewer hits than the
      // limit, more may lie beyond it.
      return { rows, truncated: rows.length < query.limit && examined > query.maxCandidates };
    });
  } catch (error) {
    if ((error as { code?: unknown } | null)?.code === QUERY_CANCELED) throw unavailable('The search took too long; retry, or narrow it to a room.');
    throw error;
  }
}

/**
 * Whether walking `rest` messages of a caller's rooms costs less than asking the GIN index.
 * A prefix term (every term is one) is a partial match in the GIN index, which reads the posting
 * list of every word with that prefix whole, without skipping: measured at 1,000,000 messages,
 * `release:* & server:*` 36 ms (two lists of 51,000), `release & server` 3.8 ms. So the index
 * costs about what its terms' lists hold together, estimated from their frequency among the
 * newest messages, and a walk what it reads, at about eight list entries per message walked
 * (the heap row and its tsvector against a compressed list entry).
 */
async function walkCheaper(trx: Kysely<Database>, query: SearchQuery, rest: number): Promise<boolean> {
  const counts = query.terms.map((t, i) => sql`count(*) FILTER (WHERE m.search_vector @@ to_tsquery('simple', ${toTsquery([t])})) AS ${sql.ref(`t${i}`)}`);
  const probe = await sql<Record<string, number>>`
    SELECT count(*) AS scanned, ${sql.join(counts)},
           (SELECT pg_relation_size(c.oid) / current_setting('block_size')::float8
                   * CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN c.reltuples / c.relpages ELSE 30 END
            FROM pg_class c WHERE c.oid = 'messages'::regclass) AS total
    FROM (SELECT m.search_vector FROM messages m ORDER BY m.created_at DESC, m.room_id, m.seq DESC LIMIT ${WINDOW}) m`.execute(trx);
  const row = probe.rows[0];
  const scanned = Number(row?.scanned ?? 0);
  if (row === undefined || scanned === 0) return true;
  const listed = query.terms.reduce((n, _, i) => n + Number(row[`t${i}`] ?? 0) / scanned, 0) * Number(row.total);
  return rest * WALK_COST_PER_ENTRY <= listed;
}

/** Compressed GIN list entries read in the time of one message walked (see walkCheaper). */
const WALK_COST_PER_ENTRY = 8;

interface Key {
  room_id: string;
  seq: number;
  created_at: number;
}

/** Newest first across rooms: time, then room, then seq (the order of the unscoped search). */
const newestFirst = (a: Key, b: Key): number => Number(b.created_at) - Number(a.created_at) || (a.room_id < b.room_id ? -1 : a.room_id > b.room_id ? 1 : 0) || Number(b.seq) - Number(a.seq);

/**
 * The search of a caller in few rooms, in those rooms only; null when the caller is in too many
 * (or too busy) rooms for it, and the search of the whole server is cheaper.
 * 1. Each room's newest ROOM_WINDOW messages are walked on its primary key, newest first, and
 *    its newest `limit` hits among them taken. A room with `limit` hits there, or no more
 *    messages than the window, is done: its newest hits are known.
 * 2. The other rooms (the query is rare in their newest messages) are walked whole, or asked
 *    through the GIN index, whichever reads less (walkCheaper).
 * The newest `limit` of all are the answer, read with the membership joined again. The
 * messages examined are bounded by SCOPED_WALK_MAX in each walk and, through the GIN index, by
 * maxCandidates: for a caller in few rooms the walks, not SEARCH_MAX_CANDIDATES, bound the work.
 */
async function searchScoped(trx: Kysely<Database>, query: SearchQuery, match: RawBuilder<unknown>, left: () => string): Promise<{ rows: MessageRow[]; truncated: boolean } | null> {
  const mine = await sql<{ room_id: string; last_seq: number }>`
    SELECT mb.room_id, r.last_seq FROM members mb JOIN rooms r ON r.id = mb.room_id
    WHERE mb.user_id = ${query.userId} LIMIT ${SCOPED_ROOMS_MAX + 1}`.execute(trx);
  const rooms = mine.rows;
  if (rooms.length === 0) return { rows: [], truncated: false };
  if (rooms.length > SCOPED_ROOMS_MAX) return null;
  if (rooms.reduce((n, r) => n + Math.min(Number(r.last_seq), ROOM_WINDOW), 0) > SCOPED_WALK_MAX) return null;
  const ids = rooms.map((r) => r.room_id);
  await sql`SELECT ${walkOnly(true)}, set_config('statement_timeout', ${left()}, true)`.execute(trx);
  const walked = await sql<Key>`
    SELECT r.room_id, h.seq, h.created_at
    FROM unnest(${ids}::text[]) AS r (room_id)
    CROSS JOIN LATERAL (
      SELECT m.seq, m.created_at
      FROM (SELECT m.seq, m.created_at, m.deleted, m.search_vector FROM messages m WHERE m.room_id = r.room_id ORDER BY m.seq DESC LIMIT ${ROOM_WINDOW}) m
      WHERE ${match} AND m.deleted = 0
      ORDER BY m.seq DESC
      LIMIT ${query.limit}
    ) h`.execute(trx);
  const hitsIn = new Map<string, number>();
  for (const k of walked.rows) hitsIn.set(k.room_id, (hitsIn.get(k.room_id) ?? 0) + 1);
  const open = rooms.filter((r) => (hitsIn.get(r.room_id) ?? 0) < query.limit && Number(r.last_seq) > ROOM_WINDOW).map((r) => r.room_id);
  const openSet = new Set(open);
  const keys = walked.rows.filter((k) => !openSet.has(k.room_id));
  let truncated = false;
  if (open.length > 0) {
    const rest = rooms.filter((r) => openSet.has(r.room_id)).reduce((n, r) => n + Number(r.last_seq), 0);
    await sql`SELECT set_config('statement_timeout', ${left()}, true)`.execute(trx);
    if (rest <= SCOPED_WALK_MAX && (await walkCheaper(trx, query, rest))) {
      // The open rooms walked whole: their newest hits, exactly.
      await sql`SELECT set_config('statement_timeout', ${left()}, true)`.execute(trx);
      const more = await sql<Key>`
        SELECT r.room_id, h.seq, h.created_at
        FROM unnest(${open}::text[]) AS r (room_id)
        CROSS JOIN LATERAL (
          SELECT m.seq, m.created_at FROM messages m
          WHERE m.room_id = r.room_id AND ${match} AND m.deleted = 0
          ORDER BY m.seq DESC
          LIMIT ${query.limit}
        ) h`.execute(trx);
      keys.push(...more.rows);
    } else {
      await sql`SELECT ${walkOnly(false)}, set_config('statement_timeout', ${left()}, true)`.execute(trx);
      const rare = await sql<Key>`
        SELECT m.room_id, m.seq, m.created_at FROM messages m
        WHERE ${match} AND m.room_id = ANY(${open}::text[]) AND m.deleted = 0
        ORDER BY m.created_at + 0 DESC, m.room_id COLLATE "C", m.seq DESC
        LIMIT ${query.maxCandidates + 1}`.execute(trx);
      truncated = rare.rows.length > query.maxCandidates;
      keys.push(...rare.rows.slice(0, query.maxCandidates));
    }
  }
  const page = keys.sort(newestFirst).slice(0, query.limit);
  // A full page is exact when the cap is at least the page: `limit` kept matches are newer
  // than any beyond the cap.
  truncated &&= !(page.length >= query.limit && query.maxCandidates >= query.limit);
  if (page.length === 0) return { rows: [], truncated };
  await sql`SELECT set_config('statement_timeout', ${left()}, true)`.execute(trx);
  const found = await sql<MessageRow>`
    SELECT ${MESSAGE_COLUMNS}
    FROM unnest(${page.map((k) => k.room_id)}::text[], ${page.map((k) => Number(k.seq))}::bigint[]) AS k (room_id, seq)
    JOIN members mb ON mb.room_id = k.room_id AND mb.user_id = ${query.userId}
    JOIN messages m ON m.room_id = k.room_id AND m.seq = k.seq
    JOIN users u ON u.id = m.author_id
    WHERE m.deleted = 0`.execute(trx);
  return { rows: found.rows.sort(newestFirst), truncated };
}
