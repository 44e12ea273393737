/**
 * Ports: the interfaces the domain speaks to. Each has adapters in src/adapters/ and one
 * contract suite in test/contracts/ that every adapter passes.
 */
import { AppError } from './errors.js';
import type { NameConflict } from './domain/name-conflicts.js';
import type {
  AdminRoomQuery,
  AdminRoomRecord,
  AdminUserQuery,
  AuditRecord,
  Author,
  DigestCandidate,
  EventKind,
  ExportRecord,
  ForbiddenReason,
  FollowedThreadRecord,
  IncomingWebhookRecord,
  IncomingWebhookWithBot,
  MemberRecord,
  MemberCursor,
  MembershipRecord,
  MessageReactions,
  MessageRecord,
  ProfileChanges,
  RestrictionRecord,
  NewNotification,
  NotificationRecord,
  NotificationSettingsRecord,
  NotifyPrefRecord,
  RetentionRoom,
  RoomRecord,
  RoomRetention,
  RoomWithReadState,
  SearchHitRecord,
  SearchIndexEntry,
  ServerAuditInput,
  ServerAuditRecord,
  SessionRecord,
  StreamEventRecord,
  ServerRole,
  ServerRoleHolder,
  UserRecord,
  UserSearchCursor,
  UserSearchQuery,
  UploadRecord,
  UploadState,
  Visibility,
  WebhookDeliveryRecord,
  WebhookRecord,
} from './domain/types.js';

/** What a step of an upload's life changes. */
export type UploadChanges = Partial<Pick<UploadRecord, 'state' | 'size' | 'received' | 'contentType' | 'width' | 'height' | 'objectKey' | 'thumbKey' | 'thumbWidth' | 'thumbHeight'>>;

/** One change to append to a room stream. Applied in a group-committed batch. */
export type AppendRequest =
  /**
   * `attachments`: ids of uploads of the author's, ready in this room, attached in this order.
   * `threadRoot`: a reply to this top-level message of the room (not deleted).
   */
  | { kind: 'message'; roomId: string; userId: string; id: string; body: string; clientMsgId: string | null; at: number; attachments?: string[]; threadRoot?: number }
  | { kind: 'edit'; roomId: string; userId: string; target: number; body: string; at: number }
  /** By the author, or by the room's owner (the rules of src/domain/stream-rules.ts decide). */
  | { kind: 'delete'; roomId: string; userId: string; target: number; at: number }
  /** `addedBy`: the member adding `userId` (who must still be one when it commits), or null for joining oneself. */
  | { kind: 'member_joined'; roomId: string; userId: string; role: 'owner' | 'member'; addedBy: string | null; at: number }
  | { kind: 'member_left'; roomId: string; userId: string; at: number }
  /** A member reacts to message `target` (not deleted) with `emoji`; `maxPerMessage`: distinct emoji a message may carry. */
  | { kind: 'reaction_added'; roomId: string; userId: string; target: number; emoji: string; maxPerMessage: number; at: number }
  | { kind: 'reaction_removed'; roomId: string; userId: string; target: number; emoji: string; at: number };

/**
 * What became of one AppendRequest.
 * - `appended`: a new event was committed with the seq in `event`.
 * - `duplicate`: a message with the same (room, author, clientMsgId) already exists; nothing
 *   was written and `message` is the first one.
 * - `noop`: nothing to do (joining a room one is already in, leaving one is not in, adding a
 *   reaction one made already, removing one not made).
 * - `rejected`: the request no longer applies (`not_found`: no such message or it was
 *   deleted; `forbidden`: not the author; `attachment`: an attachment is not an upload of the
 *   author's ready in this room, or is attached already; `thread_root`: the root of a reply is
 *   no top-level message of the room, or is deleted; `too_many_reactions`: the message carries
 *   `maxPerMessage` distinct emoji already). Nothing was written.
 */
export type AppendOutcome =
  | { status: 'appended'; event: StreamEventRecord }
  | { status: 'duplicate'; message: MessageRecord }
  | { status: 'noop' }
  | { status: 'rejected'; code: 'not_found' | 'forbidden' | 'attachment' | 'thread_root' | 'too_many_reactions'; reason?: ForbiddenReason };

/** A moderation action or settings change, as the actor asks it (src/domain/moderation-rules.ts). */
export type ModerationAction =
  | { kind: 'room_updated'; name?: string; topic?: string; archived?: boolean }
  | { kind: 'member_kicked'; memberId: string; reason: string | null }
  | { kind: 'member_banned'; memberId: string; until: number | null; reason: string | null }
  | { kind: 'member_unbanned'; memberId: string }
  | { kind: 'member_muted'; memberId: string; until: number | null; reason: string | null }
  | { kind: 'member_unmuted'; memberId: string }
  | { kind: 'member_role_changed'; memberId: string; role: 'admin' | 'member' };

export interface ModerationRequest {
  roomId: string;
  actorId: string;
  at: number;
  action: ModerationAction;
  /**
   * The actor acts as a server administrator (the caller checked the server role on the
   * primary): as the room's owner, member or not. The server's audit log records it.
   */
  asServerAdmin?: boolean;
}

/**
 * What became of a ModerationRequest.
 * - `appended`: its stream event was committed (and its audit entry, in the same transaction);
 *   `room` is the room as it is after it.
 * - `noop`: nothing to change (unbanning someone not banned, a role they have); nothing written.
 * - `refused`: `not_found` (no such room, or the member named is not one), or `forbidden` for
 *   `reason`. Nothing written.
 */
export type ModerationOutcome =
  | { status: 'appended'; event: StreamEventRecord; room: RoomRecord }
  | { status: 'noop'; room: RoomRecord }
  | { status: 'refused'; code: 'not_found' } | { status: 'refused'; code: 'forbidden'; reason: ForbiddenReason };

/**
 * Who reads, and the room state the answer must include at least. A deployment with read
 * replicas serves a read that says who reads from a replica only when the replica has applied
 * that reader's own latest writes and the room state named here; a read that names no reader is
 * served by the primary. Stores without replicas ignore it.
 */
export interface ReadConsistency {
  readerId: string;
  /** A seq of the room the reader has seen (delivered to them, say, by another server). */
  seenSeq?: number;
  /**
   * The room's head as the primary gave it to the caller. A read that runs to the head of the
   * stream (history not bounded by `before`, a thread's replies) without it: the store reads it
   * from the primary first, so such a read includes everything committed before it began.
   */
  head?: { lastSeq: number; purgedSeq: number };
  /** The answer must include the room's stream up to its head as of the request (read from the primary unless `head` gives it). */
  upToHead?: boolean;
}

