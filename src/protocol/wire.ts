/**
 * Wire types of the Parley protocol, version 1 (docs/protocol.md). Plain types with no runtime
 * code, so the client SDK can import them without pulling in the server's validators.
 */
import type { ErrorCode } from './catalogue.js';
import type { EVENT_KINDS, MODERATION_KINDS } from './event-kinds.js';

export type { ErrorCode };

export interface WireError {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export interface User {
  id: string;
  username: string;
  displayName: string;
  /** Present, true, when the user is a bot (an account its owner's programs use): show a badge. */
  bot?: true;
  /**
   * Profile fields, on the views of people (GET /me, /users, member lists, `user_updated`),
   * never on message authors. Each is absent when there is none; a status past its expiry is
   * not shown. Show `@username` beside the display name: display names are not unique.
   */
  statusText?: string;
  /** When the status stops showing; absent when it shows until changed. */
  statusExpiresAt?: string;
  /** The avatar (GET, with the session); absent when the user has none (show initials). Changes when the avatar does. */
  avatarUrl?: string;
  /** The caller's own view only (GET /me, a login): present when they are a server administrator. */
  serverRole?: 'admin';
}

/** A page of user search (GET /users). */
export interface UserPage {
  users: User[];
  /** Pass as `after` for the next page; null on the last. */
  next: string | null;
}

/** One of my bots, as GET /bots lists it. */
export interface Bot {
  id: string;
  username: string;
  displayName: string;
  bot: true;
  createdAt: string;
}

/** An incoming webhook of a room: its secret URL is shown once, when it is created. */
export interface IncomingWebhook {
  id: string;
  roomId: string;
  name: string;
  /** The bot its messages are posted as. */
  bot: User;
  createdAt: string;
}

export type Visibility = 'public' | 'private' | 'dm';

export interface Room {
  id: string;
  name: string;
  visibility: Visibility;
  topic: string;
  createdAt: string;
  lastSeq: number;
  /** Present, true, when the room is archived: readable, refusing sends, edits, reactions and joins. */
  archived?: true;
}

export interface MemberRoom extends Room {
  lastReadSeq: number;
  /** Messages by others after lastReadSeq: exact unless `unreadCapped`. */
  unread: number;
  /**
   * Present (true) only when more messages follow lastReadSeq than the server counts
   * (UNREAD_COUNT_CAP): at least `unread` are unread; show it as "999+".
   */
  unreadCapped?: true;
}

export interface Message {
  roomId: string;
  seq: number;
  id: string;
  author: User;
  body: string;
  createdAt: string;
  editedAt: string | null;
  deleted: boolean;
  clientMsgId: string | null;
  /** The files it carries, in the order sent: present only when it has some (never on a deleted message). */
  attachments?: Attachment[];
  /** A thread reply: the seq of its root (a top-level message of the room). Absent on top-level messages. */
  threadRoot?: number;
  /** A thread's root: its replies that are not deleted. Present once it has had a reply. */
  replyCount?: number;
  /** A thread's root: when its latest reply was sent. Present once it has had a reply. */
  lastReplyAt?: string;
  /**
   * REST reads only (history, threads, search): reactions, one entry per emoji, first reacted
   * first, `me` for the caller; present only when there are some. Live clients fold
   * `reaction_added` / `reaction_removed` events into it.
   */
  reactions?: Reaction[];
}

/** One emoji's reactions to a message. */
export interface Reaction {
  /** One emoji, or a `:shortcode:` of 1–32 of a-z 0-9 _ + -. */
  emoji: string;
  count: number;
  /** The caller is one of them. */
  me: boolean;
}

/** A page of a thread (GET /rooms/:roomId/threads/:seq). */
export interface ThreadPage {
  root: Message;
  /** Oldest first, after `after`. */
  replies: Message[];
  hasMore: boolean;
  /** The caller follows the thread. */
  following: boolean;
  /** The caller's read marker in the thread; null when they never followed nor marked it. */
  lastReadSeq: number | null;
}

/** A thread the caller follows. */
export interface FollowedThread {
  roomId: string;
  root: Message;
  lastReadSeq: number;
  /** Replies by others, not deleted, after lastReadSeq (at most the server's unread cap). */
  unread: number;
}

/** The answer of GET /threads. */
export interface FollowedThreads {
  threads: FollowedThread[];
  /** Pass it as `cursor` for the next page; null on the last. */
  nextCursor: string | null;
}

/**
 * A file attached to a message. Its bytes: GET /api/v1/files/{id} (and /thumbnail), for members
 * of the room, with the session or a signed link (GET /api/v1/files/{id}/link).
 */
export interface Attachment {
  id: string;
  /** The name the uploader gave (a label only). */
  name: string;
  /** Bytes of the file as served (an image re-encoded without its metadata). */
  size: number;
  /** Decided from the content, never from the name. */
  contentType: string;
  /** Images: as displayed. */
  width?: number;
  height?: number;
  /** Images larger than the thumbnail size: the thumbnail's dimensions (WebP at /api/v1/files/{id}/thumbnail). */
  thumbnail?: { width: number; height: number };
}

/** A presigned upload straight to object storage: PUT the file to `url` with `headers`, then confirm it. */
export interface DirectUpload {
  id: string;
  url: string;
  method: 'PUT';
  headers: Record<string, string>;
  expiresAt: string;
}

export type EventKind = (typeof EVENT_KINDS)[number];

export type Role = 'owner' | 'admin' | 'member';

/** Why a room operation was `forbidden` (its details.reason). */
export type ForbiddenReason = 'role' | 'rank' | 'dm' | 'not_member' | 'archived' | 'muted' | 'banned';

export interface StreamEvent {
  type: 'event';
  roomId: string;
  seq: number;
  kind: EventKind;
  /** For kinds message and edit: the message. */
  message?: Message;
  /** For kinds edit, delete, reaction_added and reaction_removed: the seq of the message changed. */
  target?: number;
  /** For kinds reaction_added and reaction_removed: the emoji. */
  emoji?: string;
  /** The actor (author, the member who joined or left, the moderator). */
  user: User;
  createdAt: string;
  /** Moderation events about a member (kicked, banned, unbanned, muted, unmuted, role changed): that member. */
  member?: User;
  /** member_banned, member_muted: when it ends; null: never. */
  until?: string | null;
  /** member_kicked, member_banned, member_muted: the moderator's reason; null: none given. */
  reason?: string | null;
  /** member_role_changed: the member's new role. */
  role?: Role;
  /** room_updated: the settings that changed, as they are now. */
  changes?: { name?: string; topic?: string; archived?: boolean };
}

/** A ban or mute in force in a room (GET /rooms/:roomId/restrictions). */
export interface Restriction {
  user: User;
  kind: 'ban' | 'mute';
  /** When it ends; null: never. */
  until: string | null;
  reason: string | null;
  createdBy: User;
  createdAt: string;
}

/** One moderation action of a room's audit log (GET /rooms/:roomId/audit): its event's fields. */
export interface AuditEntry {
  /** The seq of its stream event: the log's cursor. */
  seq: number;
  action: (typeof MODERATION_KINDS)[number];
  actor: User;
  member: User | null;
  createdAt: string;
  until?: string | null;
  reason?: string | null;
  role?: Role;
  changes?: { name?: string; topic?: string; archived?: boolean };
}

export interface TypingEvent {
  type: 'typing';
  roomId: string;
  user: User;
}
export interface PresenceEvent {
  type: 'presence';
  roomId: string;
  userId: string;
  online: boolean;
}
/**
 * The presence changes of a room over one short window, in one frame: sent instead of
 * `presence` events to a subscription made with `presence: "batch"`.
 */
export interface PresenceBatchEvent {
  type: 'presence_batch';
  roomId: string;
  /** Members who came online. */
  online: string[];
  /** Members who went offline. */
  offline: string[];
  /** Members online now. */
  onlineCount: number;
}
export interface ReadEvent {
  type: 'read';
  roomId: string;
  seq: number;
}
/**
 * A member of the room changed their profile (display name, status, avatar): sent live to the
 * room's subscribers, not part of the stream (not replayed on resume: re-read members after it).
 */
export interface UserUpdatedEvent {
  type: 'user_updated';
  roomId: string;
  user: User;
}
export interface RoomAddedEvent {
  type: 'room_added';
  room: Room;
}
export interface RoomRemovedEvent {
  type: 'room_removed';
  roomId: string;
}

/** A history export, as GET /exports/:id shows it. */
export interface Export {
  id: string;
  roomId: string;
  format: 'ndjson' | 'html';
  state: 'queued' | 'running' | 'done' | 'failed';
  /** 0 to 1: the share of the room's history (up to its last seq when asked) written so far. */
  progress: number;
  messages: number;
  bytes: number;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
  expiresAt: string | null;
  /** Once done: a link to the file that works without credentials until `downloadExpiresAt`. */
  downloadUrl?: string;
  downloadExpiresAt?: string;
}

/** Progress of a user's background job (an export), on every connection of that user. */
export interface JobEvent {
  type: 'job';
  kind: 'export';
  job: Export;
}

/** Something in a room that concerns the user (docs/protocol.md, "Notifications"). */
export interface Notification {
  /** Opaque, but notifications sort by it: the cursor of the list and of the read marker. */
  id: string;
  kind: 'mention' | 'room_mention' | 'message' | 'thread_reply';
  roomId: string;
  roomName: string;
  /** The message's seq in the room. */
  seq: number;
  /** Who wrote the message. */
  author: User;
  /** The start of the message as it is now; '' once deleted. */
  excerpt: string;
  createdAt: string;
  read: boolean;
}

/** A new notification, on every connection of its user, whichever node they are on. */
export interface NotificationEvent {
  type: 'notification';
  notification: Notification;
}

/** The notification read marker moved (on any connection of the user). */
export interface NotificationsReadEvent {
  type: 'notifications_read';
  upTo: string;
}

/** A member's notification preference for one room. */
export interface RoomNotificationPrefs {
  level: 'all' | 'mentions' | 'none';
  /** Nothing of the room notifies until then; null: not muted. */
  mutedUntil: string | null;
}

/** A user the caller blocked. */
export interface BlockedUser {
  user: User;
  createdAt: string;
}

export type ServerEvent =
  | StreamEvent
  | TypingEvent
  | PresenceEvent
  | PresenceBatchEvent
  | ReadEvent
  | RoomAddedEvent
  | RoomRemovedEvent
  | JobEvent
  | NotificationEvent
  | NotificationsReadEvent
  | UserUpdatedEvent;

export type Reply =
  | ({ type: 'reply'; id: number | null; ok: true } & Record<string, unknown>)
  | { type: 'reply'; id: number | null; ok: false; error: WireError };

export interface Pong {
  type: 'pong';
}

export type ServerFrame = ServerEvent | Reply | Pong;

export type ClientRequest =
  /** `presence`: full (default), batch (presence_batch frames; the online list only for smaller rooms), none. */
  | { id: number; type: 'subscribe'; roomId: string; since?: number; presence?: 'full' | 'batch' | 'none' }
  | { id: number; type: 'unsubscribe'; roomId: string }
  /** `body` may be '' when `attachments` (upload ids) are given. */
  /** `threadRoot`: a reply in the thread of this top-level message. */
  | { id: number; type: 'send'; roomId: string; body: string; clientMsgId?: string; attachments?: string[]; threadRoot?: number }
  | { id: number; type: 'edit'; roomId: string; seq: number; body: string }
  | { id: number; type: 'delete'; roomId: string; seq: number }
  | { id: number; type: 'read'; roomId: string; seq: number }
  /** Idempotent: reacting twice (or removing a reaction not made) succeeds and appends nothing. */
  | { id: number; type: 'react'; roomId: string; seq: number; emoji: string }
  | { id: number; type: 'unreact'; roomId: string; seq: number; emoji: string };

export type ClientNotice = { type: 'typing'; roomId: string } | { type: 'ping' };

export type ClientFrame = ClientRequest | ClientNotice;

export interface SubscribeReply {
  lastSeq: number;
  recovered: boolean;
  /** Absent with `presence: "none"`, and with `"batch"` past the server's list limit. */
  online?: string[];
  /** Absent with `presence: "none"`. */
  onlineCount?: number;
}

export interface SearchHit {
  message: Message;
  /** The body with each match wrapped in <mark>…</mark>; everything else HTML-escaped. */
  highlight: string;
}

/** The answer of GET /search. */
export interface SearchResult {
  hits: SearchHit[];
  /**
   * The search stopped at the server's cap on the matches one search examines (in rooms of the
   * caller's or not) before a full page: older hits may exist. Narrowing it to a room helps.
   */
  truncated: boolean;
  /**
   * How fresh the index was. Messages are indexed just after their commit, off the send path:
   * `pending` counts the events of the searched rooms not yet indexed when the search ran (0:
   * every message committed before the search could be found). A hit always matches the
   * message as it is now.
   */
  index: { pending: number };
}

// Server administration (/api/v1/admin/…; server administrators only)

/** A user as a server administrator sees them, people and bots, disabled and deleted ones too. */
export interface AdminUser {
  id: string;
  username: string;
  displayName: string;
  bot?: true;
  /** A bot's owner. */
  botOwnerId?: string;
  createdAt: string;
  role: 'admin' | null;
  /** When a server administrator disabled the account; null while enabled. */
  disabledAt: string | null;
  /** When the account was deleted (a bot: by its owner too); null otherwise. */
  deletedAt: string | null;
}

/** A room of any visibility, with how many members it has now. */
export interface AdminRoom extends Room {
  members: number;
}

/** A node of the deployment, as it last told the others over the bus. */
export interface AdminNode {
  id: string;
  /** `node`: serves clients; `worker`: a `parley worker`, which runs jobs only. */
  role: 'node' | 'worker';
  host: string;
  pid: number;
  version: string;
  startedAt: string;
  /** When the node took this status (at most one interval old). */
  at: string;
  ready: boolean;
  /** null while ready; else why it is not (it answers /ready with 503). */
  notReadyReason: string | null;
  /** Open WebSocket connections. */
  connections: number;
  /** Messages committed per second, and room events written to sockets per second, over the last interval. */
  messagesPerSecond: number;
  deliveriesPerSecond: number;
  /** Jobs the process ran to completion per second over the last interval. */
  jobsPerSecond: number;
  /** The event loop's smoothed lag, ms. */
  eventLoopLagMs: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Breakers not closed, by kind: 1 half-open, 2 open. */
  breakers: Record<string, number>;
}

/** A job queue's jobs by state. */
export interface AdminQueueCounts {
  queue: string;
  waiting: number;
  delayed: number;
  active: number;
  dead: number;
}

/** A job out of attempts, with its last error. */
export interface AdminDeadJob {
  id: string;
  queue: string;
  payload: unknown;
  key: string | null;
  attempts: number;
  error: string;
  enqueuedAt: string;
  failedAt: string;
}

/** One entry of the server's audit log. */
export interface ServerAuditEntry {
  id: number;
  at: string;
  action: string;
  /** null for an action at the console without an administrator named. */
  actor: { id: string; username: string } | null;
  via: 'api' | 'console';
  user: { id: string; username: string } | null;
  roomId: string | null;
  data: Record<string, unknown> | null;
}
