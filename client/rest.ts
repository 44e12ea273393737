/**
 * A typed client of Parley's REST API (PROTOCOL.md, prefix /api/v1) over `fetch`.
 *
 * Authentication: `Authorization: Bearer <token>` when the client holds a token; without one
 * the request is sent with `credentials: 'same-origin'`, so in a browser the HttpOnly session
 * cookie set by login authenticates it. Every failure is a ParleyError: the server's error body
 * when there is one, `unavailable` when the network fails or the request times out.
 */
import type { Attachment, AuditEntry, BlockedUser, FollowedThreads, MemberRoom, Message, Notification, Restriction, Role, Room, RoomNotificationPrefs, SearchHit, SearchResult, ThreadPage, User, UserPage, Visibility } from '../src/protocol/wire.js';
import { AdminClient } from './admin.js';
import { ParleyError } from './errors.js';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface RestOptions {
  /** The server's origin (and path prefix, if any), e.g. `https://chat.example.com`. */
  baseUrl: string;
  /** The session token, if any. */
  token?: string | null;
  /** A fetch implementation. Default: the global fetch (Node 20, browsers). */
  fetch?: FetchLike;
  /** Per-request timeout in ms; past it the request is aborted and fails with `unavailable`. Default 10 000. */
  requestTimeoutMs?: number;
  /**
   * The highest seq of a room this client has seen, if any: sent as `seen` with history, thread
   * and member reads, so that a server whose reads come from database replicas answers with the
   * room at least up to it. ParleyClient gives its realtime session's.
   */
  seen?: (roomId: string) => number | undefined;
}

export interface Session {
  user: User;
  token: string;
}

export interface Member {
  /** With their profile (status, avatarUrl). Show `@username` beside the display name. */
  user: User;
  /** Ranks owner > admin > member. */
  role: Role;
  online: boolean;
  /** Present only while they are muted in the room: when the mute ends, or null until it is lifted. */
  mutedUntil?: string | null;
}

/** A page of a room's members, in join order. */
export interface MemberPage {
  members: Member[];
  /** Pass as `after` for the next page; null on the last. */
  next: string | null;
}

export interface PageQuery {
  /** The `next` of the previous page. */
  after?: string;
  limit?: number;
}

/** What `updateProfile` changes; fields left out stay as they are. */
export interface ProfileInput {
  /** 1–64 characters; one that reads as another user's username is `conflict`. */
  displayName?: string;
  /** 1–100 characters, one line; null clears the status. */
  statusText?: string | null;
  /** ISO time in the future when the status stops showing; only with `statusText`. */
  statusExpiresAt?: string | null;
}

/** A ban or a mute: for `durationS` seconds, or for ever without it; `reason` is shown to the room. */
export interface RestrictionInput {
  durationS?: number;
  reason?: string;
}

/** A page of a room's audit log, newest first; pass `nextBefore` as `before` for the next (null: none). */
export interface AuditPage {
  entries: AuditEntry[];
  nextBefore: number | null;
}

export interface HistoryPage {
  messages: Message[];
  hasMore: boolean;
}

export interface HistoryQuery {
  /** Messages with seq < before, newest first (the default order). */
  before?: number;
  /** Messages with seq > after, oldest first. */
  after?: number;
  /** 1–100, default 50. */
  limit?: number;
  /** Top-level messages only: thread replies left out. */
  topLevel?: boolean;
}

export interface ThreadQuery {
  /** Replies with seq > after, oldest first (default 0: from the first). */
  after?: number;
  /** 1–100, default 50. */
  limit?: number;
}

export interface FollowedThreadsQuery {
  /** `nextCursor` of the previous page. */
  cursor?: string;
  /** 1–100, default 50. */
  limit?: number;
}

export interface SearchQuery {
  q: string;
  roomId?: string;
  limit?: number;
}

export interface CreateRoomInput {
  name: string;
  visibility: Exclude<Visibility, 'dm'>;
  topic?: string;
}