export interface HistoryQuery {
  roomId: string;
  /** Exclusive bounds on seq; with `after` results are oldest first, otherwise newest first. */
  before?: number;
  after?: number;
  limit: number;
  /** Top-level messages only (no thread replies). */
  topLevel?: boolean;
  consistency?: ReadConsistency;
}

/** A page of a thread: its root, and replies oldest first with seq > `after`. */
export interface ThreadPage {
  root: MessageRecord;
  replies: MessageRecord[];
  hasMore: boolean;
}

/** A page of a thread as the caller sees it: with whether they follow it and how far they read it. */
export interface ViewerThreadPage extends ThreadPage {
  following: boolean;
  lastReadSeq: number | null;
}

/** Where a page of followed threads ends: the next page starts after it. */
export interface ThreadCursor {
  /** The thread's latest reply (or, without one, its root), epoch ms. */
  at: number;
  roomId: string;
  rootSeq: number;
}

/**
 * An append whose batch spans databases (rooms on several shards) and was committed on some of
 * them only: `outcomes` holds the outcome of each request that was committed, and undefined for
 * the others, which failed with `cause` (nothing of theirs was written). Without regard to the
 * outcomes it is an outage (`unavailable`): a caller that knows no better answers 503.
 */
export class PartialAppendError extends AppError {
  readonly outcomes: Array<AppendOutcome | undefined>;
  constructor(outcomes: Array<AppendOutcome | undefined>, cause: unknown) {
    super('unavailable', cause instanceof AppError ? cause.message : 'The database is unavailable; retry shortly.', undefined, cause instanceof AppError ? cause.retryAfterSeconds : undefined);
    this.name = 'PartialAppendError';
    this.outcomes = outcomes;
    this.cause = cause;
  }
}

/**
 * The durable store: accounts, sessions, rooms, membership and room streams.
 *
 * Guarantees: every method is atomic. `append` commits its whole batch in one transaction;
 * within a room, seqs are assigned 1, 2, 3, … without gaps in commit order, also when several
 * processes append to the same room at once (the room row is locked for the transaction).
 * Errors from the database reject the promise; nothing is partially written. An outage of the
 * database (down, restarting, overloaded, a statement timeout, a serialization failure) rejects
 * with `unavailable`, so callers answer 503 and clients retry; any other error is a bug.
 */
export interface Store {
  /** Brings the schema to the latest version. Safe to call concurrently and repeatedly. */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Cheap round trip, for readiness checks. */
  ping(): Promise<void>;

  /**
   * Creates the account unless its names clash with another's (`findNameConflict`): then it
   * rejects with AppError `conflict` (nameConflictError), writing nothing. The check and the
   * insert are atomic against concurrent createUser calls in any process. `displayNameFolded`
   * is the display name's folded form (foldName), stored to find clashes with later usernames;
   * without it, the lower-cased display name is stored. `serverRole` is granted in the same
   * transaction.
   */
  createUser(user: UserRecord, names?: { displayNameFolded: string; serverRole?: ServerRole }): Promise<void>;
  /**
   * How `username` and a folded display name clash with existing accounts, or null: the
   * username is taken, or another user's folded display name is that username, or the folded
   * display name is another user's username. A read only: createUser decides.
   */
  findNameConflict(username: string, displayNameFolded: string): Promise<NameConflict | null>;
  findUserById(id: string): Promise<UserRecord | undefined>;
  /** The user's server role, or null when they hold none. Always read where it is written (the primary): a revocation holds at once. */
  serverRole(userId: string): Promise<ServerRole | null>;
  /** Grants `role` to the user, or takes their role away (null). False when there is no such user. */
  setServerRole(userId: string, role: ServerRole | null, at: number): Promise<boolean>;
  /** Everyone who holds a server role, by username. */
  listServerRoles(): Promise<ServerRoleHolder[]>;
  /**
   * Disables the account as of `at` and deletes its sessions (a bot's tokens stay, refused while
   * it is disabled); or enables it again (null), deleting a person's sessions made around the
   * disable. The bots of a person disabled are refused with them (findSessionUser's
   * `ownerDisabledAt`), and answered with their token hashes so that their sockets close. A
   * deleted account stays disabled. One transaction; undefined when there is no such user.
   * src/adapters/sql/administration.ts.
   */
  setUserDisabled(userId: string, at: number | null): Promise<{ user: UserRecord; revoked: string[]; bots: Array<{ id: string; tokenHashes: string[] }> } | undefined>;
  /** Sets the password hash and deletes every session of the user, in one transaction; answers their token hashes (undefined: no such user, or deleted). */
  setPassword(userId: string, passwordHash: string): Promise<string[] | undefined>;
  /** Deletes every session of the user; answers their token hashes. */
  revokeSessions(userId: string): Promise<string[]>;
  /**
   * Erases the account in one transaction (src/adapters/sql/administration.ts): the row stays
   * for the messages naming it, under `erased`'s names, disabled and deleted at `at`; its
   * password, profile, sessions, server role and blocks are gone. Answers the token hashes of the
   * sessions deleted; undefined when there is no such user.
   */
  eraseUser(userId: string, at: number, erased: { username: string; displayName: string }): Promise<string[] | undefined>;
  /** Every user, by username, for an administrator; `next`: the `after` of the following page, or null. */
  listUsers(query: AdminUserQuery): Promise<{ users: UserRecord[]; next: string | null }>;
  /** Every room of any visibility, newest first (ties by id, descending), with member counts, for an administrator. */
  listRooms(query: AdminRoomQuery): Promise<AdminRoomRecord[]>;
  recordServerAudit(entry: ServerAuditInput): Promise<void>;
  /** The server's audit log, newest first, with id < `before` when given; at most `limit`. */
  listServerAudit(before: number | undefined, limit: number): Promise<ServerAuditRecord[]>;
  /** Deletes up to `limit` of the oldest audit entries written before `before` (ms); answers how many went. */
  pruneServerAudit(before: number, limit: number): Promise<number>;
  /** `username` is compared lower-cased. */
  findUserByUsername(username: string): Promise<UserRecord | undefined>;
  /**
   * Applies the profile changes and answers the user as they are now (undefined: no such user).
   * A display name whose folded form is another user's username rejects with AppError
   * `conflict` (display_name_resembles_username), writing nothing; the check and the write are
   * atomic against a concurrent createUser of that username, in any process.
   */
  updateProfile(userId: string, changes: ProfileChanges): Promise<UserRecord | undefined>;
  /**
   * Active users (deactivated bots left out) whose username starts with `query.username`, by
   * username, then those whose folded display name starts with `query.folded` (and whose
   * username does not), by folded display name and id; at most `limit`, after `query.after`.
   * `next`: where the next page starts, or null on the last. Bounded work: each part is one
   * range of an index in code-point order, walked from the cursor and stopped by the limit.
   */
  searchUsers(query: UserSearchQuery): Promise<{ users: UserRecord[]; next: UserSearchCursor | null }>;

