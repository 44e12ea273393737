/**
 * One group-committed batch of stream appends, inside the caller's transaction: the locking and
 * the I/O around the domain's rules (src/domain/stream-rules.ts), which decide every outcome.
 *
 * The batch costs a fixed number of statements whatever its size: lock the rooms (in id order,
 * so concurrent batches cannot deadlock), read the state the rules need (members, earlier
 * messages with the same clientMsgId, messages being edited or deleted, actors), plan, then
 * write with multi-row inserts. Only edits and deletes of messages committed earlier cost one
 * UPDATE each.
 */
import { type Kysely, sql } from 'kysely';
import { type BatchPlan, type BatchState, clientMsgKey, memberKey, messageKey, planBatch, reactionKey, restrictionKey } from '../../domain/stream-rules.js';
import type { Author, MessageRecord, UploadRecord } from '../../domain/types.js';
import type { AppendOutcome, AppendRequest } from '../../ports.js';
import { type SqlDialect, inChunks } from './dialect.js';
import { type MessageRow, toAuthor, toMember, toMessage } from './mappers.js';
import { toUpload } from './uploads.js';
import type { Database, EventsTable, MembersTable, MessagesTable } from './schema.js';
import { selectMessages } from './queries.js';

/**
 * The membership rows of the batch's (room, user) pairs. Asked by pairs, not as rooms × users:
 * a batch of DM traffic has hundreds of each, and the cross product was hundreds of thousands of
 * index probes.
 */
async function membersOf(trx: Kysely<Database>, dialect: SqlDialect, requests: AppendRequest[], rooms: Set<string>): Promise<MembersTable[]> {
  const wanted = requests.flatMap((r) => (r.kind === 'member_joined' && r.addedBy !== null ? [{ roomId: r.roomId, userId: r.userId }, { roomId: r.roomId, userId: r.addedBy }] : [{ roomId: r.roomId, userId: r.userId }]));
  return memberPairs(trx, dialect, wanted.filter((r) => rooms.has(r.roomId)));
}

/**
 * The memberships of the authors of messages the batch deletes, when someone else deletes them:
 * the rules weigh the deleter's rank against the author's. Asked only for such deletes (rare),
 * after the targets are read, and only for pairs not read already.
 */
async function authorsOf(trx: Kysely<Database>, dialect: SqlDialect, requests: AppendRequest[], targets: MessageRow[], known: MembersTable[]): Promise<MembersTable[]> {
  const authors = new Map(targets.map((t) => [messageKey(t.room_id, t.seq), t.author_id]));
  const have = new Set(known.map((m) => memberKey(m.room_id, m.user_id)));
  const wanted = requests.flatMap((r) => {
    if (r.kind !== 'delete') return [];
    const author = authors.get(messageKey(r.roomId, r.target));
    return author === undefined || author === r.userId || have.has(memberKey(r.roomId, author)) ? [] : [{ roomId: r.roomId, userId: author }];
  });
  return wanted.length === 0 ? [] : memberPairs(trx, dialect, wanted);
}

/**
 * The bans of the users the batch adds and the mutes of its senders, asked by (room, user,
 * kind) triples: primary-key probes of room_restrictions. Nothing is asked for a batch of edits.
 */
async function restrictionsOf(trx: Kysely<Database>, dialect: SqlDialect, requests: AppendRequest[], rooms: Set<string>): Promise<Array<{ room_id: string; user_id: string; kind: 'ban' | 'mute'; until: number | null }>> {
  const wanted = requests.flatMap((r) =>
    rooms.has(r.roomId) && (r.kind === 'message' || r.kind === 'reaction_added' || r.kind === 'member_joined') ? [{ roomId: r.roomId, userId: r.userId, kind: r.kind === 'member_joined' ? ('ban' as const) : ('mute' as const) }] : [],
  );
  const triples = [...new Map(wanted.map((r) => [restrictionKey(r.roomId, r.userId, r.kind), r] as const)).values()];
  const rows: Array<{ room_id: string; user_id: string; kind: 'ban' | 'mute'; until: number | null }> = [];
  await inChunks(triples, 3, dialect, async (chunk) => {
    const values = sql.join(chunk.map((r) => sql`(${r.roomId}, ${r.userId}, ${r.kind})`));
    rows.push(...(await trx.selectFrom('room_restrictions').select(['room_id', 'user_id', 'kind', 'until']).where(sql<boolean>`(room_id, user_id, kind) IN (VALUES ${values})`).execute()));
  });
  return rows;
}