export interface NotificationQuery {
  /** Notifications older than this id, newest first (the default order). */
  before?: string;
  /** Notifications newer than this id, oldest first. */
  after?: string;
  /** 1–100, default 50. */
  limit?: number;
}

export interface NotificationPage {
  notifications: Notification[];
  /** More notifications lie beyond this page in its direction. */
  hasMore: boolean;
}

export interface UnreadNotifications {
  unread: number;
  /** Present when there are more unread than the server counts: at least `unread`. */
  unreadCapped?: true;
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
type Query = Record<string, string | number | undefined>;

export class RestClient {
  readonly baseUrl: string;
  readonly requestTimeoutMs: number;
  /** The server administrators' calls (/api/v1/admin/…), made with this client's session. */
  readonly admin: AdminClient;
  readonly #fetch: FetchLike;
  readonly #seen: (roomId: string) => number | undefined;
  /** False once a server refused `seen` (a server older than the parameter): not sent again. */
  #seenAccepted = true;
  #token: string | null;

  constructor(options: RestOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#token = options.token ?? null;
    this.#seen = options.seen ?? (() => undefined);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    // Called through a closure: browsers throw "Illegal invocation" when window.fetch runs with another `this`.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.admin = new AdminClient((method, path, options) => this.#call(method, path, options));
  }

  /** The bearer token sent with each request, or null to rely on the session cookie. */
  get token(): string | null {
    return this.#token;
  }

  set token(token: string | null) {
    this.#token = token;
  }

  // Accounts and sessions

  /** POST /auth/register: creates the account and returns it with a session token. */
  register(input: { username: string; password: string; displayName?: string }): Promise<Session> {
    return this.#call<Session>('POST', '/auth/register', { body: input });
  }

  /** POST /auth/login: returns the user and a session token (browsers also get the session cookie). */
  login(input: { username: string; password: string }): Promise<Session> {
    return this.#call<Session>('POST', '/auth/login', { body: input });
  }

  /** POST /auth/logout: the session's token stops working everywhere. */
  async logout(): Promise<void> {
    await this.#call<void>('POST', '/auth/logout');
  }

