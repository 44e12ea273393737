/** Rooms and membership: create, discover, join, leave, add members, direct messages. */
import { conflict, forbidden, notFound, refused, validationFailed } from '../errors.js';
import type { Presence, Store } from '../ports.js';
import type { Access } from './access.js';
import { decodeMemberCursor, encodeMemberCursor } from './cursors.js';
import { type Actor, BOT_SCOPE, isBot, isGone, refuseBots } from './actor.js';
import { newId } from './ids.js';
import type { StreamWriter } from './stream-writer.js';
import type { MemberRecord, Role, RoomRecord, RoomWithReadState, UserRecord } from './types.js';

/** UNREAD_COUNT_CAP's default: unread counts past it are shown as "999+". */
export const DEFAULT_UNREAD_CAP = 999;

export interface RoomsOptions {
  /** Unread messages counted exactly per room (UNREAD_COUNT_CAP); past it the room is unreadCapped. */
  unreadCap?: number;
  /** Refuses a direct-message room between the two users (a block between them): throws. */
  checkDm?: (userId: string, otherId: string) => Promise<void>;
}

export class Rooms {
  readonly #store: Store;
  readonly #access: Access;
  readonly #writer: StreamWriter;
  readonly #presence: Presence;
  readonly #unreadCap: number;
  readonly #checkDm: RoomsOptions['checkDm'];

  constructor(store: Store, access: Access, writer: StreamWriter, presence: Presence, options: RoomsOptions = {}) {
    this.#store = store;
    this.#access = access;
    this.#writer = writer;
    this.#presence = presence;
    this.#unreadCap = options.unreadCap ?? DEFAULT_UNREAD_CAP;
    this.#checkDm = options.checkDm;
  }

