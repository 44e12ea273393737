/**
 * Wire types of the Parley protocol, version 1 (docs/protocol.md). Plain types with no runtime
 * code, so the client SDK can import them without pulling in the server's validators.
 */
import type { ErrorCode } from './catalogue.js';

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

export type EventKind = 'message' | 'edit' | 'delete' | 'member_joined' | 'member_left';

export interface StreamEvent {
  type: 'event';
  roomId: string;
  seq: number;
  kind: EventKind;
  /** For kinds message and edit: the message. */
  message?: Message;
  /** For kinds edit and delete: the seq of the message changed. */
  target?: number;
  /** The actor (author, or the member who joined or left). */
  user: User;
  createdAt: string;
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
  | NotificationsReadEvent;

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
  | { id: number; type: 'send'; roomId: string; body: string; clientMsgId?: string; attachments?: string[] }
  | { id: number; type: 'edit'; roomId: string; seq: number; body: string }
  | { id: number; type: 'delete'; roomId: string; seq: number }
  | { id: number; type: 'read'; roomId: string; seq: number };

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
}