  createSession(session: SessionRecord): Promise<void>;
  findSession(tokenHash: string): Promise<SessionRecord | undefined>;
  /**
   * A session and its user in one read (authentication: one store call per request, not two),
   * or undefined when there is no such session. Expiry is the caller's to check.
   */
  findSessionUser(tokenHash: string): Promise<{ session: SessionRecord; user: UserRecord } | undefined>;
  /** Returns true when a session was deleted. */
  deleteSession(tokenHash: string): Promise<boolean>;
  deleteExpiredSessions(now: number): Promise<number>;

  /**
   * Creates a room with `ownerId` as owner and first member: the stream starts with the
   * owner's member_joined at seq 1. Returns the room and that event.
   */
  createRoom(room: Omit<RoomRecord, 'lastSeq' | 'dmKey'>, ownerId: string): Promise<{ room: RoomRecord; event: StreamEventRecord }>;
  /**
   * Returns the DM room of the two users, creating it on first use (both members, two
   * member_joined events). `created` tells which happened. Safe under concurrent calls.
   */
  getOrCreateDm(room: Omit<RoomRecord, 'lastSeq' | 'dmKey' | 'visibility'>, userA: string, userB: string): Promise<{ room: RoomRecord; created: boolean; events: StreamEventRecord[] }>;
  findRoom(id: string): Promise<RoomRecord | undefined>;
  /**
   * Rooms `userId` is a member of, with read markers and unread counts (messages by others, not
   * deleted, after the marker). Bounded work per room: at most 2 × (`unreadCap` + 1) messages
   * after the marker are read. More than `unreadCap` unread among them, or more messages after
   * them: the room is `unreadCapped`, and `unread` (at most `unreadCap`) is a lower bound.
   */
  listMemberRooms(userId: string, unreadCap: number): Promise<RoomWithReadState[]>;
  /** Public rooms whose name contains `q` (case-insensitive), by name. */
  listPublicRooms(q: string | undefined, limit: number, consistency?: ReadConsistency): Promise<RoomRecord[]>;

  findMember(roomId: string, userId: string): Promise<MemberRecord | undefined>;
  /**
   * The user's role in the room (null when not a member) and the room's last seq, read together:
   * the answer holds as of that seq, so a leave after it has a higher seq.
   */
  membership(roomId: string, userId: string): Promise<MembershipRecord>;
  /**
   * Which of `userIds` (at most MEMBERS_AMONG_MAX) are members of the room now, and the room's
   * last seq, read together; `asOfSeq` 0 when the room does not exist (here). One read for many
   * membership checks of one room (a storm of resumes).
   */
  membersAmong(roomId: string, userIds: readonly string[]): Promise<{ ids: string[]; asOfSeq: number }>;
  /**
   * The room's members in join order (ties by user id), with their users; with `page`, those
   * after `page.after`, at most `page.limit` (one walk of an index from the cursor).
   */
  listMembers(roomId: string, page?: { after: MemberCursor | null; limit: number }, consistency?: ReadConsistency): Promise<Array<{ member: MemberRecord; user: UserRecord }>>;
  /** Ids of the rooms `userId` is a member of. */
  listMemberRoomIds(userId: string): Promise<string[]>;
  /** The user ids of the room's members, and the room's last seq, read together (the list holds as of it; 0 when no such room). */
  listMemberIds(roomId: string): Promise<{ ids: string[]; asOfSeq: number }>;
  /** Moves the read marker forward only (never back, never past lastSeq). Returns the marker now. */
  advanceReadMarker(roomId: string, userId: string, seq: number): Promise<number>;

  /** Appends the requests in one transaction, in order; one outcome per request, same order. */
  append(requests: AppendRequest[]): Promise<AppendOutcome[]>;
  /**
   * Applies a moderation action in one transaction that locks the room: checks it against the
   * rules as they stand then (src/domain/moderation-rules.ts), appends its event at the room's
   * next seq, writes what it changes (membership, role, restriction, settings) and its audit
   * entry. Seqs stay gapless and commit-ordered with `append`'s batches.
   */
  moderate(request: ModerationRequest): Promise<ModerationOutcome>;
  /** The room's bans and mutes in force at `now`, newest first. */
  listRestrictions(roomId: string, now: number): Promise<RestrictionRecord[]>;
  /** Of `userIds`, those muted in the room at `now`: user id → when the mute ends (null: when lifted). */
  mutesOf(roomId: string, userIds: string[], now: number): Promise<Map<string, number | null>>;
  /** The room's audit log, newest first, with seq < `before` when given; at most `limit`. */
  listAudit(roomId: string, before: number | undefined, limit: number): Promise<AuditRecord[]>;
  /** Events with seq > `since`, oldest first, at most `limit`. */
  readEvents(roomId: string, since: number, limit: number): Promise<StreamEventRecord[]>;
  readHistory(query: HistoryQuery): Promise<{ messages: MessageRecord[]; hasMore: boolean }>;
  findMessage(roomId: string, seq: number): Promise<MessageRecord | undefined>;

