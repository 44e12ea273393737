/** Record → wire shape, in one place, so every transport shows the same JSON. */
import type { ViewerThreadPage } from '../ports.js';
import type { AuditEntry, Bot, FollowedThread, IncomingWebhook, Message, MemberRoom, Restriction, Room, StreamEvent, User, ThreadPage as WireThreadPage } from '../protocol/wire.js';
import type { AuditRecord, Author, FollowedThreadRecord, IncomingWebhookWithBot, RestrictionRecord, MessageRecord, RoomRecord, RoomWithReadState, StreamEventRecord, UserRecord } from './types.js';

const iso = (ms: number): string => new Date(ms).toISOString();

/** `bot: true` only for bots (a record's owner, or an author's flag): a person's view is as it always was. */
export const userView = (u: UserRecord | Author): User => {
  const view: User = { id: u.id, username: u.username, displayName: u.displayName };
  if (('bot' in u && u.bot === true) || ('botOwnerId' in u && (u.botOwnerId ?? null) !== null)) view.bot = true;
  return view;
};

/**
 * A person as the people views show them (GET /me, /users, member lists, user_updated): the
 * identity of userView and their profile. A status past its expiry is left out.
 */
export const profileView = (u: UserRecord, now = Date.now()): User => {
  const view = userView(u);
  const expiresAt = u.statusExpiresAt;
  if (u.statusText !== undefined && (expiresAt === undefined || expiresAt > now)) {
    view.statusText = u.statusText;
    if (expiresAt !== undefined) view.statusExpiresAt = iso(expiresAt);
  }
  // The avatar's id in the URL: a new avatar is a new URL, so a client's cached image is never stale.
  if (u.avatarId !== undefined) view.avatarUrl = `/api/v1/users/${encodeURIComponent(u.id)}/avatar?v=${encodeURIComponent(u.avatarId)}`;
  return view;
};

export const botView = (u: UserRecord): Bot => ({ id: u.id, username: u.username, displayName: u.displayName, bot: true, createdAt: iso(u.createdAt) });

export const incomingWebhookView = (h: IncomingWebhookWithBot): IncomingWebhook => ({
  id: h.id,
  roomId: h.roomId,
  name: h.name,
  bot: userView(h.bot),
  createdAt: iso(h.createdAt),
});

export const roomView = (r: RoomRecord): Room => ({
  id: r.id,
  name: r.name,
  visibility: r.visibility,
  topic: r.topic,
  createdAt: iso(r.createdAt),
  lastSeq: r.lastSeq,
  ...((r.archivedAt ?? null) !== null ? { archived: true as const } : {}),
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
  ...(m.deleted || m.attachments === undefined || m.attachments.length === 0 ? {} : { attachments: m.attachments }),
  ...(m.threadRoot === undefined ? {} : { threadRoot: m.threadRoot }),
  ...(m.replyCount === undefined || m.lastReplyAt === undefined ? {} : { replyCount: m.replyCount, lastReplyAt: iso(m.lastReplyAt) }),
  ...(m.deleted || m.reactions === undefined || m.reactions.length === 0 ? {} : { reactions: m.reactions }),
});

export const threadPageView = (p: ViewerThreadPage): WireThreadPage => ({ root: messageView(p.root), replies: p.replies.map(messageView), hasMore: p.hasMore, following: p.following, lastReadSeq: p.lastReadSeq });

export const followedThreadView = (t: FollowedThreadRecord): FollowedThread => ({ roomId: t.root.roomId, root: messageView(t.root), lastReadSeq: t.lastReadSeq, unread: t.unread });

/**
 * A message as a stream event carries it: without what later events change (a root's
 * `replyCount` and `lastReplyAt`, reactions). A client folds those events into it, so a message
 * replayed as it is now would count its replies twice; REST reads carry them instead.
 */
const eventMessageView = (m: MessageRecord): Message => {
  const { replyCount: _count, lastReplyAt: _last, reactions: _reactions, ...rest } = m;
  return messageView(rest);
};

export function eventView(e: StreamEventRecord): StreamEvent {
  const out: StreamEvent = { type: 'event', roomId: e.roomId, seq: e.seq, kind: e.kind, user: userView(e.user), createdAt: iso(e.createdAt) };
  if (e.message !== null) out.message = eventMessageView(e.message);
  if (e.target !== null) out.target = e.target;
  if (e.member !== undefined) out.member = userView(e.member);
  const d = e.details;
  if (d !== undefined) {
    if (d.until !== undefined) out.until = d.until === null ? null : iso(d.until);
    if (d.reason !== undefined) out.reason = d.reason;
    if (d.role !== undefined) out.role = d.role;
    if (e.kind === 'room_updated') {
      const { name, topic, archived } = d;
      out.changes = { ...(name !== undefined ? { name } : {}), ...(topic !== undefined ? { topic } : {}), ...(archived !== undefined ? { archived } : {}) };
    }
  }
  if (e.emoji !== undefined) out.emoji = e.emoji;
  return out;
}

export const restrictionView = (r: RestrictionRecord): Restriction => ({
  user: userView(r.user),
  kind: r.kind,
  until: r.until === null ? null : iso(r.until),
  reason: r.reason,
  createdBy: userView(r.createdBy),
  createdAt: iso(r.createdAt),
});

export const auditView = (a: AuditRecord): AuditEntry => {
  const { name, topic, archived, until, reason, role } = a.details;
  return {
    seq: a.seq,
    action: a.action,
    actor: userView(a.actor),
    member: a.member === null ? null : userView(a.member),
    createdAt: iso(a.createdAt),
    ...(until !== undefined ? { until: until === null ? null : iso(until) } : {}),
    ...(reason !== undefined ? { reason } : {}),
    ...(role !== undefined ? { role } : {}),
    ...(a.action === 'room_updated' ? { changes: { ...(name !== undefined ? { name } : {}), ...(topic !== undefined ? { topic } : {}), ...(archived !== undefined ? { archived } : {}) } } : {}),
  };
};
