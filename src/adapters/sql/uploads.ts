/** The SQL of uploads (attachments and avatars), for SqlStore and the append path (both dialects). */
import { type Kysely, sql } from 'kysely';
import type { UploadRecord, UploadState } from '../../domain/types.js';
import type { UploadChanges } from '../../ports.js';
import type { SqlDialect } from './dialect.js';
import type { Database, UploadsTable } from './schema.js';

export const toUpload = (r: UploadsTable): UploadRecord => ({
  id: r.id,
  kind: r.kind,
  roomId: r.room_id,
  userId: r.user_id,
  state: r.state,
  name: r.name,
  size: Number(r.size),
  received: Number(r.received),
  contentType: r.content_type,
  width: r.width,
  height: r.height,
  objectKey: r.object_key,
  thumbKey: r.thumb_key,
  thumbWidth: r.thumb_width,
  thumbHeight: r.thumb_height,
  messageSeq: r.message_seq === null ? null : Number(r.message_seq),
  createdAt: Number(r.created_at),
});

const toRow = (u: UploadRecord): UploadsTable => ({
  id: u.id,
  kind: u.kind,
  room_id: u.roomId,
  user_id: u.userId,
  state: u.state,
  name: u.name,
  size: u.size,
  received: u.received,
  content_type: u.contentType,
  width: u.width,
  height: u.height,
  object_key: u.objectKey,
  thumb_key: u.thumbKey,
  thumb_width: u.thumbWidth,
  thumb_height: u.thumbHeight,
  message_seq: u.messageSeq,
  created_at: u.createdAt,
});

/**
 * Inserts the upload unless the bytes its user uploaded since `since` (every upload row of
 * theirs still in the window, whatever became of it) plus its size pass `dailyLimit` (0: no
 * limit). The user's row is locked first, so concurrent reservations of one user are decided one
 * after the other and together never pass the limit.
 */
export function reserveUpload(db: Kysely<Database>, dialect: SqlDialect, upload: UploadRecord, dailyLimit: number, since: number): Promise<{ reserved: boolean; used: number }> {
  return dialect.write(db, async (trx) => {
    if (dialect.lockRows) await trx.selectFrom('users').select('id').where('id', '=', upload.userId).forUpdate().execute();
    const row = await trx
      .selectFrom('uploads')
      .select(sql<string | number | null>`SUM(received)`.as('used'))
      .where('user_id', '=', upload.userId)
      .where('created_at', '>', since)
      .executeTakeFirst();
    const used = Number(row?.used ?? 0);
    if (dailyLimit > 0 && used + upload.received > dailyLimit) return { reserved: false, used };
    await trx.insertInto('uploads').values(toRow(upload)).execute();
    return { reserved: true, used };
  });
}

