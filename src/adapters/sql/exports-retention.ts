/**
 * The SQL of history exports and of retention, for SqlStore (both dialects).
 */
import { type Kysely, sql } from 'kysely';
import type { ExportRecord, RetentionRoom, RoomRetention } from '../../domain/types.js';
import type { ExportChanges } from '../../ports.js';
import type { SqlDialect } from './dialect.js';
import type { Database, ExportsTable } from './schema.js';

const toExport = (r: ExportsTable): ExportRecord => ({
  id: r.id,
  roomId: r.room_id,
  userId: r.user_id,
  format: r.format,
  state: r.state,
  throughSeq: Number(r.through_seq),
  doneSeq: Number(r.done_seq),
  messages: Number(r.messages),
  bytes: Number(r.bytes),
  error: r.error,
  createdAt: Number(r.created_at),
  finishedAt: r.finished_at === null ? null : Number(r.finished_at),
  expiresAt: r.expires_at === null ? null : Number(r.expires_at),
});

export async function createExport(db: Kysely<Database>, e: ExportRecord): Promise<void> {
  await db
    .insertInto('exports')
    .values({
      id: e.id,
      room_id: e.roomId,
      user_id: e.userId,
      format: e.format,
      state: e.state,
      through_seq: e.throughSeq,
      done_seq: e.doneSeq,
      messages: e.messages,
      bytes: e.bytes,
      error: e.error,
      created_at: e.createdAt,
      finished_at: e.finishedAt,
      expires_at: e.expiresAt,
    })
    .execute();
}

export async function findExport(db: Kysely<Database>, id: string): Promise<ExportRecord | undefined> {
  const row = await db.selectFrom('exports').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toExport(row);
}

export async function findActiveExport(db: Kysely<Database>, roomId: string, userId: string): Promise<ExportRecord | undefined> {
  const row = await db
    .selectFrom('exports')
    .selectAll()
    .where('room_id', '=', roomId)
    .where('user_id', '=', userId)
    .where('state', 'in', ['queued', 'running'])
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row === undefined ? undefined : toExport(row);
}

export async function updateExport(db: Kysely<Database>, id: string, c: ExportChanges): Promise<void> {
  const set: Partial<ExportsTable> = {};
  if (c.state !== undefined) set.state = c.state;
  if (c.doneSeq !== undefined) set.done_seq = c.doneSeq;
  if (c.messages !== undefined) set.messages = c.messages;
  if (c.bytes !== undefined) set.bytes = c.bytes;
  if (c.error !== undefined) set.error = c.error;
  if (c.finishedAt !== undefined) set.finished_at = c.finishedAt;
  if (c.expiresAt !== undefined) set.expires_at = c.expiresAt;
  if (Object.keys(set).length === 0) return;
  await db.updateTable('exports').set(set).where('id', '=', id).execute();
}

export async function listExpiredExports(db: Kysely<Database>, now: number, limit: number): Promise<ExportRecord[]> {
  const rows = await db.selectFrom('exports').selectAll().where('expires_at', 'is not', null).where('expires_at', '<=', now).orderBy('expires_at').limit(limit).execute();
  return rows.map(toExport);
}

export async function deleteExport(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('exports').where('id', '=', id).execute();
}

export async function setRoomRetention(db: Kysely<Database>, roomId: string, days: number | null): Promise<void> {
  await db.updateTable('rooms').set({ retention_days: days }).where('id', '=', roomId).execute();
}

export async function roomRetention(db: Kysely<Database>, roomId: string): Promise<RoomRetention | undefined> {
  const row = await db.selectFrom('rooms').select(['retention_days', 'purged_seq', 'last_seq']).where('id', '=', roomId).executeTakeFirst();
  if (row === undefined) return undefined;
  return { retentionDays: row.retention_days === null ? null : Number(row.retention_days), purgedSeq: Number(row.purged_seq), lastSeq: Number(row.last_seq) };
}

/** Rooms by id in code-point order (the same on every database, so shards' pages merge), after `afterId`. */
export async function listRetentionRooms(db: Kysely<Database>, dialect: SqlDialect, afterId: string, limit: number): Promise<RetentionRoom[]> {
  const key = dialect.roomIdCodePointKey;
  const rows = await db
    .selectFrom('rooms')
    .select(['id', 'retention_days', 'purged_seq', 'last_seq'])
    .where(sql<boolean>`${key} > ${afterId}`)
    .orderBy(key)
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    retentionDays: r.retention_days === null ? null : Number(r.retention_days),
    purgedSeq: Number(r.purged_seq),
    lastSeq: Number(r.last_seq),
  }));
}

export function purgeMessagesBefore(
  db: Kysely<Database>,
  dialect: SqlDialect,
  roomId: string,
  before: number,
  limit: number,
): Promise<{ tombstoned: number; throughSeq: number; more: boolean }> {
  return dialect.write(db, async (trx) => {
    let roomQuery = trx.selectFrom('rooms').select('purged_seq').where('id', '=', roomId);
    if (dialect.lockRows) roomQuery = roomQuery.forUpdate();
    const room = await roomQuery.executeTakeFirst();
    if (room === undefined) return { tombstoned: 0, throughSeq: 0, more: false };
    const cursor = Number(room.purged_seq);
    // The room's messages after the cursor, oldest first: created_at grows with seq, so the
    // ones past the policy are a prefix.
    const rows = await trx
      .selectFrom('messages')
      .select(['seq', 'created_at', 'deleted', 'body'])
      .where('room_id', '=', roomId)
      .where('seq', '>', cursor)
      .orderBy('seq')
      .limit(limit)
      .execute();
    let throughSeq = cursor;
    const toTombstone: number[] = [];
    let reachedNewer = false;
    for (const row of rows) {
      if (Number(row.created_at) >= before) {
        reachedNewer = true;
        break;
      }
      throughSeq = Number(row.seq);
      if (Number(row.deleted) === 0 || row.body !== '') toTombstone.push(throughSeq);
    }
    for (let i = 0; i < toTombstone.length; i += 500) {
      await trx
        .updateTable('messages')
        .set({ deleted: 1, body: '', search_text: '', attachments: null })
        .where('room_id', '=', roomId)
        .where('seq', 'in', toTombstone.slice(i, i + 500))
        .execute();
      // Their files go with them: the files sweep deletes doomed uploads' objects.
      await trx
        .updateTable('uploads')
        .set({ state: 'doomed' })
        .where('room_id', '=', roomId)
        .where('message_seq', 'in', toTombstone.slice(i, i + 500))
        .where('state', '=', 'attached')
        .execute();
    }
    if (throughSeq > cursor) await trx.updateTable('rooms').set({ purged_seq: throughSeq }).where('id', '=', roomId).execute();
    return { tombstoned: toTombstone.length, throughSeq, more: !reachedNewer && rows.length === limit };
  });
}
