/** The SQL of notifications, their preferences and cursors, blocks and digests, for SqlStore (both dialects). */
import { type Kysely, sql } from 'kysely';
import type {
  Author,
  DigestCandidate,
  NewNotification,
  NotificationKind,
  NotificationRecord,
  NotificationSettingsRecord,
  NotifyLevel,
  NotifyPrefRecord,
} from '../../domain/types.js';
import type { NotificationPage, NotificationSettingsChanges } from '../../ports.js';
import { toAuthor } from './mappers.js';
import type { Database } from './schema.js';

/** The larger of the stored value and the one being upserted, in both dialects. */
export const keepMax = (table: string, column: string) => sql<number>`CASE WHEN ${sql.ref(`excluded.${column}`)} > ${sql.ref(`${table}.${column}`)} THEN ${sql.ref(`excluded.${column}`)} ELSE ${sql.ref(`${table}.${column}`)} END`;

export async function notificationCursor(db: Kysely<Database>, roomId: string): Promise<number> {
  const row = await db.selectFrom('notification_cursors').select('cursor_seq').where('room_id', '=', roomId).executeTakeFirst();
  return row === undefined ? 0 : Number(row.cursor_seq);
}

export async function advanceNotificationCursor(db: Kysely<Database>, roomId: string, seq: number): Promise<void> {
  await db
    .insertInto('notification_cursors')
    .values({ room_id: roomId, cursor_seq: seq })
    .onConflict((oc) => oc.column('room_id').doUpdateSet({ cursor_seq: keepMax('notification_cursors', 'cursor_seq') }))
    .execute();
}

/**
 * Rooms whose stream has events the notifier has not read, furthest behind first. One read of
 * every room's (id, last_seq), once a minute by one process of the fleet (the sweep is a repeat
 * job): the price of finding the rooms whose notifier run was lost with its process.
 */
