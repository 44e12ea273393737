/**
 * The SQL of threads and reactions, for SqlStore (both dialects). Replies, their counters and
 * automatic follows are written by the append path (append.ts); this file reads them, and
 * writes what a user does to a thread outside the room stream (follow, unfollow, mark read).
 */
import { type Kysely, sql } from 'kysely';
import type { FollowedThreadRecord, MessageReactions, MessageRecord } from '../../domain/types.js';
import type { ThreadCursor, ThreadPage } from '../../ports.js';
import { type SqlDialect, inChunks } from './dialect.js';
import { toMessage } from './mappers.js';
import { MESSAGE_COLUMNS, selectMessages } from './queries.js';
import type { Database } from './schema.js';

/**
 * The counts of the page's messages from reaction_counts (at most the per-message bound each),
 * and the reader's own reactions to them by primary-key prefix (room, seq, user): never every
 * reactor of a message.
 */
export async function reactionsOf(db: Kysely<Database>, dialect: SqlDialect, roomId: string, seqs: number[], userId: string): Promise<MessageReactions[]> {
  const wanted = [...new Set(seqs)];
  const bySeq = new Map<number, MessageReactions>();
  const mine = new Set<string>();
  await inChunks(wanted, 1, dialect, async (chunk) => {
    const [counts, own] = await Promise.all([
      db
        .selectFrom('reaction_counts')
        .select(['seq', 'emoji', 'count'])
        .where('room_id', '=', roomId)
        .where('seq', 'in', chunk)
        // The emoji first added comes first, so a message's reactions keep their places.
        .orderBy('seq')
        .orderBy('first_at')
        .orderBy('emoji')
        .execute(),
      db.selectFrom('reactions').select(['seq', 'emoji']).where('room_id', '=', roomId).where('seq', 'in', chunk).where('user_id', '=', userId).execute(),
    ]);
    for (const r of own) mine.add(`${Number(r.seq)}\u0000${r.emoji}`);
    for (const r of counts) {
      const seq = Number(r.seq);
      const entry = bySeq.get(seq) ?? { seq, reactions: [] };
      entry.reactions.push({ emoji: r.emoji, count: Number(r.count), me: false });
      bySeq.set(seq, entry);
    }
  });
  for (const entry of bySeq.values()) for (const r of entry.reactions) r.me = mine.has(`${entry.seq}\u0000${r.emoji}`);
  return [...bySeq.values()];
}

/** The room's top-level message `seq`, or undefined (no such message, or it is a reply). */
async function findRoot(db: Kysely<Database>, roomId: string, seq: number): Promise<MessageRecord | undefined> {
  const row = await selectMessages(db).where('m.room_id', '=', roomId).where('m.seq', '=', seq).where('m.thread_root', 'is', null).executeTakeFirst();
  return row && toMessage(row);
}

export async function readThread(db: Kysely<Database>, roomId: string, rootSeq: number, after: number, limit: number): Promise<ThreadPage | undefined> {
  const root = await findRoot(db, roomId, rootSeq);
  if (root === undefined) return undefined;
  const rows = await selectMessages(db)
    .where('m.room_id', '=', roomId)
    .where('m.thread_root', '=', rootSeq)
    .where('m.seq', '>', after)
    .orderBy('m.seq', 'asc')
    .limit(limit + 1)
    .execute();
  return { root, replies: rows.slice(0, limit).map(toMessage), hasMore: rows.length > limit };
}

export async function setThreadFollow(trx: Kysely<Database>, roomId: string, rootSeq: number, userId: string, following: boolean): Promise<boolean> {
  if ((await findRoot(trx, roomId, rootSeq)) === undefined) return false;
  const room = await trx.selectFrom('rooms').select('last_seq').where('id', '=', roomId).executeTakeFirstOrThrow();
  // A follow (a first one, or one after unfollowing) starts with the thread read as it is: only
  // later replies count as unread. Following again while following moves nothing.
  const head = room.last_seq;
  await trx
    .insertInto('thread_follows')
    .values({ room_id: roomId, root_seq: rootSeq, user_id: userId, following: following ? 1 : 0, last_read_seq: head })
    .onConflict((oc) =>
      oc.columns(['room_id', 'root_seq', 'user_id']).doUpdateSet(
        following
          ? {
              following: 1,
              last_read_seq: sql<number>`CASE WHEN thread_follows.following = 0 AND thread_follows.last_read_seq < ${head} THEN ${head} ELSE thread_follows.last_read_seq END`,
            }
          : { following: 0 },
      ),
    )
    .execute();
  return true;
}

