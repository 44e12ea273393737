/**
 * Moves one room from its shard to another while it is in use, losing and duplicating nothing:
 *
 * 1. Announce: the directory row gets `moving_to`. Every node sees it at its next poll
 *    (move-watch.ts) and holds the room's reads and writes until the move ends; a node that has
 *    not polled for three intervals holds every room's writes. The mover waits `graceMs` (more
 *    than those three intervals) before going on.
 * 2. Copy, holding the room: in one transaction on the source, the room's row and its members'
 *    rows are locked (an append or a moderation that got past the hold waits on them), every row
 *    of the room is read and written to the target in one transaction there (with the users and
 *    uploads they name), then deleted from the source. The source commits after the target.
 * 3. Switch: the directory names the target. The nodes' next poll releases the held calls, which
 *    go to the target. An append that waited on the lock finds no room on the source and goes
 *    to the target too (sharding.ts asks the directory again on such an answer).
 *
 * Interrupted, it is run again: a copy the target committed while the source did not is replaced;
 * a source already emptied (the target holds the room) goes straight to the switch. PostgreSQL
 * shards only.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type Kysely, sql } from 'kysely';
import type { Database } from './schema.js';
import type { ShardSql, UserRow } from './shard-sql.js';
import { PRIMARY_SHARD } from './sharding.js';

/** What a move needs of each database: its name, its query builder and its sharding statements. */
export interface MoveShard {
  name: string;
  db: Kysely<Database>;
  sql: ShardSql;
}

