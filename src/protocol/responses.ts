/**
 * Schemas of what the REST API answers: the views of src/domain/views.ts and the bodies that
 * wrap them. They are not used to check answers at run time (that would cost every request);
 * the API reference is built from them (src/http/openapi.ts), each route's handler must return
 * the input type of its declared schema (src/http/route.ts), and the tests parse real answers
 * with them, so neither the reference nor the server can drift from the other unnoticed.
 *
 * Objects are strict so that a test fails on an answer that carries a field the reference does
 * not name. The reference itself leaves answers open: clients ignore fields they do not know,
 * since the contract is extended with new fields (docs/protocol.md).
 */
import { z } from 'zod';
import { ERRORS } from './catalogue.js';
import { EVENT_KINDS, MODERATION_KINDS } from './event-kinds.js';
import type * as wire from './wire.js';

const time = z.iso.datetime().describe('ISO-8601 UTC time');
const seq = z.number().int().min(0);

const User = z
  .strictObject({
    id: z.string(),
    username: z.string().describe('3–32 of a-z 0-9 _ . -, lower-cased; unique'),
    displayName: z.string(),
    bot: z.literal(true).optional().describe('Present only for a bot: an account its owner\'s programs use (show a badge).'),
    statusText: z.string().optional().describe('People views only (not message authors): the status line, absent when none or expired.'),
    statusExpiresAt: time.optional().describe('When the status stops showing; absent when it shows until changed.'),
    avatarUrl: z.string().optional().describe('People views only: the avatar (GET with the session), absent when none; a new avatar is a new URL.'),
    serverRole: z
      .literal('admin')
      .optional()
      .describe('The caller\'s own view only (GET /me, a login): present when they are a server administrator (the administration endpoints and the admin page are theirs).'),
  })
  .describe('A user as others see them. Display names are not unique: show `@username` beside them.');

const Bot = z
  .strictObject({
    id: z.string(),
    username: z.string(),
    displayName: z.string(),
    bot: z.literal(true),
    createdAt: time,
  })
  .describe('One of my bots. Its tokens are never shown again after they are made.');

const IncomingWebhook = z
  .strictObject({
    id: z.string(),
    roomId: z.string(),
    name: z.string(),
    bot: User,
    createdAt: time,
  })
  .describe("An incoming webhook of a room. Its URL is secret: it is shown once, when the webhook is created.");

const Room = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    visibility: z.enum(['public', 'private', 'dm']),
    topic: z.string(),
    createdAt: time,
    lastSeq: seq.describe("The seq of the room stream's latest event."),
    archived: z.literal(true).optional().describe('Present only when the room is archived: readable, refusing sends, edits, reactions and joins (`forbidden`, reason `archived`).'),
  })
  .describe('A room; `dm` rooms are the direct-message room of two users.');

const MemberRoom = Room.extend({
  lastReadSeq: seq.describe("The caller's read marker."),
  unread: seq.describe('Messages by others after lastReadSeq: exact unless unreadCapped.'),
  unreadCapped: z
    .literal(true)
    .optional()
    .describe('Present only when more messages follow lastReadSeq than the server counts: at least `unread` are unread (show "999+").'),
}).describe('A room of the caller, with their read state.');

const Attachment = z
  .strictObject({
    id: z.string(),
    name: z.string().describe('The name the uploader gave: a label only.'),
    size: z.number().int().min(0).describe('Bytes of the file as served (an image re-encoded without its metadata).'),
    contentType: z.string().describe('Decided from the content, never from the name.'),
    width: z.number().int().min(1).optional().describe('Images: as displayed.'),
    height: z.number().int().min(1).optional().describe('Images: as displayed.'),
    thumbnail: z
      .strictObject({ width: z.number().int().min(1), height: z.number().int().min(1) })
      .optional()
      .describe('Images larger than the thumbnail size: its dimensions (WebP at `GET /api/v1/files/{id}/thumbnail`).'),
  })
  .describe('A file attached to a message: its bytes at `GET /api/v1/files/{id}`, for members of the room.');