export async function roomsBehindNotifier(db: Kysely<Database>, limit: number): Promise<string[]> {
  const rows = await db
    .selectFrom('rooms as r')
    .leftJoin('notification_cursors as c', 'c.room_id', 'r.id')
    .select('r.id')
    .where(sql<boolean>`r.last_seq > coalesce(c.cursor_seq, 0)`)
    .orderBy(sql`r.last_seq - coalesce(c.cursor_seq, 0)`, 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

export async function listNotifyPrefs(db: Kysely<Database>, roomId: string): Promise<NotifyPrefRecord[]> {
  const rows = await db.selectFrom('notification_prefs').select(['user_id', 'level', 'muted_until']).where('room_id', '=', roomId).execute();
  return rows.map((r) => ({ userId: r.user_id, level: r.level as NotifyLevel, mutedUntil: r.muted_until === null ? null : Number(r.muted_until) }));
}

export async function findNotifyPref(db: Kysely<Database>, roomId: string, userId: string): Promise<NotifyPrefRecord | undefined> {
  const r = await db.selectFrom('notification_prefs').select(['user_id', 'level', 'muted_until']).where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst();
  return r === undefined ? undefined : { userId: r.user_id, level: r.level as NotifyLevel, mutedUntil: r.muted_until === null ? null : Number(r.muted_until) };
}

export async function setNotifyPref(db: Kysely<Database>, roomId: string, pref: NotifyPrefRecord): Promise<void> {
  await db
    .insertInto('notification_prefs')
    .values({ room_id: roomId, user_id: pref.userId, level: pref.level, muted_until: pref.mutedUntil })
    .onConflict((oc) => oc.columns(['room_id', 'user_id']).doUpdateSet({ level: pref.level, muted_until: pref.mutedUntil }))
    .execute();
}

/** Writes the notifications that are not there yet; answers the ones written, with their ids. */
export async function insertNotifications(db: Kysely<Database>, rows: NewNotification[]): Promise<Array<NewNotification & { id: number }>> {
  if (rows.length === 0) return [];
  const written = await db
    .insertInto('notifications')
    .values(rows.map((n) => ({ user_id: n.userId, room_id: n.roomId, seq: n.seq, kind: n.kind, actor_id: n.actorId, created_at: n.createdAt })))
    .onConflict((oc) => oc.columns(['user_id', 'room_id', 'seq']).doNothing())
    .returning(['id', 'user_id', 'room_id', 'seq'])
    .execute();
  const byKey = new Map(rows.map((n) => [`${n.userId}\n${n.roomId}\n${n.seq}`, n]));
  return written.flatMap((w) => {
    const n = byKey.get(`${w.user_id}\n${w.room_id}\n${Number(w.seq)}`);
    return n === undefined ? [] : [{ ...n, id: Number(w.id) }];
  });
}

/**
 * The user's notification rows (`n`) with their actors (`u`), in the page's order and bounds:
 * newest first (before a cursor, or from the newest), or oldest first after a cursor.
 */
export function notificationPage(db: Kysely<Database>, userId: string, page: NotificationPage) {
  const query = db.selectFrom('notifications as n').innerJoin('users as u', 'u.id', 'n.actor_id').where('n.user_id', '=', userId);
  const ordered =
    page.after !== undefined
      ? query.where('n.id', '>', page.after).orderBy('n.id', 'asc')
      : query.$if(page.before !== undefined, (q) => q.where('n.id', '<', page.before as number)).orderBy('n.id', 'desc');
  return ordered.limit(page.limit);
}

/**
 * The user's notifications in rooms they are still a member of, with the message as it is now:
 * newest first (before a cursor, or from the newest), or oldest first after a cursor.
 */
export async function listNotifications(db: Kysely<Database>, userId: string, page: NotificationPage): Promise<NotificationRecord[]> {
  const rows = await notificationPage(db, userId, page)
    .innerJoin('members as mb', (j) => j.onRef('mb.room_id', '=', 'n.room_id').onRef('mb.user_id', '=', 'n.user_id'))
    .innerJoin('rooms as r', 'r.id', 'n.room_id')
    .leftJoin('messages as m', (j) => j.onRef('m.room_id', '=', 'n.room_id').onRef('m.seq', '=', 'n.seq'))
    .select(['n.id', 'n.room_id', 'r.name as room_name', 'n.seq', 'n.kind', 'n.created_at', 'u.id as actor_id', 'u.username', 'u.display_name', 'u.bot_owner_id', 'm.body', 'm.deleted'])
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    roomId: r.room_id,
    roomName: r.room_name,
    seq: Number(r.seq),
    kind: r.kind as NotificationKind,
    actor: toAuthor(r.actor_id, r.username, r.display_name, r.bot_owner_id) as Author,
    createdAt: Number(r.created_at),
    body: r.body === null || Number(r.deleted) === 1 ? '' : r.body,
  }));
}

/** Unread notifications (after the read marker) in rooms the user is still in, counted up to `cap`. */
export async function countUnreadNotifications(db: Kysely<Database>, userId: string, readUpTo: number, cap: number): Promise<number> {
  const row = await db
    .selectFrom((q) =>
      q
        .selectFrom('notifications as n')
        .innerJoin('members as mb', (j) => j.onRef('mb.room_id', '=', 'n.room_id').onRef('mb.user_id', '=', 'n.user_id'))
        .select('n.id')
        .where('n.user_id', '=', userId)
        .where('n.id', '>', readUpTo)
        .limit(cap)
        .as('unread'),
    )
    .select((eb) => eb.fn.countAll<number>().as('count'))
    .executeTakeFirst();
  return Number(row?.count ?? 0);
}

const DEFAULT_SETTINGS: NotificationSettingsRecord = { readUpTo: 0, email: null, emailDigest: true, digestSentUpTo: 0 };

export async function notificationSettings(db: Kysely<Database>, userId: string): Promise<NotificationSettingsRecord> {
  const r = await db.selectFrom('notification_settings').selectAll().where('user_id', '=', userId).executeTakeFirst();
  if (r === undefined) return DEFAULT_SETTINGS;
  return { readUpTo: Number(r.read_up_to), email: r.email, emailDigest: Number(r.email_digest) === 1, digestSentUpTo: Number(r.digest_sent_up_to) };
}

