/**
 * Seeding for the growth bench: rows written straight into the schema of
 * src/adapters/sql/migrations (a transaction per batch of multi-row INSERTs), before the server
 * starts, so a running server only ever sees a consistent database. What a room holds is kept as
 * the store keeps it: every event in `events` with gapless seqs from 1, every message event with
 * its row in `messages` (same seq, its folded search text, a clientMsgId on most, as the SDK
 * sets one on every send), `rooms.last_seq` and `last_activity_at` equal to the newest event,
 * a `member_joined` event for every member, read markers behind the head.
 */
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { hashToken, newId } from '../src/domain/ids.js';
import { searchText } from '../src/domain/search.js';
import { foldName } from '../src/protocol/text.js';

type Value = string | number | null;

export interface SeedDb {
  readonly dialect: 'sqlite' | 'postgres';
  /** Inserts `rows` in transactions of at most `BATCH` rows, each one multi-row INSERT per statement limit. */
  insert(table: string, columns: string[], rows: Value[][]): Promise<void>;
  exec(statement: string): Promise<void>;
  close(): Promise<void>;
}

const BATCH = 5_000;

export function openSqliteSeed(file: string): SeedDb {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return {
    dialect: 'sqlite',
    insert(table, columns, rows) {
      // 32,766 parameters per statement in the SQLite better-sqlite3 ships.
      const perStatement = Math.max(1, Math.floor(30_000 / columns.length));
      const statements = new Map<number, Database.Statement>();
      const statement = (n: number) => {
        let s = statements.get(n);
        if (s === undefined) {
          const one = `(${columns.map(() => '?').join(', ')})`;
          s = db.prepare(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${Array.from({ length: n }, () => one).join(', ')}`);
          statements.set(n, s);
        }
        return s;
      };
      const batch = db.transaction((slice: Value[][]) => {
        for (let i = 0; i < slice.length; i += perStatement) {
          const part = slice.slice(i, i + perStatement);
          statement(part.length).run(...part.flat());
        }
      });
      for (let i = 0; i < rows.length; i += BATCH) batch(rows.slice(i, i + BATCH));
      return Promise.resolve();
    },
    exec(statement) {
      db.exec(statement);
      return Promise.resolve();
    },
    close() {
      db.close();
      return Promise.resolve();
    },
  };
}

export async function openPostgresSeed(url: string): Promise<SeedDb> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    dialect: 'postgres',
    async insert(table, columns, rows) {
      const perStatement = Math.max(1, Math.floor(60_000 / columns.length));
      for (let i = 0; i < rows.length; i += BATCH) {
        const slice = rows.slice(i, i + BATCH);
        await client.query('BEGIN');
        try {
          for (let j = 0; j < slice.length; j += perStatement) {
            const part = slice.slice(j, j + perStatement);
            const tuples = part.map((_, r) => `(${columns.map((_, c) => `$${r * columns.length + c + 1}`).join(', ')})`);
            await client.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`, part.flat());
          }
          await client.query('COMMIT');
        } catch (error) {
          await client.query('ROLLBACK');
          throw error;
        }
      }
    },
    async exec(statement) {
      await client.query(statement);
    },
    close: () => client.end(),
  };
}

export interface SeedUser {
  id: string;
  username: string;
  /** A session token (its hash is in `sessions`), for the users the bench acts as. */
  token: string | null;
}

let userCounter = 0;

/**
 * `count` users, the first `withTokens` of them with a live session. Password hashes are
 * shaped like real ones (these users never log in: the bench authenticates with the sessions).
 */
export async function seedUsers(db: SeedDb, count: number, withTokens: number): Promise<SeedUser[]> {
  const now = Date.now();
  const stamp = randomBytes(3).toString('hex');
  const users: SeedUser[] = [];
  const rows: Value[][] = [];
  for (let i = 0; i < count; i++) {
    const n = userCounter++;
    const username = `g${stamp}_${n}`;
    const displayName = `Growth User ${n}`;
    const user = { id: newId(), username, token: i < withTokens ? randomBytes(32).toString('base64url') : null };
    users.push(user);
    rows.push([user.id, username, displayName, foldName(displayName), `scrypt$10$${randomBytes(16).toString('base64url')}$${randomBytes(64).toString('base64url')}`, now - 86_400_000]);
  }
  await db.insert('users', ['id', 'username', 'display_name', 'display_name_folded', 'password_hash', 'created_at'], rows);
  const sessions = users.filter((u) => u.token !== null).map((u) => [hashToken(u.token as string), u.id, now, now + 86_400_000]);
  await db.insert('sessions', ['token_hash', 'user_id', 'created_at', 'expires_at'], sessions);
  return users;
}

const WORDS =
  'the a an and are about after again all also always any around ask at away back be because been before being best better big both but by call can come could day did different do does down each end even every few find first for from get give go good great had has have he help her here high him his home house how i if in into is it its just keep kind know large last leave let life like line little long look made make man many may me might more most move much must my name need never new next no not now number of off old on one only or other our out over own part people place point put read right room said same say see seem she should show side small so some something sound spell still study such take tell than that the their them then there these they thing think this three through time to too try turn two under up us use very want was water way we well went were what when where which while who why will with word work world would write year you your deploy release build server client message search index query'.split(
    ' ',
  );

