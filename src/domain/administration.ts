/**
 * Server administration: accounts (create, disable, enable, delete, reset a password, revoke
 * sessions, grant or revoke the server role), rooms (list, archive), dead jobs (list, retry,
 * purge) and the nodes of the deployment. Used by the admin endpoints (REST, the admin page)
 * and by `parley admin` at the console.
 *
 * - Authorization first: `authorize` checks the server role on the primary before anything is
 *   read; the console is trusted (whoever runs it can read the database).
 * - Every change is written to the server's audit log, after it took effect, naming who acted
 *   and from where.
 * - Ending a user's sessions (disable, password reset, revoke, delete) goes through
 *   `Accounts.revoked`: forgotten in the shared cache, and their WebSockets closed with 1008 on
 *   every node reached by the bus.
 */
import { createHash, randomBytes } from 'node:crypto';
import { conflict, forbidden, notFound } from '../errors.js';
import type { DeadJob, JobCounts, JobQueue, Store } from '../ports.js';
import type { NodeStatus } from '../realtime/node-directory.js';
import type { Accounts } from './accounts.js';
import { isBot, isDisabled, isGone } from './actor.js';
import { DELETED_USERNAME_PREFIX } from './name-conflicts.js';
import { hashPassword } from './password.js';
import type { Moderation } from './moderation.js';
import type { StreamWriter } from './stream-writer.js';
import type { AdminRoomQuery, AdminRoomRecord, AdminUserQuery, AdminVia, RoomRecord, ServerAuditRecord, ServerRole, UserRecord } from './types.js';

/** Who acts: a server administrator through the API, or the operator at the console (`id` null, or the administrator they name). */
export interface AdminActor {
  id: string | null;
  via: AdminVia;
}

/** A user as an administrator sees them: the account and its server role. */
export interface AdminUser {
  user: UserRecord;
  role: ServerRole | null;
}

export interface AdministrationOptions {
  scryptCost: number;
  /** The job queues an administrator looks into (QUEUES). */
  queues: readonly string[];
}

export interface AdministrationDeps {
  store: Store;
  accounts: Accounts;
  moderation: Moderation;
  writer: StreamWriter;
  /** The job backend; null where the process has none. */
  jobs: JobQueue | null;
  /** The nodes of the deployment; null where the process is no node (the console). */
  nodes: (() => NodeStatus[]) | null;
}

/** The display name of a deleted account. */
export const DELETED_DISPLAY_NAME = 'Deleted user';

/** A deleted account's username: derived from the id, in a prefix nobody registers (name-conflicts.ts), within 32 characters. */
export const deletedUsername = (userId: string): string => `${DELETED_USERNAME_PREFIX}${createHash('sha256').update(userId).digest('hex').slice(0, 16)}`;

/** A password an administrator hands over once: 18 random bytes, 24 characters. */
const newPassword = (): string => randomBytes(18).toString('base64url');

/** Rooms a deleted account leaves at once. */
const LEAVE_CONCURRENCY = 16;

export class Administration {
  readonly #deps: AdministrationDeps;
  readonly #options: AdministrationOptions;

  constructor(deps: AdministrationDeps, options: AdministrationOptions) {
    this.#deps = deps;
    this.#options = options;
  }