async function memberPairs(trx: Kysely<Database>, dialect: SqlDialect, wanted: Array<{ roomId: string; userId: string }>): Promise<MembersTable[]> {
  const pairs = [...new Map(wanted.map((r) => [memberKey(r.roomId, r.userId), r] as const)).values()];
  const rows: MembersTable[] = [];
  await inChunks(pairs, 2, dialect, async (chunk) => {
    const values = sql.join(chunk.map((r) => sql`(${r.roomId}, ${r.userId})`));
    rows.push(...(await trx.selectFrom('members').selectAll().where(sql<boolean>`(room_id, user_id) IN (VALUES ${values})`).execute()));
  });
  return rows;
}

/**
 * Messages already stored under the batch's (room, author, clientMsgId) triples: asked by
 * triples, with `client_msg_id IS NOT NULL` spelt out, so both stores probe the partial unique
 * index messages_client_msg_id on all three columns. Asked by room and clientMsgId alone, the
 * index served only its room prefix, and the lookup read every message of the room (issue 10).
 */
async function earlierSends(trx: Kysely<Database>, dialect: SqlDialect, requests: AppendRequest[], rooms: Set<string>): Promise<MessageRow[]> {
  const wanted = requests.flatMap((r) => (r.kind === 'message' && r.clientMsgId !== null && rooms.has(r.roomId) ? [{ roomId: r.roomId, userId: r.userId, clientMsgId: r.clientMsgId }] : []));
  const triples = [...new Map(wanted.map((r) => [clientMsgKey(r.roomId, r.userId, r.clientMsgId), r] as const)).values()];
  const rows: MessageRow[] = [];
  await inChunks(triples, 3, dialect, async (chunk) => {
    const values = sql.join(chunk.map((r) => sql`(${r.roomId}, ${r.userId}, ${r.clientMsgId})`));
    rows.push(
      ...(await selectMessages(trx)
        .where(sql<boolean>`(m.room_id, m.author_id, m.client_msg_id) IN (VALUES ${values})`)
        .where('m.client_msg_id', 'is not', null)
        .execute()),
    );
  });
  return rows;
}

/** The seq of the message a request changes, reacts to, or replies to, if any. */
function targetOf(r: AppendRequest): number | null {
  switch (r.kind) {
    case 'edit':
    case 'delete':
    case 'reaction_added':
    case 'reaction_removed':
      return r.target;
    case 'message':
      return r.threadRoot ?? null;
    default:
      return null;
  }
}

/**
 * The messages edited, deleted or reacted to by the batch, and the roots its replies answer,
 * asked by (room, seq) pairs: primary-key probes, never rooms × seqs.
 */
async function editTargets(trx: Kysely<Database>, dialect: SqlDialect, requests: AppendRequest[], rooms: Set<string>): Promise<MessageRow[]> {
  const wanted = requests.flatMap((r) => {
    const seq = targetOf(r);
    return seq !== null && rooms.has(r.roomId) ? [{ roomId: r.roomId, seq }] : [];
  });
  const pairs = [...new Map(wanted.map((r) => [messageKey(r.roomId, r.seq), r] as const)).values()];
  const rows: MessageRow[] = [];
  await inChunks(pairs, 2, dialect, async (chunk) => {
    const values = sql.join(chunk.map((r) => sql`(${r.roomId}, CAST(${r.seq} AS BIGINT))`));
    rows.push(...(await selectMessages(trx).where(sql<boolean>`(m.room_id, m.seq) IN (VALUES ${values})`).execute()));
  });
  return rows;
}

/**
 * The uploads the batch's messages attach, locked (PostgreSQL) so the files sweep cannot doom
 * one between this read and the batch's commit: it waits, then sees it attached.
 */
