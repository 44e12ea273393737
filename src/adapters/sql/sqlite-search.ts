/**
 * Full-text search on SQLite with its work bounded inside the statement.
 *
 * The plan is fixed (CROSS JOIN keeps SQLite from reordering it): the FTS5 index is walked
 * newest first (by rowid, descending: FTS5 serves that order itself, so there is no sort), and
 * each match is joined to its message, to the caller's membership of its room (a primary-key
 * lookup) and to its author, until `limit` hits. The MATCH is evaluated once, as the walk;
 * never once per message. With a room, the room's token (its id in hex, indexed in the FTS
 * table's own `room` column) is part of the MATCH, so FTS5 itself skips the other rooms.
 * Without one, a caller in at most SCOPED_ROOMS_MAX rooms has their rooms' tokens in the MATCH
 * (`room : (a OR b ...)`): on a big server nearly all of the newest matches are in other rooms,
 * and walking them found a page only after thousands of candidates, often none within the cap
 * (measured at 1,000,000 messages over 10,000 rooms, a caller in 50: 25 ms for `deploy`, a
 * quarter of the answers truncated; in the caller's rooms: under 10 ms, none truncated).
 *
 * better-sqlite3 has no sqlite3_interrupt, so the statement calls back into JavaScript once per
 * match (`parley_search_step`): the callback counts the matches examined, and stops the
 * statement by throwing when the cap is passed (the rows already read are the answer, marked
 * truncated), when the deadline has passed, or when the cancel flag (shared memory that another
 * thread may change at any time) moved since the search began.
 */
import type Sqlite from 'better-sqlite3';
import { unavailable } from '../../errors.js';
import type { SearchQuery } from '../../ports.js';
import type { MessageRow } from './mappers.js';
import { SCOPED_ROOMS_MAX } from './search-scope.js';

const SEARCH_SQL = `
  SELECT m.room_id, m.seq, m.id, m.author_id, m.body, m.created_at, m.edited_at, m.deleted, m.client_msg_id, m.attachments, m.thread_root, m.reply_count, m.last_reply_at,
         u.username AS author_username, u.display_name AS author_display_name, u.bot_owner_id AS author_bot_owner_id
  FROM messages_fts AS f
  CROSS JOIN messages AS m ON m.pk = f.rowid
  CROSS JOIN members AS mb ON mb.room_id = m.room_id AND mb.user_id = ?
  CROSS JOIN users AS u ON u.id = m.author_id
  WHERE messages_fts MATCH ? AND parley_search_step(f.rowid) AND m.deleted = 0 AND (? IS NULL OR m.room_id = ?)
  ORDER BY f.rowid DESC
  LIMIT ?`;

/** Why the step function stopped the statement. Thrown through SQLite and caught in run(). */
class Stop extends Error {
  constructor(readonly reason: 'cap' | 'deadline' | 'cancelled') {
    super(`search stopped: ${reason}`);
  }
}

interface Budget {
  examined: number;
  maxCandidates: number;
  deadlineAt: number;
  /** The cancel flag's value when the search began. */
  generation: number;
}

/**
 * The FTS5 query: every term a quoted prefix in the text column, and the rooms (one, or the
 * caller's) as tokens of the room column; no FTS5 syntax can come from a user.
 */
export function ftsQuery(terms: string[], rooms: string[] | null): string {
  const words = terms.map((t) => `search_text : "${t.replace(/"/g, '""')}"*`);
  if (rooms !== null) words.push(`room : (${rooms.map((r) => `"${roomToken(r)}"`).join(' OR ')})`);
  return words.join(' AND ');
}

/** A room id as one FTS5 token: its UTF-8 bytes in hex (ids may hold '-' and '_', which split words). */
export const roomToken = (roomId: string): string => Buffer.from(roomId, 'utf8').toString('hex');

export class SqliteSearch {
  readonly #raw: Sqlite.Database;
  readonly #cancel: Int32Array;
  #statement: Sqlite.Statement | null = null;
  #memberRooms: Sqlite.Statement | null = null;
  #budget: Budget | null = null;

  /** `cancel`: a shared Int32Array whose first element another thread increments to stop the running search. */
  constructor(raw: Sqlite.Database, cancel: Int32Array) {
    this.#raw = raw;
    this.#cancel = cancel;
    // directOnly: no trigger or view in the file can call it.
    // It takes the rowid so that SQLite evaluates it per FTS row, before the joins.
    raw.function('parley_search_step', { deterministic: false, directOnly: true }, (_rowid: unknown) => this.#step());
  }

  #step(): number {
    const budget = this.#budget;
    if (budget === null) return 1;
    budget.examined += 1;
    if (budget.examined > budget.maxCandidates) throw new Stop('cap');
    if (Atomics.load(this.#cancel, 0) !== budget.generation) throw new Stop('cancelled');
    if (Date.now() > budget.deadlineAt) throw new Stop('deadline');
    return 1;
  }

  run(query: SearchQuery): { rows: MessageRow[]; truncated: boolean } {
    // Prepared on first use: the FTS table exists only once the store is migrated.
    this.#statement ??= this.#raw.prepare(SEARCH_SQL);
    this.#memberRooms ??= this.#raw.prepare('SELECT room_id FROM members WHERE user_id = ? LIMIT ?').pluck();
    const roomId = query.roomId ?? null;
    let rooms: string[] | null = roomId === null ? null : [roomId];
    if (rooms === null) {
      const mine = this.#memberRooms.all(query.userId, SCOPED_ROOMS_MAX + 1) as string[];
      if (mine.length === 0) return { rows: [], truncated: false };
      if (mine.length <= SCOPED_ROOMS_MAX) rooms = mine;
    }
    const rows: MessageRow[] = [];
    this.#budget = { examined: 0, maxCandidates: query.maxCandidates, deadlineAt: query.deadlineAt, generation: Atomics.load(this.#cancel, 0) };
    try {
      for (const row of this.#statement.iterate(query.userId, ftsQuery(query.terms, rooms), roomId, roomId, query.limit)) rows.push(row as MessageRow);
      return { rows, truncated: false };
    } catch (error) {
      if (!(error instanceof Stop)) throw error;
      if (error.reason === 'cap') return { rows, truncated: true };
      throw unavailable(error.reason === 'deadline' ? 'The search took too long; retry, or narrow it to a room.' : 'The search was cancelled; retry.');
    } finally {
      this.#budget = null;
    }
  }
}