const DirectUpload = z
  .strictObject({
    id: z.string().describe('The upload: confirm it with `POST /api/v1/uploads/{id}/complete` once the PUT succeeded.'),
    url: z.string().describe('Presigned: PUT the file here, once, before `expiresAt`.'),
    method: z.literal('PUT'),
    headers: z.record(z.string(), z.string()).describe('Send exactly these with the PUT (they are signed).'),
    expiresAt: time,
  })
  .describe('An upload straight to object storage.');

const Reaction = z
  .strictObject({
    emoji: z.string().describe('One emoji, or a `:shortcode:` of 1–32 of a-z 0-9 _ + -.'),
    count: z.number().int().min(1),
    me: z.boolean().describe('The caller is one of them.'),
  })
  .describe("One emoji's reactions to a message.");

const Message = z
  .strictObject({
    roomId: z.string(),
    seq: z.number().int().min(1).describe("The message's place in the room stream."),
    id: z.string(),
    author: User,
    body: z.string().describe('Empty when deleted.'),
    createdAt: time,
    editedAt: time.nullable(),
    deleted: z.boolean().describe('A deleted message is a tombstone: it keeps its seq, its body is empty.'),
    clientMsgId: z.string().nullable().describe('The idempotency key the sender gave, if any.'),
    attachments: z.array(Attachment).optional().describe('The files it carries, in the order sent: present only when it has some (never on a deleted message).'),
    threadRoot: z.number().int().min(1).optional().describe('A thread reply: the seq of its root (a top-level message of the room). Absent on top-level messages.'),
    replyCount: z.number().int().min(0).optional().describe("A thread's root: its replies that are not deleted. Present once it has had a reply."),
    lastReplyAt: time.optional().describe("A thread's root: when its latest reply was sent. Present once it has had a reply."),
    reactions: z.array(Reaction).optional().describe('Reactions, one entry per emoji, first reacted first; `me` for the caller. Present only when it has some (never on a deleted message). REST reads only: live clients fold reaction events.'),
  })
  .describe('A message.');

const ThreadPage = z
  .strictObject({
    root: Message,
    replies: z.array(Message).describe('Oldest first, after `after`.'),
    hasMore: z.boolean().describe('More replies follow: page on with `after` set to the last seq.'),
    following: z.boolean().describe('The caller follows the thread.'),
    lastReadSeq: z.number().int().nullable().describe("The caller's read marker in the thread; null when they never followed nor marked it."),
  })
  .describe('A page of a thread.');

const FollowedThread = z
  .strictObject({
    roomId: z.string(),
    root: Message,
    lastReadSeq: seq.describe("The caller's read marker of the thread."),
    unread: seq.describe('Replies by others, not deleted, after lastReadSeq (at most the server\'s unread cap).'),
  })
  .describe('A thread the caller follows.');

const Member = z
  .strictObject({
    user: User,
    role: z.enum(['owner', 'admin', 'member']).describe('Ranks owner > admin > member: a member is moderated only by a higher rank.'),
    online: z.boolean(),
    mutedUntil: z.string().nullable().optional().describe('Present only while the member is muted in the room: when the mute ends, or null until it is lifted.'),
  })
  .describe('A member of a room.');

const SearchHit = z
  .strictObject({
    message: Message,
    highlight: z.string().describe('A snippet of the body, HTML-escaped, each matching word wrapped in <mark>…</mark>.'),
  })
  .describe('A message a search found.');