  /** The actor of an API call: refused (`forbidden`, `server_role`) unless they are a server administrator now. */
  async authorize(userId: string): Promise<AdminActor> {
    const [role, user] = await Promise.all([this.#deps.store.serverRole(userId), this.#deps.store.findUserById(userId)]);
    // A disabled administrator keeps the role (enabled, they administer again) but cannot use it.
    if (role !== 'admin' || user === undefined || isDisabled(user)) throw forbidden('Only a server administrator can do this.', { reason: 'server_role' });
    return { id: userId, via: 'api' };
  }

  // Users

  async listUsers(query: AdminUserQuery): Promise<{ users: AdminUser[]; next: string | null }> {
    const [page, roles] = await Promise.all([this.#deps.store.listUsers(query), this.#deps.store.listServerRoles()]);
    const roleOf = new Map(roles.map((r) => [r.userId, r.role]));
    return { users: page.users.map((user) => ({ user, role: roleOf.get(user.id) ?? null })), next: page.next };
  }

  async user(userId: string): Promise<AdminUser> {
    const user = await this.#user(userId);
    return { user, role: await this.#deps.store.serverRole(user.id) };
  }

  /** Creates an account; without a password, one is made and answered (shown once). */
  async createUser(by: AdminActor, input: { username: string; password?: string | undefined; displayName?: string | undefined; admin?: boolean | undefined }): Promise<{ user: AdminUser; password: string | null }> {
    const password = input.password ?? newPassword();
    const user = await this.#deps.accounts.createAccount({ username: input.username, password, displayName: input.displayName, serverRole: input.admin === true ? 'admin' : undefined });
    await this.#audit(by, 'user_created', { userId: user.id, data: { username: user.username, ...(input.admin === true ? { role: 'admin' } : {}) } });
    return { user: { user, role: input.admin === true ? 'admin' : null }, password: input.password === undefined ? password : null };
  }

  /**
   * Disables the account: it cannot log in, its sessions end now on every node, and the bots it
   * owns are refused with it (their tokens and incoming webhooks; their WebSockets closed) until
   * it is enabled.
   */
  async disableUser(by: AdminActor, userId: string): Promise<AdminUser> {
    this.#notSelf(by, userId, 'disable');
    this.#notGone(await this.#user(userId), 'disabled');
    const done = await this.#deps.store.setUserDisabled(userId, Date.now());
    if (done === undefined) throw notFound('No such user.');
    await this.#deps.accounts.revoked(userId, done.revoked);
    for (const bot of done.bots) await this.#deps.accounts.revoked(bot.id, bot.tokenHashes);
    const bots = done.bots.map((b) => b.id);
    await this.#audit(by, 'user_disabled', { userId, data: { sessionsRevoked: done.revoked.length, ...(bots.length > 0 ? { bots } : {}) } });
    return { user: done.user, role: await this.#deps.store.serverRole(userId) };
  }

  /** Enables the account again: it logs in again with its password, and its bots work again. */
  async enableUser(by: AdminActor, userId: string): Promise<AdminUser> {
    this.#notGone(await this.#user(userId), 'enabled');
    const done = await this.#deps.store.setUserDisabled(userId, null);
    if (done === undefined) throw notFound('No such user.');
    await this.#deps.accounts.revoked(userId, done.revoked);
    // Bots' sessions cached while refused are read again at once, not after the cache's TTL.
    for (const bot of done.bots) await this.#deps.accounts.forget(bot.tokenHashes);
    await this.#audit(by, 'user_enabled', { userId });
    return { user: done.user, role: await this.#deps.store.serverRole(userId) };
  }

  /**
   * Deletes the account: its sessions end, it leaves every room but its direct messages, the
   * bots it owns are deleted, and its row is erased (src/adapters/sql/administration.ts). Its
   * messages stay, shown as a deleted user's. Repeatable: a second call changes nothing and writes no audit entry.
   */
  async deleteUser(by: AdminActor, userId: string): Promise<void> {
    this.#notSelf(by, userId, 'delete');
    const user = await this.#user(userId);
    // Deleted already (a repeat): nothing is left to do, nor to audit.
    if ((user.deletedAt ?? null) !== null || (isBot(user) && (user.deactivatedAt ?? null) !== null)) return;
    const { store, accounts } = this.#deps;
    const at = Date.now();
    // Disabled first: no new session from here on, and the live ones end now.
    const disabled = await store.setUserDisabled(userId, at);
    if (disabled !== undefined) await accounts.revoked(userId, disabled.revoked);
    // Every bot it owns that is not deleted already, disabled or not.
    const bots = isBot(user) ? [] : (await store.listBots(userId)).map((b) => b.id);
    for (const bot of bots) await this.#retire(bot);
    if (isBot(user)) await this.#retire(userId);
    else await this.#leaveRooms(userId);
    // A bot keeps its name (its messages say which bot spoke); a person's is erased.
    const revoked = isBot(user) ? [] : await store.eraseUser(userId, at, { username: deletedUsername(userId), displayName: DELETED_DISPLAY_NAME });
    await accounts.revoked(userId, revoked ?? []);
    await this.#audit(by, 'user_deleted', { userId, data: { username: user.username, ...(bots.length > 0 ? { bots } : {}) } });
  }

  /** Sets a new password (made and answered when not given) and ends every session of the user on every node. */
  async resetPassword(by: AdminActor, userId: string, password?: string): Promise<{ password: string | null; sessionsRevoked: number }> {
    const user = await this.#user(userId);
    if (isBot(user)) throw conflict('A bot has no password: rotate its token.', { reason: 'bot' });
    this.#notGone(user, 'given a password');
    const chosen = password ?? newPassword();
    const revoked = await this.#deps.store.setPassword(userId, await hashPassword(chosen, this.#options.scryptCost));
    if (revoked === undefined) throw notFound('No such user.');
    await this.#deps.accounts.revoked(userId, revoked);
    await this.#audit(by, 'password_reset', { userId, data: { sessionsRevoked: revoked.length } });
    return { password: password === undefined ? chosen : null, sessionsRevoked: revoked.length };
  }

  /** Ends every session of the user now, on every node (they log in again). */
  async revokeSessions(by: AdminActor, userId: string): Promise<number> {
    await this.#user(userId);
    const revoked = await this.#deps.store.revokeSessions(userId);
    await this.#deps.accounts.revoked(userId, revoked);
    await this.#audit(by, 'sessions_revoked', { userId, data: { sessionsRevoked: revoked.length } });
    return revoked.length;
  }

  /** Grants the server role (or takes it away: null). Nobody takes their own away through the API, so a server keeps an administrator. */
  async setRole(by: AdminActor, userId: string, role: ServerRole | null): Promise<AdminUser> {
    if (role === null) this.#notSelf(by, userId, 'revoke the role of');
    const user = await this.#user(userId);
    if (role !== null && (isBot(user) || isDisabled(user))) throw conflict(isBot(user) ? 'A bot cannot administer the server.' : 'A disabled account cannot administer the server.', { reason: isBot(user) ? 'bot' : 'disabled' });
    if (!(await this.#deps.store.setServerRole(userId, role, Date.now()))) throw notFound('No such user.');
    await this.#audit(by, role === null ? 'role_revoked' : 'role_granted', { userId, data: { role: role ?? 'admin' } });
    return { user, role };
  }

  // Rooms

  listRooms(query: AdminRoomQuery): Promise<AdminRoomRecord[]> {
    return this.#deps.store.listRooms(query);
  }

  /**
   * Archives a room (readable, refusing sends, edits and joins) or opens it again, as its owner
   * would; the room's stream names the administrator. At the console `by.id` names them.
   */
  async setRoomArchived(by: AdminActor, roomId: string, archived: boolean): Promise<RoomRecord> {
    if (by.id === null) throw conflict('Name the administrator who archives the room (--by <username>): the room\'s stream records who did.', { reason: 'actor' });
    const room = await this.#deps.moderation.setArchivedAsServerAdmin(by.id, roomId, archived);
    await this.#audit(by, archived ? 'room_archived' : 'room_opened', { roomId, data: { name: room.name } });
    return room;
  }

  // Jobs

  async jobCounts(): Promise<Array<{ queue: string } & JobCounts>> {
    const jobs = this.#jobs();
    return Promise.all(this.#options.queues.map(async (queue) => ({ queue, ...(await jobs.counts(queue)) })));
  }

  deadJobs(queue: string, limit: number): Promise<DeadJob[]> {
    this.#queue(queue);
    return this.#jobs().deadLetters(queue, limit);
  }

  async retryDeadJob(by: AdminActor, queue: string, id: string): Promise<void> {
    this.#queue(queue);
    if (!(await this.#jobs().retryDead(queue, id))) throw notFound('No such dead job.');
    await this.#audit(by, 'job_retried', { data: { queue, id } });
  }

  /** Deletes one dead job of the queue, or all of them (no id); answers how many. */
  async purgeDeadJobs(by: AdminActor, queue: string, id?: string): Promise<number> {
    this.#queue(queue);
    const purged = await this.#jobs().purgeDead(queue, id);
    if (id !== undefined && purged === 0) throw notFound('No such dead job.');
    await this.#audit(by, 'jobs_purged', { data: { queue, ...(id === undefined ? {} : { id }), purged } });
    return purged;
  }

  // The deployment

  nodes(): NodeStatus[] {
    return this.#deps.nodes?.() ?? [];
  }

  audit(before: number | undefined, limit: number): Promise<ServerAuditRecord[]> {
    return this.#deps.store.listServerAudit(before, limit);
  }

  async #user(userId: string): Promise<UserRecord> {
    const user = await this.#deps.store.findUserById(userId);
    if (user === undefined) throw notFound('No such user.');
    return user;
  }

  /** Refuses (409 `deleted`) an account deleted, or a bot deleted by its owner: nothing is done to it any more. */
  #notGone(user: UserRecord, what: string): void {
    if (isGone(user)) throw conflict(`A deleted account cannot be ${what}.`, { reason: 'deleted' });
  }

  #notSelf(by: AdminActor, userId: string, what: string): void {
    if (by.id === userId) throw conflict(`An administrator cannot ${what} themselves.`, { reason: 'self' });
  }

  #jobs(): JobQueue {
    if (this.#deps.jobs === null) throw notFound('This process has no job backend.');
    return this.#deps.jobs;
  }

  #queue(queue: string): void {
    if (!this.#options.queues.includes(queue)) throw notFound(`No queue "${queue}": one of ${this.#options.queues.join(', ')}.`);
  }

  /** Deactivates a bot (sessions and incoming webhooks gone) and takes it out of its rooms. */
  async #retire(botId: string): Promise<void> {
    const { tokenHashes, roomIds } = await this.#deps.store.deactivateBot(botId, Date.now());
    await this.#deps.accounts.revoked(botId, tokenHashes);
    for (const roomId of roomIds) await this.#deps.writer.append({ kind: 'member_left', roomId, userId: botId, at: Date.now() });
  }

  /**
   * Takes the user out of every room they are in but direct messages (which have exactly their
   * two people), several at a time: their appends share the writer's group commits. Cut short
   * (a failure, a crash), the rooms left stay left and a repeated delete leaves the rest: the
   * account is erased only once it is out of all of them.
   */
  async #leaveRooms(userId: string): Promise<void> {
    const roomIds = await this.#deps.store.listMemberRoomIds(userId);
    let next = 0;
    let failed = false;
    const leave = async () => {
      while (next < roomIds.length && !failed) {
        const roomId = roomIds[next++] as string;
        try {
          const room = await this.#deps.store.findRoom(roomId);
          if (room === undefined || room.visibility === 'dm') continue;
          await this.#deps.writer.append({ kind: 'member_left', roomId, userId, at: Date.now() });
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    };
    const outcomes = await Promise.allSettled(Array.from({ length: Math.min(LEAVE_CONCURRENCY, roomIds.length) }, leave));
    const first = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (first !== undefined) throw first.reason;
  }

  async #audit(by: AdminActor, action: string, what: { userId?: string; roomId?: string; data?: Record<string, unknown> }): Promise<void> {
    await this.#deps.store.recordServerAudit({ at: Date.now(), action, actorId: by.id, via: by.via, userId: what.userId ?? null, roomId: what.roomId ?? null, data: what.data ?? null });
  }
}
