/**
 * The web app's one way to the server: every call it makes, over the SDK (client/), and every
 * server path it names. State modules hold an `Api`, never a ParleyClient, so a feature the
 * server gains (threads, reactions, moderation, notifications) adds its calls here and the rest
 * of the app reaches them the same way.
 */
import type {
  AdminClient,
  CreateRoomInput,
  HistoryPage,
  HistoryQuery,
  Member,
  MemberRoom,
  Message,
  Notification,
  NotificationPage,
  ParleyClient,
  ParleyEvents,
  ProfileInput,
  Restriction,
  Room,
  RoomNotificationPrefs,
  SearchResult,
  Session,
  SubscribeResult,
  ThreadPage,
  UnreadNotifications,
  User,
} from '../../client/index.js';

export class Api {
  readonly #client: ParleyClient;

  constructor(client: ParleyClient) {
    this.#client = client;
  }

  /** The server administrators' calls, for the admin page (anyone else is refused each). */
  get admin(): AdminClient {
    return this.#client.rest.admin;
  }

  // The session

  me(): Promise<User> {
    return this.#client.rest.me();
  }

  login(credentials: { username: string; password: string }): Promise<Session> {
    return this.#client.rest.login(credentials);
  }

  register(input: { username: string; password: string; displayName?: string }): Promise<Session> {
    return this.#client.rest.register(input);
  }

  logout(): Promise<void> {
    return this.#client.rest.logout();
  }

  /** PATCH /me: my display name and status; answers my view as it is now. */
  updateProfile(input: ProfileInput): Promise<User> {
    return this.#client.rest.updateProfile(input);
  }

