/**
 * The server administrators' calls (PROTOCOL.md "Administration", prefix /api/v1/admin), reached
 * as `client.rest.admin`. They go through the RestClient's own request: the same token or
 * session cookie, time limit and errors. Anyone who is not a server administrator, or one whose
 * account is disabled, gets `forbidden` with `details.reason: "server_role"` from every one of
 * them (`isServerRoleRefusal`).
 */
import type { AdminDeadJob, AdminNode, AdminQueueCounts, AdminRoom, AdminUser, Room, ServerAuditEntry } from '../src/protocol/wire.js';
import { ParleyError } from './errors.js';

export type AdminUserState = 'active' | 'disabled' | 'deleted' | 'bot';

export interface AdminUserQuery {
  /** Users whose username starts with this (compared lower-cased). */
  q?: string;
  /** Only people who may log in (`active`), disabled accounts, deleted ones, or bots. */
  state?: AdminUserState;
  /** `next` of the previous page. */
  after?: string;
  /** 1 to 200; the server's default is 50. */
  limit?: number;
}

export interface AdminUserPage {
  users: AdminUser[];
  /** The cursor of the next page (`after`); null on the last. */
  next: string | null;
}

export interface AdminRoomQuery {
  /** Rooms whose name contains this (case-insensitive). */
  q?: string;
  /** `next` of the previous page. */
  after?: string;
  /** 1 to 200; the server's default is 50. */
  limit?: number;
}

export interface AdminRoomPage {
  rooms: AdminRoom[];
  /** The cursor of the next page (`after`); null on the last. */
  next: string | null;
}

export interface ServerAuditPage {
  entries: ServerAuditEntry[];
  /** `before` of the next (older) page; null on the last. */
  nextBefore: number | null;
}

export interface AdminCreateUserInput {
  username: string;
  /** Default: the server makes one and answers it, this once. */
  password?: string;
  displayName?: string;
  /** Make them a server administrator too. */
  admin?: boolean;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
/** The RestClient's request, with paths below /api/v1. */
export type AdminRequest = <T>(method: Method, path: string, options?: { body?: unknown; query?: Record<string, string | number | undefined> }) => Promise<T>;

const enc = encodeURIComponent;

export class AdminClient {
  readonly #request: AdminRequest;

  constructor(request: AdminRequest) {
    this.#request = request;
  }

  // The nodes

  /** Every node's last status, this one's included: readiness, connections, rates, lag, memory, breakers. */
  async nodes(): Promise<AdminNode[]> {
    return (await this.#call<{ nodes: AdminNode[] }>('GET', '/nodes')).nodes;
  }

  // Users

  /** Every account, people and bots, disabled and deleted ones too, by username, a page at a time. */
  users(query: AdminUserQuery = {}): Promise<AdminUserPage> {
    return this.#call('GET', '/users', { query: searched(query) });
  }

  async user(userId: string): Promise<AdminUser> {
    return (await this.#call<{ user: AdminUser }>('GET', `/users/${enc(userId)}`)).user;
  }

  /** Answers the account and, when the server made the password, that password (shown this once). */
  createUser(input: AdminCreateUserInput): Promise<{ user: AdminUser; password: string | null }> {
    return this.#call('POST', '/users', { body: input });
  }

  /** Disabling ends every session of the user at once, on every node; their bots are refused with them. */
  async setDisabled(userId: string, disabled: boolean): Promise<AdminUser> {
    return (await this.#call<{ user: AdminUser }>('POST', `/users/${enc(userId)}/${disabled ? 'disable' : 'enable'}`)).user;
  }

  /** Erases the account (its messages stay, under "Deleted user"); a repeated delete changes nothing. */
  async deleteUser(userId: string): Promise<void> {
    await this.#call<void>('DELETE', `/users/${enc(userId)}`);
  }

  /** Without `password`, the server makes one and answers it, this once. Every session of the user ends. */
  resetPassword(userId: string, password?: string): Promise<{ password: string | null; sessionsRevoked: number }> {
    return this.#call('POST', `/users/${enc(userId)}/password`, { body: password === undefined ? {} : { password } });
  }

  /** Answers how many sessions (or a bot's tokens) ended. */
  async revokeSessions(userId: string): Promise<number> {
    return (await this.#call<{ sessionsRevoked: number }>('DELETE', `/users/${enc(userId)}/sessions`)).sessionsRevoked;
  }

  /** `admin` grants the server role, null takes it away. */
  async setRole(userId: string, role: 'admin' | null): Promise<AdminUser> {
    return (await this.#call<{ user: AdminUser }>('PUT', `/users/${enc(userId)}/role`, { body: { role } })).user;
  }

  // Rooms

  /** Every room, private and direct-message ones too, newest first, with member counts. */
  rooms(query: AdminRoomQuery = {}): Promise<AdminRoomPage> {
    return this.#call('GET', '/rooms', { query: searched(query) });
  }

  /** Archives or opens any room, as its owner would; the room's stream names the administrator. */
  async setArchived(roomId: string, archived: boolean): Promise<Room> {
    return (await this.#call<{ room: Room }>('POST', `/rooms/${enc(roomId)}/${archived ? 'archive' : 'unarchive'}`)).room;
  }

  // Jobs

  async jobCounts(): Promise<AdminQueueCounts[]> {
    return (await this.#call<{ queues: AdminQueueCounts[] }>('GET', '/jobs')).queues;
  }

  /** A queue's dead jobs with their last error, up to `limit` (1 to 1000; the server's default is 100). */
  async deadJobs(queue: string, limit?: number): Promise<AdminDeadJob[]> {
    return (await this.#call<{ jobs: AdminDeadJob[] }>('GET', `/jobs/${enc(queue)}/dead`, { query: { limit } })).jobs;
  }

  /** The job is ready again, its attempts renewed. */
  async retryDeadJob(queue: string, jobId: string): Promise<void> {
    await this.#call<void>('POST', `/jobs/${enc(queue)}/dead/${enc(jobId)}/retry`);
  }

  /** One dead job, or without `jobId` every dead job of the queue: answers how many went. */
  async purgeDeadJobs(queue: string, jobId?: string): Promise<number> {
    const path = jobId === undefined ? `/jobs/${enc(queue)}/dead` : `/jobs/${enc(queue)}/dead/${enc(jobId)}`;
    return (await this.#call<{ purged: number }>('DELETE', path)).purged;
  }

  // The server's audit log

  /** Every administrator's action, through the API or at the console, newest first. */
  audit(query: { before?: number; limit?: number } = {}): Promise<ServerAuditPage> {
    return this.#call('GET', '/audit', { query: { ...query } });
  }

  #call<T>(method: Method, path: string, options?: { body?: unknown; query?: Record<string, string | number | undefined> }): Promise<T> {
    return this.#request<T>(method, `/admin${path}`, options);
  }
}

/** The query, with an empty search and cursor left out (an empty search is everything). */
function searched(query: { q?: string; after?: string; state?: string; limit?: number }): Record<string, string | number | undefined> {
  return { ...query, q: query.q === '' ? undefined : query.q, after: query.after === '' ? undefined : query.after };
}

/** True for the refusal every admin call gives someone who is not a server administrator. */
export function isServerRoleRefusal(error: unknown): boolean {
  return error instanceof ParleyError && error.code === 'forbidden' && error.details?.reason === 'server_role';
}
