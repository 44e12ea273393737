/** Rows to domain records, the same for both dialects. */
import type { Author, MemberRecord, MessageRecord, RoomRecord, SessionRecord, StreamEventRecord, UserRecord } from '../../domain/types.js';
import type { EventsTable, MembersTable, MessagesTable, RoomsTable, SessionsTable, UsersTable } from './schema.js';

export const toUser = (r: Omit<UsersTable, 'display_name_folded'>): UserRecord => ({
  id: r.id,
  username: r.username,
  displayName: r.display_name,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
});

export const toSession = (r: SessionsTable): SessionRecord => ({
  tokenHash: r.token_hash,
  userId: r.user_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

export const toRoom = (r: Pick<RoomsTable, 'id' | 'name' | 'visibility' | 'topic' | 'created_at' | 'last_seq' | 'dm_key'>): RoomRecord => ({
  id: r.id,
  name: r.name,
  visibility: r.visibility,
  topic: r.topic,
  createdAt: r.created_at,
  lastSeq: r.last_seq,
  dmKey: r.dm_key,
});

export const toMember = (r: MembersTable): MemberRecord => ({
  roomId: r.room_id,
  userId: r.user_id,
  role: r.role,
  joinedAt: r.joined_at,
  lastReadSeq: r.last_read_seq,
});

/** The author columns joined to a message or event query. */
export interface AuthorColumns {
  author_username: string;
  author_display_name: string;
}

export type MessageRow = Omit<MessagesTable, 'search_text'> & AuthorColumns;

export const toMessage = (r: MessageRow): MessageRecord => ({
  roomId: r.room_id,
  seq: r.seq,
  id: r.id,
  author: { id: r.author_id, username: r.author_username, displayName: r.author_display_name },
  body: r.deleted ? '' : r.body,
  createdAt: r.created_at,
  editedAt: r.edited_at,
  deleted: r.deleted !== 0,
  clientMsgId: r.client_msg_id,
});

export const toEvent = (r: EventsTable, user: Author, message: MessageRecord | null): StreamEventRecord => ({
  roomId: r.room_id,
  seq: r.seq,
  kind: r.kind,
  target: r.target,
  user,
  createdAt: r.created_at,
  message,
});