  /** The ids of the users I blocked. */
  async blockedIds(): Promise<string[]> {
    return (await this.#client.rest.blocks()).map((b) => b.user.id);
  }

  block(userId: string): Promise<void> {
    return this.#client.rest.block(userId);
  }

  unblock(userId: string): Promise<void> {
    return this.#client.rest.unblock(userId);
  }

  // The realtime connection

  connect(): Promise<void> {
    return this.#client.connect();
  }

  close(): Promise<void> {
    return this.#client.close();
  }

  /** Reconnects now rather than at the end of the backoff wait (only while waiting to). */
  retryNow(): void {
    this.#client.retryNow();
  }

  on<K extends keyof ParleyEvents>(type: K, listener: (event: ParleyEvents[K]) => void): () => void {
    return this.#client.on(type, listener);
  }

  // Rooms and people

  listRooms(): Promise<MemberRoom[]> {
    return this.#client.rest.listRooms();
  }

  publicRooms(q: string | undefined, limit: number): Promise<Room[]> {
    return this.#client.rest.publicRooms(q, limit);
  }

  createRoom(input: CreateRoomInput): Promise<Room> {
    return this.#client.rest.createRoom(input);
  }

  joinRoom(roomId: string): Promise<Room> {
    return this.#client.rest.joinRoom(roomId);
  }

  leaveRoom(roomId: string): Promise<void> {
    return this.#client.rest.leaveRoom(roomId);
  }

  /** The direct-message room with `username`, created on first use. */
  openDm(username: string): Promise<Room> {
    return this.#client.rest.openDm(username);
  }

  /** Users whose username (then display name) starts with `q`. */
  async searchUsers(q: string, limit: number): Promise<User[]> {
    return (await this.#client.rest.searchUsers(q, { limit })).users;
  }

  addMember(roomId: string, username: string): Promise<void> {
    return this.#client.rest.addMember(roomId, username);
  }

  listMembers(roomId: string): Promise<Member[]> {
    return this.#client.rest.listMembers(roomId);
  }

  // Moderation (the room's admins and owner)

  kick(roomId: string, userId: string): Promise<void> {
    return this.#client.rest.kickMember(roomId, userId);
  }

  /** `durationS` undefined: for ever. */
  ban(roomId: string, userId: string, durationS?: number): Promise<void> {
    return this.#client.rest.banUser(roomId, userId, durationS === undefined ? {} : { durationS });
  }

  unban(roomId: string, userId: string): Promise<void> {
    return this.#client.rest.unbanUser(roomId, userId);
  }

  /** `durationS` undefined: until unmuted. */
  mute(roomId: string, userId: string, durationS?: number): Promise<void> {
    return this.#client.rest.muteMember(roomId, userId, durationS === undefined ? {} : { durationS });
  }

  /** The bans and mutes in force, newest first. */
  restrictions(roomId: string): Promise<Restriction[]> {
    return this.#client.rest.listRestrictions(roomId);
  }

  unmute(roomId: string, userId: string): Promise<void> {
    return this.#client.rest.unmuteMember(roomId, userId);
  }

  /** Only the owner makes and unmakes admins. */
  setRole(roomId: string, userId: string, role: 'admin' | 'member'): Promise<void> {
    return this.#client.rest.setMemberRole(roomId, userId, role);
  }

  updateRoom(roomId: string, settings: { name?: string; topic?: string }): Promise<Room> {
    return this.#client.rest.updateRoom(roomId, settings);
  }

  setArchived(roomId: string, archived: boolean): Promise<Room> {
    return archived ? this.#client.rest.archiveRoom(roomId) : this.#client.rest.unarchiveRoom(roomId);
  }

  // A room's stream and messages

  subscribe(roomId: string): Promise<SubscribeResult> {
    return this.#client.subscribe(roomId);
  }

  /** The seq of the last event delivered for a room, or undefined before the first. */
  lastSeq(roomId: string): number | undefined {
    return this.#client.lastSeq(roomId);
  }

  history(roomId: string, query: HistoryQuery): Promise<HistoryPage> {
    return this.#client.rest.history(roomId, query);
  }

  send(roomId: string, body: string, attachments: readonly string[]): Promise<Message> {
    return this.#client.send(roomId, body, { attachments: [...attachments] });
  }

  edit(roomId: string, seq: number, body: string): Promise<Message> {
    return this.#client.edit(roomId, seq, body);
  }

  delete(roomId: string, seq: number): Promise<void> {
    return this.#client.delete(roomId, seq);
  }

  // Threads and reactions

  /** A reply in the thread of the top-level message `threadRoot`. */
  sendReply(roomId: string, threadRoot: number, body: string): Promise<Message> {
    return this.#client.send(roomId, body, { threadRoot });
  }

  thread(roomId: string, seq: number, after: number, limit: number): Promise<ThreadPage> {
    return this.#client.rest.thread(roomId, seq, { after, limit });
  }

  /** Moves my read marker in the thread of `seq` forward to `readSeq`. */
  async markThreadRead(roomId: string, seq: number, readSeq: number): Promise<void> {
    await this.#client.rest.markThreadRead(roomId, seq, readSeq);
  }

  follow(roomId: string, seq: number, on: boolean): Promise<void> {
    return on ? this.#client.rest.followThread(roomId, seq) : this.#client.rest.unfollowThread(roomId, seq);
  }

  react(roomId: string, seq: number, emoji: string, on: boolean): Promise<void> {
    return on ? this.#client.react(roomId, seq, emoji) : this.#client.unreact(roomId, seq, emoji);
  }

  markRead(roomId: string, seq: number): Promise<void> {
    return this.#client.markRead(roomId, seq);
  }

  typing(roomId: string): void {
    this.#client.typing(roomId);
  }

  search(q: string, limit: number): Promise<SearchResult> {
    return this.#client.rest.searchPage({ q, limit });
  }

  // Notifications

  /** Newest first; `before` an id: the page older than it. */
  notifications(limit: number, before?: string): Promise<NotificationPage> {
    return this.#client.rest.notifications(before === undefined ? { limit } : { limit, before });
  }

  unreadNotifications(): Promise<UnreadNotifications> {
    return this.#client.rest.unreadNotifications();
  }

  /** Marks read every notification up to this one (the server keeps one marker, never moved back). */
  markNotificationsRead(upTo: Notification['id']): Promise<void> {
    return this.#client.rest.markNotificationsRead(upTo);
  }

  roomNotifications(roomId: string): Promise<RoomNotificationPrefs> {
    return this.#client.rest.roomNotifications(roomId);
  }

  setRoomNotifications(roomId: string, prefs: { level: RoomNotificationPrefs['level']; mutedUntil: string | null }): Promise<RoomNotificationPrefs> {
    return this.#client.rest.setRoomNotifications(roomId, prefs);
  }

  // Files

  discardUpload(uploadId: string): Promise<void> {
    return this.#client.rest.discardUpload(uploadId);
  }
}

/** Where a file of a room is uploaded (XMLHttpRequest, for its progress events). */
export function uploadUrl(roomId: string, name: string): string {
  return `/api/v1/rooms/${encodeURIComponent(roomId)}/uploads?name=${encodeURIComponent(name)}`;
}

export function fileUrl(id: string): string {
  return `/api/v1/files/${encodeURIComponent(id)}`;
}

export function thumbnailUrl(id: string): string {
  return `/api/v1/files/${encodeURIComponent(id)}/thumbnail`;
}
