/**
 * One group-committed batch of stream appends, inside the caller's transaction.
 *
 * The batch costs a fixed number of statements whatever its size: lock the rooms (in id order,
 * so concurrent batches cannot deadlock), read the state the requests depend on (members,
 * earlier messages with the same clientMsgId, messages being edited or deleted, actors), decide
 * every outcome in memory, then write with multi-row inserts. Only edits and deletes of messages
 * committed earlier cost one UPDATE each.
 */
import { type Kysely, sql } from 'kysely';
import { searchText } from '../../domain/search.js';
import type { Author, MessageRecord, StreamEventRecord } from '../../domain/types.js';
import type { AppendOutcome, AppendRequest } from '../../ports.js';
import { type SqlDialect, inChunks } from './dialect.js';
import { toEvent, toMessage } from './mappers.js';
import type { Database, EventsTable, MembersTable, MessagesTable } from './schema.js';
import { selectMessages } from './queries.js';

const key = (...parts: Array<string | number>): string => parts.join('\u0000');

interface MessageState {
  row: MessagesTable;
  author: Author;
  /** Committed before this batch (changes are UPDATEs), or inserted by it. */
  persisted: boolean;
  changed: boolean;
}

interface MemberState {
  roomId: string;
  userId: string;
  /** The membership as it is now; null once left. */
  row: MembersTable | null;
  /** Whether a row existed before the batch and must be deleted or replaced. */
  existed: boolean;
  /** Joined (again) in this batch: the row must be (re)inserted. */
  joined: boolean;
}

const snapshot = (m: MessageState): MessageRecord =>
  toMessage({ ...m.row, author_username: m.author.username, author_display_name: m.author.displayName });

/**
 * The membership rows of the batch's (room, user) pairs. Asked by pairs, not as rooms × users:
 * a batch of DM traffic has hundreds of each, and the cross product was hundreds of thousands of
 * index probes.
 */
async function membersOf(trx: Kysely<Database>, dialect: SqlDialect, requests: AppendRequest[], rooms: Set<string>): Promise<MembersTable[]> {
  const pairs = [...new Map(requests.filter((r) => rooms.has(r.roomId)).map((r) => [key(r.roomId, r.userId), r] as const)).values()];
  const rows: MembersTable[] = [];
  await inChunks(pairs, 2, dialect, async (chunk) => {
    const values = sql.join(chunk.map((r) => sql`(${r.roomId}, ${r.userId})`));
    rows.push(...(await trx.selectFrom('members').selectAll().where(sql<boolean>`(room_id, user_id) IN (VALUES ${values})`).execute()));
  });
  return rows;
}

