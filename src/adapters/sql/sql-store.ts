/**
 * The Store port over SQL, one implementation for SQLite and PostgreSQL (Kysely), with the
 * few dialect-specific parts behind SqlDialect. Appends live in append.ts, migrations in
 * migrate.ts.
 */
import { type Kysely, sql } from 'kysely';
import * as administration from './administration.js';
import type { DisabledBot } from './administration.js';
import { notFound, unavailable } from '../../errors.js';
import { DELETED_USERNAME_PREFIX, type NameConflict, nameConflictError } from '../../domain/name-conflicts.js';
import type { AppendOutcome, AppendRequest, ExportChanges, ModerationOutcome, ModerationRequest, HistoryQuery, SearchPage, SearchQuery, Store, ThreadCursor, ThreadPage, UploadChanges, WebhookChanges } from '../../ports.js';
import type { NotificationPage, NotificationSettingsChanges } from '../../ports.js';
import { MEMBERS_AMONG_MAX } from '../../ports.js';
import type {
  AdminRoomQuery,
  AdminRoomRecord,
  AdminUserQuery,
  Author,
  ServerAuditInput,
  ServerAuditRecord,
  ServerRole,
  ServerRoleHolder,
  DigestCandidate,
  ExportRecord,
  AuditRecord,
  FollowedThreadRecord,
  IncomingWebhookRecord,
  IncomingWebhookWithBot,
  MemberCursor,
  MemberRecord,
  MembershipRecord,
  MessageReactions,
  MessageRecord,
  ProfileChanges,
  NewNotification,
  NotificationRecord,
  NotificationSettingsRecord,
  NotifyPrefRecord,
  RetentionRoom,
  RestrictionRecord,
  RoomRecord,
  RoomRetention,
  RoomWithReadState,
  SearchIndexEntry,
  SessionRecord,
  StreamEventRecord,
  UserRecord,
  UserSearchCursor,
  UserSearchQuery,
  UploadRecord,
  UploadState,
  WebhookDeliveryRecord,
  WebhookRecord,
} from '../../domain/types.js';
import { appendBatch } from './append.js';
import * as bots from './bots.js';
import type { SqlDialect } from './dialect.js';
import * as exportsRetention from './exports-retention.js';
import { SqlJobStore } from './job-store.js';
import * as moderation from './moderation.js';
import * as threads from './threads.js';
import * as hooks from './webhooks.js';
import * as people from './people.js';
import * as notes from './notifications.js';
import * as cursors from './stream-cursors.js';
import * as uploads from './uploads.js';
import { toAuthor, toEvent, toMember, toMessage, toRoom, toSession, toUser } from './mappers.js';
import { migrate } from './migrate.js';
import { isModeration } from '../../domain/moderation-rules.js';
import { selectMessages } from './queries.js';
import { listPublicRooms } from './room-search.js';
import type { Database } from './schema.js';

const WORD = /^[\p{L}\p{N}]+$/u;

/** The first way `username` and `folded` (a folded display name) clash with existing users, by precedence. */
async function nameConflict(db: Kysely<Database>, username: string, folded: string): Promise<NameConflict | null> {
  if (username.startsWith(DELETED_USERNAME_PREFIX)) return 'username_taken';
  if (folded.startsWith(DELETED_USERNAME_PREFIX)) return 'display_name_resembles_username';
  const rows = await db
    .selectFrom('users')
    .select(['username', 'display_name_folded'])
    .where((eb) => eb.or([eb('username', '=', username), eb('display_name_folded', '=', username), eb('username', '=', folded)]))
    .limit(3)
    .execute();
  if (rows.some((r) => r.username === username)) return 'username_taken';
  if (rows.some((r) => r.display_name_folded === username)) return 'username_resembles_display_name';
  if (rows.some((r) => r.username === folded)) return 'display_name_resembles_username';
  return null;
}

/** The Store port, and the job backends' tables (job-store.ts) in the same database. */
export class SqlStore extends SqlJobStore implements Store {
  readonly #db: Kysely<Database>;
  readonly #dialect: SqlDialect;

  readonly #migrations: (() => Kysely<Database>) | undefined;

  /** `migrations`: opens the connection migrations run on (with no timeout), closed after; default `db`. */
  constructor(db: Kysely<Database>, dialect: SqlDialect, migrations?: () => Kysely<Database>) {
    super(db, dialect);
    this.#db = db;
    this.#dialect = dialect;
    this.#migrations = migrations;
  }

  get dialect(): SqlDialect['name'] {
    return this.#dialect.name;
  }