  // Threads and reactions
  /** Reactions of the room's messages `seqs` by emoji (first reacted first), `me` for `userId`; messages without any are left out. */
  reactionsOf(roomId: string, seqs: number[], userId: string, consistency?: ReadConsistency): Promise<MessageReactions[]>;
  /** The thread of top-level message `rootSeq`: it, and at most `limit` replies after `after`; undefined when it is no top-level message. */
  readThread(roomId: string, rootSeq: number, after: number, limit: number, consistency?: ReadConsistency): Promise<ThreadPage | undefined>;
  /**
   * Follows (or unfollows) the thread of top-level message `rootSeq`; a follow by someone not
   * following reads up to the room's last seq. False when it is no top-level message of the room.
   */
  setThreadFollow(roomId: string, rootSeq: number, userId: string, following: boolean): Promise<boolean>;
  /** Whether the user follows the thread of `rootSeq` and their read marker in it (null: never marked nor followed). */
  threadFollowOf(roomId: string, rootSeq: number, userId: string): Promise<{ following: boolean; lastReadSeq: number | null }>;
  /**
   * Moves the user's read marker of the thread forward only (never past the room's last seq),
   * keeping whether they follow it (a first mark does not follow). Answers the marker now, or
   * null when `rootSeq` is no top-level message of the room.
   */
  markThreadRead(roomId: string, rootSeq: number, userId: string, seq: number): Promise<number | null>;
  /**
   * The threads the user follows in rooms they are a member of, by latest reply (or root, when none; newest first),
   * after `cursor`, at most `limit`; `unread` counts at most `unreadCap`. `next`: where the
   * next page starts, null on the last.
   */
  listFollowedThreads(userId: string, cursor: ThreadCursor | null, limit: number, unreadCap: number): Promise<{ threads: FollowedThreadRecord[]; next: ThreadCursor | null }>;
  /** Ids of the users following the thread of `rootSeq` (its author and repliers unless they unfollowed, and who followed it). */
  listThreadFollowers(roomId: string, rootSeq: number): Promise<string[]>;

  /**
   * Full-text search in the bodies of live (not deleted) messages of the rooms `query.userId`
   * is a member of, and no others. Each term must match as a word prefix. Newest first.
   *
   * Bounded work: the matches are walked newest first, in every room (or only `roomId`'s), and
   * each one examined counts against `maxCandidates`, whether it is a hit or not. When the walk
   * stops at that cap before `limit` hits were found and more matches remain, the page holds
   * the hits found so far and `truncated` is true. Past `deadlineAt` the search is stopped
   * inside the database and rejects with AppError `unavailable`; nothing is returned then.
   */
  search(query: SearchQuery): Promise<SearchPage>;

  // History exports (src/exports/)
  createExport(record: ExportRecord): Promise<void>;
  findExport(id: string): Promise<ExportRecord | undefined>;
  /** The newest export of the room by the user that is queued or running, if any. */
  findActiveExport(roomId: string, userId: string): Promise<ExportRecord | undefined>;
  updateExport(id: string, changes: ExportChanges): Promise<void>;
  /** Exports whose expiry passed, at most `limit`. */
  listExpiredExports(now: number, limit: number): Promise<ExportRecord[]>;
  deleteExport(id: string): Promise<void>;

  // Retention (src/retention/)
  /** Sets the room's own retention policy (null: the server's). */
  setRoomRetention(roomId: string, days: number | null): Promise<void>;
  /** The room's retention state, or undefined when there is no such room. */
  roomRetention(roomId: string): Promise<RoomRetention | undefined>;
  /** Rooms with ids after `afterId`, by id, at most `limit`. */
  listRetentionRooms(afterId: string, limit: number): Promise<RetentionRoom[]>;
  /**
   * Tombstones the room's messages created before `before`, after its purge cursor, oldest
   * first, at most `limit` examined: each becomes deleted with its text gone (out of history,
   * replay and search). Stops at the first message not older than `before`. Moves the cursor to
   * the last seq it examined. `more`: it stopped at `limit`, older messages may remain.
   */
  purgeMessagesBefore(roomId: string, before: number, limit: number): Promise<{ tombstoned: number; throughSeq: number; more: boolean }>;

  // Uploads: attachments and avatars (src/files/)
  /**
   * Inserts `upload` unless its user's uploads created after `since`, with it, pass
   * `dailyLimit` bytes (0: none); atomic against the same user's concurrent reservations.
   * `used`: the user's bytes in the window before it.
   */
  reserveUpload(upload: UploadRecord, dailyLimit: number, since: number): Promise<{ reserved: boolean; used: number }>;
  findUpload(id: string): Promise<UploadRecord | undefined>;
  /** Applies `changes` if the upload is in state `from`; false when it is not. */
  updateUpload(id: string, from: UploadState, changes: UploadChanges): Promise<boolean>;
  /**
   * Forgets an upload that stored nothing (a refused or abandoned one) while it is still
   * receiving or direct: its quota comes back. A row moved on (doomed: objects to delete) stays.
   */
  deleteUpload(id: string): Promise<void>;
  /**
   * Makes the ready upload `uploadId` the avatar of the user or room (attached) and dooms the
   * one it replaces; null removes it. False when there is no such user or room, or the upload
   * is not ready.
   */
  setAvatar(owner: { userId: string } | { roomId: string }, uploadId: string | null): Promise<boolean>;
  avatarOf(owner: { userId: string } | { roomId: string }): Promise<UploadRecord | undefined>;
  /**
   * Dooms uploads never attached, at most `limit`: ready ones created before `cutoff`, and ones
   * still receiving or direct created before `unfinishedCutoff` (a slow upload may take longer
   * than an upload may wait to be attached). How many.
   */
  doomUnattachedUploads(cutoff: number, unfinishedCutoff: number, limit: number): Promise<number>;
  /** Doomed uploads, oldest first: their objects are to be deleted. */
  listDoomedUploads(limit: number): Promise<UploadRecord[]>;
  /** Doomed uploads whose objects are gone. */
  markUploadsDeleted(ids: string[]): Promise<void>;
  /** Forgets deleted uploads created before `cutoff` (out of the quota's window); how many. */
  forgetDeletedUploads(cutoff: number, limit: number): Promise<number>;

  // Outgoing webhooks (src/webhooks/)
  createWebhook(record: WebhookRecord): Promise<void>;
  findWebhook(id: string): Promise<WebhookRecord | undefined>;
  /** The room's webhooks, oldest first. */
  listWebhooks(roomId: string): Promise<WebhookRecord[]>;
  updateWebhook(id: string, changes: WebhookChanges): Promise<void>;
  /** Starts the webhook's failing period unless one runs; answers when the running one started. */
  markWebhookFailing(id: string, now: number): Promise<number>;
  /** Deletes the webhook and its delivery log. */
  deleteWebhook(id: string): Promise<void>;
  /** Ids of the room's active webhooks. */
  activeWebhookIds(roomId: string): Promise<string[]>;
  /** Active webhooks whose cursor is behind their room's last seq, furthest behind first, with their cursor; at most `limit`. */
  webhooksBehind(limit: number): Promise<Array<{ id: string; cursorSeq: number }>>;
  /** Moves the webhook's cursor forward to `seq` (never back). */
  advanceWebhookCursor(id: string, seq: number): Promise<void>;
  recordWebhookDelivery(delivery: WebhookDeliveryRecord): Promise<void>;
  /** The webhook's latest delivery attempts, newest first. */
  listWebhookDeliveries(webhookId: string, limit: number): Promise<WebhookDeliveryRecord[]>;
  /** Deletes all but the newest `keep` delivery attempts of the webhook. */
  pruneWebhookDeliveries(webhookId: string, keep: number): Promise<void>;