/** An ordinary chat line of 6–16 common words, deterministic in `i`. */
export function chatLine(i: number): string {
  const n = 6 + (i % 11);
  const words: string[] = [];
  let x = (i * 2654435761) >>> 0;
  for (let k = 0; k < n; k++) {
    x = (x * 1103515245 + 12345) >>> 0;
    words.push(WORDS[x % WORDS.length] as string);
  }
  return words.join(' ');
}

export interface RoomSpec {
  name: string;
  visibility: 'public' | 'private';
  owner: SeedUser;
  /** Members besides the owner, in the order they joined. */
  members: SeedUser[];
  /** Who writes the messages (members or the owner), picked at random per message. */
  authors: SeedUser[];
  messages: number;
  /** Members whose read marker stays at 0 (behind every message). */
  behind?: SeedUser[];
  /** Share of messages with a clientMsgId (the SDK sets one on every send). Default 0.9. */
  clientMsgIdShare?: number;
}

export interface SeededRoom {
  id: string;
  lastSeq: number;
}

/** Rooms written in bulk: their rows, member rows, join events and messages. */
export async function seedRooms(db: SeedDb, specs: RoomSpec[]): Promise<SeededRoom[]> {
  const rooms: Value[][] = [];
  const members: Value[][] = [];
  const events: Value[][] = [];
  const messages: Value[][] = [];
  const out: SeededRoom[] = [];
  const totalEvents = specs.reduce((n, s) => n + 1 + s.members.length + s.messages, 0);
  // Times run up to now, a few seconds apart on average, so the newest room is the latest active.
  let at = Date.now() - totalEvents * 3_000;
  for (const spec of specs) {
    const id = newId();
    const createdAt = at;
    let seq = 0;
    const joined: Array<{ user: SeedUser; role: 'owner' | 'member'; at: number }> = [];
    for (const [user, role] of [[spec.owner, 'owner'] as const, ...spec.members.map((m) => [m, 'member'] as const)]) {
      seq++;
      at += 1 + Math.floor(Math.random() * 5_000);
      events.push([id, seq, 'member_joined', null, user.id, at]);
      joined.push({ user, role, at });
    }
    const share = spec.clientMsgIdShare ?? 0.9;
    for (let i = 0; i < spec.messages; i++) {
      seq++;
      at += 1 + Math.floor(Math.random() * 5_000);
      const author = spec.authors[Math.floor(Math.random() * spec.authors.length)] as SeedUser;
      const body = chatLine(seq * 7919 + i);
      events.push([id, seq, 'message', null, author.id, at]);
      messages.push([id, seq, newId(), author.id, body, at, null, 0, Math.random() < share ? newId() : null, searchText(body)]);
    }
    const lastSeq = seq;
    const behind = new Set((spec.behind ?? []).map((u) => u.id));
    const authors = new Set(spec.authors.map((u) => u.id));
    for (const j of joined) {
      // Authors have read nearly everything; other members are somewhere behind.
      const read = behind.has(j.user.id) ? 0 : authors.has(j.user.id) ? Math.max(0, lastSeq - Math.floor(Math.random() * 20)) : Math.floor(Math.random() * (lastSeq + 1));
      members.push([id, j.user.id, j.role, j.at, read]);
    }
    rooms.push([id, spec.name, spec.visibility, '', createdAt, lastSeq, at, null]);
    out.push({ id, lastSeq });
  }
  await db.insert('rooms', ['id', 'name', 'visibility', 'topic', 'created_at', 'last_seq', 'last_activity_at', 'dm_key'], rooms);
  await db.insert('members', ['room_id', 'user_id', 'role', 'joined_at', 'last_read_seq'], members);
  await db.insert('events', ['room_id', 'seq', 'kind', 'target', 'user_id', 'created_at'], events);
  await db.insert('messages', ['room_id', 'seq', 'id', 'author_id', 'body', 'created_at', 'edited_at', 'deleted', 'client_msg_id', 'search_text'], messages);
  // The stream's consumers (search index, notifier) have taken every event, as on a live server.
  await db.insert('stream_cursors', ['room_id', 'consumer', 'cursor_seq'], out.flatMap((r) => [[r.id, 'search', r.lastSeq], [r.id, 'search_floor', r.lastSeq]]));
  await db.insert('notification_cursors', ['room_id', 'cursor_seq'], out.map((r) => [r.id, r.lastSeq]));
  return out;
}

/**
 * After a bulk load: PostgreSQL's statistics, as autovacuum would gather them soon after on a
 * live server (without them the planner guesses from empty tables). SQLite is left as a default
 * deployment leaves it.
 */
export async function settle(db: SeedDb): Promise<void> {
  if (db.dialect === 'postgres') await db.exec('ANALYZE');
  else await db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
}