  async migrate(): Promise<void> {
    if (this.#migrations === undefined) return migrate(this.#db, this.#dialect);
    const db = this.#migrations();
    try {
      await migrate(db, this.#dialect);
    } finally {
      await db.destroy();
    }
  }

  async close(): Promise<void> {
    await this.#db.destroy();
  }

  async ping(): Promise<void> {
    await sql`SELECT 1`.execute(this.#db);
  }

  // Accounts and sessions

  /**
   * Race-safe against concurrent createUser calls, in every process: on SQLite the transaction
   * excludes every other writer; on PostgreSQL it first takes an advisory lock on each of the
   * two names, and two registrations that could clash share a name (one's username is the
   * other's folded display name, or both usernames are equal), so the second waits for the
   * first to commit and then sees its row. Not covered: accounts that already clashed before
   * the names were stored folded (migration 3 keeps them as they are).
   */
  async createUser(user: UserRecord, names?: { displayNameFolded: string; serverRole?: ServerRole }): Promise<void> {
    await this.#dialect.write(this.#db, async (trx) => {
      await this.#insertUser(trx, user, names?.displayNameFolded ?? user.displayName.toLowerCase());
      if (names?.serverRole !== undefined) await trx.insertInto('server_roles').values({ user_id: user.id, role: names.serverRole, granted_at: user.createdAt }).execute();
    });
  }

  /** Inside a write: the name locks and checks of createUser, then the insert. */
  async #insertUser(trx: Kysely<Database>, user: UserRecord, folded: string): Promise<void> {
    const username = user.username.toLowerCase();
    await this.#dialect.lockKeys(trx, [`name:${username}`, `name:${folded}`]);
    const clash = await nameConflict(trx, username, folded);
    if (clash !== null) throw nameConflictError(clash);
    try {
      await trx
        .insertInto('users')
        .values({
          id: user.id,
          username,
          display_name: user.displayName,
          display_name_folded: folded,
          password_hash: user.passwordHash,
          created_at: user.createdAt,
          bot_owner_id: user.botOwnerId ?? null,
          deactivated_at: user.deactivatedAt ?? null,
        })
        .execute();
    } catch (error) {
      // Only a writer that bypassed the lock (an older version of Parley) can get here.
      if (this.#dialect.isUniqueViolation(error)) throw nameConflictError('username_taken');
      throw error;
    }
  }

  findNameConflict(username: string, displayNameFolded: string): Promise<NameConflict | null> {
    return nameConflict(this.#db, username.toLowerCase(), displayNameFolded);
  }

  async findUserById(id: string): Promise<UserRecord | undefined> {
    const row = await this.#db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toUser(row);
  }

  async serverRole(userId: string): Promise<ServerRole | null> {
    const row = await this.#db.selectFrom('server_roles').select('role').where('user_id', '=', userId).executeTakeFirst();
    return row?.role ?? null;
  }

  async setServerRole(userId: string, role: ServerRole | null, at: number): Promise<boolean> {
    return this.#dialect.write(this.#db, async (trx) => {
      const user = await trx.selectFrom('users').select('id').where('id', '=', userId).executeTakeFirst();
      if (user === undefined) return false;
      if (role === null) await trx.deleteFrom('server_roles').where('user_id', '=', userId).execute();
      else
        await trx
          .insertInto('server_roles')
          .values({ user_id: userId, role, granted_at: at })
          .onConflict((oc) => oc.column('user_id').doUpdateSet({ role, granted_at: at }))
          .execute();
      return true;
    });
  }

  async listServerRoles(): Promise<ServerRoleHolder[]> {
    const rows = await this.#db
      .selectFrom('server_roles')
      .innerJoin('users', 'users.id', 'server_roles.user_id')
      .select(['server_roles.user_id', 'users.username', 'server_roles.role', 'server_roles.granted_at'])
      .orderBy('users.username')
      .execute();
    return rows.map((r) => ({ userId: r.user_id, username: r.username, role: r.role, grantedAt: Number(r.granted_at) }));
  }