  // Bots (src/domain/bots.ts)
  /**
   * Creates a bot account (`bot.botOwnerId` names its owner) with `session`, its first token
   * (none when null), in one transaction. Answers false, writing nothing, when the owner already
   * has `maxPerOwner` active bots: two creations for one owner, in any processes, never pass the
   * cap together. Names are checked as createUser checks them (rejects with `conflict`).
   */
  createBot(bot: UserRecord, names: { displayNameFolded: string }, maxPerOwner: number, session: SessionRecord | null): Promise<boolean>;
  /** The owner's active (not deactivated) bots, oldest first. */
  listBots(ownerId: string): Promise<UserRecord[]>;
  /**
   * Deletes every session of the user and creates `session`, in one transaction: no moment has
   * both the old tokens and the new one working. Answers the token hashes deleted.
   */
  replaceSessions(userId: string, session: SessionRecord): Promise<string[]>;
  /**
   * Deactivates the bot as of `at` (kept if it was deactivated already) and deletes its sessions
   * and its incoming webhooks, in one transaction. Answers the token hashes deleted and the rooms
   * it is still a member of: it leaves them through the room streams (the caller appends the
   * member_left events). Repeatable: a second call deletes nothing more and answers the rooms left.
   */
  deactivateBot(botId: string, at: number): Promise<{ tokenHashes: string[]; roomIds: string[] }>;

  // Incoming webhooks (src/domain/incoming-webhooks.ts)
  createIncomingWebhook(hook: IncomingWebhookRecord): Promise<void>;
  findIncomingWebhook(id: string): Promise<IncomingWebhookWithBot | undefined>;
  /** The webhook whose secret hashes to `tokenHash` (unique), with its bot. */
  findIncomingWebhookByToken(tokenHash: string): Promise<IncomingWebhookWithBot | undefined>;
  /** The room's webhooks, oldest first, with their bots. */
  listIncomingWebhooks(roomId: string): Promise<IncomingWebhookWithBot[]>;
  /** True when a webhook was deleted. */
  deleteIncomingWebhook(id: string): Promise<boolean>;

  // Notifications and blocks (src/notifications/)
  /** The seq up to which the notifier has read the room's stream; 0 when it has not started. */
  notificationCursor(roomId: string): Promise<number>;
  /** Moves the room's notifier cursor forward to `seq` (never back). */
  advanceNotificationCursor(roomId: string, seq: number): Promise<void>;
  /** Rooms with events after their notifier cursor, furthest behind first; at most `limit`. */
  roomsBehindNotifier(limit: number): Promise<string[]>;
  // The event pipeline (src/pipeline/): per-room cursors of the stream's consumers
  /** The seq up to which `consumer` (`log`, `search`) has taken the room's stream; 0 when it has not started. */
  streamCursor(roomId: string, consumer: string): Promise<number>;
  /** Moves the room's `consumer` cursor forward to `seq` (never back). */
  advanceStreamCursor(roomId: string, consumer: string, seq: number): Promise<void>;
  /** Rooms with events after their `consumer` cursor, furthest behind first; at most `limit`. */
  roomsBehindCursor(consumer: string, limit: number): Promise<string[]>;
  /**
   * In one transaction: writes each entry's text on its message (not over the text of a later
   * event, nor on a deleted message, nor for events indexed before the pipeline existed) and
   * moves the room's `search` cursor to `throughSeq` if it stands at `afterSeq` or beyond (the
   * entries' events run on from it), so the cursor never passes an event nobody indexed.
   */
  applySearchIndex(roomId: string, entries: SearchIndexEntry[], afterSeq: number, throughSeq: number): Promise<void>;
  /** Every member preference set for the room. */
  listNotifyPrefs(roomId: string): Promise<NotifyPrefRecord[]>;
  findNotifyPref(roomId: string, userId: string): Promise<NotifyPrefRecord | undefined>;
  setNotifyPref(roomId: string, pref: NotifyPrefRecord): Promise<void>;
  /**
   * Writes the notifications not written before (one per user, room and seq: a repeated write
   * writes nothing) and answers those it wrote, with their ids.
   */
  insertNotifications(rows: NewNotification[]): Promise<Array<NewNotification & { id: number }>>;
  /** The user's notifications in rooms they are still a member of (see NotificationPage). */
  listNotifications(userId: string, page: NotificationPage): Promise<NotificationRecord[]>;
  /** Notifications after `readUpTo` in rooms the user is still in, counted up to `cap`. */
  countUnreadNotifications(userId: string, readUpTo: number, cap: number): Promise<number>;
  /** The user's settings; the defaults when never set. */
  notificationSettings(userId: string): Promise<NotificationSettingsRecord>;
  updateNotificationSettings(userId: string, changes: NotificationSettingsChanges): Promise<void>;
  /** Moves the user's notification read marker forward (never back); answers where it is. */
  advanceNotificationsRead(userId: string, upTo: number): Promise<number>;
  /** Notes that a digest covered the user's notifications up to `upTo` (never moves back). */
  markDigestSent(userId: string, upTo: number): Promise<void>;
  /** Users owed a digest of mentions written at or before `olderThan`; at most `limit`. */
  digestCandidates(olderThan: number, limit: number): Promise<DigestCandidate[]>;
  /** `userId` blocks `blockedId` (again: nothing changes). */
  block(userId: string, blockedId: string, at: number): Promise<void>;
  unblock(userId: string, blockedId: string): Promise<void>;
  /** Whom the user blocked, newest first. */
  listBlocks(userId: string): Promise<Array<{ user: Author; createdAt: number }>>;
  /** Everyone who blocked `blockedId`. */
  blockersOf(blockedId: string): Promise<string[]>;
  /** Whether either user blocked the other. */
  blockedEitherWay(a: string, b: string): Promise<boolean>;
}