async function attachmentsOf(trx: Kysely<Database>, dialect: SqlDialect, requests: AppendRequest[]): Promise<UploadRecord[]> {
  // In id order, as every batch locks them: two batches never wait on each other's uploads crosswise.
  const ids = [...new Set(requests.flatMap((r) => (r.kind === 'message' ? (r.attachments ?? []) : [])))].sort();
  const rows: UploadRecord[] = [];
  await inChunks(ids, 1, dialect, async (chunk) => {
    let query = trx.selectFrom('uploads').selectAll().where('id', 'in', chunk).orderBy('id');
    if (dialect.lockRows) query = query.forUpdate();
    rows.push(...(await query.execute()).map(toUpload));
  });
  return rows;
}

type ReactionRequest = Extract<AppendRequest, { kind: 'reaction_added' | 'reaction_removed' }>;
const isReaction = (r: AppendRequest): r is ReactionRequest => r.kind === 'reaction_added' || r.kind === 'reaction_removed';

/**
 * What the rules need of the batch's reactions: the distinct emoji of each message reacted to
 * (from reaction_counts: at most the per-message bound each), and which of the batch's
 * (message, user, emoji) reactions exist (primary-key probes). Never every reactor of a message.
 */
async function reactionState(trx: Kysely<Database>, dialect: SqlDialect, requests: AppendRequest[], rooms: Set<string>): Promise<{ emoji: Map<string, Set<string>>; reacted: Set<string> }> {
  const reactions = requests.filter(isReaction).filter((r) => rooms.has(r.roomId));
  const emoji = new Map<string, Set<string>>();
  const reacted = new Set<string>();
  if (reactions.length === 0) return { emoji, reacted };
  const messagesOf = [...new Map(reactions.map((r) => [messageKey(r.roomId, r.target), r] as const)).values()];
  await inChunks(messagesOf, 2, dialect, async (chunk) => {
    const values = sql.join(chunk.map((r) => sql`(${r.roomId}, CAST(${r.target} AS BIGINT))`));
    const rows = await trx
      .selectFrom('reaction_counts')
      .select(['room_id', 'seq', 'emoji'])
      .where(sql<boolean>`(room_id, seq) IN (VALUES ${values})`)
      .execute();
    for (const row of rows) {
      const k = messageKey(row.room_id, Number(row.seq));
      const set = emoji.get(k) ?? new Set<string>();
      set.add(row.emoji);
      emoji.set(k, set);
    }
  });
  const keys = [...new Map(reactions.map((r) => [reactionKey(r.roomId, r.target, r.emoji, r.userId), r] as const)).values()];
  await inChunks(keys, 4, dialect, async (chunk) => {
    const values = sql.join(chunk.map((r) => sql`(${r.roomId}, CAST(${r.target} AS BIGINT), ${r.userId}, ${r.emoji})`));
    const rows = await trx
      .selectFrom('reactions')
      .select(['room_id', 'seq', 'emoji', 'user_id'])
      .where(sql<boolean>`(room_id, seq, user_id, emoji) IN (VALUES ${values})`)
      .execute();
    for (const row of rows) reacted.add(reactionKey(row.room_id, Number(row.seq), row.emoji, row.user_id));
  });
  return { emoji, reacted };
}

/** The reaction rows the batch adds and removes, and the counts they move (a count at zero leaves). */
async function writeReactions(trx: Kysely<Database>, dialect: SqlDialect, plan: BatchPlan): Promise<void> {
  await inChunks(plan.reactionsAdded, 5, dialect, (chunk) =>
    trx
      .insertInto('reactions')
      .values(chunk.map((r) => ({ room_id: r.roomId, seq: r.seq, emoji: r.emoji, user_id: r.userId, created_at: r.at })))
      .execute(),
  );
  for (const r of plan.reactionsRemoved) {
    await trx.deleteFrom('reactions').where('room_id', '=', r.roomId).where('seq', '=', r.seq).where('user_id', '=', r.userId).where('emoji', '=', r.emoji).execute();
  }
  const deltas = new Map<string, { roomId: string; seq: number; emoji: string; delta: number; at: number }>();
  for (const [rows, delta] of [
    [plan.reactionsAdded, 1],
    [plan.reactionsRemoved, -1],
  ] as const) {
    for (const r of rows) {
      const k = reactionKey(r.roomId, r.seq, r.emoji, '');
      const d = deltas.get(k) ?? { roomId: r.roomId, seq: r.seq, emoji: r.emoji, delta: 0, at: r.at };
      d.delta += delta;
      deltas.set(k, d);
    }
  }
  for (const d of deltas.values()) {
    if (d.delta === 0) continue;
    await trx
      .insertInto('reaction_counts')
      .values({ room_id: d.roomId, seq: d.seq, emoji: d.emoji, count: d.delta, first_at: d.at })
      .onConflict((oc) => oc.columns(['room_id', 'seq', 'emoji']).doUpdateSet({ count: sql<number>`reaction_counts.count + ${d.delta}` }))
      .execute();
    if (d.delta < 0) {
      await trx.deleteFrom('reaction_counts').where('room_id', '=', d.roomId).where('seq', '=', d.seq).where('emoji', '=', d.emoji).where('count', '<=', 0).execute();
    }
  }
}