  async create(actor: Actor, input: { name: string; visibility: 'public' | 'private'; topic?: string | undefined }): Promise<RoomRecord> {
    refuseBots(actor, 'create rooms');
    const { room, event } = await this.#store.createRoom(
      { id: newId(), name: input.name, visibility: input.visibility, topic: input.topic ?? '', createdAt: Date.now() },
      actor.id,
    );
    this.#writer.committed(event);
    return room;
  }

  listMine(userId: string): Promise<RoomWithReadState[]> {
    return this.#store.listMemberRooms(userId, this.#unreadCap);
  }

  async listPublic(actor: Actor, q: string | undefined, limit: number): Promise<RoomRecord[]> {
    refuseBots(actor, 'discover public rooms');
    return this.#store.listPublicRooms(q === undefined || q.trim() === '' ? undefined : q.trim(), limit, { readerId: actor.id });
  }

  async get(actor: Actor, roomId: string): Promise<RoomRecord> {
    return (await this.#requireVisible(actor, roomId)).room;
  }

  /**
   * The room if the caller may see it: members see any room, people see public ones too. A bot
   * sees only its rooms: another public room is `forbidden` to it (it cannot join one).
   */
  async #requireVisible(actor: Actor, roomId: string): Promise<{ room: RoomRecord; role: Role | null }> {
    const visible = await this.#access.requireVisible(roomId, actor.id);
    if (visible.role === null && isBot(actor)) throw forbidden(`${BOT_SCOPE}.`);
    return visible;
  }

  /** Joins a public room; joining a room one is in already changes nothing. Bots cannot: a member adds them. */
  async join(actor: Actor, roomId: string): Promise<RoomRecord> {
    refuseBots(actor, 'join rooms by itself: a member adds it');
    const userId = actor.id;
    const { room, role } = await this.#access.requireVisible(roomId, userId);
    if (role !== null) return room;
    if (room.visibility !== 'public') throw notFound('No such room.');
    const outcome = await this.#writer.append({ kind: 'member_joined', roomId, userId, role: 'member', addedBy: null, at: Date.now() });
    if (outcome.status === 'rejected') throw outcome.reason !== undefined ? refused(outcome.reason) : notFound('No such room.');
    return this.#access.room(roomId);
  }

  async leave(userId: string, roomId: string): Promise<void> {
    await this.#access.requireMember(roomId, userId);
    const room = await this.#access.room(roomId);
    if (room.visibility === 'dm') throw conflict('A direct-message room cannot be left.');
    await this.#writer.append({ kind: 'member_left', roomId, userId, at: Date.now() });
  }

  /**
   * Any member (not a bot) may add a user to a public or private room; DMs have exactly their
   * two people. A deleted bot is no user to add.
   */
  async addMember(actor: Actor, roomId: string, username: string): Promise<UserRecord> {
    refuseBots(actor, 'add members');
    const actorId = actor.id;
    await this.#access.requireMember(roomId, actorId);
    const room = await this.#access.room(roomId);
    if (room.visibility === 'dm') throw refused('dm', 'Members cannot be added to a direct-message room.');
    const user = await this.#store.findUserByUsername(username.toLowerCase());
    if (user === undefined || isGone(user)) throw notFound('No such user.');
    const outcome = await this.#writer.append({ kind: 'member_joined', roomId, userId: user.id, role: 'member', addedBy: actorId, at: Date.now() });
    // Banned, or the room archived; or the actor left while adding: refused as any non-member is.
    if (outcome.status === 'rejected') throw outcome.reason !== undefined ? refused(outcome.reason) : await this.#access.refusal(roomId);
    return user;
  }

  /**
   * A page of the room's members in join order, each with whether they are online now; `next`
   * is the cursor of the following page (null on the last). `after`: a cursor this gave.
   */
  async members(
    actor: Actor,
    roomId: string,
    page: { after?: string | undefined; limit: number; seen?: number | undefined },
  ): Promise<{ members: Array<{ member: MemberRecord; user: UserRecord; online: boolean; muted?: { until: number | null } }>; next: string | null }> {
    const { role } = await this.#requireVisible(actor, roomId);
    const after = page.after === undefined ? null : decodeMemberCursor(page.after);
    // One more than the page: whether another follows, without a count.
    const rows = await this.#store.listMembers(roomId, { after, limit: page.limit + 1 }, { readerId: actor.id, ...(page.seen === undefined ? {} : { seenSeq: page.seen }) });
    const members = rows.slice(0, page.limit);
    const ids = members.map((m) => m.user.id);
    // Who is muted is for the room's moderators (as GET /restrictions is); anyone else learns only of their own mute.
    const mutable = role === 'owner' || role === 'admin' ? ids : ids.filter((id) => id === actor.id);
    const [online, mutes] = await Promise.all([this.#presence.online(ids), this.#store.mutesOf(roomId, mutable, Date.now())]);
    const last = members.at(-1);
    const next = rows.length > page.limit && last !== undefined ? encodeMemberCursor({ joinedAt: last.member.joinedAt, userId: last.member.userId }) : null;
    return {
      members: members.map((m) => {
        const until = mutes.get(m.user.id);
        return { ...m, online: online.has(m.user.id), ...(until === undefined ? {} : { muted: { until } }) };
      }),
      next,
    };
  }

  /**
   * The one DM room of the caller and `username`, created on first use. Bots have none, on
   * either side: a bot is in the rooms members add it to.
   */
  async openDm(actor: Actor, username: string): Promise<RoomRecord> {
    refuseBots(actor, 'open direct messages');
    const userId = actor.id;
    const other = await this.#store.findUserByUsername(username.toLowerCase());
    if (other === undefined || isGone(other)) throw notFound('No such user.');
    if (other.id === userId) throw validationFailed('A direct-message room needs another user.');
    if (isBot(other)) throw forbidden('A bot has no direct messages: add it to a room instead.');
    await this.#checkDm?.(userId, other.id);
    const me = await this.#store.findUserById(userId);
    const names = [me?.username ?? '', other.username].sort();
    const { room, events } = await this.#store.getOrCreateDm({ id: newId(), name: names.join(', '), topic: '', createdAt: Date.now() }, userId, other.id);
    for (const event of events) this.#writer.committed(event);
    return room;
  }
}
