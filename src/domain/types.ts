/**
 * The shapes the domain works with. Wire shapes (ISO times, camelCase) are built from these
 * records in src/domain/views.ts; records keep times as epoch milliseconds so both SQL
 * dialects store them the same way.
 */
import type { EVENT_KINDS, MODERATION_KINDS } from '../protocol/event-kinds.js';
import type { ForbiddenReason } from '../protocol/wire.js';

export type Visibility = 'public' | 'private' | 'dm';
/** Ranks owner > admin > member: an actor moderates only members of a lower rank. */
export type Role = 'owner' | 'admin' | 'member';
export type EventKind = (typeof EVENT_KINDS)[number];

/** The stream events of moderation and room settings (src/domain/moderation-rules.ts). */
export type ModerationKind = (typeof MODERATION_KINDS)[number];

/** Why a room operation was refused (`forbidden`'s details.reason): one list, the wire's. */
export type { ForbiddenReason };

/** What a moderation event carries besides its actor and member, as fits its kind. */
export interface ModerationDetails {
  /** room_updated: the settings changed, as they are now. */
  name?: string;
  topic?: string;
  archived?: boolean;
  /** member_banned, member_muted: epoch ms when it ends; null: for ever. */
  until?: number | null;
  /** member_kicked, member_banned, member_muted: as the moderator gave it; null: none. */
  reason?: string | null;
  /** member_role_changed: the new role. */
  role?: Role;
}

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
  /** The status line the user set; absent when none (shown until `statusExpiresAt`, if set). */
  statusText?: string;
  /** When the status stops showing (epoch ms); absent when it shows until changed. */
  statusExpiresAt?: number;
  /** The avatar in use (an upload id); absent when none. */
  avatarId?: string;
  /** When a server administrator disabled the account (it cannot log in); absent or null while enabled. */
  disabledAt?: number | null;
  /** When the account was deleted (its row stays, erased, for the messages naming it); absent or null otherwise. */
  deletedAt?: number | null;
  /** A bot whose owner a server administrator disabled: when (the bot is refused with them). Set where the owner's state is read with the bot (findSessionUser). */
  ownerDisabledAt?: number | null;
}

/** A role on the server as a whole (not in a room): `admin` reads analytics and administers. */
export type ServerRole = 'admin';

export interface ServerRoleHolder {
  userId: string;
  username: string;
  role: ServerRole;
  grantedAt: number;
}

/** Where a server administrator acted from: the REST API (the admin page) or the console (`parley admin`). */
export type AdminVia = 'api' | 'console';

/** One entry of the server's audit log. */
export interface ServerAuditRecord {
  id: number;
  at: number;
  action: string;
  /** Who acted; null at the console. */
  actor: { id: string; username: string } | null;
  via: AdminVia;
  user: { id: string; username: string } | null;
  roomId: string | null;
  data: Record<string, unknown> | null;
}

/** An entry of the server's audit log, as written. */
export interface ServerAuditInput {
  at: number;
  action: string;
  actorId: string | null;
  via: AdminVia;
  userId: string | null;
  roomId: string | null;
  data: Record<string, unknown> | null;
}

/** A page of the users an administrator lists: by username, from `after`. */
export interface AdminUserQuery {
  /** A username prefix (lower-cased); all users when absent. */
  prefix?: string | undefined;
  /** Only the users in this state. */
  state?: 'active' | 'disabled' | 'deleted' | 'bot' | undefined;
  /** The last username of the previous page. */
  after?: string | undefined;
  limit: number;
}

/** A room as an administrator lists it: its record and how many members it has. */
export interface AdminRoomRecord extends RoomRecord {
  members: number;
}

/** A page of every room (any visibility), newest first, for an administrator. */
export interface AdminRoomQuery {
  /** A part of the name (case-insensitive); all rooms when absent. */
  q?: string | undefined;
  /** The cursor of the previous page: its last room's creation time and id. */
  after?: { createdAt: number; id: string } | undefined;
  limit: number;
}

/** What PATCH /me changes: each field present is set; `status: null` clears the status. */
export interface ProfileChanges {
  /** The new display name and its folded form (foldName), checked against other users' usernames. */
  displayName?: { value: string; folded: string };
  status?: { text: string; expiresAt: number | null } | null;
}

/** Where a page of user search resumes: username matches first, then display-name matches. */
export type UserSearchCursor = { phase: 'username'; username: string } | { phase: 'displayName'; folded: string; id: string };

export interface UserSearchQuery {
  /** Lower-cased: matched as a username prefix. */
  username: string;
  /** Folded (foldName): matched as a display-name prefix. */
  folded: string;
  after: UserSearchCursor | null;
  limit: number;
}

/** Where a page of a member list resumes: members are listed in join order. */
export interface MemberCursor {
  joinedAt: number;
  userId: string;
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
  /** When it was archived; absent or null while open. */
  archivedAt?: number | null;
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
  /** A reply: the seq of its thread's root; absent for top-level messages. */
  threadRoot?: number;
  /** A root that has had replies: its replies not deleted, and when the latest was sent. Absent until its first reply. */
  replyCount?: number;
  lastReplyAt?: number;
  /** Aggregated reactions as one reader sees them (added by the reads that show them); absent when none. */
  reactions?: ReactionRecord[];
}

/** One emoji's reactions to a message, for one reader. */
export interface ReactionRecord {
  emoji: string;
  count: number;
  /** The reader is one of them. */
  me: boolean;
}

/** A message's reactions by emoji, as the store aggregates them for a reader. */
export interface MessageReactions {
  seq: number;
  reactions: ReactionRecord[];
}

/** A thread a user follows (or read), with their unread count. */
export interface FollowedThreadRecord {
  root: MessageRecord;
  lastReadSeq: number;
  /** Replies by others, not deleted, after lastReadSeq; at most the cap asked with. */
  unread: number;
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
  /** For reaction_added and reaction_removed: the emoji (the message is `target`). */
  emoji?: string;
  /** For moderation events about a member: that member (the actor is `user`). */
  member?: Author;
  /** For moderation events: their fields. */
  details?: ModerationDetails;
  /**
   * Set, as it is committed, on a ban of someone who was not a member: no membership ends (the
   * writer tells nobody's caches or connections). Not part of the wire, nor stored.
   */
  wasNotMember?: true;
}

/** What the search indexer writes for one message from one stream event (src/pipeline/). */
export interface SearchIndexEntry {
  /** The message's seq. */
  messageSeq: number;
  /** The seq of the event the text comes from: a message's text is only replaced by a later event's. */
  eventSeq: number;
  /** The body's words, folded (domain/search.ts searchText); '' for a deleted message. */
  text: string;
}

/** A ban or mute in force. */
export interface RestrictionRecord {
  roomId: string;
  user: Author;
  kind: 'ban' | 'mute';
  /** Epoch ms; null: for ever. */
  until: number | null;
  reason: string | null;
  createdBy: Author;
  createdAt: number;
}

/** One entry of a room's audit log: a moderation action, by the seq of its event. */
export interface AuditRecord {
  roomId: string;
  seq: number;
  action: ModerationKind;
  actor: Author;
  member: Author | null;
  details: ModerationDetails;
  createdAt: number;
}

export interface RoomWithReadState {
  room: RoomRecord;
  /** Epoch ms of the room's latest event: lists are by it, newest first. */
  lastActivityAt: number;
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
  /** Present, true, when a server administrator disabled the bot or its owner: the webhook is refused. */
  disabled?: true;
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