  setUserDisabled(userId: string, at: number | null): Promise<{ user: UserRecord; revoked: string[]; bots: DisabledBot[] } | undefined> {
    return administration.setUserDisabled(this.#db, this.#dialect, userId, at);
  }

  setPassword(userId: string, passwordHash: string): Promise<string[] | undefined> {
    return administration.setPassword(this.#db, this.#dialect, userId, passwordHash);
  }

  revokeSessions(userId: string): Promise<string[]> {
    return administration.revokeSessions(this.#db, this.#dialect, userId);
  }

  eraseUser(userId: string, at: number, erased: { username: string; displayName: string }): Promise<string[] | undefined> {
    return administration.eraseUser(this.#db, this.#dialect, userId, at, erased);
  }

  listUsers(query: AdminUserQuery): Promise<{ users: UserRecord[]; next: string | null }> {
    return administration.listUsers(this.#db, this.#dialect, query);
  }

  listRooms(query: AdminRoomQuery): Promise<AdminRoomRecord[]> {
    return administration.listRooms(this.#db, query);
  }

  recordServerAudit(entry: ServerAuditInput): Promise<void> {
    return administration.recordServerAudit(this.#db, entry);
  }

  listServerAudit(before: number | undefined, limit: number): Promise<ServerAuditRecord[]> {
    return administration.listServerAudit(this.#db, before, limit);
  }

  pruneServerAudit(before: number, limit: number): Promise<number> {
    return administration.pruneServerAudit(this.#db, before, limit);
  }

  async findUserByUsername(username: string): Promise<UserRecord | undefined> {
    const row = await this.#db.selectFrom('users').selectAll().where('username', '=', username.toLowerCase()).executeTakeFirst();
    return row && toUser(row);
  }

  updateProfile(userId: string, changes: ProfileChanges): Promise<UserRecord | undefined> {
    return people.updateProfile(this.#db, this.#dialect, userId, changes);
  }

  searchUsers(query: UserSearchQuery): Promise<{ users: UserRecord[]; next: UserSearchCursor | null }> {
    return people.searchUsers(this.#db, this.#dialect, query);
  }

  async createSession(session: SessionRecord): Promise<void> {
    await this.#db
      .insertInto('sessions')
      .values({ token_hash: session.tokenHash, user_id: session.userId, created_at: session.createdAt, expires_at: session.expiresAt })
      .execute();
  }

  async findSession(tokenHash: string): Promise<SessionRecord | undefined> {
    const row = await this.#db.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
    return row && toSession(row);
  }

  async findSessionUser(tokenHash: string): Promise<{ session: SessionRecord; user: UserRecord } | undefined> {
    const row = await this.#db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      // A bot is refused while its owner is disabled: the owner's state, read with it.
      .leftJoin('users as owner', 'owner.id', 'users.bot_owner_id')
      .selectAll('users')
      .select(['sessions.created_at as session_created_at', 'sessions.expires_at as session_expires_at', 'owner.disabled_at as owner_disabled_at'])
      .where('sessions.token_hash', '=', tokenHash)
      .executeTakeFirst();
    if (row === undefined) return undefined;
    const user = toUser(row);
    if (row.owner_disabled_at != null) user.ownerDisabledAt = Number(row.owner_disabled_at);
    return { session: { tokenHash, userId: row.id, createdAt: row.session_created_at, expiresAt: row.session_expires_at }, user };
  }

  async deleteSession(tokenHash: string): Promise<boolean> {
    const result = await this.#db.deleteFrom('sessions').where('token_hash', '=', tokenHash).executeTakeFirst();
    return result.numDeletedRows > 0n;
  }

  async deleteExpiredSessions(now: number): Promise<number> {
    const result = await this.#db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  // Rooms and membership

  async createRoom(room: Omit<RoomRecord, 'lastSeq' | 'dmKey'>, ownerId: string): Promise<{ room: RoomRecord; event: StreamEventRecord }> {
    return this.#dialect.write(this.#db, async (trx) => {
      await trx
        .insertInto('rooms')
        .values({ id: room.id, name: room.name, visibility: room.visibility, topic: room.topic, created_at: room.createdAt, last_seq: 1, last_activity_at: room.createdAt, dm_key: null })
        .execute();
      const events = await this.#addFounders(trx, room.id, [{ userId: ownerId, role: 'owner' }], room.createdAt);
      return { room: { ...room, lastSeq: 1, dmKey: null }, event: events[0] as StreamEventRecord };
    });
  }

  async getOrCreateDm(
    room: Omit<RoomRecord, 'lastSeq' | 'dmKey' | 'visibility'>,
    userA: string,
    userB: string,
  ): Promise<{ room: RoomRecord; created: boolean; events: StreamEventRecord[] }> {
    const users = [...new Set([userA, userB])];
    const dmKey = [...users].sort().join(':');
    return this.#dialect.write(this.#db, async (trx) => {
      const inserted = await trx
        .insertInto('rooms')
        .values({ id: room.id, name: room.name, visibility: 'dm', topic: room.topic, created_at: room.createdAt, last_seq: users.length, last_activity_at: room.createdAt, dm_key: dmKey })
        // Any conflict: on dm_key (the pair's DM exists), or on the id too when callers agree on
        // the room's id beforehand (a sharded deployment's directory names it): waiting for the
        // other insert, never a unique violation nor a deadlock between the two indexes.
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      if ((inserted.numInsertedOrUpdatedRows ?? 0n) === 0n) {
        // It exists (maybe created a moment ago by a concurrent call, now committed).
        const existing = await trx.selectFrom('rooms').selectAll().where('dm_key', '=', dmKey).executeTakeFirstOrThrow();
        return { room: toRoom(existing), created: false, events: [] };
      }
      const events = await this.#addFounders(trx, room.id, users.map((userId) => ({ userId, role: 'member' as const })), room.createdAt);
      return { room: { ...room, visibility: 'dm', lastSeq: users.length, dmKey }, created: true, events };
    });
  }

  /** The first members of a new room: member_joined events from seq 1, markers at their own join. */
  async #addFounders(trx: Kysely<Database>, roomId: string, founders: Array<{ userId: string; role: 'owner' | 'member' }>, at: number): Promise<StreamEventRecord[]> {
    const events = founders.map((f, i) => ({ room_id: roomId, seq: i + 1, kind: 'member_joined' as const, target: null, user_id: f.userId, created_at: at }));
    await trx.insertInto('members').values(founders.map((f, i) => ({ room_id: roomId, user_id: f.userId, role: f.role, joined_at: at, last_read_seq: i + 1 }))).execute();
    await trx.insertInto('events').values(events).execute();
    const users = await trx.selectFrom('users').select(['id', 'username', 'display_name', 'bot_owner_id']).where('id', 'in', founders.map((f) => f.userId)).execute();
    const byId = new Map(users.map((u) => [u.id, toAuthor(u.id, u.username, u.display_name, u.bot_owner_id)]));
    return events.map((e) => {
      const user = byId.get(e.user_id);
      if (user === undefined) throw notFound('No such user.');
      return toEvent(e, user, null);
    });
  }

  async findRoom(id: string): Promise<RoomRecord | undefined> {
    const row = await this.#db.selectFrom('rooms').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toRoom(row);
  }

  /**
   * Bounded walks per room, whatever the backlog: the first 2 × (cap + 1) messages after the
   * marker, along the (room_id, seq) index, counted where they are by others and not deleted;
   * and whether another message follows them (a second walk of the same index, as long).
   * Twice the cap, so that one's own and deleted messages among them rarely leave fewer than
   * cap + 1 to count. A count over every message after the marker read the whole backlog
   * (issue 10).
   */
  async listMemberRooms(userId: string, unreadCap: number): Promise<RoomWithReadState[]> {
    const cap = Math.max(1, Math.floor(unreadCap));
    const walk = 2 * (cap + 1);
    const window = sql`SELECT x.deleted, x.author_id FROM messages x WHERE x.room_id = r.id AND x.seq > mb.last_read_seq ORDER BY x.seq LIMIT ${walk}`;
    const memberships = this.#db.selectFrom('members as mb');
    // PostgreSQL: each membership's room by its primary key. A plain join let the planner hash
    // the whole rooms table for a user's 50 rooms once it held 10,000 (4 ms, growing with the
    // server); OFFSET 0 keeps the lateral lookup from being flattened back into that join.
    const joined =
      this.#dialect.name === 'postgres'
        ? memberships.innerJoinLateral(
            (eb) => eb.selectFrom('rooms').selectAll().whereRef('rooms.id', '=', 'mb.room_id').offset(0).as('r'),
            (join) => join.onTrue(),
          )
        : memberships.innerJoin('rooms as r', 'r.id', 'mb.room_id');
    const rows = await joined
      .selectAll('r')
      .select('mb.last_read_seq')
      .select(sql<number>`(SELECT count(*) FROM (${window}) w WHERE w.deleted = 0 AND w.author_id <> mb.user_id)`.as('unread'))
      .select(
        sql<number>`(SELECT count(*) FROM (SELECT 1 AS one FROM messages y WHERE y.room_id = r.id AND y.seq > mb.last_read_seq ORDER BY y.seq LIMIT 1 OFFSET ${walk}) beyond)`.as(
          'beyond',
        ),
      )
      .where('mb.user_id', '=', userId)
      .orderBy('r.last_activity_at', 'desc')
      .orderBy('r.id')
      .execute();
    return rows.map((r) => ({
      room: toRoom(r),
      lastActivityAt: Number(r.last_activity_at),
      lastReadSeq: r.last_read_seq,
      unread: Math.min(Number(r.unread ?? 0), cap),
      unreadCapped: Number(r.unread ?? 0) > cap || Number(r.beyond ?? 0) > 0,
    }));
  }

  listPublicRooms(q: string | undefined, limit: number): Promise<RoomRecord[]> {
    return listPublicRooms(this.#db, this.#dialect, q, limit);
  }

  async findMember(roomId: string, userId: string): Promise<MemberRecord | undefined> {
    const row = await this.#db.selectFrom('members').selectAll().where('room_id', '=', roomId).where('user_id', '=', userId).executeTakeFirst();
    return row && toMember(row);
  }

  async membership(roomId: string, userId: string): Promise<MembershipRecord> {
    const row = await this.#db
      .selectFrom('rooms as r')
      .leftJoin('members as mb', (join) => join.onRef('mb.room_id', '=', 'r.id').on('mb.user_id', '=', userId))
      .select(['r.last_seq', 'mb.role'])
      .where('r.id', '=', roomId)
      .executeTakeFirst();
    return { role: row?.role ?? null, asOfSeq: row?.last_seq ?? 0 };
  }

  async membersAmong(roomId: string, userIds: readonly string[]): Promise<{ ids: string[]; asOfSeq: number }> {
    if (userIds.length > MEMBERS_AMONG_MAX) throw new RangeError(`membersAmong takes at most ${MEMBERS_AMONG_MAX} user ids`);
    const room = this.#db.selectFrom('rooms').select('last_seq').where('id', '=', roomId);
    if (userIds.length === 0) return { ids: [], asOfSeq: (await room.executeTakeFirst())?.last_seq ?? 0 };
    // The room's seq in the same statement, so the answer holds exactly as of it.
    const rows = await this.#db
      .selectFrom('rooms as r')
      .leftJoin('members as mb', (join) => join.onRef('mb.room_id', '=', 'r.id').on('mb.user_id', 'in', [...userIds]))
      .select(['r.last_seq', 'mb.user_id'])
      .where('r.id', '=', roomId)
      .execute();
    return { ids: rows.flatMap((r) => (r.user_id === null ? [] : [r.user_id])), asOfSeq: rows[0]?.last_seq ?? 0 };
  }

  listMembers(roomId: string, page?: { after: MemberCursor | null; limit: number }): Promise<Array<{ member: MemberRecord; user: UserRecord }>> {
    return people.listMembers(this.#db, roomId, page);
  }

  async listMemberIds(roomId: string): Promise<{ ids: string[]; asOfSeq: number }> {
    // Ids only, from the members' primary key; the room's seq in the same statement, so the list
    // holds exactly as of it.
    const rows = await this.#db
      .selectFrom('rooms as r')
      .leftJoin('members as mb', 'mb.room_id', 'r.id')
      .select(['r.last_seq', 'mb.user_id'])
      .where('r.id', '=', roomId)
      .execute();
    return { ids: rows.flatMap((r) => (r.user_id === null ? [] : [r.user_id])), asOfSeq: rows[0]?.last_seq ?? 0 };
  }

  async listMemberRoomIds(userId: string): Promise<string[]> {
    const rows = await this.#db.selectFrom('members').select('room_id').where('user_id', '=', userId).execute();
    return rows.map((r) => r.room_id);
  }

  async advanceReadMarker(roomId: string, userId: string, seq: number): Promise<number> {
    return this.#dialect.write(this.#db, async (trx) => {
      const row = await trx
        .selectFrom('members as mb')
        .innerJoin('rooms as r', 'r.id', 'mb.room_id')
        .select(['mb.last_read_seq', 'r.last_seq'])
        .where('mb.room_id', '=', roomId)
        .where('mb.user_id', '=', userId)
        .$if(this.#dialect.lockRows, (q) => q.forUpdate('mb'))
        .executeTakeFirst();
      if (row === undefined) throw notFound('No such room.');
      const marker = Math.max(row.last_read_seq, Math.min(seq, row.last_seq));
      if (marker !== row.last_read_seq) {
        await trx.updateTable('members').set({ last_read_seq: marker }).where('room_id', '=', roomId).where('user_id', '=', userId).execute();
      }
      return marker;
    });
  }

  // Streams

  append(requests: AppendRequest[]): Promise<AppendOutcome[]> {
    if (requests.length === 0) return Promise.resolve([]);
    return this.#dialect.write(this.#db, (trx) => appendBatch(trx, this.#dialect, requests));
  }

  moderate(request: ModerationRequest): Promise<ModerationOutcome> {
    return moderation.moderate(this.#db, this.#dialect, request);
  }

  mutesOf(roomId: string, userIds: string[], now: number): Promise<Map<string, number | null>> {
    return userIds.length === 0 ? Promise.resolve(new Map()) : moderation.mutesOf(this.#db, this.#dialect, roomId, userIds, now);
  }

  listRestrictions(roomId: string, now: number): Promise<RestrictionRecord[]> {
    return moderation.listRestrictions(this.#db, roomId, now);
  }

  listAudit(roomId: string, before: number | undefined, limit: number): Promise<AuditRecord[]> {
    return moderation.listAudit(this.#db, roomId, before, limit);
  }

  async readEvents(roomId: string, since: number, limit: number): Promise<StreamEventRecord[]> {
    const rows = await this.#db
      .selectFrom('events as e')
      .innerJoin('users as eu', 'eu.id', 'e.user_id')
      .leftJoin('users as mu', 'mu.id', 'e.member_id')
      .leftJoin('messages as m', (join) =>
        join
          .onRef('m.room_id', '=', 'e.room_id')
          .on('e.kind', 'in', ['message', 'edit'])
          .on((eb) => eb('m.seq', '=', eb.fn.coalesce('e.target', 'e.seq'))),
      )
      .leftJoin('users as u', 'u.id', 'm.author_id')
      .select([
        'e.room_id',
        'e.seq',
        'e.kind',
        'e.target',
        'e.user_id',
        'e.created_at',
        'e.emoji',
        'eu.username as user_username',
        'eu.display_name as user_display_name',
        'eu.bot_owner_id as user_bot_owner_id',
        'e.member_id',
        'e.data',
        'mu.username as member_username',
        'mu.display_name as member_display_name',
        'mu.bot_owner_id as member_bot_owner_id',
        'm.seq as m_seq',
        'm.id as m_id',
        'm.author_id as m_author_id',
        'm.body as m_body',
        'm.created_at as m_created_at',
        'm.edited_at as m_edited_at',
        'm.deleted as m_deleted',
        'm.client_msg_id as m_client_msg_id',
        'm.attachments as m_attachments',
        'm.thread_root as m_thread_root',
        'm.reply_count as m_reply_count',
        'm.last_reply_at as m_last_reply_at',
        'u.username as m_author_username',
        'u.display_name as m_author_display_name',
        'u.bot_owner_id as m_author_bot_owner_id',
      ])
      .where('e.room_id', '=', roomId)
      .where('e.seq', '>', since)
      .orderBy('e.seq')
      .limit(limit)
      .execute();
    return rows.map((r) => {
      const message =
        r.m_id === null || r.m_seq === null
          ? null
          : toMessage({
              room_id: r.room_id,
              seq: r.m_seq,
              id: r.m_id,
              author_id: r.m_author_id as string,
              body: r.m_body as string,
              created_at: r.m_created_at as number,
              edited_at: r.m_edited_at,
              deleted: r.m_deleted as number,
              client_msg_id: r.m_client_msg_id,
              attachments: r.m_attachments ?? null,
              thread_root: r.m_thread_root ?? null,
              reply_count: r.m_reply_count ?? 0,
              last_reply_at: r.m_last_reply_at ?? null,
              author_username: r.m_author_username as string,
              author_display_name: r.m_author_display_name as string,
              author_bot_owner_id: r.m_author_bot_owner_id,
            });
      const event = toEvent(r, toAuthor(r.user_id, r.user_username, r.user_display_name, r.user_bot_owner_id), message);
      if (r.member_id != null && r.member_username != null) event.member = toAuthor(r.member_id, r.member_username, r.member_display_name as string, r.member_bot_owner_id);
      if (r.data != null) event.details = moderation.decodeDetails(r.data);
      else if (isModeration(r.kind)) event.details = {};
      return event;
    });
  }

  async readHistory(query: HistoryQuery): Promise<{ messages: MessageRecord[]; hasMore: boolean }> {
    let q = selectMessages(this.#db).where('m.room_id', '=', query.roomId);
    if (query.before !== undefined) q = q.where('m.seq', '<', query.before);
    if (query.after !== undefined) q = q.where('m.seq', '>', query.after);
    if (query.topLevel === true) q = q.where('m.thread_root', 'is', null);
    const rows = await q
      .orderBy('m.seq', query.after !== undefined ? 'asc' : 'desc')
      .limit(query.limit + 1)
      .execute();
    const hasMore = rows.length > query.limit;
    return { messages: rows.slice(0, query.limit).map(toMessage), hasMore };
  }

  async findMessage(roomId: string, seq: number): Promise<MessageRecord | undefined> {
    const row = await selectMessages(this.#db).where('m.room_id', '=', roomId).where('m.seq', '=', seq).executeTakeFirst();
    return row && toMessage(row);
  }

  // Threads and reactions

  reactionsOf(roomId: string, seqs: number[], userId: string): Promise<MessageReactions[]> {
    return threads.reactionsOf(this.#db, this.#dialect, roomId, seqs, userId);
  }

  readThread(roomId: string, rootSeq: number, after: number, limit: number): Promise<ThreadPage | undefined> {
    return threads.readThread(this.#db, roomId, rootSeq, after, limit);
  }

  setThreadFollow(roomId: string, rootSeq: number, userId: string, following: boolean): Promise<boolean> {
    return this.#dialect.write(this.#db, (trx) => threads.setThreadFollow(trx, roomId, rootSeq, userId, following));
  }

  threadFollowOf(roomId: string, rootSeq: number, userId: string): Promise<{ following: boolean; lastReadSeq: number | null }> {
    return threads.threadFollowOf(this.#db, roomId, rootSeq, userId);
  }

  markThreadRead(roomId: string, rootSeq: number, userId: string, seq: number): Promise<number | null> {
    return this.#dialect.write(this.#db, (trx) => threads.markThreadRead(trx, roomId, rootSeq, userId, seq));
  }

  listFollowedThreads(userId: string, cursor: ThreadCursor | null, limit: number, unreadCap: number): Promise<{ threads: FollowedThreadRecord[]; next: ThreadCursor | null }> {
    return threads.listFollowedThreads(this.#db, userId, cursor, limit, unreadCap);
  }

  listThreadFollowers(roomId: string, rootSeq: number): Promise<string[]> {
    return threads.listThreadFollowers(this.#db, roomId, rootSeq);
  }

  async search(query: SearchQuery): Promise<SearchPage> {
    // A word is a run of letters and digits: a term with anything else is no word's prefix.
    if (query.terms.length === 0 || query.terms.some((t) => !WORD.test(t))) return { hits: [], truncated: false, pending: 0, pendingRooms: [] };
    // A search that waited past its deadline (queued behind others) does no work at all.
    if (Date.now() >= query.deadlineAt) throw unavailable('The search took too long; retry, or narrow it to a room.');
    // What the index had not taken yet is read first: a search never claims more than it saw.
    const { pending, rooms } = await cursors.searchPending(this.#db, query.userId, query.roomId);
    const { rows, truncated } = await this.#dialect.search(this.#db, query);
    return { hits: rows.map((r) => ({ message: toMessage(r) })), truncated, pending, pendingRooms: rooms };
  }

  // History exports

  createExport(record: ExportRecord): Promise<void> {
    return exportsRetention.createExport(this.#db, record);
  }

  findExport(id: string): Promise<ExportRecord | undefined> {
    return exportsRetention.findExport(this.#db, id);
  }

  findActiveExport(roomId: string, userId: string): Promise<ExportRecord | undefined> {
    return exportsRetention.findActiveExport(this.#db, roomId, userId);
  }

  updateExport(id: string, changes: ExportChanges): Promise<void> {
    return exportsRetention.updateExport(this.#db, id, changes);
  }

  listExpiredExports(now: number, limit: number): Promise<ExportRecord[]> {
    return exportsRetention.listExpiredExports(this.#db, now, limit);
  }

  deleteExport(id: string): Promise<void> {
    return exportsRetention.deleteExport(this.#db, id);
  }

  // Retention

  setRoomRetention(roomId: string, days: number | null): Promise<void> {
    return exportsRetention.setRoomRetention(this.#db, roomId, days);
  }

  roomRetention(roomId: string): Promise<RoomRetention | undefined> {
    return exportsRetention.roomRetention(this.#db, roomId);
  }

  listRetentionRooms(afterId: string, limit: number): Promise<RetentionRoom[]> {
    return exportsRetention.listRetentionRooms(this.#db, this.#dialect, afterId, limit);
  }

  purgeMessagesBefore(roomId: string, before: number, limit: number): Promise<{ tombstoned: number; throughSeq: number; more: boolean }> {
    return exportsRetention.purgeMessagesBefore(this.#db, this.#dialect, roomId, before, limit);
  }

  // Uploads
  reserveUpload(upload: UploadRecord, dailyLimit: number, since: number): Promise<{ reserved: boolean; used: number }> {
    return uploads.reserveUpload(this.#db, this.#dialect, upload, dailyLimit, since);
  }

  findUpload(id: string): Promise<UploadRecord | undefined> {
    return uploads.findUpload(this.#db, id);
  }

  updateUpload(id: string, from: UploadState, changes: UploadChanges): Promise<boolean> {
    return uploads.updateUpload(this.#db, id, from, changes);
  }

  deleteUpload(id: string): Promise<void> {
    return uploads.deleteUpload(this.#db, id);
  }

  setAvatar(owner: { userId: string } | { roomId: string }, uploadId: string | null): Promise<boolean> {
    return uploads.setAvatar(this.#db, this.#dialect, owner, uploadId);
  }

  avatarOf(owner: { userId: string } | { roomId: string }): Promise<UploadRecord | undefined> {
    return uploads.avatarOf(this.#db, owner);
  }

  doomUnattachedUploads(cutoff: number, unfinishedCutoff: number, limit: number): Promise<number> {
    return uploads.doomUnattached(this.#db, cutoff, unfinishedCutoff, limit);
  }

  listDoomedUploads(limit: number): Promise<UploadRecord[]> {
    return uploads.listDoomedUploads(this.#db, limit);
  }

  markUploadsDeleted(ids: string[]): Promise<void> {
    return uploads.markUploadsDeleted(this.#db, ids);
  }

  forgetDeletedUploads(cutoff: number, limit: number): Promise<number> {
    return uploads.forgetDeletedUploads(this.#db, cutoff, limit);
  }

  // Outgoing webhooks

  createWebhook(record: WebhookRecord): Promise<void> {
    return hooks.createWebhook(this.#db, record);
  }

  findWebhook(id: string): Promise<WebhookRecord | undefined> {
    return hooks.findWebhook(this.#db, id);
  }

  listWebhooks(roomId: string): Promise<WebhookRecord[]> {
    return hooks.listWebhooks(this.#db, roomId);
  }

  updateWebhook(id: string, changes: WebhookChanges): Promise<void> {
    return hooks.updateWebhook(this.#db, id, changes);
  }

  markWebhookFailing(id: string, now: number): Promise<number> {
    return hooks.markWebhookFailing(this.#db, id, now);
  }

  deleteWebhook(id: string): Promise<void> {
    return this.#dialect.write(this.#db, (trx) => hooks.deleteWebhook(trx, id));
  }

  activeWebhookIds(roomId: string): Promise<string[]> {
    return hooks.activeWebhookIds(this.#db, roomId);
  }

  webhooksBehind(limit: number): Promise<Array<{ id: string; cursorSeq: number }>> {
    return hooks.webhooksBehind(this.#db, limit);
  }

  advanceWebhookCursor(id: string, seq: number): Promise<void> {
    return hooks.advanceWebhookCursor(this.#db, id, seq);
  }

  recordWebhookDelivery(delivery: WebhookDeliveryRecord): Promise<void> {
    return hooks.recordWebhookDelivery(this.#db, delivery);
  }

  listWebhookDeliveries(webhookId: string, limit: number): Promise<WebhookDeliveryRecord[]> {
    return hooks.listWebhookDeliveries(this.#db, webhookId, limit);
  }

  pruneWebhookDeliveries(webhookId: string, keep: number): Promise<void> {
    return hooks.pruneWebhookDeliveries(this.#db, webhookId, keep);
}

  // Bots and incoming webhooks

  /**
   * The owner's bots are counted under a lock on the owner (an advisory lock on PostgreSQL, the
   * write lock on SQLite), taken before the name locks of the insert, so concurrent creations for
   * one owner are counted one after the other.
   */
  createBot(bot: UserRecord, names: { displayNameFolded: string }, maxPerOwner: number, session: SessionRecord | null): Promise<boolean> {
    const ownerId = bot.botOwnerId;
    if (ownerId === undefined || ownerId === null) return Promise.reject(new Error('createBot: a bot needs its owner'));
    return this.#dialect.write(this.#db, async (trx) => {
      await this.#dialect.lockKeys(trx, [`bots:${ownerId}`]);
      if ((await bots.countActiveBots(trx, ownerId)) >= maxPerOwner) return false;
      await this.#insertUser(trx, bot, names.displayNameFolded);
      if (session !== null) await bots.insertSession(trx, session);
      return true;
    });
  }

  listBots(ownerId: string): Promise<UserRecord[]> {
    return bots.listBots(this.#db, ownerId);
  }

  replaceSessions(userId: string, session: SessionRecord): Promise<string[]> {
    return this.#dialect.write(this.#db, (trx) => bots.replaceSessions(trx, userId, session));
  }

  deactivateBot(botId: string, at: number): Promise<{ tokenHashes: string[]; roomIds: string[] }> {
    return this.#dialect.write(this.#db, (trx) => bots.deactivateBot(trx, botId, at));
  }

  createIncomingWebhook(hook: IncomingWebhookRecord): Promise<void> {
    return bots.createIncomingWebhook(this.#db, hook);
  }

  findIncomingWebhook(id: string): Promise<IncomingWebhookWithBot | undefined> {
    return bots.findIncomingWebhook(this.#db, id);
  }

  findIncomingWebhookByToken(tokenHash: string): Promise<IncomingWebhookWithBot | undefined> {
    return bots.findIncomingWebhookByToken(this.#db, tokenHash);
  }

  listIncomingWebhooks(roomId: string): Promise<IncomingWebhookWithBot[]> {
    return bots.listIncomingWebhooks(this.#db, roomId);
  }

  deleteIncomingWebhook(id: string): Promise<boolean> {
    return bots.deleteIncomingWebhook(this.#db, id);
  }

  // Notifications and blocks

  notificationCursor(roomId: string): Promise<number> {
    return notes.notificationCursor(this.#db, roomId);
  }

  advanceNotificationCursor(roomId: string, seq: number): Promise<void> {
    return notes.advanceNotificationCursor(this.#db, roomId, seq);
  }

  roomsBehindNotifier(limit: number): Promise<string[]> {
    return notes.roomsBehindNotifier(this.#db, limit);
  }

  // The event pipeline's cursors and the search index

  streamCursor(roomId: string, consumer: string): Promise<number> {
    return cursors.streamCursor(this.#db, roomId, consumer);
  }

  advanceStreamCursor(roomId: string, consumer: string, seq: number): Promise<void> {
    return cursors.advanceStreamCursor(this.#db, roomId, consumer, seq);
  }

  roomsBehindCursor(consumer: string, limit: number): Promise<string[]> {
    return cursors.roomsBehindCursor(this.#db, consumer, limit);
  }

  applySearchIndex(roomId: string, entries: SearchIndexEntry[], afterSeq: number, throughSeq: number): Promise<void> {
    return cursors.applySearchIndex(this.#db, this.#dialect, roomId, entries, afterSeq, throughSeq);
  }

  listNotifyPrefs(roomId: string): Promise<NotifyPrefRecord[]> {
    return notes.listNotifyPrefs(this.#db, roomId);
  }

  findNotifyPref(roomId: string, userId: string): Promise<NotifyPrefRecord | undefined> {
    return notes.findNotifyPref(this.#db, roomId, userId);
  }

  setNotifyPref(roomId: string, pref: NotifyPrefRecord): Promise<void> {
    return notes.setNotifyPref(this.#db, roomId, pref);
  }

  insertNotifications(rows: NewNotification[]): Promise<Array<NewNotification & { id: number }>> {
    return notes.insertNotifications(this.#db, rows);
  }

  listNotifications(userId: string, page: NotificationPage): Promise<NotificationRecord[]> {
    return notes.listNotifications(this.#db, userId, page);
  }

  countUnreadNotifications(userId: string, readUpTo: number, cap: number): Promise<number> {
    return notes.countUnreadNotifications(this.#db, userId, readUpTo, cap);
  }

  notificationSettings(userId: string): Promise<NotificationSettingsRecord> {
    return notes.notificationSettings(this.#db, userId);
  }

  updateNotificationSettings(userId: string, changes: NotificationSettingsChanges): Promise<void> {
    return notes.updateNotificationSettings(this.#db, userId, changes);
  }

  advanceNotificationsRead(userId: string, upTo: number): Promise<number> {
    return notes.advanceNotificationsRead(this.#db, userId, upTo);
  }

  markDigestSent(userId: string, upTo: number): Promise<void> {
    return notes.markDigestSent(this.#db, userId, upTo);
  }

  digestCandidates(olderThan: number, limit: number): Promise<DigestCandidate[]> {
    return notes.digestCandidates(this.#db, olderThan, limit);
  }

  block(userId: string, blockedId: string, at: number): Promise<void> {
    return notes.block(this.#db, userId, blockedId, at);
  }

  unblock(userId: string, blockedId: string): Promise<void> {
    return notes.unblock(this.#db, userId, blockedId);
  }

  listBlocks(userId: string): Promise<Array<{ user: Author; createdAt: number }>> {
    return notes.listBlocks(this.#db, userId);
  }

  blockersOf(blockedId: string): Promise<string[]> {
    return notes.blockersOf(this.#db, blockedId);
  }

  blockedEitherWay(a: string, b: string): Promise<boolean> {
    return notes.blockedEitherWay(this.#db, a, b);
  }
}
