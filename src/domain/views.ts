/** Record → wire shape, in one place, so every transport shows the same JSON. */
import type { Message, MemberRoom, Room, StreamEvent, User } from '../protocol/wire.js';
import type { Author, MessageRecord, RoomRecord, RoomWithReadState, StreamEventRecord, UserRecord } from './types.js';

const iso = (ms: number): string => new Date(ms).toISOString();

export const userView = (u: UserRecord | Author): User => ({ id: u.id, username: u.username, displayName: u.displayName });

export const roomView = (r: RoomRecord): Room => ({
  id: r.id,
  name: r.name,
  visibility: r.visibility,
  topic: r.topic,
  createdAt: iso(r.createdAt),
  lastSeq: r.lastSeq,
});

export const memberRoomView = (r: RoomWithReadState): MemberRoom => ({
  ...roomView(r.room),
  lastReadSeq: r.lastReadSeq,
  unread: r.unread,
  ...(r.unreadCapped ? { unreadCapped: true as const } : {}),
});

export const messageView = (m: MessageRecord): Message => ({
  roomId: m.roomId,
  seq: m.seq,
  id: m.id,
  author: userView(m.author),
  body: m.deleted ? '' : m.body,
  createdAt: iso(m.createdAt),
  editedAt: m.editedAt === null ? null : iso(m.editedAt),
  deleted: m.deleted,
  clientMsgId: m.clientMsgId,
});

export function eventView(e: StreamEventRecord): StreamEvent {
  const out: StreamEvent = { type: 'event', roomId: e.roomId, seq: e.seq, kind: e.kind, user: userView(e.user), createdAt: iso(e.createdAt) };
  if (e.message !== null) out.message = messageView(e.message);
  if (e.target !== null) out.target = e.target;
  return out;
}
