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
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { unavailable } from '../../errors.js';
import type { SearchQuery } from '../../ports.js';
import type { MessageRow } from './mappers.js';
import type { Database } from './schema.js';

/** Newest messages looked at before choosing a plan (about 5 ms of work). */
const WINDOW = 1_000;
/** PostgreSQL's code for a statement cancelled by statement_timeout. */
const QUERY_CANCELED = '57014';

const MESSAGE_COLUMNS = sql`m.room_id, m.seq, m.id, m.author_id, m.body, m.created_at, m.edited_at, m.deleted, m.client_msg_id, m.attachments, m.thread_root, m.reply_count, m.last_reply_at,
  u.username AS author_username, u.display_name AS author_display_name, u.bot_owner_id AS author_bot_owner_id`;

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
    return await db.transaction().execute(async (trx) => {
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
