/**
 * The server administrators' calls (/api/v1/admin/…), for the admin page. The SDK has none of
 * them, so they are made here as it makes its own: with the session cookie, JSON both ways (the
 * server refuses a cookie-authenticated POST that does not say so), bounded in time, and every
 * failure a ParleyError carrying the server's code, message and details when it sent them.
 * Everyone else gets `forbidden` with `details.reason: "server_role"`.
 */
import { type AdminDeadJob, type AdminNode, type AdminQueueCounts, type AdminRoom, type AdminUser, ParleyError, type Room, type ServerAuditEntry } from '../../client/index.js';

export type UserState = 'active' | 'disabled' | 'deleted' | 'bot';

// What the administration endpoints answer, as docs/protocol.md gives it (src/protocol/wire.ts).
export type { AdminRoom, AdminUser, ServerAuditEntry };
export type NodeStatus = AdminNode;
export type QueueCounts = AdminQueueCounts;
export type DeadJob = AdminDeadJob;

export interface Page<T> {
  items: T[];
  /** The cursor of the next page; null on the last. */
  next: string | null;
}

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
type Query = Record<string, string | number | undefined>;

/** Every call is given up after this long (`unavailable`). */
const TIMEOUT_MS = 10_000;
const enc = encodeURIComponent;

export class AdminApi {
  readonly #base: string;

  constructor(base: string = location.origin) {
    this.#base = base.replace(/\/+$/, '');
  }

  // The nodes

  async nodes(): Promise<NodeStatus[]> {
    return (await this.#call<{ nodes: NodeStatus[] }>('GET', '/nodes')).nodes;
  }

  // Users

  async users(query: { q?: string; state?: UserState; after?: string; limit: number }): Promise<Page<AdminUser>> {
    const page = await this.#call<{ users: AdminUser[]; next: string | null }>('GET', '/users', { query });
    return { items: page.users, next: page.next };
  }

  async user(userId: string): Promise<AdminUser> {
    return (await this.#call<{ user: AdminUser }>('GET', `/users/${enc(userId)}`)).user;
  }

  /** Without `password`, the server makes one and answers it, this once. */
  createUser(input: { username: string; displayName?: string; admin?: boolean }): Promise<{ user: AdminUser; password: string | null }> {
    return this.#call('POST', '/users', { body: input });
  }

  async setDisabled(userId: string, disabled: boolean): Promise<AdminUser> {
    return (await this.#call<{ user: AdminUser }>('POST', `/users/${enc(userId)}/${disabled ? 'disable' : 'enable'}`)).user;
  }

  async deleteUser(userId: string): Promise<void> {
    await this.#call<void>('DELETE', `/users/${enc(userId)}`);
  }

  /** A password made by the server (shown this once); their sessions end. */
  resetPassword(userId: string): Promise<{ password: string | null; sessionsRevoked: number }> {
    return this.#call('POST', `/users/${enc(userId)}/password`, { body: {} });
  }

  async revokeSessions(userId: string): Promise<number> {
    return (await this.#call<{ sessionsRevoked: number }>('DELETE', `/users/${enc(userId)}/sessions`)).sessionsRevoked;
  }

  async setRole(userId: string, role: 'admin' | null): Promise<AdminUser> {
    return (await this.#call<{ user: AdminUser }>('PUT', `/users/${enc(userId)}/role`, { body: { role } })).user;
  }

  // Rooms

  async rooms(query: { q?: string; after?: string; limit: number }): Promise<Page<AdminRoom>> {
    const page = await this.#call<{ rooms: AdminRoom[]; next: string | null }>('GET', '/rooms', { query });
    return { items: page.rooms, next: page.next };
  }

  async setArchived(roomId: string, archived: boolean): Promise<Room> {
    return (await this.#call<{ room: Room }>('POST', `/rooms/${enc(roomId)}/${archived ? 'archive' : 'unarchive'}`)).room;
  }

  // Jobs

  async jobCounts(): Promise<QueueCounts[]> {
    return (await this.#call<{ queues: QueueCounts[] }>('GET', '/jobs')).queues;
  }

  async deadJobs(queue: string, limit: number): Promise<DeadJob[]> {
    return (await this.#call<{ jobs: DeadJob[] }>('GET', `/jobs/${enc(queue)}/dead`, { query: { limit } })).jobs;
  }

  async retryDeadJob(queue: string, jobId: string): Promise<void> {
    await this.#call<void>('POST', `/jobs/${enc(queue)}/dead/${enc(jobId)}/retry`);
  }

  /** One dead job, or without `jobId` every dead job of the queue: answers how many went. */
  async purgeDeadJobs(queue: string, jobId?: string): Promise<number> {
    const path = jobId === undefined ? `/jobs/${enc(queue)}/dead` : `/jobs/${enc(queue)}/dead/${enc(jobId)}`;
    return (await this.#call<{ purged: number }>('DELETE', path)).purged;
  }

  // The server's audit log

  async audit(query: { before?: number; limit: number }): Promise<{ entries: ServerAuditEntry[]; nextBefore: number | null }> {
    return this.#call('GET', '/audit', { query });
  }

  async #call<T>(method: Method, path: string, options: { query?: Query; body?: unknown } = {}): Promise<T> {
    const what = `${method} /api/v1/admin${path}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    // Every POST says it is JSON, also without a body: the server refuses a cookie-authenticated one that does not.
    if (method === 'POST' || options.body !== undefined) headers['content-type'] = 'application/json';
    const init: RequestInit = { method, headers, credentials: 'same-origin', signal: AbortSignal.timeout(TIMEOUT_MS) };
    if (options.body !== undefined) init.body = JSON.stringify(options.body);
    let text: string;
    let response: Response;
    try {
      response = await fetch(`${this.#base}/api/v1/admin${path}${queryString(options.query)}`, init);
      text = await response.text();
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
      throw new ParleyError('unavailable', timedOut ? `${what} got no answer within ${TIMEOUT_MS} ms.` : `${what} failed: the server could not be reached.`, { cause: error });
    }
    let body: unknown;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch (error) {
        if (response.ok) throw new ParleyError('internal', `${what} answered with a body that is not JSON.`, { status: response.status, source: 'http', cause: error });
      }
    }
    if (!response.ok) {
      const wire = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
      throw ParleyError.fromWire(wire, 'http', response.status, response.headers.get('retry-after'));
    }
    return body as T;
  }
}

/** True for the refusal every admin call gives someone who is not a server administrator. */
export function notAdministrator(error: unknown): boolean {
  return error instanceof ParleyError && error.code === 'forbidden' && error.details?.reason === 'server_role';
}

function queryString(query: Query | undefined): string {
  if (query === undefined) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== '') params.set(key, String(value));
  const s = params.toString();
  return s === '' ? '' : `?${s}`;
}
