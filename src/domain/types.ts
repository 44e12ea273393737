/**
 * The shapes the domain works with. Wire shapes (ISO times, camelCase) are built from these
 * records in src/domain/views.ts; records keep times as epoch milliseconds so both SQL
 * dialects store them the same way.
 */

export type Visibility = 'public' | 'private' | 'dm';
export type Role = 'owner' | 'member';
export type EventKind = 'message' | 'edit' | 'delete' | 'member_joined' | 'member_left';

export interface UserRecord {
  id: string;
  /** Lower-cased: usernames are unique case-insensitively. */
  username: string;
  displayName: string;
  passwordHash: string;
  createdAt: number;
  /**
   * When the account is a bot: the person who owns it. Absent (or null) for people. A bot has
   * no password (its hash verifies none) and authenticates with tokens its owner is shown.
   */
  botOwnerId?: string | null;
  /** When a bot was deleted (it keeps its row: its messages still name it). Absent or null while active. */
  deactivatedAt?: number | null;
}

export interface SessionRecord {
  /** SHA-256 of the bearer token, hex. The token itself is never stored. */
  tokenHash: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
}

export interface RoomRecord {
  id: string;
  name: string;
  visibility: Visibility;
  topic: string;
  createdAt: number;
  lastSeq: number;
  /** For DMs only: the two user ids, sorted and joined by ':'. Unique. */
  dmKey: string | null;
}

export interface MemberRecord {
  roomId: string;
  userId: string;
  role: Role;
  joinedAt: number;
  lastReadSeq: number;
}

/** A membership as of a seq of the room's stream (0 when the room does not exist). */
export interface MembershipRecord {
  role: Role | null;
  asOfSeq: number;
}

export interface Author {
  id: string;
  username: string;
  displayName: string;
  /** Present, true, when the author is a bot. */
  bot?: true;
}

/** A message as it is now (edits applied, tombstoned when deleted). */
export interface MessageRecord {
  roomId: string;
  seq: number;
  id: string;
  author: Author;
  body: string;
  createdAt: number;
  editedAt: number | null;
  deleted: boolean;
  clientMsgId: string | null;
  /** The files it carries, in the order sent; absent when none (and once deleted). */
  attachments?: AttachmentRecord[];
}

/** A file attached to a message, as every member sees it. */
export interface AttachmentRecord {
  id: string;
  name: string;
  size: number;
  contentType: string;
  /** Images only: as displayed (EXIF orientation applied). */
  width?: number;
  height?: number;
  /** Images larger than the thumbnail size: the thumbnail's dimensions (GET /files/:id/thumbnail). */
  thumbnail?: { width: number; height: number };
}

/**
 * Where an upload is in its life:
 * - `receiving`: being received by a node (its size is the quota it reserved);
 * - `direct`: a presigned PUT was issued and is not confirmed yet;
 * - `ready`: stored, waiting to be attached (by its uploader, in its room);
 * - `attached`: a message carries it, or it is an avatar in use;
 * - `doomed`: its message was deleted or purged, it was replaced, or never attached in time:
 *   the files sweep deletes its objects;
 * - `deleted`: its objects are gone; the row stays until it leaves the daily quota's window.
 */
export type UploadState = 'receiving' | 'direct' | 'ready' | 'attached' | 'doomed' | 'deleted';
export type UploadKind = 'attachment' | 'user_avatar' | 'room_avatar';

/** An uploaded file and where its bytes are. */
export interface UploadRecord {
  id: string;
  kind: UploadKind;
  /** The room it was uploaded to (attachments, room avatars); null for user avatars. */
  roomId: string | null;
  userId: string;
  state: UploadState;
  name: string;
  /** Bytes of the stored file (reserved ones while receiving). */
  size: number;
  /** Bytes the daily quota counts: reserved while receiving, then the larger of received and stored. */
  received: number;
  contentType: string;
  width: number | null;
  height: number | null;
  /** The served object's key. */
  objectKey: string;
  thumbKey: string | null;
  thumbWidth: number | null;
  thumbHeight: number | null;
  /** The message carrying it, once attached. */
  messageSeq: number | null;
  createdAt: number;
}

/** One entry of a room stream. */
export interface StreamEventRecord {
  roomId: string;
  seq: number;
  kind: EventKind;
  /** For edit and delete: the seq of the message changed. */
  target: number | null;
  /** The actor: author of message/edit/delete, the member who joined or left. */
  user: Author;
  createdAt: number;
  /** For message and edit: the message as it is now. */
  message: MessageRecord | null;
}

export interface RoomWithReadState {
  room: RoomRecord;
  lastReadSeq: number;
  /** Messages by others, not deleted, after the marker: exact when `unreadCapped` is false; at most the cap. */
  unread: number;
  /**
   * The count stopped at the cap it was asked with (more unread than the cap, or more messages
   * after the marker than the store reads for it): at least `unread` are unread.
   */
  unreadCapped: boolean;
}