/** A page of notifications: newest first (before `before`, or from the newest), or oldest first after `after`. */
export interface NotificationPage {
  before?: number;
  after?: number;
  limit: number;
}

export type NotificationSettingsChanges = Partial<Pick<NotificationSettingsRecord, 'email' | 'emailDigest'>>;

export type WebhookChanges = Partial<Pick<WebhookRecord, 'secretSealed' | 'previousSecretSealed' | 'previousSecretUntil' | 'state' | 'disabledReason' | 'failingSince'>>;

export type ExportChanges = Partial<Pick<ExportRecord, 'state' | 'doneSeq' | 'messages' | 'bytes' | 'error' | 'finishedAt' | 'expiresAt'>>;

export interface SearchQuery {
  userId: string;
  /** Words already folded (see domain/search.ts); none is no hit. */
  terms: string[];
  /** Only this room's messages (still only when `userId` is a member of it). */
  roomId?: string | undefined;
  limit: number;
  /** Most matches examined, hits or not, before the search stops with `truncated`. */
  maxCandidates: number;
  /** Epoch milliseconds: past it the search is stopped and rejects with `unavailable`. */
  deadlineAt: number;
}

export interface SearchPage {
  hits: SearchHitRecord[];
  /** The walk stopped at `maxCandidates` with matches left unexamined: more hits may exist. */
  truncated: boolean;
  /** Events of the searched rooms the search indexer had not taken yet: what this search could not find. */
  pending: number;
  /** The rooms of those events, furthest behind first (not on the wire: the search catches them up). */
  pendingRooms: string[];
}

/**
 * Where a bus message goes: a room's subscribers, every connection of one user, one node (its
 * liveness probe), or every node (`ctl:`, control messages such as cache invalidation).
 */
export type Channel = `room:${string}` | `user:${string}` | `node:${string}` | `ctl:${string}`;

/**
 * Carries serialized events between the processes of a deployment.
 *
 * Guarantees: at-most-once, per-channel FIFO from one publisher; no durability. Anything that
 * must not be lost is in the Store first; receivers repair gaps from it (ordering buffer), and
 * resync every room when the bus tells them it may have dropped messages (`onReset`).
 */