const Export = z
  .strictObject({
    id: z.string(),
    roomId: z.string(),
    format: z.enum(['ndjson', 'html']),
    state: z.enum(['queued', 'running', 'done', 'failed']),
    progress: z.number().min(0).max(1).describe("The share of the room's history (up to its last seq when asked) written so far."),
    messages: z.number().int().min(0).describe('Messages written so far.'),
    bytes: z.number().int().min(0),
    error: z.string().nullable().describe('Why it failed, when it did.'),
    createdAt: time,
    finishedAt: time.nullable(),
    expiresAt: time.nullable().describe('When the file is deleted; null until done.'),
    downloadUrl: z.string().optional().describe('Once done: a link that downloads the file without credentials until downloadExpiresAt, while its owner is a member of the room.'),
    downloadExpiresAt: time.optional(),
  })
  .describe('A history export.');

const Retention = z
  .strictObject({
    days: z.number().int().min(1).nullable().describe("The room's own policy; null: the server's."),
    serverDays: z.number().int().min(1).nullable().describe("The server's policy; null: keep everything."),
    effectiveDays: z.number().int().min(1).nullable().describe('What applies: messages older than this many days are deleted; null: kept.'),
  })
  .describe("A room's retention policy.");

const eventKind = z.enum(EVENT_KINDS);

const moderationKind = z.enum(MODERATION_KINDS);

const Changes = z
  .strictObject({ name: z.string().optional(), topic: z.string().optional(), archived: z.boolean().optional() })
  .describe('The room settings changed, as they are now.');

const Restriction = z
  .strictObject({
    user: User,
    kind: z.enum(['ban', 'mute']),
    until: time.nullable().describe('When it ends; null: never.'),
    reason: z.string().nullable(),
    createdBy: User,
    createdAt: time,
  })
  .describe('A ban or mute in force in a room.');

const AuditEntry = z
  .strictObject({
    seq: z.number().int().min(1).describe('The seq of the stream event of the action: the cursor of the log.'),
    action: moderationKind,
    actor: User,
    member: User.nullable().describe('The member acted on; null for room settings.'),
    createdAt: time,
    until: time.nullable().optional().describe('member_banned, member_muted: when it ends; null: never.'),
    reason: z.string().nullable().optional().describe("member_kicked, member_banned, member_muted: the moderator's reason."),
    role: z.enum(['owner', 'admin', 'member']).optional().describe('member_role_changed: the new role.'),
    changes: Changes.optional().describe('room_updated: what changed.'),
  })
  .describe("One moderation action of a room's audit log.");

const Webhook = z
  .strictObject({
    id: z.string(),
    roomId: z.string(),
    url: z.string(),
    events: z.array(eventKind).nullable().describe('The event kinds it is sent; null: all.'),
    state: z.enum(['active', 'disabled']),
    disabledReason: z.string().nullable(),
    failingSince: time.nullable().describe('Since when every delivery has failed; null while they succeed.'),
    createdAt: time,
  })
  .describe("An outgoing webhook: an endpoint that receives the room's events, signed.");

const WebhookDelivery = z
  .strictObject({
    seq: z.number().int().min(1).describe('The event delivered.'),
    attempt: z.number().int().min(1),
    ok: z.boolean(),
    status: z.number().int().nullable().describe("The endpoint's HTTP status; null when it gave none."),
    error: z.string().nullable(),
    durationMs: z.number().int().min(0),
    at: time,
  })
  .describe('One delivery attempt.');

const Notification = z
  .strictObject({
    id: z.string().describe('Opaque, but notifications sort by it: the cursor of the list and of the read marker.'),
    kind: z.enum(['mention', 'room_mention', 'message', 'thread_reply']).describe('Why: my @username, an @room, any message (level `all`), a reply in a thread I follow.'),
    roomId: z.string(),
    roomName: z.string(),
    seq: z.number().int().min(1).describe("The message's seq in the room."),
    author: User,
    excerpt: z.string().describe('The start of the message as it is now; empty once deleted.'),
    createdAt: time,
    read: z.boolean().describe('At or before my notification read marker.'),
  })
  .describe('Something in a room that concerns me.');