export interface MoveOptions {
  primary: MoveShard;
  shards: Map<string, MoveShard>;
  /** Wait between announcing and copying, ms: more than the nodes' STALE_POLLS × DATABASE_SHARD_MOVE_POLL_MS. */
  graceMs: number;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface MoveReport {
  roomId: string;
  from: string;
  to: string;
  /** Rows copied, by table. */
  rows: Record<string, number>;
  /** How long the room's calls were held (announce to switch), ms. */
  heldMs: number;
  /** How long the source's row lock was held (the copy), ms. */
  lockedMs: number;
}

/** The tables of a room's data on its shard, parents first; `uploads` holds the shard's copies. */
const ROOM_TABLES = ['rooms', 'members', 'events', 'messages', 'reactions', 'reaction_counts', 'thread_follows', 'room_restrictions', 'audit_log', 'notification_cursors', 'notification_prefs', 'stream_cursors', 'uploads'];
/** Columns that name users: the target must hold a copy of each before the rows that name them. */
const USER_COLUMNS = ['user_id', 'author_id', 'actor_id', 'member_id', 'created_by'];
const PAGE = 1_000;

interface TableShape {
  columns: string[];
  key: string[];
}

async function shapeOf(db: Kysely<Database>, table: string): Promise<TableShape> {
  const columns = await sql<{ name: string }>`
    SELECT column_name AS name FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = ${table} AND is_generated = 'NEVER' AND is_identity = 'NO'
    ORDER BY ordinal_position`.execute(db);
  const key = await sql<{ name: string }>`
    SELECT a.attname AS name FROM pg_index i
    JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
    WHERE i.indrelid = ${table}::regclass AND i.indisprimary
    ORDER BY array_position(i.indkey, a.attnum)`.execute(db);
  return { columns: columns.rows.map((r) => r.name), key: key.rows.map((r) => r.name) };
}

const roomColumn = (table: string) => (table === 'rooms' ? 'id' : 'room_id');

/** The room's rows of `table`, a page at a time in key order. */
async function* pages(db: Kysely<Database>, table: string, shape: TableShape, roomId: string): AsyncGenerator<Array<Record<string, unknown>>> {
  let after: unknown[] | null = null;
  for (;;) {
    const keyList = sql.join(shape.key.map((k) => sql.ref(k)));
    const past = after === null ? sql`TRUE` : sql`(${keyList}) > (${sql.join(after.map((v) => sql`${v}`))})`;
    const { rows } = await sql<Record<string, unknown>>`
      SELECT ${sql.join(shape.columns.map((c) => sql.ref(c)))} FROM ${sql.table(table)}
      WHERE ${sql.ref(roomColumn(table))} = ${roomId} AND ${past}
      ORDER BY ${keyList} LIMIT ${PAGE}`.execute(db);
    if (rows.length > 0) yield rows;
    if (rows.length < PAGE) return;
    const last = rows.at(-1) as Record<string, unknown>;
    after = shape.key.map((k) => last[k]);
  }
}

async function insertRows(db: Kysely<Database>, table: string, columns: string[], rows: Array<Record<string, unknown>>): Promise<void> {
  const values = sql.join(rows.map((row) => sql`(${sql.join(columns.map((c) => sql`${row[c] ?? null}`))})`));
  await sql`INSERT INTO ${sql.table(table)} (${sql.join(columns.map((c) => sql.ref(c)))}) VALUES ${values}`.execute(db);
}

async function deleteRoomRows(db: Kysely<Database>, roomId: string, tables: string[]): Promise<void> {
  for (const table of [...tables].reverse()) await sql`DELETE FROM ${sql.table(table)} WHERE ${sql.ref(roomColumn(table))} = ${roomId}`.execute(db);
}

async function hasRoom(db: Kysely<Database>, roomId: string): Promise<boolean> {
  return (await db.selectFrom('rooms').select('id').where('id', '=', roomId).executeTakeFirst()) !== undefined;
}

/** Moves the room to shard `to` (see the module comment). */
export async function moveRoom(options: MoveOptions, roomId: string, to: string): Promise<MoveReport> {
  const { primary, shards } = options;
  const log = options.log ?? (() => undefined);
  const target = shards.get(to);
  if (target === undefined) throw new Error(`no shard named "${to}" (known: ${[...shards.keys()].join(', ')})`);
  const entry = await primary.sql.directoryEntry(roomId);
  const from = entry?.shard ?? PRIMARY_SHARD;
  const source = shards.get(from);
  if (source === undefined) throw new Error(`room ${roomId} is on shard "${from}", which is not configured here`);
  if (entry?.movingTo != null && entry.movingTo !== to) throw new Error(`room ${roomId} is being moved to "${entry.movingTo}" already: run that move again to finish it`);
  const report: MoveReport = { roomId, from, to, rows: {}, heldMs: 0, lockedMs: 0 };
  if (from === to && entry?.movingTo == null) return report;
  const legacy = entry === undefined ? await source.db.selectFrom('rooms').select('dm_key').where('id', '=', roomId).executeTakeFirst() : undefined;
  if (entry === undefined && legacy === undefined) throw new Error(`no room ${roomId}`);

  const announcedAt = Date.now();
  if (!(await primary.sql.beginMove(roomId, from, to, announcedAt, legacy?.dm_key ?? null))) throw new Error(`room ${roomId} could not be marked as moving (moved meanwhile?)`);
  log('room move announced: waiting for every node to hold its calls', { roomId, from, to, graceMs: options.graceMs });
  await sleep(options.graceMs);

  try {
    if (source.db !== target.db) await copyRoom(options, source, target, roomId, report);
  } catch (error) {
    // The source still holds the room (its transaction rolled back): the copy the target may
    // have committed goes, and the room stays where it was. Else the copy is made: run again.
    if (await hasRoom(source.db, roomId)) {
      await deleteRoomRows(target.db, roomId, copiedTables(options, target));
      await primary.sql.cancelMove(roomId);
    }
    throw error;
  }
  await primary.sql.finishMove(roomId, to);
  report.heldMs = Date.now() - announcedAt;
  log('room moved', { ...report });
  return report;
}

/** The tables a move writes on `target`: the primary's uploads are the originals, never written over nor deleted. */
const copiedTables = (options: MoveOptions, target: MoveShard): string[] => ROOM_TABLES.filter((t) => t !== 'uploads' || target.db !== options.primary.db);

/** No statement timeout in a move's own transactions: a large room's copy takes as long as it takes. */
const untimed = (db: Kysely<Database>) => sql`SELECT set_config('statement_timeout', '0', true)`.execute(db);

async function copyRoom(options: MoveOptions, source: MoveShard, target: MoveShard, roomId: string, report: MoveReport): Promise<void> {
  const isPrimary = (s: MoveShard) => s.db === options.primary.db;
  const tables = copiedTables(options, target);
  await source.db.transaction().execute(async (trx) => {
    await untimed(trx);
    const room = await trx.selectFrom('rooms').select('id').where('id', '=', roomId).forUpdate().executeTakeFirst();
    if (room === undefined) {
      // A run before this one copied it and emptied the source: only the switch is left.
      if (!(await hasRoom(target.db, roomId))) throw new Error(`room ${roomId} is on neither "${source.name}" nor "${target.name}"`);
      return;
    }
    const lockedAt = Date.now();
    await trx.selectFrom('members').select('user_id').where('room_id', '=', roomId).forUpdate().execute();

    // The users the rows name, copied first (bots' owners before them).
    const named = new Set<string>();
    for (const table of tables) {
      const columns = (await shapeOf(trx, table)).columns.filter((c) => USER_COLUMNS.includes(c));
      for (const column of columns) {
        const { rows } = await sql<{ id: string | null }>`SELECT DISTINCT ${sql.ref(column)} AS id FROM ${sql.table(table)} WHERE ${sql.ref(roomColumn(table))} = ${roomId}`.execute(trx);
        for (const r of rows) if (r.id !== null) named.add(r.id);
      }
    }
    if (!isPrimary(target)) {
      const users: UserRow[] = [];
      const ids = [...named];
      for (let i = 0; i < ids.length; i += PAGE) users.push(...(await options.primary.sql.users(ids.slice(i, i + PAGE))));
      const owners = await options.primary.sql.users([...new Set(users.map((u) => u.bot_owner_id))].filter((id): id is string => id !== null));
      await target.sql.upsertUsers(owners);
      await target.sql.upsertUsers(users);
    }

    await target.db.transaction().execute(async (ttrx) => {
      await untimed(ttrx);
      // What an interrupted run left there (its own transaction committed, the source's not).
      await deleteRoomRows(ttrx, roomId, tables);
      for (const table of tables) {
        const shape = await shapeOf(trx, table);
        let count = 0;
        for await (const rows of pages(trx, table, shape, roomId)) {
          await insertRows(ttrx, table, shape.columns, rows);
          count += rows.length;
        }
        report.rows[table] = count;
      }
    });
    await deleteRoomRows(trx, roomId, ROOM_TABLES.filter((t) => t !== 'uploads' || !isPrimary(source)));
    report.lockedMs = Date.now() - lockedAt;
  });
}
