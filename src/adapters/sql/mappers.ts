/** Rows to domain records, the same for both dialects. */
import type { AttachmentRecord, Author, MemberRecord, MessageRecord, RoomRecord, SessionRecord, StreamEventRecord, UserRecord } from '../../domain/types.js';
import type { EventsTable, MembersTable, MessagesTable, RoomsTable, SessionsTable, UsersTable } from './schema.js';

/** A users row as selected (the bot columns read as they are stored). */
export type UserRow = Omit<UsersTable, 'display_name_folded' | 'bot_owner_id' | 'deactivated_at' | 'avatar_id' | 'status_text' | 'status_expires_at' | 'disabled_at' | 'deleted_at'> & {
  bot_owner_id: string | null;
  deactivated_at: number | null;
  /** The profile columns, where the query selected them. */
  avatar_id?: string | null;
  status_text?: string | null;
  status_expires_at?: number | null;
  /** The administration columns, where the query selected them. */
  disabled_at?: number | null;
  deleted_at?: number | null;
};

/** The bot and profile fields only when set, so a plain person's record is what it always was. */
export const toUser = (r: UserRow): UserRecord => {
  const user: UserRecord = { id: r.id, username: r.username, displayName: r.display_name, passwordHash: r.password_hash, createdAt: r.created_at };
  if (r.bot_owner_id !== null) user.botOwnerId = r.bot_owner_id;
  if (r.deactivated_at !== null) user.deactivatedAt = Number(r.deactivated_at);
  if (r.status_text != null) user.statusText = r.status_text;
  if (r.status_text != null && r.status_expires_at != null) user.statusExpiresAt = r.status_expires_at;
  if (r.avatar_id != null) user.avatarId = r.avatar_id;
  if (r.disabled_at != null) user.disabledAt = Number(r.disabled_at);
  if (r.deleted_at != null) user.deletedAt = Number(r.deleted_at);
  return user;
};

/** An author from its users columns; `bot` only for bots. */
export const toAuthor = (id: string, username: string, displayName: string, botOwnerId: string | null): Author =>
  botOwnerId === null ? { id, username, displayName } : { id, username, displayName, bot: true };

export const toSession = (r: SessionsTable): SessionRecord => ({
  tokenHash: r.token_hash,
  userId: r.user_id,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

/** `archivedAt` only for archived rooms, so an open room's record is what it always was. */
export const toRoom = (r: Pick<RoomsTable, 'id' | 'name' | 'visibility' | 'topic' | 'created_at' | 'last_seq' | 'dm_key'> & { archived_at?: number | null }): RoomRecord => {
  const room: RoomRecord = { id: r.id, name: r.name, visibility: r.visibility, topic: r.topic, createdAt: r.created_at, lastSeq: r.last_seq, dmKey: r.dm_key };
  if (r.archived_at != null) room.archivedAt = Number(r.archived_at);
  return room;
};

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
  author_bot_owner_id: string | null;
}

export type MessageRow = Omit<MessagesTable, 'search_text' | 'search_seq' | 'attachments' | 'thread_root' | 'reply_count' | 'last_reply_at'> &
  AuthorColumns & { attachments: string | null; thread_root: number | null; reply_count: number; last_reply_at: number | null };

export const toMessage = (r: MessageRow): MessageRecord => ({
  roomId: r.room_id,
  seq: r.seq,
  id: r.id,
  author: toAuthor(r.author_id, r.author_username, r.author_display_name, r.author_bot_owner_id),
  body: r.deleted ? '' : r.body,
  createdAt: r.created_at,
  editedAt: r.edited_at,
  deleted: r.deleted !== 0,
  clientMsgId: r.client_msg_id,
  ...(r.attachments == null || r.deleted ? {} : { attachments: JSON.parse(r.attachments) as AttachmentRecord[] }),
  ...(r.thread_root == null ? {} : { threadRoot: Number(r.thread_root) }),
  // A root keeps its counters once it has had a reply, even when they were all deleted since.
  ...(r.last_reply_at == null ? {} : { replyCount: Number(r.reply_count), lastReplyAt: Number(r.last_reply_at) }),
});

export const toEvent = (r: EventsTable, user: Author, message: MessageRecord | null): StreamEventRecord => ({
  roomId: r.room_id,
  seq: r.seq,
  kind: r.kind,
  target: r.target,
  user,
  createdAt: r.created_at,
  message,
  ...(r.emoji == null ? {} : { emoji: r.emoji }),
});