export async function findUpload(db: Kysely<Database>, id: string): Promise<UploadRecord | undefined> {
  const row = await db.selectFrom('uploads').selectAll().where('id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toUpload(row);
}

/** Applies `changes` when the upload is in state `from`; false when it was not (someone else moved it). */
export async function updateUpload(db: Kysely<Database>, id: string, from: UploadState, changes: UploadChanges): Promise<boolean> {
  const set: Partial<UploadsTable> = {};
  if (changes.state !== undefined) set.state = changes.state;
  if (changes.size !== undefined) set.size = changes.size;
  if (changes.received !== undefined) set.received = changes.received;
  if (changes.contentType !== undefined) set.content_type = changes.contentType;
  if (changes.width !== undefined) set.width = changes.width;
  if (changes.height !== undefined) set.height = changes.height;
  if (changes.objectKey !== undefined) set.object_key = changes.objectKey;
  if (changes.thumbKey !== undefined) set.thumb_key = changes.thumbKey;
  if (changes.thumbWidth !== undefined) set.thumb_width = changes.thumbWidth;
  if (changes.thumbHeight !== undefined) set.thumb_height = changes.thumbHeight;
  const result = await db.updateTable('uploads').set(set).where('id', '=', id).where('state', '=', from).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Deletes the row of an upload that never stored anything (its reservation is given back). */
export async function deleteUpload(db: Kysely<Database>, id: string): Promise<void> {
  await db.deleteFrom('uploads').where('id', '=', id).where('state', 'in', ['receiving', 'direct']).execute();
}

/**
 * Makes `uploadId` (ready, of kind user_avatar or room_avatar) the avatar of its user or room,
 * and dooms the one it replaces; null removes the avatar. One transaction.
 */
export function setAvatar(db: Kysely<Database>, dialect: SqlDialect, owner: { userId: string } | { roomId: string }, uploadId: string | null): Promise<boolean> {
  return dialect.write(db, async (trx) => {
    const table = 'userId' in owner ? ('users' as const) : ('rooms' as const);
    const id = 'userId' in owner ? owner.userId : owner.roomId;
    let query = trx.selectFrom(table).select('avatar_id').where('id', '=', id);
    if (dialect.lockRows) query = query.forUpdate();
    const current = await query.executeTakeFirst();
    if (current === undefined) return false;
    if (uploadId !== null) {
      const result = await trx.updateTable('uploads').set({ state: 'attached' }).where('id', '=', uploadId).where('state', '=', 'ready').executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
    }
    if (current.avatar_id !== null && current.avatar_id !== uploadId) {
      await trx.updateTable('uploads').set({ state: 'doomed' }).where('id', '=', current.avatar_id).execute();
    }
    await trx.updateTable(table).set({ avatar_id: uploadId }).where('id', '=', id).execute();
    return true;
  });
}

export async function avatarOf(db: Kysely<Database>, owner: { userId: string } | { roomId: string }): Promise<UploadRecord | undefined> {
  const avatar =
    'userId' in owner
      ? await db.selectFrom('users').select('avatar_id').where('id', '=', owner.userId).executeTakeFirst()
      : await db.selectFrom('rooms').select('avatar_id').where('id', '=', owner.roomId).executeTakeFirst();
  if (avatar?.avatar_id == null) return undefined;
  return findUpload(db, avatar.avatar_id);
}

/**
 * The files sweep's first step: uploads never attached become doomed, ready ones created
 * before `cutoff`, unfinished ones (receiving, direct) before `unfinishedCutoff`. One UPDATE a
 * row, each re-checking the state: a row attached since the SELECT is left alone, and no
 * statement holds the locks of several rows at once (a send's batch locks its uploads too).
 */
export async function doomUnattached(db: Kysely<Database>, cutoff: number, unfinishedCutoff: number, limit: number): Promise<number> {
  const rows = await db
    .selectFrom('uploads')
    .select(['id', 'state'])
    .where((eb) => eb.or([eb.and([eb('state', '=', 'ready'), eb('created_at', '<', cutoff)]), eb.and([eb('state', 'in', ['receiving', 'direct']), eb('created_at', '<', unfinishedCutoff)])]))
    .orderBy('created_at')
    .limit(limit)
    .execute();
  let doomed = 0;
  for (const row of rows) {
    const result = await db.updateTable('uploads').set({ state: 'doomed' }).where('id', '=', row.id).where('state', '=', row.state).executeTakeFirst();
    doomed += Number(result.numUpdatedRows);
  }
  return doomed;
}

export async function listDoomedUploads(db: Kysely<Database>, limit: number): Promise<UploadRecord[]> {
  return (await db.selectFrom('uploads').selectAll().where('state', '=', 'doomed').orderBy('created_at').limit(limit).execute()).map(toUpload);
}

export async function markUploadsDeleted(db: Kysely<Database>, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.updateTable('uploads').set({ state: 'deleted' }).where('id', 'in', ids).where('state', '=', 'doomed').execute();
}

/** Forgets deleted uploads created before `cutoff` (out of the daily quota's window). */
export async function forgetDeletedUploads(db: Kysely<Database>, cutoff: number, limit: number): Promise<number> {
  const ids = (await db.selectFrom('uploads').select('id').where('state', '=', 'deleted').where('created_at', '<', cutoff).limit(limit).execute()).map((r) => r.id);
  if (ids.length === 0) return 0;
  await db.deleteFrom('uploads').where('id', 'in', ids).execute();
  return ids.length;
}