export async function updateNotificationSettings(db: Kysely<Database>, userId: string, c: NotificationSettingsChanges): Promise<void> {
  const set: { email?: string | null; email_digest?: number } = {};
  if (c.email !== undefined) set.email = c.email;
  if (c.emailDigest !== undefined) set.email_digest = c.emailDigest ? 1 : 0;
  if (Object.keys(set).length === 0) return;
  await db
    .insertInto('notification_settings')
    .values({ user_id: userId, ...set })
    .onConflict((oc) => oc.column('user_id').doUpdateSet(set))
    .execute();
}

/** Moves the read marker forward (never back); answers where it is. */
export async function advanceNotificationsRead(db: Kysely<Database>, userId: string, upTo: number): Promise<number> {
  await db
    .insertInto('notification_settings')
    .values({ user_id: userId, read_up_to: upTo })
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ read_up_to: keepMax('notification_settings', 'read_up_to') }))
    .execute();
  return (await notificationSettings(db, userId)).readUpTo;
}

export async function markDigestSent(db: Kysely<Database>, userId: string, upTo: number): Promise<void> {
  await db
    .insertInto('notification_settings')
    .values({ user_id: userId, digest_sent_up_to: upTo })
    .onConflict((oc) => oc.column('user_id').doUpdateSet({ digest_sent_up_to: keepMax('notification_settings', 'digest_sent_up_to') }))
    .execute();
}

/**
 * Users with an address and digests on who have mention notifications, unread and not mailed,
 * written at or before `olderThan`; at most `limit`.
 */
export async function digestCandidates(db: Kysely<Database>, olderThan: number, limit: number): Promise<DigestCandidate[]> {
  const rows = await db
    .selectFrom('notification_settings as s')
    .innerJoin('notifications as n', 'n.user_id', 's.user_id')
    .select(['s.user_id', 's.email', (eb) => eb.fn.max('n.id').as('up_to')])
    .where('s.email', 'is not', null)
    .where('s.email_digest', '=', 1)
    .where('n.kind', 'in', ['mention', 'room_mention'])
    .where(sql<boolean>`n.id > s.read_up_to`)
    .where(sql<boolean>`n.id > s.digest_sent_up_to`)
    .where('n.created_at', '<=', olderThan)
    .groupBy(['s.user_id', 's.email'])
    .limit(limit)
    .execute();
  return rows.map((r) => ({ userId: r.user_id, email: r.email as string, upTo: Number(r.up_to) }));
}

export async function block(db: Kysely<Database>, userId: string, blockedId: string, at: number): Promise<void> {
  await db.insertInto('blocks').values({ user_id: userId, blocked_id: blockedId, created_at: at }).onConflict((oc) => oc.columns(['user_id', 'blocked_id']).doNothing()).execute();
}

export async function unblock(db: Kysely<Database>, userId: string, blockedId: string): Promise<void> {
  await db.deleteFrom('blocks').where('user_id', '=', userId).where('blocked_id', '=', blockedId).execute();
}

export async function listBlocks(db: Kysely<Database>, userId: string): Promise<Array<{ user: Author; createdAt: number }>> {
  const rows = await db
    .selectFrom('blocks as b')
    .innerJoin('users as u', 'u.id', 'b.blocked_id')
    .select(['u.id', 'u.username', 'u.display_name', 'u.bot_owner_id', 'b.created_at'])
    .where('b.user_id', '=', userId)
    .orderBy('b.created_at', 'desc')
    .orderBy('u.id')
    .execute();
  return rows.map((r) => ({ user: toAuthor(r.id, r.username, r.display_name, r.bot_owner_id), createdAt: Number(r.created_at) }));
}

/** Everyone who blocked `blockedId`. */
export async function blockersOf(db: Kysely<Database>, blockedId: string): Promise<string[]> {
  const rows = await db.selectFrom('blocks').select('user_id').where('blocked_id', '=', blockedId).execute();
  return rows.map((r) => r.user_id);
}

/** Whether either of the two blocked the other. */
export async function blockedEitherWay(db: Kysely<Database>, a: string, b: string): Promise<boolean> {
  const row = await db
    .selectFrom('blocks')
    .select('user_id')
    .where((eb) => eb.or([eb.and([eb('user_id', '=', a), eb('blocked_id', '=', b)]), eb.and([eb('user_id', '=', b), eb('blocked_id', '=', a)])]))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
