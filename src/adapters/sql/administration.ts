/**
 * The SQL of server administration (both dialects): disabling, erasing and listing accounts,
 * revoking a user's sessions, the server's audit log, and every room for an administrator. All
 * of it on the primary, with the accounts; each write is one transaction that deletes the
 * sessions it ends and answers their token hashes (DELETE … RETURNING), so the caller can forget
 * exactly those in the shared cache and close their WebSockets.
 */
import { type Kysely, sql } from 'kysely';
import type { AdminRoomQuery, AdminRoomRecord, AdminUserQuery, ServerAuditInput, ServerAuditRecord, UserRecord } from '../../domain/types.js';
import type { SqlDialect } from './dialect.js';
import { toRoom, toUser } from './mappers.js';
import { escapeLike, prefixEnd } from './room-search.js';
import type { Database } from './schema.js';

/** Deletes every session of the user; answers their token hashes. */
export async function deleteSessionsOf(trx: Kysely<Database>, userId: string): Promise<string[]> {
  const rows = await trx.deleteFrom('sessions').where('user_id', '=', userId).returning('token_hash').execute();
  return rows.map((r) => r.token_hash);
}

/** A bot of an account disabled or enabled, with its tokens: kept, their sockets to close (a disable) or their cached sessions to forget (an enable). */
export interface DisabledBot {
  id: string;
  tokenHashes: string[];
}

/**
 * Disables the account as of `at` and deletes its sessions; the bots it owns stay as they are
 * (refused while their owner is disabled: findSessionUser reads the owner's state), and their
 * tokens are answered so that their sockets close. Or enables it again (null), deleting a
 * person's sessions made around the disable (it deleted them all: any there now a login's that
 * raced it, refused since); a bot's tokens stay, its owner's to manage, and are answered (a
 * person's bots', a bot's own) so that their cached sessions are read again. A deleted account stays
 * disabled: enabling it changes nothing. Undefined when there is no such user.
 */
export function setUserDisabled(
  db: Kysely<Database>,
  dialect: SqlDialect,
  userId: string,
  at: number | null,
): Promise<{ user: UserRecord; revoked: string[]; bots: DisabledBot[] } | undefined> {
  return dialect.write(db, async (trx) => {
    const before = await trx.selectFrom('users').select(['disabled_at', 'deleted_at', 'deactivated_at', 'bot_owner_id']).where('id', '=', userId).executeTakeFirst();
    if (before === undefined) return undefined;
    const bot = before.bot_owner_id !== null;
    let revoked: string[] = [];
    const bots: DisabledBot[] = [];
    if (at !== null) {
      // Disabled once: a second disable keeps the first time.
      if (before.disabled_at === null) await trx.updateTable('users').set({ disabled_at: at }).where('id', '=', userId).execute();
      if (bot) {
        // A bot's tokens are its owner's to rotate: kept, refused while it is disabled.
        revoked = (await trx.selectFrom('sessions').select('token_hash').where('user_id', '=', userId).execute()).map((r) => r.token_hash);
      } else {
        revoked = await deleteSessionsOf(trx, userId);
        bots.push(...(await botTokens(trx, userId)));
      }
    } else if (before.disabled_at !== null && before.deleted_at === null && before.deactivated_at === null) {
      // The sessions cached as refused are to be read again: the bots' of a person, a bot's own.
      if (bot) {
        const own = await trx.selectFrom('sessions').select('token_hash').where('user_id', '=', userId).execute();
        bots.push({ id: userId, tokenHashes: own.map((r) => r.token_hash) });
      } else {
        revoked = await deleteSessionsOf(trx, userId);
        bots.push(...(await botTokens(trx, userId)));
      }
      await trx.updateTable('users').set({ disabled_at: null }).where('id', '=', userId).execute();
    }
    const row = await trx.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
    return { user: toUser(row), revoked, bots };
  });
}