const RoomNotificationPrefs = z
  .strictObject({
    level: z.enum(['all', 'mentions', 'none']).describe('all: every message; mentions: @username, @room, followed threads (the default; `all` in direct messages); none: nothing.'),
    mutedUntil: time.nullable().describe('Nothing of the room notifies until then; null: not muted.'),
  })
  .describe("My notification preference for a room.");

const BlockedUser = z.strictObject({ user: User, createdAt: time }).describe('A user I blocked.');

const codes = Object.keys(ERRORS) as [keyof typeof ERRORS, ...Array<keyof typeof ERRORS>];

const ErrorBody = z
  .strictObject({
    error: z.strictObject({
      code: z.enum(codes).describe('Stable: what happened and whether retrying helps.'),
      message: z.string().describe('A human sentence; never quotes the request.'),
      details: z.record(z.string(), z.unknown()).optional().describe('validation_failed: `issues: [{path, message}]`; rate_limited: `retryAfterMs`; conflict: `field`, `reason`.'),
    }),
  })
  .describe('Every error, REST or WebSocket, has this shape.');

/** Shared types of the reference's components, by the name they have there. */
export const views = { User, Room, MemberRoom, Message, Reaction, ThreadPage, FollowedThread, Attachment, DirectUpload, Member, SearchHit, Export, Retention, Webhook, WebhookDelivery, Bot, IncomingWebhook, Restriction, AuditEntry, Notification, RoomNotificationPrefs, BlockedUser, Error: ErrorBody };

/** The bodies of the answers, by the name they have in the reference. */
const percentileMs = z.number().min(0).nullable();
/** Delivery latency: deliveries counted, and percentiles as the upper bound of the histogram bucket each falls in (null with none). */
const latencyFields = {
  deliveries: z.number().int().min(0).describe('Stream events written to subscribers\' sockets (one per subscriber).'),
  p50Ms: percentileMs,
  p90Ms: percentileMs,
  p99Ms: percentileMs,
  p999Ms: percentileMs.describe('From commit to the frame handed to the socket, ms: the upper bound of the histogram bucket the percentile falls in.'),
};

const AdminUser = z
  .strictObject({
    id: z.string(),
    username: z.string().describe('A deleted account\'s is `deleted-…`: its name is freed.'),
    displayName: z.string(),
    bot: z.literal(true).optional().describe('Present only for a bot.'),
    botOwnerId: z.string().optional().describe('A bot\'s owner.'),
    createdAt: time,
    role: z.enum(['admin']).nullable().describe('The server role: `admin`, or null.'),
    disabledAt: time.nullable().describe('When the account was disabled (it cannot log in); null while enabled.'),
    deletedAt: time.nullable().describe('When the account was deleted; null otherwise.'),
  })
  .describe('A user as a server administrator sees them.');

const AdminRoom = Room.extend({ members: z.number().int().min(0).describe('Members now.') }).describe('A room of any visibility, as a server administrator sees it.');

const NodeStatus = z
  .strictObject({
    id: z.string(),
    role: z.enum(['node', 'worker']).describe('`node` serves clients; `worker` is a `parley worker`, which runs jobs only (no connections).'),
    host: z.string(),
    pid: z.number().int(),
    version: z.string(),
    startedAt: time,
    at: time.describe('When the node took this status (at most one interval old).'),
    ready: z.boolean(),
    notReadyReason: z.string().nullable().describe('Why it is not ready (it answers /ready with 503); null while ready.'),
    connections: z.number().int().min(0).describe('Open WebSocket connections.'),
    messagesPerSecond: z.number().min(0).describe('Messages committed per second over the last interval.'),
    deliveriesPerSecond: z.number().min(0).describe('Room events written to sockets per second over the last interval.'),
    jobsPerSecond: z.number().min(0).describe('Jobs the process ran to completion per second over the last interval.'),
    eventLoopLagMs: z.number().min(0),
    rssBytes: z.number().min(0),
    heapUsedBytes: z.number().min(0),
    breakers: z.record(z.string(), z.number().int()).describe('Circuit breakers not closed, by kind: 1 half-open, 2 open.'),
  })
  .describe('A node of the deployment, as it last told the others over the bus.');