export interface SearchHitRecord {
  message: MessageRecord;
}

export type ExportFormat = 'ndjson' | 'html';
export type ExportState = 'queued' | 'running' | 'done' | 'failed';

/** A history export a member asked for. */
export interface ExportRecord {
  id: string;
  roomId: string;
  userId: string;
  format: ExportFormat;
  state: ExportState;
  /** The export covers the room's history up to this seq (its last when asked). */
  throughSeq: number;
  /** Exported so far, up to this seq. */
  doneSeq: number;
  messages: number;
  bytes: number;
  error: string | null;
  createdAt: number;
  finishedAt: number | null;
  /** When its file is deleted; null until it is done. */
  expiresAt: number | null;
}

/** What retention keeps on a room: its policy and how far it has tombstoned. */
export interface RoomRetention {
  /** The room's own policy, days; null: the server's. */
  retentionDays: number | null;
  /** Messages up to this seq are tombstoned. */
  purgedSeq: number;
  lastSeq: number;
}

/** A room as the retention pass sees it. */
export interface RetentionRoom {
  id: string;
  /** The room's own policy, days; null: the server's. */
  retentionDays: number | null;
  /** Tombstoned up to here already. */
  purgedSeq: number;
  lastSeq: number;
}

/** An outgoing webhook: an endpoint a room owner registered for the room's events. */
export interface WebhookRecord {
  id: string;
  roomId: string;
  createdBy: string;
  url: string;
  /** The signing secret, sealed with the server key. */
  secretSealed: string;
  /** The secret before the last rotation, still signing until `previousSecretUntil`. */
  previousSecretSealed: string | null;
  previousSecretUntil: number | null;
  /** The event kinds it is sent; null: all. */
  events: EventKind[] | null;
  state: 'active' | 'disabled';
  disabledReason: string | null;
  /** Since when every delivery has failed; null while they succeed. */
  failingSince: number | null;
  /** Events up to this seq were handed to delivery jobs. */
  cursorSeq: number;
  createdAt: number;
}

/** One attempt to deliver an event to a webhook. */
export interface WebhookDeliveryRecord {
  webhookId: string;
  seq: number;
  attempt: number;
  ok: boolean;
  /** The endpoint's HTTP status; null when it gave none (refused, timed out, circuit open). */
  status: number | null;
  error: string | null;
  durationMs: number;
  at: number;
}

/** An incoming webhook: a secret URL that posts into its room as its bot. */
export interface IncomingWebhookRecord {
  id: string;
  roomId: string;
  /** The bot it posts as (a member of the room while the webhook works). */
  botId: string;
  /** The member who created it: they, or the room's owner, may delete it. */
  creatorId: string;
  name: string;
  /** SHA-256 of the secret token of its URL, hex. The token itself is never stored. */
  tokenHash: string;
  createdAt: number;
}

/** An incoming webhook with its bot, as the store reads it. */
export interface IncomingWebhookWithBot extends IncomingWebhookRecord {
  bot: Author;
}

/**
 * Why a user is notified of a room event: their @username (`mention`), an @room (`room_mention`),
 * any message of a room whose level is `all` (`message`), a reply in a thread they follow
 * (`thread_reply`).
 */
export type NotificationKind = 'mention' | 'room_mention' | 'message' | 'thread_reply';
/** How much of a room notifies a member: every message, mentions (and @room, followed threads), or nothing. */
export type NotifyLevel = 'all' | 'mentions' | 'none';

/** A notification as written by the notifier. */
export interface NewNotification {
  userId: string;
  roomId: string;
  seq: number;
  kind: NotificationKind;
  actorId: string;
  createdAt: number;
}

/** A notification as the store reads it back, with what it points at. */
export interface NotificationRecord {
  id: number;
  roomId: string;
  roomName: string;
  seq: number;
  kind: NotificationKind;
  actor: Author;
  createdAt: number;
  /** The message's current text; '' once deleted. */
  body: string;
}

/** A member's notification preference for one room. */
export interface NotifyPrefRecord {
  userId: string;
  level: NotifyLevel;
  /** Nothing notifies before this time (epoch ms); null: not muted. */
  mutedUntil: number | null;
}

/** A user's notification state and e-mail settings. */
export interface NotificationSettingsRecord {
  /** Notifications with an id up to this are read. */
  readUpTo: number;
  email: string | null;
  emailDigest: boolean;
  /** The digest mailed so far covered notifications up to this id. */
  digestSentUpTo: number;
}

/** A user owed a digest: unread mentions older than the wait, none mailed yet. */
export interface DigestCandidate {
  userId: string;
  email: string;
  /** The newest notification id the digest covers. */
  upTo: number;
}