/** The tokens of the bots `ownerId` owns (not deleted), by bot. */
async function botTokens(trx: Kysely<Database>, ownerId: string): Promise<DisabledBot[]> {
  const owned = await trx
    .selectFrom('users')
    .innerJoin('sessions', 'sessions.user_id', 'users.id')
    .select(['users.id', 'sessions.token_hash'])
    .where('users.bot_owner_id', '=', ownerId)
    .where('users.deactivated_at', 'is', null)
    .execute();
  const byBot = new Map<string, string[]>();
  for (const r of owned) byBot.set(r.id, [...(byBot.get(r.id) ?? []), r.token_hash]);
  return [...byBot].map(([id, tokenHashes]) => ({ id, tokenHashes }));
}

/** Sets the password hash and ends every session of the user; undefined when there is no such user (or it was deleted). */
export function setPassword(db: Kysely<Database>, dialect: SqlDialect, userId: string, passwordHash: string): Promise<string[] | undefined> {
  return dialect.write(db, async (trx) => {
    const updated = await trx.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', userId).where('deleted_at', 'is', null).executeTakeFirst();
    if (updated.numUpdatedRows === 0n) return undefined;
    return deleteSessionsOf(trx, userId);
  });
}

/** Ends every session of the user. */
export function revokeSessions(db: Kysely<Database>, dialect: SqlDialect, userId: string): Promise<string[]> {
  return dialect.write(db, (trx) => deleteSessionsOf(trx, userId));
}

/**
 * Erases the account: its username becomes `erased.username` (freeing the old one), its display
 * name `erased.displayName`, its password, status and avatar are gone, it is disabled and
 * deleted at `at`, and its sessions, server role and blocks (both ways) are deleted. The row
 * stays: messages and events name it. Undefined when there is no such user; an account already
 * deleted is left as it is (no sessions to end).
 */
export function eraseUser(db: Kysely<Database>, dialect: SqlDialect, userId: string, at: number, erased: { username: string; displayName: string }): Promise<string[] | undefined> {
  return dialect.write(db, async (trx) => {
    const row = await trx.selectFrom('users').select(['id', 'deleted_at']).where('id', '=', userId).executeTakeFirst();
    if (row === undefined) return undefined;
    if (row.deleted_at !== null) return [];
    await trx
      .updateTable('users')
      .set({
        username: erased.username,
        display_name: erased.displayName,
        // Its own username: unique, and no other name reads as it.
        display_name_folded: erased.username,
        password_hash: '!deleted',
        status_text: null,
        status_expires_at: null,
        avatar_id: null,
        disabled_at: sql<number>`coalesce(disabled_at, ${at})`,
        deleted_at: at,
      })
      .where('id', '=', userId)
      .execute();
    await trx.deleteFrom('server_roles').where('user_id', '=', userId).execute();
    await trx
      .deleteFrom('blocks')
      .where((eb) => eb.or([eb('user_id', '=', userId), eb('blocked_id', '=', userId)]))
      .execute();
    return deleteSessionsOf(trx, userId);
  });
}

/** A page of users by username, from after `query.after`; `next`: the cursor of the following page, or null. */
export async function listUsers(db: Kysely<Database>, dialect: SqlDialect, query: AdminUserQuery): Promise<{ users: UserRecord[]; next: string | null }> {
  const { prefix, state, after, limit } = query;
  const end = prefix === undefined || prefix === '' ? null : prefixEnd(prefix);
  // In code-point order whatever the database's collation (as user search walks it), on the username index.
  const username = dialect.userCodePointKey('username');
  const rows = await db
    .selectFrom('users')
    .selectAll()
    .$if(prefix !== undefined && prefix !== '', (q) => q.where(sql<boolean>`${username} >= ${prefix}`))
    .$if(end !== null, (q) => q.where(sql<boolean>`${username} < ${end}`))
    .$if(after !== undefined, (q) => q.where(sql<boolean>`${username} > ${after}`))
    .$if(state === 'active', (q) => q.where('disabled_at', 'is', null).where('bot_owner_id', 'is', null))
    .$if(state === 'disabled', (q) => q.where('disabled_at', 'is not', null).where('deleted_at', 'is', null).where('deactivated_at', 'is', null))
    // A deleted bot (its owner's, or an administrator's doing) is as deleted as a person.
    .$if(state === 'deleted', (q) => q.where((eb) => eb.or([eb('deleted_at', 'is not', null), eb('deactivated_at', 'is not', null)])))
    .$if(state === 'bot', (q) => q.where('bot_owner_id', 'is not', null))
    .orderBy(username)
    .limit(limit + 1)
    .execute();
  const users = rows.slice(0, limit).map(toUser);
  return { users, next: rows.length > limit ? (users.at(-1)?.username ?? null) : null };
}