const DeadJob = z.strictObject({
  id: z.string(),
  queue: z.string(),
  payload: z.unknown().describe('What the job was given.'),
  key: z.string().nullable(),
  attempts: z.number().int().min(0),
  error: z.string().describe('The last run\'s error.'),
  enqueuedAt: time,
  failedAt: time,
});

const ServerAuditEntry = z.strictObject({
  id: z.number().int().min(1).describe('Grows with every entry.'),
  at: time,
  action: z
    .string()
    .describe('user_created, user_disabled, user_enabled, user_deleted, password_reset, sessions_revoked, role_granted, role_revoked, room_archived, room_opened, job_retried, jobs_purged; more may come.'),
  actor: z.strictObject({ id: z.string(), username: z.string() }).nullable().describe('The administrator; null for an action at the console without one named.'),
  via: z.enum(['api', 'console']),
  user: z.strictObject({ id: z.string(), username: z.string() }).nullable().describe('The user acted on.'),
  roomId: z.string().nullable(),
  data: z.record(z.string(), z.unknown()).nullable().describe('What the action changed.'),
});

export const responses = {
  AdminUserResult: z.strictObject({ user: AdminUser }),
  AdminUserCreated: z.strictObject({ user: AdminUser, password: z.string().nullable().describe('The password made for them, shown this once; null when one was given.') }),
  AdminUserPage: z.strictObject({ users: z.array(AdminUser).describe('By username.'), next: z.string().nullable().describe('`after` of the next page; null on the last.') }),
  AdminPasswordReset: z.strictObject({
    password: z.string().nullable().describe('The password made, shown this once; null when one was given.'),
    sessionsRevoked: z.number().int().min(0),
  }),
  AdminSessionsRevoked: z.strictObject({ sessionsRevoked: z.number().int().min(0) }),
  AdminRoomPage: z.strictObject({ rooms: z.array(AdminRoom).describe('Newest first.'), next: z.string().nullable().describe('`after` of the next page; null on the last.') }),
  AdminNodes: z.strictObject({ nodes: z.array(NodeStatus).describe('The node answering first, then by id.') }),
  AdminJobCounts: z.strictObject({
    queues: z.array(z.strictObject({ queue: z.string(), waiting: z.number().int(), delayed: z.number().int(), active: z.number().int(), dead: z.number().int() })),
  }),
  AdminDeadJobs: z.strictObject({ jobs: z.array(DeadJob).describe('At most `limit`, in the order the job backend keeps them.') }),
  AdminPurged: z.strictObject({ purged: z.number().int().min(0) }),
  ServerAuditPage: z.strictObject({ entries: z.array(ServerAuditEntry).describe('Newest first.'), nextBefore: z.number().int().nullable().describe('`before` of the next page; null on the last.') }),
  Session: z.strictObject({ user: User, token: z.string().describe('Send it as `Authorization: Bearer <token>`.') }).describe('A new session.'),
  UserResult: z.strictObject({ user: User }),
  RoomResult: z.strictObject({ room: Room }),
  MyRooms: z.strictObject({ rooms: z.array(MemberRoom) }).describe('The rooms of the caller, by latest activity.'),
  PublicRooms: z.strictObject({ rooms: z.array(Room) }).describe('Public rooms, by name.'),
  Members: z.strictObject({
    members: z.array(Member).describe('In join order.'),
    next: z.string().nullable().describe('Pass as `after` for the next page; null on the last.'),
  }),
  UserPage: z
    .strictObject({
      users: z.array(User).describe('Username matches first (by username), then display-name matches.'),
      next: z.string().nullable().describe('Pass as `after` for the next page; null on the last.'),
    })
    .describe('A page of user search.'),
  MessagePage: z.strictObject({ messages: z.array(Message), hasMore: z.boolean().describe('More messages lie beyond this page in its direction.') }),
  MessageResult: z.strictObject({ message: Message }),
  ThreadPage,
  FollowedThreads: z
    .strictObject({
      threads: z.array(FollowedThread).describe('Latest activity first (latest reply, or the root when it has none).'),
      nextCursor: z.string().nullable().describe('Pass it as `cursor` for the next page; null on the last.'),
    })
    .describe('The threads the caller follows.'),
  ThreadRead: z.strictObject({ lastReadSeq: seq.describe("The caller's read marker of the thread now.") }),
  ExportResult: z.strictObject({ export: Export }),
  UploadResult: z.strictObject({ upload: Attachment }).describe('A stored upload, ready to attach: send its id in `attachments`.'),
  DirectUploadResult: z.strictObject({ upload: DirectUpload }),
  FileLink: z.strictObject({ url: z.string().describe('Works without a session, for the user who asked, while they are a member of the room, until `expiresAt`.'), expiresAt: time }),
  RetentionResult: z.strictObject({ retention: Retention }),
  WebhookResult: z.strictObject({ webhook: Webhook }),
  WebhookWithSecret: z.strictObject({ webhook: Webhook, secret: z.string().describe('The signing secret: shown this once, never again.') }),
  Webhooks: z.strictObject({ webhooks: z.array(Webhook) }),
  WebhookDeliveries: z.strictObject({ deliveries: z.array(WebhookDelivery).describe('Newest first.') }),
  BotToken: z
    .strictObject({ bot: Bot, token: z.string().describe('The bot sends it as `Authorization: Bearer <token>` (REST and the WebSocket upgrade). Shown this once: only its hash is kept.') })
    .describe('A bot and a new token of it.'),
  Bots: z.strictObject({ bots: z.array(Bot).describe('Oldest first.') }),
  IncomingWebhookCreated: z
    .strictObject({
      webhook: IncomingWebhook,
      url: z.string().describe('`/api/v1/hooks/<secret>`: POST `{"text"}` to it to post as the bot. Shown this once: only a hash of the secret is kept.'),
    })
    .describe('A new incoming webhook and its secret URL.'),
  IncomingWebhooks: z.strictObject({ webhooks: z.array(IncomingWebhook).describe('Oldest first; without their URLs.') }),
  Restrictions: z.strictObject({ restrictions: z.array(Restriction).describe('Newest first.') }),
  AuditPage: z.strictObject({
    entries: z.array(AuditEntry).describe('Newest first.'),
    nextBefore: z.number().int().min(1).nullable().describe('Pass as `before` for the next (older) page; null: this is the last.'),
  }),
  SearchResult: z.strictObject({
    hits: z.array(SearchHit).describe('Newest first.'),
    truncated: z.boolean().describe('The search stopped at the cap on the matches it examines: older hits may exist.'),
    index: z
      .strictObject({
        pending: z.number().int().min(0).describe('Events of the searched rooms not yet indexed when the search ran; 0: every message committed before it could be found.'),
      })
      .describe('How fresh the search index was: search indexing runs just after the commit, off the send path.'),
  }),
  AnalyticsMessages: z.strictObject({
    from: time,
    to: time,
    rows: z.array(z.strictObject({ day: z.string().describe('YYYY-MM-DD, UTC'), roomId: z.string(), messages: z.number().int().min(0) })).describe('By day, then busiest room first.'),
    truncated: z.boolean().describe('More rows than `limit`: the latest days are left out.'),
  }),
  AnalyticsActiveUsers: z.strictObject({
    from: time,
    to: time,
    daily: z.array(z.strictObject({ day: z.string(), users: z.number().int().min(0) })).describe('Distinct people (not bots) who sent, edited, deleted or reacted, connected or logged in, per UTC day with any.'),
    monthly: z.array(z.strictObject({ month: z.string().describe('YYYY-MM'), users: z.number().int().min(0) })).describe('The same per calendar month, over the part of it in the range.'),
  }),
  AnalyticsBusiestRooms: z.strictObject({
    from: time,
    to: time,
    rooms: z
      .array(
        z.strictObject({
          roomId: z.string(),
          name: z.string().nullable().describe('null for a direct-message room, or a room deleted since.'),
          visibility: z.enum(['public', 'private', 'dm']).nullable(),
          messages: z.number().int().min(0),
          senders: z.number().int().min(0),
        }),
      )
      .describe('Most messages first.'),
  }),
  AnalyticsBusiestHours: z.strictObject({
    from: time,
    to: time,
    hours: z.array(z.strictObject({ hour: z.number().int().min(0).max(23).describe('UTC'), messages: z.number().int().min(0) })).describe('All 24 hours of the day, in order.'),
  }),
  AnalyticsDeliveryLatency: z.strictObject({
    from: time,
    to: time,
    ...latencyFields,
    daily: z.array(z.strictObject({ day: z.string(), ...latencyFields })),
  }),
  NotificationPage: z.strictObject({
    notifications: z.array(Notification).describe('Newest first; oldest first with `after`.'),
    hasMore: z.boolean().describe('More notifications lie beyond this page in its direction.'),
  }),
  UnreadNotifications: z.strictObject({
    unread: z.number().int().min(0),
    unreadCapped: z.literal(true).optional().describe('Present only when there are more unread than the server counts: at least `unread` (show "999+").'),
  }),
  RoomNotificationPrefs,
  Blocks: z.strictObject({ blocks: z.array(BlockedUser).describe('Newest first.') }),
  Email: z.strictObject({ email: z.string().nullable().describe('Where digests go; null: none.') }),
  NotificationSettings: z.strictObject({ emailDigest: z.boolean().describe('A digest of mentions missed while offline is mailed (to the address of PUT /me/email).') }),
};