/** The thread counters and automatic follows of the batch's replies and deleted replies. */
async function writeThreads(trx: Kysely<Database>, plan: BatchPlan): Promise<void> {
  for (const c of plan.threadCounts) {
    await trx
      .updateTable('messages')
      .set((eb) => ({
        reply_count: eb('reply_count', '+', c.delta),
        ...(c.lastReplyAt === null ? {} : { last_reply_at: sql<number>`CASE WHEN last_reply_at IS NULL OR last_reply_at < ${c.lastReplyAt} THEN ${c.lastReplyAt} ELSE last_reply_at END` }),
      }))
      .where('room_id', '=', c.roomId)
      .where('seq', '=', c.rootSeq)
      .execute();
  }
  for (const f of plan.follows) {
    await trx
      .insertInto('thread_follows')
      .values({ room_id: f.roomId, root_seq: f.rootSeq, user_id: f.userId, following: 1, last_read_seq: f.readSeq })
      .onConflict((oc) => {
        const on = oc.columns(['room_id', 'root_seq', 'user_id']);
        // A replier follows again and has read up to their reply; the root's author keeps their row as it is.
        return f.replier
          ? on.doUpdateSet({
              following: 1,
              last_read_seq: sql<number>`CASE WHEN thread_follows.last_read_seq < ${f.readSeq} THEN ${f.readSeq} ELSE thread_follows.last_read_seq END`,
            })
          : on.doNothing();
      })
      .execute();
  }
}

const messageRow = (m: MessageRecord): Omit<MessagesTable, 'attachments' | 'thread_root' | 'reply_count' | 'last_reply_at' | 'search_text' | 'search_seq'> & { attachments: string | null; thread_root: number | null } => ({
  room_id: m.roomId,
  seq: m.seq,
  id: m.id,
  author_id: m.author.id,
  body: m.body,
  created_at: m.createdAt,
  edited_at: m.editedAt,
  deleted: m.deleted ? 1 : 0,
  client_msg_id: m.clientMsgId,
  attachments: m.attachments === undefined || m.deleted ? null : JSON.stringify(m.attachments),
  thread_root: m.threadRoot ?? null,
});