/** A page of every room of this database, newest first, with member counts. */
export async function listRooms(db: Kysely<Database>, query: AdminRoomQuery): Promise<AdminRoomRecord[]> {
  const { q, after, limit } = query;
  const rows = await db
    .selectFrom('rooms')
    .select(['id', 'name', 'visibility', 'topic', 'created_at', 'last_seq', 'dm_key', 'archived_at'])
    .select((eb) => eb.selectFrom('members').select(eb.fn.countAll<number>().as('n')).whereRef('members.room_id', '=', 'rooms.id').as('members'))
    .$if(q !== undefined && q !== '', (b) => b.where(sql<boolean>`lower(name) LIKE ${`%${escapeLike((q as string).toLowerCase())}%`} ESCAPE '\\'`))
    .$if(after !== undefined, (b) => {
      const cursor = after as { createdAt: number; id: string };
      return b.where((eb) => eb.or([eb('created_at', '<', cursor.createdAt), eb.and([eb('created_at', '=', cursor.createdAt), eb('id', '<', cursor.id)])]));
    })
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({ ...toRoom(r), members: Number(r.members ?? 0) }));
}

export async function recordServerAudit(db: Kysely<Database>, entry: ServerAuditInput): Promise<void> {
  await db
    .insertInto('server_audit')
    .values({ at: entry.at, action: entry.action, actor_id: entry.actorId, via: entry.via, user_id: entry.userId, room_id: entry.roomId, data: entry.data === null ? null : JSON.stringify(entry.data) })
    .execute();
}

/**
 * Deletes up to `limit` of the oldest entries written before `before` (by `at`, indexed); answers
 * how many went. The newest entry always stays: on SQLite the next id is the largest one plus
 * one, so emptying the table would hand out ids again from 1, below what the nodes' console
 * watch has seen (it would take the console's new actions for ones it handled).
 */
export async function pruneServerAudit(db: Kysely<Database>, before: number, limit: number): Promise<number> {
  const newest = (await db.selectFrom('server_audit').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst())?.id;
  if (newest === null || newest === undefined) return 0;
  const result = await db
    .deleteFrom('server_audit')
    .where('id', 'in', (eb) => eb.selectFrom('server_audit').select('id').where('at', '<', before).where('id', '<', Number(newest)).orderBy('at').limit(limit))
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** The server's audit log, newest first, with id < `before` when given; at most `limit`. */
export async function listServerAudit(db: Kysely<Database>, before: number | undefined, limit: number): Promise<ServerAuditRecord[]> {
  const rows = await db
    .selectFrom('server_audit as a')
    .leftJoin('users as actor', 'actor.id', 'a.actor_id')
    .leftJoin('users as target', 'target.id', 'a.user_id')
    .select(['a.id', 'a.at', 'a.action', 'a.actor_id', 'a.via', 'a.user_id', 'a.room_id', 'a.data', 'actor.username as actor_username', 'target.username as target_username'])
    .$if(before !== undefined, (q) => q.where('a.id', '<', before as number))
    .orderBy('a.id', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    at: Number(r.at),
    action: r.action,
    actor: r.actor_id === null ? null : { id: r.actor_id, username: r.actor_username ?? '' },
    via: r.via,
    user: r.user_id === null ? null : { id: r.user_id, username: r.target_username ?? '' },
    roomId: r.room_id,
    data: r.data === null ? null : (JSON.parse(r.data) as Record<string, unknown>),
  }));
}