  /** GET /me: the authenticated user, with their profile. */
  async me(): Promise<User> {
    return (await this.#call<{ user: User }>('GET', '/me')).user;
  }

  // People

  /**
   * PATCH /me: changes the caller's display name or status; answers the user as they are now.
   * Members of the caller's rooms get a `user_updated` event. Rate-limited per user.
   */
  async updateProfile(input: ProfileInput): Promise<User> {
    return (await this.#call<{ user: User }>('PATCH', '/me', { body: input })).user;
  }

  /**
   * GET /users: users whose username starts with `q` (a leading `@` is ignored), then those whose
   * display name does, a page at a time (follow `next` with `after`). Bots carry `bot: true`.
   */
  searchUsers(q: string, page: PageQuery = {}): Promise<UserPage> {
    return this.#call<UserPage>('GET', '/users', { query: { q, after: page.after, limit: page.limit } });
  }

  /** GET /users/:userId: any user's profile. */
  async getUser(userId: string): Promise<User> {
    return (await this.#call<{ user: User }>('GET', `/users/${enc(userId)}`)).user;
  }

  // Rooms

  /** POST /rooms: creates a room; the caller is its owner and first member. */
  async createRoom(input: CreateRoomInput): Promise<Room> {
    return (await this.#call<{ room: Room }>('POST', '/rooms', { body: input })).room;
  }

  /**
   * GET /rooms: the rooms the caller is a member of, with read markers and unread counts. A
   * room with `unreadCapped: true` has at least `unread` unread (the server stops counting at
   * its UNREAD_COUNT_CAP): show it as `${unread}+`.
   */
  async listRooms(): Promise<MemberRoom[]> {
    return (await this.#call<{ rooms: MemberRoom[] }>('GET', '/rooms')).rooms;
  }

  /** GET /rooms/public: public rooms to discover, optionally matching `q`. */
  async publicRooms(q?: string, limit?: number): Promise<Room[]> {
    return (await this.#call<{ rooms: Room[] }>('GET', '/rooms/public', { query: { q, limit } })).rooms;
  }

  /** GET /rooms/:roomId (a private room the caller is not in is `not_found`). */
  async getRoom(roomId: string): Promise<Room> {
    return (await this.#call<{ room: Room }>('GET', `/rooms/${enc(roomId)}`)).room;
  }

  /** POST /rooms/:roomId/join: joins a public room. */
  async joinRoom(roomId: string): Promise<Room> {
    return (await this.#call<{ room: Room }>('POST', `/rooms/${enc(roomId)}/join`)).room;
  }

  /** POST /rooms/:roomId/leave. */
  async leaveRoom(roomId: string): Promise<void> {
    await this.#call<void>('POST', `/rooms/${enc(roomId)}/leave`);
  }

  /** POST /rooms/:roomId/members: adds a user to the room. */
  async addMember(roomId: string, username: string): Promise<void> {
    await this.#call<unknown>('POST', `/rooms/${enc(roomId)}/members`, { body: { username } });
  }

  /** GET /rooms/:roomId/members: the first page (up to 500 members, in join order); `memberPage` for the others. */
  async listMembers(roomId: string): Promise<Member[]> {
    return (await this.memberPage(roomId)).members;
  }

  /** GET /rooms/:roomId/members?after=&limit=: a page of the room's members with their roles and whether they are online. */
  memberPage(roomId: string, page: PageQuery = {}): Promise<MemberPage> {
    return this.#roomRead<MemberPage>(roomId, `/rooms/${enc(roomId)}/members`, { after: page.after, limit: page.limit });
  }

  /** POST /dms: the direct-message room with `username`, created on first use. */
  async openDm(username: string): Promise<Room> {
    return (await this.#call<{ room: Room }>('POST', '/dms', { body: { username } })).room;
  }

  // Moderation and room settings: admins and the owner, each acting on lower ranks (`forbidden`
  // with details.reason `role`, `rank` or `dm` otherwise). Every action is a stream event.

  /** PATCH /rooms/:roomId: renames the room or sets its topic (`room_updated`). */
  async updateRoom(roomId: string, settings: { name?: string; topic?: string }): Promise<Room> {
    return (await this.#call<{ room: Room }>('PATCH', `/rooms/${enc(roomId)}`, { body: settings })).room;
  }

  /** POST /rooms/:roomId/archive: readable, refusing sends, edits, reactions and joins (reason `archived`). */
  async archiveRoom(roomId: string): Promise<Room> {
    return (await this.#call<{ room: Room }>('POST', `/rooms/${enc(roomId)}/archive`)).room;
  }

  /** POST /rooms/:roomId/unarchive. */
  async unarchiveRoom(roomId: string): Promise<Room> {
    return (await this.#call<{ room: Room }>('POST', `/rooms/${enc(roomId)}/unarchive`)).room;
  }

  /** POST /rooms/:roomId/members/:userId/kick: removes a member (`member_kicked`); they may join again. */
  async kickMember(roomId: string, userId: string, reason?: string): Promise<void> {
    await this.#call<void>('POST', `/rooms/${enc(roomId)}/members/${enc(userId)}/kick`, reason === undefined ? {} : { body: { reason } });
  }

  /** PUT /rooms/:roomId/bans/:userId: removes them and refuses their joins (reason `banned`) until it ends. */
  async banUser(roomId: string, userId: string, input: RestrictionInput = {}): Promise<void> {
    await this.#call<void>('PUT', `/rooms/${enc(roomId)}/bans/${enc(userId)}`, { body: input });
  }

  /** DELETE /rooms/:roomId/bans/:userId. */
  async unbanUser(roomId: string, userId: string): Promise<void> {
    await this.#call<void>('DELETE', `/rooms/${enc(roomId)}/bans/${enc(userId)}`);
  }

  /** PUT /rooms/:roomId/mutes/:userId: the member reads but cannot send or react (reason `muted`) until it ends. */
  async muteMember(roomId: string, userId: string, input: RestrictionInput = {}): Promise<void> {
    await this.#call<void>('PUT', `/rooms/${enc(roomId)}/mutes/${enc(userId)}`, { body: input });
  }

  /** DELETE /rooms/:roomId/mutes/:userId. */
  async unmuteMember(roomId: string, userId: string): Promise<void> {
    await this.#call<void>('DELETE', `/rooms/${enc(roomId)}/mutes/${enc(userId)}`);
  }

  /** PUT /rooms/:roomId/members/:userId/role: only the owner gives or takes `admin`. */
  async setMemberRole(roomId: string, userId: string, role: 'admin' | 'member'): Promise<void> {
    await this.#call<void>('PUT', `/rooms/${enc(roomId)}/members/${enc(userId)}/role`, { body: { role } });
  }

  /** GET /rooms/:roomId/restrictions: the bans and mutes in force, newest first. */
  async listRestrictions(roomId: string): Promise<Restriction[]> {
    return (await this.#call<{ restrictions: Restriction[] }>('GET', `/rooms/${enc(roomId)}/restrictions`)).restrictions;
  }

  /** GET /rooms/:roomId/audit: a page of the audit log, newest first (`before`: the previous page's `nextBefore`). */
  auditLog(roomId: string, query: { before?: number; limit?: number } = {}): Promise<AuditPage> {
    return this.#call<AuditPage>('GET', `/rooms/${enc(roomId)}/audit`, { query: { before: query.before, limit: query.limit } });
  }

  // Messages

  /** GET /rooms/:roomId/messages: a page of history (newest first, or oldest first with `after`). */
  history(roomId: string, query: HistoryQuery = {}): Promise<HistoryPage> {
    return this.#roomRead<HistoryPage>(roomId, `/rooms/${enc(roomId)}/messages`, {
      before: query.before,
      after: query.after,
      limit: query.limit,
      topLevel: query.topLevel === undefined ? undefined : String(query.topLevel),
    });
  }

  /**
   * POST /rooms/:roomId/messages: the same send as over WebSocket, idempotent by `clientMsgId`.
   * With `threadRoot`, a reply in the thread of that top-level message (a reply, a deleted
   * message or a seq of no message is `validation_failed` naming `threadRoot`).
   */
  async postMessage(roomId: string, body: string, clientMsgId?: string, options: { threadRoot?: number } = {}): Promise<Message> {
    const payload = { body, ...(clientMsgId === undefined ? {} : { clientMsgId }), ...(options.threadRoot === undefined ? {} : { threadRoot: options.threadRoot }) };
    return (await this.#call<{ message: Message }>('POST', `/rooms/${enc(roomId)}/messages`, { body: payload })).message;
  }

  // Threads and reactions

  /** GET /rooms/:roomId/threads/:seq: the root and a page of its replies, oldest first. */
  thread(roomId: string, seq: number, query: ThreadQuery = {}): Promise<ThreadPage> {
    return this.#roomRead<ThreadPage>(roomId, `/rooms/${enc(roomId)}/threads/${seq}`, { after: query.after, limit: query.limit });
  }

  /** PUT /rooms/:roomId/threads/:seq/follow. The root's author and repliers follow by themselves. */
  async followThread(roomId: string, seq: number): Promise<void> {
    await this.#call<void>('PUT', `/rooms/${enc(roomId)}/threads/${seq}/follow`);
  }

  /** DELETE /rooms/:roomId/threads/:seq/follow: later replies by others do not make the caller follow again. */
  async unfollowThread(roomId: string, seq: number): Promise<void> {
    await this.#call<void>('DELETE', `/rooms/${enc(roomId)}/threads/${seq}/follow`);
  }

  /** POST /rooms/:roomId/threads/:seq/read: moves the thread's read marker forward; resolves with it. */
  async markThreadRead(roomId: string, seq: number, readSeq: number): Promise<number> {
    return (await this.#call<{ lastReadSeq: number }>('POST', `/rooms/${enc(roomId)}/threads/${seq}/read`, { body: { seq: readSeq } })).lastReadSeq;
  }

  /** GET /threads: the threads the caller follows, latest activity first, with unread counts; page on with `nextCursor`. */
  followedThreads(query: FollowedThreadsQuery = {}): Promise<FollowedThreads> {
    return this.#call<FollowedThreads>('GET', '/threads', { query: { cursor: query.cursor, limit: query.limit } });
  }

  /** PUT /rooms/:roomId/messages/:seq/reactions/:emoji: idempotent (see ParleyClient.react). */
  async addReaction(roomId: string, seq: number, emoji: string): Promise<void> {
    await this.#call<void>('PUT', `/rooms/${enc(roomId)}/messages/${seq}/reactions/${enc(emoji)}`);
  }

  /** DELETE /rooms/:roomId/messages/:seq/reactions/:emoji: idempotent. */
  async removeReaction(roomId: string, seq: number, emoji: string): Promise<void> {
    await this.#call<void>('DELETE', `/rooms/${enc(roomId)}/messages/${seq}/reactions/${enc(emoji)}`);
  }

  /** PATCH /rooms/:roomId/messages/:seq: edits one of the caller's messages. */
  async editMessage(roomId: string, seq: number, body: string): Promise<Message> {
    return (await this.#call<{ message: Message }>('PATCH', `/rooms/${enc(roomId)}/messages/${seq}`, { body: { body } })).message;
  }

  /** DELETE /rooms/:roomId/messages/:seq: the message becomes a tombstone (the author's, or a lower rank's). */
  async deleteMessage(roomId: string, seq: number): Promise<void> {
    await this.#call<void>('DELETE', `/rooms/${enc(roomId)}/messages/${seq}`);
  }

  /** POST /rooms/:roomId/read: moves the read marker forward (never back). */
  async markRead(roomId: string, seq: number): Promise<void> {
    await this.#call<void>('POST', `/rooms/${enc(roomId)}/read`, { body: { seq } });
  }

  // Files

  /**
   * POST /rooms/:roomId/uploads: uploads a file to attach to a message (send it with
   * `attachments: [upload.id]`). The server decides its type from its bytes and refuses types it
   * does not take (`unsupported_media_type`), files over its limit (`payload_too_large`) and
   * uploads past the daily quota (`rate_limited`). `timeoutMs` (default 10 minutes) bounds the
   * whole upload; `signal` cancels it.
   */
  async uploadFile(roomId: string, data: Uint8Array | ArrayBuffer | Blob, name: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Attachment> {
    const call = { raw: data, query: { name }, timeoutMs: options.timeoutMs ?? UPLOAD_TIMEOUT_MS, ...(options.signal === undefined ? {} : { signal: options.signal }) };
    return (await this.#call<{ upload: Attachment }>('POST', `/rooms/${enc(roomId)}/uploads`, call)).upload;
  }

  /** DELETE /uploads/:uploadId: discards an upload of the caller's that no message carries. */
  async discardUpload(uploadId: string): Promise<void> {
    await this.#call<void>('DELETE', `/uploads/${enc(uploadId)}`);
  }

  /**
   * The URL of a file (or its thumbnail) for a request that carries the session (a browser with
   * the session cookie, or a fetch with this client's token): members of its room only.
   */
  fileUrl(fileId: string, variant: 'file' | 'thumbnail' = 'file'): string {
    return `${this.baseUrl}/api/v1/files/${enc(fileId)}${variant === 'thumbnail' ? '/thumbnail' : ''}`;
  }

  /** GET /files/:fileId/link: a URL to the file that works without the session until `expiresAt` (absolute). */
  async fileLink(fileId: string, variant: 'file' | 'thumbnail' = 'file'): Promise<{ url: string; expiresAt: string }> {
    const link = await this.#call<{ url: string; expiresAt: string }>('GET', `/files/${enc(fileId)}${variant === 'thumbnail' ? '/thumbnail' : ''}/link`);
    return { url: `${this.baseUrl}${link.url}`, expiresAt: link.expiresAt };
  }

  /** PUT /me/avatar: sets the caller's avatar from an image (stored as 256 × 256 WebP). */
  async setAvatar(image: Uint8Array | ArrayBuffer | Blob): Promise<void> {
    await this.#call<void>('PUT', '/me/avatar', { raw: image, timeoutMs: UPLOAD_TIMEOUT_MS });
  }

  /** DELETE /me/avatar. */
  async removeAvatar(): Promise<void> {
    await this.#call<void>('DELETE', '/me/avatar');
  }

  /** The URL of a user's avatar (404 when they have none). */
  avatarUrl(userId: string): string {
    return `${this.baseUrl}/api/v1/users/${enc(userId)}/avatar`;
  }

  /** GET /search: full-text search over the caller's rooms; the hits only (see searchPage). */
  async search(query: SearchQuery): Promise<SearchHit[]> {
    return (await this.searchPage(query)).hits;
  }

  /**
   * GET /search: the hits, newest first, and whether the server stopped short of a full page
   * (`truncated`: more hits may exist; search one room with `roomId` to find them), and how
   * fresh the index was (`index.pending`: events not yet searchable when it ran).
   */
  async searchPage(query: SearchQuery): Promise<SearchResult> {
    const result = await this.#call<{ hits: SearchHit[]; truncated?: boolean; index?: { pending: number } }>('GET', '/search', { query: { q: query.q, roomId: query.roomId, limit: query.limit } });
    // A server from before these fields existed never truncated and indexed as it committed.
    return { hits: result.hits, truncated: result.truncated === true, index: { pending: result.index?.pending ?? 0 } };
  }

  // Notifications

  /** GET /notifications: newest first (next page: `before` = the last id), or oldest first with `after`. */
  notifications(query: NotificationQuery = {}): Promise<NotificationPage> {
    return this.#call<NotificationPage>('GET', '/notifications', { query: { before: query.before, after: query.after, limit: query.limit } });
  }

  /** GET /notifications/unread-count. */
  unreadNotifications(): Promise<UnreadNotifications> {
    return this.#call<UnreadNotifications>('GET', '/notifications/unread-count');
  }

  /** POST /notifications/read: every notification up to `upTo` (an id) is read; the marker never moves back. */
  async markNotificationsRead(upTo: string): Promise<void> {
    await this.#call<void>('POST', '/notifications/read', { body: { upTo } });
  }

  /** GET /rooms/:roomId/notifications: my level and mute for the room. */
  roomNotifications(roomId: string): Promise<RoomNotificationPrefs> {
    return this.#call<RoomNotificationPrefs>('GET', `/rooms/${enc(roomId)}/notifications`);
  }

  /** PUT /rooms/:roomId/notifications: `mutedUntil` null or absent unmutes. */
  setRoomNotifications(roomId: string, prefs: { level: RoomNotificationPrefs['level']; mutedUntil?: string | null }): Promise<RoomNotificationPrefs> {
    return this.#call<RoomNotificationPrefs>('PUT', `/rooms/${enc(roomId)}/notifications`, { body: prefs });
  }

  /** GET /me/email: where digests go, or null. */
  async email(): Promise<string | null> {
    return (await this.#call<{ email: string | null }>('GET', '/me/email')).email;
  }

  /** PUT /me/email: null removes it. */
  async setEmail(email: string | null): Promise<void> {
    await this.#call<{ email: string | null }>('PUT', '/me/email', { body: { email } });
  }

  /** GET /me/notification-settings. */
  notificationSettings(): Promise<{ emailDigest: boolean }> {
    return this.#call<{ emailDigest: boolean }>('GET', '/me/notification-settings');
  }

  /** PUT /me/notification-settings: digests of mentions missed while offline, on or off. */
  setNotificationSettings(settings: { emailDigest: boolean }): Promise<{ emailDigest: boolean }> {
    return this.#call<{ emailDigest: boolean }>('PUT', '/me/notification-settings', { body: settings });
  }

  // Blocks

  /** GET /me/blocks: whom I blocked, newest first. */
  async blocks(): Promise<BlockedUser[]> {
    return (await this.#call<{ blocks: BlockedUser[] }>('GET', '/me/blocks')).blocks;
  }

  /** PUT /me/blocks/:userId: their messages notify me of nothing, and no DMs either way (`forbidden`, reason `blocked`). */
  async block(userId: string): Promise<void> {
    await this.#call<void>('PUT', `/me/blocks/${enc(userId)}`);
  }

  /** DELETE /me/blocks/:userId. */
  async unblock(userId: string): Promise<void> {
    await this.#call<void>('DELETE', `/me/blocks/${enc(userId)}`);
  }

  /**
   * A GET of a room's history, thread or members, with the room's `seen` seq. A server older
   * than that parameter refuses it as an unknown field: asked again without it, and never sent
   * to this server again (a rolling upgrade may put older servers behind the same address).
   */
  async #roomRead<T>(roomId: string, path: string, query: Query): Promise<T> {
    const seen = this.#seenAccepted ? this.#seen(roomId) : undefined;
    if (seen === undefined) return this.#call<T>('GET', path, { query });
    try {
      return await this.#call<T>('GET', path, { query: { ...query, seen } });
    } catch (error) {
      const issues = error instanceof ParleyError && error.code === 'validation_failed' ? error.details?.issues : undefined;
      if (!Array.isArray(issues) || !issues.some((i) => (i as { path?: unknown }).path === 'seen')) throw error;
      this.#seenAccepted = false;
      return this.#call<T>('GET', path, { query });
    }
  }

  async #call<T>(method: Method, path: string, options: { body?: unknown; raw?: Uint8Array | ArrayBuffer | Blob; query?: Query; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const init: RequestInit = { method, headers };
    if (this.#token !== null) headers.authorization = `Bearer ${this.#token}`;
    else init.credentials = 'same-origin';
    // Every POST and PATCH says it is JSON, also without a body: the server refuses a
    // cookie-authenticated POST without it (a cross-site form cannot send it, which is the point).
    if (options.raw !== undefined) {
      // A file's bytes: the server decides its type from them.
      headers['content-type'] = 'application/octet-stream';
      init.body = options.raw as BodyInit;
    } else {
      // A PUT says it too when it carries a body (fetch would label a string text/plain).
      if (method === 'POST' || method === 'PATCH' || options.body !== undefined) headers['content-type'] = 'application/json';
      if (options.body !== undefined) init.body = JSON.stringify(options.body);
    }
    const controller = new AbortController();
    init.signal = controller.signal;
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const cancel = () => controller.abort();
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      let response: Response;
      try {
        response = await this.#fetch(`${this.baseUrl}/api/v1${path}${queryString(options.query)}`, init);
      } catch (error) {
        throw controller.signal.aborted
          ? new ParleyError('unavailable', options.signal?.aborted === true ? `${method} ${path} was cancelled.` : `${method} ${path} got no answer within ${timeoutMs} ms.`, { cause: error })
          : new ParleyError('unavailable', `${method} ${path} failed: the server could not be reached.`, { cause: error });
      }
      const text = await readText(response, controller, method, path, timeoutMs);
      let body: unknown;
      if (text !== '') {
        try {
          body = JSON.parse(text);
        } catch (error) {
          if (response.ok) throw new ParleyError('internal', `${method} ${path} answered with a body that is not JSON.`, { status: response.status, source: 'http', cause: error });
        }
      }
      if (!response.ok) {
        const wire = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
        throw ParleyError.fromWire(wire, 'http', response.status, response.headers.get('retry-after'));
      }
      return body as T;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', cancel);
    }
  }
}

async function readText(response: Response, controller: AbortController, method: string, path: string, timeoutMs: number): Promise<string> {
  try {
    return await response.text();
  } catch (error) {
    const reason = controller.signal.aborted ? `got no complete answer within ${timeoutMs} ms` : 'lost its connection while answering';
    throw new ParleyError('unavailable', `${method} ${path} ${reason}.`, { cause: error });
  }
}

const enc = encodeURIComponent;
/** How long an upload may take by default, ms. */
const UPLOAD_TIMEOUT_MS = 600_000;

function queryString(query: Query | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const s = params.toString();
  return s === '' ? '' : `?${s}`;
}