export async function appendBatch(trx: Kysely<Database>, dialect: SqlDialect, requests: AppendRequest[]): Promise<AppendOutcome[]> {
  const roomIds = [...new Set(requests.map((r) => r.roomId))].sort();
  const userIds = [...new Set(requests.map((r) => r.userId))];

  const rooms = await trx
    .selectFrom('rooms')
    .select(['id', 'last_seq', 'last_activity_at', 'archived_at'])
    .where('id', 'in', roomIds)
    .orderBy('id')
    .$if(dialect.lockRows, (q) => q.forUpdate())
    .execute();
  const liveRoomIds = rooms.map((r) => r.id);
  if (liveRoomIds.length === 0) return requests.map(() => ({ status: 'rejected', code: 'not_found' }));

  const live = new Set(liveRoomIds);
  const [memberRows, actorRows, duplicateRows, targetRows, uploadRows, restrictionRows, reactionsNow] = await Promise.all([
    membersOf(trx, dialect, requests, live),
    trx.selectFrom('users').select(['id', 'username', 'display_name', 'bot_owner_id']).where('id', 'in', userIds).execute(),
    earlierSends(trx, dialect, requests, live),
    editTargets(trx, dialect, requests, live),
    attachmentsOf(trx, dialect, requests),
    restrictionsOf(trx, dialect, requests, live),
    reactionState(trx, dialect, requests, live),
  ]);
  memberRows.push(...(await authorsOf(trx, dialect, requests, targetRows, memberRows)));

  const state: BatchState = {
    rooms: new Map(rooms.map((r) => [r.id, { lastSeq: r.last_seq, lastActivityAt: r.last_activity_at, archived: r.archived_at !== null }])),
    members: new Map(memberRows.map((r) => [memberKey(r.room_id, r.user_id), toMember(r)])),
    restrictions: new Map(restrictionRows.map((r) => [restrictionKey(r.room_id, r.user_id, r.kind), r.until === null ? null : Number(r.until)])),
    actors: new Map<string, Author>(actorRows.map((u) => [u.id, toAuthor(u.id, u.username, u.display_name, u.bot_owner_id)])),
    earlier: new Map(duplicateRows.map((r) => [clientMsgKey(r.room_id, r.author_id, r.client_msg_id as string), toMessage(r)])),
    targets: new Map(targetRows.map((r) => [messageKey(r.room_id, r.seq), toMessage(r)])),
    uploads: new Map(uploadRows.map((u) => [u.id, u])),
    emoji: reactionsNow.emoji,
    reacted: reactionsNow.reacted,
  };
  const plan = planBatch(state, requests);
  if (plan.events.length === 0) return plan.outcomes;

  const events: EventsTable[] = plan.events.map((e) => ({ room_id: e.roomId, seq: e.seq, kind: e.kind, target: e.target, user_id: e.userId, created_at: e.at, emoji: e.emoji }));
  await inChunks(events, 7, dialect, (chunk) => trx.insertInto('events').values(chunk).execute());
  await inChunks(plan.inserted, 12, dialect, (chunk) => trx.insertInto('messages').values(chunk.map((m) => messageRow(m.message))).execute());
  // An edit leaves the indexed text to the indexer; a delete takes the message out of search at once.
  for (const { message: m } of plan.changed) {
    await trx
      .updateTable('messages')
      .set({ body: m.body, edited_at: m.editedAt, deleted: m.deleted ? 1 : 0, ...(m.deleted ? { attachments: null, search_text: '' } : {}) })
      .where('room_id', '=', m.roomId)
      .where('seq', '=', m.seq)
      .execute();
  }
  // Attached before doomed: a message sent and deleted in one batch dooms what it attached.
  for (const a of plan.attached) {
    await trx.updateTable('uploads').set({ state: 'attached', message_seq: a.seq }).where('id', '=', a.uploadId).execute();
  }
  for (const d of plan.doomed) {
    await trx.updateTable('uploads').set({ state: 'doomed' }).where('room_id', '=', d.roomId).where('message_seq', '=', d.seq).where('state', '=', 'attached').execute();
  }
  await writeThreads(trx, plan);
  await writeReactions(trx, dialect, plan);
  for (const m of plan.membersRemoved) await trx.deleteFrom('members').where('room_id', '=', m.roomId).where('user_id', '=', m.userId).execute();
  const memberRowsOut: MembersTable[] = plan.membersInserted.map((m) => ({ room_id: m.roomId, user_id: m.userId, role: m.role, joined_at: m.joinedAt, last_read_seq: m.lastReadSeq }));
  await inChunks(memberRowsOut, 5, dialect, (chunk) => trx.insertInto('members').values(chunk).execute());
  // Every room of the batch in one UPDATE: a batch of DM traffic touches hundreds of rooms, and
  // one statement each was most of its cost (a round trip each on PostgreSQL). Joined to the
  // new values by id: a CASE over the rooms compared each row against every room of the batch
  // (500 rooms: 10 ms a batch on SQLite, a quarter of the append).
  await inChunks(plan.rooms, 5, dialect, (chunk) => {
    const values = sql.join(chunk.map((r) => sql`(${r.roomId}, CAST(${r.lastSeq} AS BIGINT), CAST(${r.lastActivityAt} AS BIGINT))`));
    return sql`WITH v (id, last_seq, last_activity_at) AS (VALUES ${values})
      UPDATE rooms SET last_seq = v.last_seq, last_activity_at = v.last_activity_at FROM v WHERE rooms.id = v.id`.execute(trx);
  });
  return plan.outcomes;
}
