/**
 * The SQL of bots and incoming webhooks, for SqlStore (both dialects). Functions taking a
 * transaction run inside the caller's `write`.
 */
import type { Kysely } from 'kysely';
import type { IncomingWebhookRecord, IncomingWebhookWithBot, SessionRecord, UserRecord } from '../../domain/types.js';
import { toAuthor, toUser } from './mappers.js';
import type { Database } from './schema.js';

/** The owner's bots that are not deactivated. */
export async function countActiveBots(trx: Kysely<Database>, ownerId: string): Promise<number> {
  const row = await trx
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('bot_owner_id', '=', ownerId)
    .where('deactivated_at', 'is', null)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

export async function insertSession(trx: Kysely<Database>, s: SessionRecord): Promise<void> {
  await trx.insertInto('sessions').values({ token_hash: s.tokenHash, user_id: s.userId, created_at: s.createdAt, expires_at: s.expiresAt }).execute();
}

export async function listBots(db: Kysely<Database>, ownerId: string): Promise<UserRecord[]> {
  const rows = await db
    .selectFrom('users')
    .selectAll()
    .where('bot_owner_id', '=', ownerId)
    .where('deactivated_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return rows.map(toUser);
}

/** Deletes the user's sessions; answers their token hashes. */
async function deleteSessionsOf(trx: Kysely<Database>, userId: string): Promise<string[]> {
  const rows = await trx.selectFrom('sessions').select('token_hash').where('user_id', '=', userId).execute();
  if (rows.length > 0) await trx.deleteFrom('sessions').where('user_id', '=', userId).execute();
  return rows.map((r) => r.token_hash);
}

export async function replaceSessions(trx: Kysely<Database>, userId: string, session: SessionRecord): Promise<string[]> {
  const old = await deleteSessionsOf(trx, userId);
  await insertSession(trx, session);
  return old;
}

export async function deactivateBot(trx: Kysely<Database>, botId: string, at: number): Promise<{ tokenHashes: string[]; roomIds: string[] }> {
  await trx.updateTable('users').set({ deactivated_at: at }).where('id', '=', botId).where('bot_owner_id', 'is not', null).where('deactivated_at', 'is', null).execute();
  const tokenHashes = await deleteSessionsOf(trx, botId);
  await trx.deleteFrom('incoming_webhooks').where('bot_id', '=', botId).execute();
  const rooms = await trx.selectFrom('members').select('room_id').where('user_id', '=', botId).orderBy('room_id').execute();
  return { tokenHashes, roomIds: rooms.map((r) => r.room_id) };
}

export async function createIncomingWebhook(db: Kysely<Database>, h: IncomingWebhookRecord): Promise<void> {
  await db
    .insertInto('incoming_webhooks')
    .values({ id: h.id, room_id: h.roomId, bot_id: h.botId, creator_id: h.creatorId, name: h.name, token_hash: h.tokenHash, created_at: h.createdAt })
    .execute();
}

/** Webhooks as `w` with their bot as `u`: the columns toWebhook reads. */
function selectWebhooks(db: Kysely<Database>) {
  return db
    .selectFrom('incoming_webhooks as w')
    .innerJoin('users as u', 'u.id', 'w.bot_id')
    // The bot's owner, for whether a server administrator disabled either.
    .leftJoin('users as o', 'o.id', 'u.bot_owner_id')
    .select(['w.id', 'w.room_id', 'w.bot_id', 'w.creator_id', 'w.name', 'w.token_hash', 'w.created_at', 'u.username', 'u.display_name', 'u.bot_owner_id'])
    .select(['u.disabled_at', 'o.disabled_at as owner_disabled_at']);
}

type WebhookRow = Awaited<ReturnType<ReturnType<typeof selectWebhooks>['executeTakeFirstOrThrow']>>;

const toWebhook = (r: WebhookRow): IncomingWebhookWithBot => ({
  id: r.id,
  roomId: r.room_id,
  botId: r.bot_id,
  creatorId: r.creator_id,
  name: r.name,
  tokenHash: r.token_hash,
  createdAt: Number(r.created_at),
  bot: toAuthor(r.bot_id, r.username, r.display_name, r.bot_owner_id),
  ...(r.disabled_at != null || r.owner_disabled_at != null ? { disabled: true } : {}),
});

export async function findIncomingWebhook(db: Kysely<Database>, id: string): Promise<IncomingWebhookWithBot | undefined> {
  const row = await selectWebhooks(db).where('w.id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toWebhook(row);
}

export async function findIncomingWebhookByToken(db: Kysely<Database>, tokenHash: string): Promise<IncomingWebhookWithBot | undefined> {
  const row = await selectWebhooks(db).where('w.token_hash', '=', tokenHash).executeTakeFirst();
  return row === undefined ? undefined : toWebhook(row);
}

export async function listIncomingWebhooks(db: Kysely<Database>, roomId: string): Promise<IncomingWebhookWithBot[]> {
  const rows = await selectWebhooks(db).where('w.room_id', '=', roomId).orderBy('w.created_at').orderBy('w.id').execute();
  return rows.map(toWebhook);
}

export async function deleteIncomingWebhook(db: Kysely<Database>, id: string): Promise<boolean> {
  const result = await db.deleteFrom('incoming_webhooks').where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