export interface Bus {
  /** Best effort: rejects with `unavailable` while the bus server is unreachable. */
  publish(channel: Channel, payload: string): Promise<void>;
  /** Starts delivering `channel` to `handler`. Resolves once delivery is established; returns the function that stops it. */
  subscribe(channel: Channel, handler: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * `listener` runs whenever messages may have been lost: after a reconnection, or after
   * `resubscribe`. Subscriptions are in place again when it runs.
   */
  onReset(listener: () => void): void;
  /** Tears down and re-establishes every subscription (a probe found delivery had stopped), then resets. */
  resubscribe(): Promise<void>;
  close(): Promise<void>;
}

/** One record for the event log: `id` is its identity (an append of an id already there stores nothing). */
export interface LogRecord {
  /** Unique per record, stable across retries: `room:<roomId>:<seq>` for a stream event. */
  id: string;
  /** Dot-separated tokens, the first naming the family (`stream.<kind>`, `ops.<name>`); consumers filter on it. */
  subject: string;
  /** The record, serialized (src/pipeline/records.ts). */
  data: string;
}

/** A record as a consumer takes it. */
export interface LogEntry extends LogRecord {
  /** Its position in the log: grows with every record, the same for every consumer. */
  offset: number;
  /** When the log stored it, epoch ms. */
  storedAt: number;
  /** How many times it was handed to this consumer group before (0 the first time). */
  redelivered: number;
}

export interface ConsumeOptions {
  /** Only records of these families (a subject's first token: `stream`, `ops`); all when absent. */
  families?: string[];
  /** Most records handed to `handle` at once, and most records of the group out at a time across the deployment. */
  batch: number;
  /** After the first record of a batch, how long to wait for it to fill, ms (default 5; keep it well under the log's ack wait, 10 s): larger batches for a sink that wants few writes. */
  gatherMs?: number;
  /** Where a group that does not exist yet starts: an offset, or `first` (default). */
  startAt?: number | 'first';
}

/** A group's position: records of the log it has not acknowledged yet. */
export interface ConsumerLag {
  group: string;
  /** Records left to hand to the group, plus those handed and not acknowledged. */
  pending: number;
  /** The offset of the last record the group acknowledged (0: none). */
  acknowledged: number;
}

/**
 * A durable, replayable, ordered log of records (the Kafka-style pipeline: JetStream here).
 *
 * Guarantees: an append resolves only once the log stored every record; records keep the
 * order of one appender's calls (a record whose append failed and is appended again may come
 * after later ones); an id appended again within the log's dedupe window is not stored twice. Consumer groups keep their own offsets in the log: at-least-once, each batch
 * acknowledged when `handle` resolves and handed again (to any process of the group) when it
 * rejects or its process dies. Every call rejects with `unavailable` while the log is down.
 */
export interface EventLog {
  /** Resolves with how many of the records were new (the others' ids were there already). */
  append(records: LogRecord[]): Promise<{ stored: number }>;
  /**
   * Hands the group's records to `handle` in log order, batch by batch, from where the group
   * left off, until the returned stop is called (it waits for the batch in hand).
   */
  consume(group: string, options: ConsumeOptions, handle: (batch: LogEntry[]) => Promise<void>): () => Promise<void>;
  lag(group: string): Promise<ConsumerLag>;
  /** Moves the group to `offset` (its next record is the first at or after it): a replay. */
  rewind(group: string, offset: number): Promise<void>;
  close(): Promise<void>;
}

/** A time range of analytics: from `from` (included) to `to` (excluded), epoch ms. */
export interface AnalyticsRange {
  from: number;
  to: number;
}

/** A committed stream event as analytics keeps it: identified by room and seq. */
export interface AnalyticsEventRow {
  roomId: string;
  seq: number;
  kind: string;
  /** The actor. */
  userId: string;
  bot: boolean;
  /** Committed at, epoch ms. */
  at: number;
}

/** An operational event (connections, logins, job outcomes), identified by its log record id. */
export interface AnalyticsOpsRow {
  id: string;
  name: string;
  node: string;
  /** The user it is about, '' when none. */
  userId: string;
  bot: boolean;
  at: number;
  /** Its other fields, JSON. */
  data: string;
}

/** One bucket of a node's delivery latency histogram over a window (record `id`). */
export interface DeliveryLatencyRow {
  id: string;
  node: string;
  /** The window's end, epoch ms. */
  at: number;
  /** The bucket's upper bound, ms (the last one also holds everything above it). */
  leMs: number;
  /** Deliveries that took at most leMs and more than the bucket below. */
  deliveries: number;
}

export interface AnalyticsBatch {
  events: AnalyticsEventRow[];
  ops: AnalyticsOpsRow[];
  latency: DeliveryLatencyRow[];
}

export interface RoomDayMessages {
  /** YYYY-MM-DD, UTC. */
  day: string;
  roomId: string;
  messages: number;
}

export interface ActiveUsers {
  daily: Array<{ day: string; users: number }>;
  /** Calendar months (YYYY-MM) that the range touches, counted over the part of them in the range. */
  monthly: Array<{ month: string; users: number }>;
}

export interface BusyRoom {
  roomId: string;
  messages: number;
  /** Distinct people and bots who sent them. */
  senders: number;
}

export interface BusyHour {
  /** Hour of the day, UTC, 0–23. */
  hour: number;
  messages: number;
}

/** Percentiles are the upper bounds of the histogram buckets they fall in, ms; null with no delivery. */
export interface LatencyPercentiles {
  deliveries: number;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  p999Ms: number | null;
}

export interface DeliveryLatency extends LatencyPercentiles {
  daily: Array<{ day: string } & LatencyPercentiles>;
}

/**
 * The analytics store (ClickHouse): what the `analytics` group of the event log writes, and the
 * reports read from it. Writes are idempotent in effect: a row written again (a batch handed
 * twice, a replay) is the same row, by room and seq for stream events and by record id for the
 * others, and every report counts it once. Every call rejects with `unavailable` while the
 * analytics server is down or busy.
 */
export interface Analytics {
  /** Creates the database and tables that are missing. */
  prepare(): Promise<void>;
  write(batch: AnalyticsBatch): Promise<void>;
  messagesPerRoomPerDay(range: AnalyticsRange, options: { roomId?: string; limit: number }): Promise<RoomDayMessages[]>;
  activeUsers(range: AnalyticsRange): Promise<ActiveUsers>;
  busiestRooms(range: AnalyticsRange, limit: number): Promise<BusyRoom[]>;
  busiestHours(range: AnalyticsRange): Promise<BusyHour[]>;
  deliveryLatency(range: AnalyticsRange): Promise<DeliveryLatency>;
  /** Rows held, each counted once. */
  counts(): Promise<{ events: number; ops: number; latencyWindows: number }>;
  /** Empties every table (before a replay rebuilds them). */
  clear(): Promise<void>;
}

/**
 * A shared key-value cache with expiry. Values are strings (callers serialize). A cache is never
 * the source of truth: while its server is down every call rejects with `unavailable`, and
 * readers treat a failed `get` or `set` as a miss (the store answers). A failed `delete` fails
 * its caller: an invalidation that was not made must not be reported as done.
 */
export interface Cache {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(keys: string[]): Promise<void>;
}

/**
 * Token-bucket rate limiting. An adapter whose shared counters are unreachable degrades to
 * counting in the process (the limit then holds per process) rather than refusing traffic.
 */
export interface RateLimiter {
  /** Takes one token for `key`. When none is left, returns the milliseconds until one is. */
  consume(key: string): Promise<{ allowed: true } | { allowed: false; retryAfterMs: number }>;
}

/**
 * Who is online. A user is online while they hold at least one connection.
 * `connect` returns true when the user just came online; `disconnect` true when they just went
 * offline. While the presence store is down, calls reject with `unavailable`; an adapter shared
 * by nodes keeps this node's connections and restores them once the store is back.
 */
/**
 * Who is online: a user holding a connection on any node, or whose last connection closed less
 * than the adapter's offline grace ago (a user who reconnects within it never went offline).
 */
export interface Presence {
  /** Records a connection; true when the user came online (they had none, and no grace running). */
  connect(userId: string, connectionId: string): Promise<boolean>;
  /**
   * Forgets a connection: `offline` when it was the user's last and they are offline now,
   * `lingering` when it was the last and they stay online for the grace (then ask `settle`),
   * `unchanged` otherwise.
   */
  disconnect(userId: string, connectionId: string): Promise<PresenceDrop>;
  /** After a user's grace ran out: true, to one caller only, when they are offline now. */
  settle(userId: string): Promise<boolean>;
  online(userIds: string[]): Promise<Set<string>>;
}

export type PresenceDrop = 'unchanged' | 'lingering' | 'offline';

/** Visibility is re-exported so transports need only this module and types.ts. */
export type { Visibility, EventKind };

/** What a job carries: a JSON object (adapters serialize it; keep it small, ids not documents). */
export type JobPayload = { readonly [key: string]: unknown };

export interface EnqueueOptions {
  /**
   * Idempotency key, unique within the queue. While a job enqueued with it is waiting, delayed,
   * running or dead, and for the adapter's key retention (24 hours by default) after it
   * completed, enqueueing with the same key enqueues nothing and answers that job's id with
   * `created: false`.
   */
  key?: string;
  /** Runs no earlier than this many milliseconds from now. */
  delayMs?: number;
  /** Runs at most this many times in all (default DEFAULT_JOB_ATTEMPTS); then it is dead. */
  attempts?: number;
  /**
   * Waits between attempts: exponential from `baseMs` (doubling each attempt), capped at
   * `maxMs`, with full jitter (a uniform wait between 0 and that). Default DEFAULT_JOB_BACKOFF.
   */
  backoff?: { baseMs: number; maxMs: number };
}

/** Most user ids one membersAmong call takes (its SQL binds each). */
export const MEMBERS_AMONG_MAX = 500;

export const DEFAULT_JOB_ATTEMPTS = 5;
export const DEFAULT_JOB_BACKOFF = { baseMs: 1_000, maxMs: 300_000 } as const;

/** One run of a job, as its handler sees it. */
export interface Job {
  readonly id: string;
  readonly queue: string;
  readonly payload: JobPayload;
  readonly key: string | null;
  /** This run: 1 for the first. */
  readonly attempt: number;
  /** Runs allowed in all. */
  readonly attempts: number;
  /** When it was enqueued, epoch ms. */
  readonly enqueuedAt: number;
  /**
   * Aborted when this process gives the run up: it is shutting down past its grace, or the run's
   * lease was lost. The job runs again (elsewhere); the handler should stop soon.
   */
  readonly signal: AbortSignal;
}

/**
 * Works one job. Resolving completes it. Throwing fails this run: it runs again after its
 * backoff while attempts remain, and is dead after the last. A PermanentJobError (see
 * src/jobs/errors.ts) makes it dead at once: retrying cannot help.
 */
export type JobHandler = (job: Job) => Promise<void>;

export interface WorkOptions {
  /** Jobs of the queue this process runs at once (at least 1). */
  concurrency: number;
  /**
   * A run's lease, ms: the working process renews it while the run goes on, so a long run keeps
   * its job; when the process dies (killed, frozen) the lease lapses and the job runs again.
   * Default DEFAULT_VISIBILITY_TIMEOUT_MS.
   */
  visibilityTimeoutMs?: number;
}

export const DEFAULT_VISIBILITY_TIMEOUT_MS = 30_000;

export interface JobCounts {
  /** Ready to run now. */
  waiting: number;
  /** Waiting for their time: delayed jobs and retries in their backoff. */
  delayed: number;
  /** Running (leased). */
  active: number;
  /** Out of attempts, or failed permanently: kept for an operator. */
  dead: number;
}

/** A job that will not run again unless an operator retries it. */
export interface DeadJob {
  id: string;
  queue: string;
  payload: JobPayload;
  key: string | null;
  /** Runs made. */
  attempts: number;
  /** The last run's error message. */
  error: string;
  enqueuedAt: number;
  failedAt: number;
}

/**
 * Work that runs later, off the request path: webhook deliveries, exports, retention, emails.
 *
 * Guarantee: at-least-once. Once `enqueue` resolves, the job runs until a run completes it or it
 * runs out of attempts and is dead (kept, listed by `deadLetters`). A process that dies or
 * stops mid-run leaves the job to run again: so a job may run more than once, even after it
 * took effect, and every handler must be idempotent in effect.
 *
 * Order: jobs of a queue start in the order they became ready (enqueue time, or the end of
 * their delay or backoff), ties in enqueue order. With concurrency 1 and one worker the queue
 * is worked in that order; with more, runs overlap and may finish in any order.
 *
 * Queue names match QUEUE_NAME. An outage of the backend rejects calls with AppError
 * `unavailable`; workers wait it out and go on.
 */
export interface JobQueue {
  readonly kind: 'embedded' | 'bullmq' | 'amqp';
  /** Durable once resolved. `created`: false when `key` named a job that exists (its id answered). */
  enqueue(queue: string, payload: JobPayload, options?: EnqueueOptions): Promise<{ id: string; created: boolean }>;
  /**
   * Runs a job of `queue` with `payload` every `everyMs`, named `name`: every process may call
   * this (at start), and each period still makes one job in the whole deployment. Calling it
   * again with another period or payload replaces the schedule.
   */
  repeat(queue: string, name: string, everyMs: number, payload: JobPayload): Promise<void>;
  /** This process works `queue` with `handler` from now until close. One handler per queue. */
  work(queue: string, handler: JobHandler, options: WorkOptions): Promise<void>;
  counts(queue: string): Promise<JobCounts>;
  /** Dead jobs of the queue, oldest failure first, at most `limit`. */
  deadLetters(queue: string, limit: number): Promise<DeadJob[]>;
  /** Makes a dead job ready again with its attempts renewed; false when there is no such dead job. */
  retryDead(queue: string, id: string): Promise<boolean>;
  /** Deletes one dead job, or every dead job of the queue; returns how many went. */
  purgeDead(queue: string, id?: string): Promise<number>;
  /**
   * Stops taking jobs, lets running ones finish for up to `graceMs`, then aborts the rest (they
   * run again elsewhere: at-least-once) and closes the backend's connections. Idempotent.
   */
  close(graceMs?: number): Promise<void>;
}

/** Lower-case letters, digits and dashes, starting with a letter, at most 64. */
export const QUEUE_NAME = /^[a-z][a-z0-9-]{0,63}$/;

/** An inclusive byte range of an object, as HTTP's Range header names one. */
export interface ByteRange {
  start: number;
  end: number;
}

/** An object read from storage: its bytes (all of it, or the range asked) as a stream. */
export interface StoredObject {
  body: NodeJS.ReadableStream & AsyncIterable<Uint8Array>;
  /** The whole object's size, bytes. */
  size: number;
  /** The range the body holds, or null for the whole object. */
  range: ByteRange | null;
  contentType: string;
}

/**
 * Object storage for attachments and avatars: the local filesystem (the embedded default) or an
 * S3-compatible bucket. Keys are relative paths of [A-Za-z0-9._-] segments joined by '/', never
 * '.' or '..'; an adapter refuses any other key (a programming error, not an outage).
 *
 * Guarantees: `put` is atomic (a reader sees the old object, or none, or the whole new one,
 * never part) and durable once resolved. An outage (the storage down, a timeout, a 5xx) rejects
 * with AppError `unavailable`, so callers answer 503; any other error is a bug.
 */
export interface ObjectStore {
  readonly kind: 'fs' | 's3';
  /**
   * Stores the local file at `source.path` (of `source.size` bytes) under `key`, replacing any
   * object there. Files larger than the adapter's part size go up as a multipart upload, one
   * part read from disk at a time: memory stays bounded whatever the size. `parts`: how many
   * parts it took (1: a single put).
   */
  put(key: string, source: { path: string; size: number }, options: { contentType: string }): Promise<{ parts: number }>;
  /**
   * The object, or `range` of it (which must lie inside the object: callers check it against
   * `stat`), as a stream; undefined when there is no such object.
   */
  get(key: string, range?: ByteRange): Promise<StoredObject | undefined>;
  stat(key: string): Promise<{ size: number; contentType: string } | undefined>;
  /** Deletes the objects; a key with no object is no error. */
  delete(keys: string[]): Promise<void>;
  /**
   * A URL that accepts one HTTP PUT of exactly `size` bytes with Content-Type `contentType` to
   * `key` until `expiresInS` from now, or null when the adapter has none (fs: uploads go
   * through the server).
   */
  presignPut(key: string, options: { size: number; contentType: string; expiresInS: number }): Promise<string | null>;
  /**
   * A URL that GETs the object until `expiresInS` from now, answered with these Content-Type and
   * Content-Disposition headers, or null when the adapter has none (fs).
   */
  presignGet(key: string, options: { expiresInS: number; contentType: string; contentDisposition: string }): Promise<string | null>;
  /** Cheap round trip (the bucket or directory is there and answers), for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