export async function appendBatch(trx: Kysely<Database>, dialect: SqlDialect, requests: AppendRequest[]): Promise<AppendOutcome[]> {
  const roomIds = [...new Set(requests.map((r) => r.roomId))].sort();
  const userIds = [...new Set(requests.map((r) => r.userId))];

  const rooms = await trx
    .selectFrom('rooms')
    .select(['id', 'last_seq', 'last_activity_at'])
    .where('id', 'in', roomIds)
    .orderBy('id')
    .$if(dialect.lockRows, (q) => q.forUpdate())
    .execute();
  const lastSeq = new Map(rooms.map((r) => [r.id, r.last_seq]));
  const activity = new Map(rooms.map((r) => [r.id, r.last_activity_at]));
  const liveRoomIds = rooms.map((r) => r.id);
  if (liveRoomIds.length === 0) return requests.map(() => ({ status: 'rejected', code: 'not_found' }));

  const clientMsgIds = [...new Set(requests.flatMap((r) => (r.kind === 'message' && r.clientMsgId !== null ? [r.clientMsgId] : [])))];
  const targets = [...new Set(requests.flatMap((r) => (r.kind === 'edit' || r.kind === 'delete' ? [r.target] : [])))];

  const [memberRows, actorRows, duplicateRows, targetRows] = await Promise.all([
    membersOf(trx, dialect, requests, new Set(liveRoomIds)),
    trx.selectFrom('users').select(['id', 'username', 'display_name']).where('id', 'in', userIds).execute(),
    clientMsgIds.length === 0
      ? Promise.resolve([])
      : selectMessages(trx).where('m.room_id', 'in', liveRoomIds).where('m.client_msg_id', 'in', clientMsgIds).execute(),
    targets.length === 0
      ? Promise.resolve([])
      : selectMessages(trx).select('m.search_text').where('m.room_id', 'in', liveRoomIds).where('m.seq', 'in', targets).execute(),
  ]);

  const members = new Map<string, MemberState>(memberRows.map((r) => [key(r.room_id, r.user_id), { roomId: r.room_id, userId: r.user_id, row: r, existed: true, joined: false }]));
  const actors = new Map<string, Author>(actorRows.map((u) => [u.id, { id: u.id, username: u.username, displayName: u.display_name }]));
  const byClientMsgId = new Map<string, MessageRecord>(
    duplicateRows.map((r) => [key(r.room_id, r.author_id, r.client_msg_id as string), toMessage(r)]),
  );
  const messages = new Map<string, MessageState>(
    targetRows.map((r) => [
      key(r.room_id, r.seq),
      {
        row: {
          room_id: r.room_id,
          seq: r.seq,
          id: r.id,
          author_id: r.author_id,
          body: r.body,
          created_at: r.created_at,
          edited_at: r.edited_at,
          deleted: r.deleted,
          client_msg_id: r.client_msg_id,
          search_text: r.search_text,
        },
        author: { id: r.author_id, username: r.author_username, displayName: r.author_display_name },
        persisted: true,
        changed: false,
      },
    ]),
  );

  const eventRows: EventsTable[] = [];
  const insertedMessages: MessageState[] = [];
  const outcomes: AppendOutcome[] = [];

  const isMember = (roomId: string, userId: string): MemberState | undefined => {
    const m = members.get(key(roomId, userId));
    return m?.row === null ? undefined : m;
  };
  const nextEvent = (r: AppendRequest, kind: EventsTable['kind'], target: number | null): EventsTable => {
    const seq = (lastSeq.get(r.roomId) as number) + 1;
    lastSeq.set(r.roomId, seq);
    activity.set(r.roomId, Math.max(activity.get(r.roomId) ?? 0, r.at));
    const row: EventsTable = { room_id: r.roomId, seq, kind, target, user_id: r.userId, created_at: r.at };
    eventRows.push(row);
    return row;
  };
  const appended = (row: EventsTable, actor: Author, message: MessageRecord | null): AppendOutcome => ({
    status: 'appended',
    event: toEvent(row, actor, message) as StreamEventRecord,
  });

  for (const r of requests) {
    const actor = actors.get(r.userId);
    if (!lastSeq.has(r.roomId) || actor === undefined) {
      outcomes.push({ status: 'rejected', code: 'not_found' });
      continue;
    }
    switch (r.kind) {
      case 'message': {
        // A resend is answered with the first message even if the author left since.
        const dedupeKey = r.clientMsgId === null ? null : key(r.roomId, r.userId, r.clientMsgId);
        const earlier = dedupeKey === null ? undefined : byClientMsgId.get(dedupeKey);
        if (earlier !== undefined) {
          outcomes.push({ status: 'duplicate', message: earlier });
          break;
        }
        if (!isMember(r.roomId, r.userId)) {
          outcomes.push({ status: 'rejected', code: 'forbidden' });
          break;
        }
        const event = nextEvent(r, 'message', null);
        const state: MessageState = {
          row: {
            room_id: r.roomId,
            seq: event.seq,
            id: r.id,
            author_id: r.userId,
            body: r.body,
            created_at: r.at,
            edited_at: null,
            deleted: 0,
            client_msg_id: r.clientMsgId,
            search_text: searchText(r.body),
          },
          author: actor,
          persisted: false,
          changed: false,
        };
        messages.set(key(r.roomId, event.seq), state);
        insertedMessages.push(state);
        const message = snapshot(state);
        if (dedupeKey !== null) byClientMsgId.set(dedupeKey, message);
        outcomes.push(appended(event, actor, message));
        break;
      }
      case 'edit':
      case 'delete': {
        const target = messages.get(key(r.roomId, r.target));
        if (target === undefined || target.row.deleted !== 0) {
          outcomes.push({ status: 'rejected', code: 'not_found' });
          break;
        }
        const mayChange = isMember(r.roomId, r.userId) !== undefined && (target.row.author_id === r.userId || (r.kind === 'delete' && r.moderator));
        if (!mayChange) {
          outcomes.push({ status: 'rejected', code: 'forbidden' });
          break;
        }
        const event = nextEvent(r, r.kind, r.target);
        if (r.kind === 'edit') {
          target.row = { ...target.row, body: r.body, edited_at: r.at, search_text: searchText(r.body) };
        } else {
          target.row = { ...target.row, body: '', deleted: 1, search_text: '' };
        }
        target.changed = true;
        outcomes.push(appended(event, actor, r.kind === 'edit' ? snapshot(target) : null));
        break;
      }
      case 'member_joined': {
        if (isMember(r.roomId, r.userId)) {
          outcomes.push({ status: 'noop' });
          break;
        }
        const event = nextEvent(r, 'member_joined', null);
        const k = key(r.roomId, r.userId);
        const previous = members.get(k);
        members.set(k, {
          roomId: r.roomId,
          userId: r.userId,
          row: { room_id: r.roomId, user_id: r.userId, role: r.role, joined_at: r.at, last_read_seq: event.seq },
          existed: previous?.existed ?? false,
          joined: true,
        });
        outcomes.push(appended(event, actor, null));
        break;
      }
      case 'member_left': {
        const member = isMember(r.roomId, r.userId);
        if (member === undefined) {
          outcomes.push({ status: 'noop' });
          break;
        }
        const event = nextEvent(r, 'member_left', null);
        member.row = null;
        member.joined = false;
        outcomes.push(appended(event, actor, null));
        break;
      }
    }
  }

  if (eventRows.length === 0) return outcomes;

  await inChunks(eventRows, 6, dialect, (chunk) => trx.insertInto('events').values(chunk).execute());
  await inChunks(insertedMessages, 10, dialect, (chunk) => trx.insertInto('messages').values(chunk.map((m) => m.row)).execute());
  for (const m of messages.values()) {
    if (!m.persisted || !m.changed) continue;
    const { body, edited_at, deleted, search_text } = m.row;
    await trx.updateTable('messages').set({ body, edited_at, deleted, search_text }).where('room_id', '=', m.row.room_id).where('seq', '=', m.row.seq).execute();
  }
  const memberInserts: MembersTable[] = [];
  for (const m of members.values()) {
    if (!m.existed && !m.joined) continue;
    if (m.existed && (m.row === null || m.joined)) {
      await trx.deleteFrom('members').where('room_id', '=', m.roomId).where('user_id', '=', m.userId).execute();
    }
    if (m.joined && m.row !== null) memberInserts.push(m.row);
  }
  await inChunks(memberInserts, 5, dialect, (chunk) => trx.insertInto('members').values(chunk).execute());
  // Every room of the batch in one UPDATE: a batch of DM traffic touches hundreds of rooms, and
  // one statement each was most of its cost (a round trip each on PostgreSQL).
  const touched = [...new Set(eventRows.map((e) => e.room_id))];
  await inChunks(touched, 5, dialect, (chunk) => {
    const seqCase = sql.join(chunk.map((id) => sql`WHEN ${id} THEN CAST(${lastSeq.get(id) as number} AS BIGINT)`), sql` `);
    const atCase = sql.join(chunk.map((id) => sql`WHEN ${id} THEN CAST(${activity.get(id) as number} AS BIGINT)`), sql` `);
    return trx
      .updateTable('rooms')
      .set({ last_seq: sql`CASE id ${seqCase} END`, last_activity_at: sql`CASE id ${atCase} END` })
      .where('id', 'in', chunk)
      .execute();
  });
  return outcomes;
}