// The schemas describe exactly the types the SDK is written against (wire.ts): a field added to
// one and not the other fails the type-check.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
export type ViewsMatchWire = [
  Assert<Same<z.infer<typeof User>, wire.User>>,
  Assert<Same<z.infer<typeof Room>, wire.Room>>,
  Assert<Same<z.infer<typeof MemberRoom>, wire.MemberRoom>>,
  Assert<Same<z.infer<typeof Message>, wire.Message>>,
  Assert<Same<z.infer<typeof Reaction>, wire.Reaction>>,
  Assert<Same<z.infer<typeof ThreadPage>, wire.ThreadPage>>,
  Assert<Same<z.infer<typeof responses.FollowedThreads>, wire.FollowedThreads>>,
  Assert<Same<z.infer<typeof Attachment>, wire.Attachment>>,
  Assert<Same<z.infer<typeof DirectUpload>, wire.DirectUpload>>,
  Assert<Same<z.infer<typeof SearchHit>, wire.SearchHit>>,
  Assert<Same<z.infer<typeof Export>, wire.Export>>,
  Assert<Same<z.infer<typeof Bot>, wire.Bot>>,
  Assert<Same<z.infer<typeof IncomingWebhook>, wire.IncomingWebhook>>,
  Assert<Same<z.infer<typeof responses.SearchResult>, wire.SearchResult>>,
  Assert<Same<z.infer<typeof responses.UserPage>, wire.UserPage>>,
  Assert<Same<z.infer<typeof Restriction>, wire.Restriction>>,
  Assert<Same<z.infer<typeof AuditEntry>, wire.AuditEntry>>,
  Assert<Same<z.infer<typeof Notification>, wire.Notification>>,
  Assert<Same<z.infer<typeof RoomNotificationPrefs>, wire.RoomNotificationPrefs>>,
  Assert<Same<z.infer<typeof BlockedUser>, wire.BlockedUser>>,
  Assert<Same<z.infer<typeof ErrorBody>['error'], wire.WireError>>,
];