export async function threadFollowOf(db: Kysely<Database>, roomId: string, rootSeq: number, userId: string): Promise<{ following: boolean; lastReadSeq: number | null }> {
  const row = await db.selectFrom('thread_follows').select(['following', 'last_read_seq']).where('room_id', '=', roomId).where('root_seq', '=', rootSeq).where('user_id', '=', userId).executeTakeFirst();
  return row === undefined ? { following: false, lastReadSeq: null } : { following: Number(row.following) === 1, lastReadSeq: Number(row.last_read_seq) };
}

export async function markThreadRead(trx: Kysely<Database>, roomId: string, rootSeq: number, userId: string, seq: number): Promise<number | null> {
  if ((await findRoot(trx, roomId, rootSeq)) === undefined) return null;
  const room = await trx.selectFrom('rooms').select('last_seq').where('id', '=', roomId).executeTakeFirstOrThrow();
  const marker = Math.min(seq, room.last_seq);
  await trx
    .insertInto('thread_follows')
    .values({ room_id: roomId, root_seq: rootSeq, user_id: userId, following: 0, last_read_seq: marker })
    .onConflict((oc) =>
      oc.columns(['room_id', 'root_seq', 'user_id']).doUpdateSet({
        last_read_seq: sql<number>`CASE WHEN thread_follows.last_read_seq < ${marker} THEN ${marker} ELSE thread_follows.last_read_seq END`,
      }),
    )
    .execute();
  const row = await trx.selectFrom('thread_follows').select('last_read_seq').where('room_id', '=', roomId).where('root_seq', '=', rootSeq).where('user_id', '=', userId).executeTakeFirstOrThrow();
  return Number(row.last_read_seq);
}

/**
 * One page of followed threads, by activity. The unread count walks at most 2 × (cap + 1)
 * replies after the marker along messages_thread, as room unread counts do (listMemberRooms).
 */
export async function listFollowedThreads(
  db: Kysely<Database>,
  userId: string,
  cursor: ThreadCursor | null,
  limit: number,
  unreadCap: number,
): Promise<{ threads: FollowedThreadRecord[]; next: ThreadCursor | null }> {
  const cap = Math.max(1, Math.floor(unreadCap));
  const walk = 2 * (cap + 1);
  const activity = sql<number>`coalesce(m.last_reply_at, m.created_at)`;
  const window = sql`SELECT x.deleted, x.author_id FROM messages x WHERE x.room_id = f.room_id AND x.thread_root = f.root_seq AND x.seq > f.last_read_seq ORDER BY x.seq LIMIT ${walk}`;
  let q = db
    .selectFrom('thread_follows as f')
    .innerJoin('members as mb', (join) => join.onRef('mb.room_id', '=', 'f.room_id').onRef('mb.user_id', '=', 'f.user_id'))
    .innerJoin('messages as m', (join) => join.onRef('m.room_id', '=', 'f.room_id').onRef('m.seq', '=', 'f.root_seq'))
    .innerJoin('users as u', 'u.id', 'm.author_id')
    .select([...MESSAGE_COLUMNS, 'f.last_read_seq'])
    .select(activity.as('activity'))
    .select(sql<number>`(SELECT count(*) FROM (${window}) w WHERE w.deleted = 0 AND w.author_id <> f.user_id)`.as('unread'))
    .where('f.user_id', '=', userId)
    .where('f.following', '=', 1);
  if (cursor !== null) {
    q = q.where(
      sql<boolean>`(${activity} < ${cursor.at} OR (${activity} = ${cursor.at} AND (f.room_id > ${cursor.roomId} OR (f.room_id = ${cursor.roomId} AND f.root_seq > ${cursor.rootSeq}))))`,
    );
  }
  const rows = await q
    .orderBy(activity, 'desc')
    .orderBy('f.room_id')
    .orderBy('f.root_seq')
    .limit(limit + 1)
    .execute();
  const page = rows.slice(0, limit);
  const threads = page.map((r) => ({ root: toMessage(r), lastReadSeq: Number(r.last_read_seq), unread: Math.min(Number(r.unread ?? 0), cap) }));
  const last = page.at(-1);
  const next = rows.length > limit && last !== undefined ? { at: Number(last.activity), roomId: last.room_id, rootSeq: Number(last.seq) } : null;
  return { threads, next };
}

export async function listThreadFollowers(db: Kysely<Database>, roomId: string, rootSeq: number): Promise<string[]> {
  // Members only: someone who left the room keeps their row but hears nothing of it.
  const rows = await db
    .selectFrom('thread_follows as f')
    .innerJoin('members as mb', (join) => join.onRef('mb.room_id', '=', 'f.room_id').onRef('mb.user_id', '=', 'f.user_id'))
    .select('f.user_id')
    .where('f.room_id', '=', roomId)
    .where('f.root_seq', '=', rootSeq)
    .where('f.following', '=', 1)
    .orderBy('f.user_id')
    .execute();
  return rows.map((r) => r.user_id);
}
