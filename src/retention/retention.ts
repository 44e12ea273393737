/**
 * Retention: messages older than a room's policy are deleted for good. A room's own policy
 * (set by its owner) or else the server's (RETENTION_DAYS); a room may be stricter than the
 * server, never more lenient. A repeatable job walks every room in bounded batches and
 * tombstones what is past its policy (store.purgeMessagesBefore): the text is gone from the
 * store, from search, and from history and replay; every node is told to forget what it keeps
 * of those messages in memory. The same pass deletes the server's audit entries older than
 * SERVER_AUDIT_RETENTION_DAYS, oldest first, in batches.
 */
import type { Access } from '../domain/access.js';
import { forbidden, validationFailed } from '../errors.js';
import type { Job, Store } from '../ports.js';

export const RETENTION_QUEUE = 'retention';
const DAY_MS = 86_400_000;
const MAX_DAYS = 36_500;
const ROOMS_PER_PAGE = 500;

export interface RetentionOptions {
  /** The server's policy, days; 0 keeps everything. */
  serverDays: number;
  /** How long the server's audit log is kept, days; 0 (the default) keeps it for ever. */
  serverAuditDays?: number;
  /** Messages examined per transaction. */
  batch: number;
  /** Told after messages of a room were tombstoned (forget them in memory, on every node). */
  onPurged(roomId: string, throughSeq: number): void;
  now?: () => number;
}

export interface RetentionPolicy {
  /** The room's own policy; null: the server's. */
  days: number | null;
  /** The server's; null: keep everything. */
  serverDays: number | null;
  /** What applies: null keeps everything. */
  effectiveDays: number | null;
}

export interface RetentionPass {
  rooms: number;
  tombstoned: number;
  /** The server's audit entries deleted. */
  auditPruned: number;
}

export class Retention {
  readonly #store: Store;
  readonly #access: Access;
  readonly #options: RetentionOptions;
  readonly #now: () => number;

  constructor(store: Store, access: Access, options: RetentionOptions) {
    this.#store = store;
    this.#access = access;
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The room's policy, never longer than the server's (which may have been lowered since it was set). */
  effectiveDays(roomDays: number | null): number | null {
    const server = this.#options.serverDays > 0 ? this.#options.serverDays : null;
    if (roomDays === null) return server;
    return server === null ? roomDays : Math.min(roomDays, server);
  }

  async policy(userId: string, roomId: string): Promise<RetentionPolicy> {
    await this.#access.requireMember(roomId, userId);
    return this.#policy((await this.#store.roomRetention(roomId))?.retentionDays ?? null);
  }

  /** Sets the room's own policy (owners only). `days` null: the server's. */
  async setPolicy(userId: string, roomId: string, days: number | null): Promise<RetentionPolicy> {
    const role = await this.#access.requireMember(roomId, userId);
    if (role !== 'owner') throw forbidden('Only the room owner may set its retention.');
    if (days !== null) {
      if (!Number.isInteger(days) || days < 1 || days > MAX_DAYS) throw validationFailed(`days is an integer from 1 to ${MAX_DAYS}, or null for the server's policy.`);
      const server = this.#options.serverDays;
      if (server > 0 && days > server) throw validationFailed(`This server deletes messages after ${server} days; a room may keep them less long, not longer.`);
    }
    await this.#store.setRoomRetention(roomId, days);
    return this.#policy(days);
  }

  /** The job: one pass over the audit log, then over every room. Stops early (to run again next time) when the job is given up. */
  async run(job: Job): Promise<RetentionPass> {
    const pass: RetentionPass = { rooms: 0, tombstoned: 0, auditPruned: 0 };
    const now = this.#now();
    // The audit log first: a few indexed deletes, never starved by a long pass over the rooms.
    await this.#serverAudit(job, now, pass);
    await this.#rooms(job, now, pass);
    return pass;
  }

  async #rooms(job: Job, now: number, pass: RetentionPass): Promise<void> {
    let after = '';
    for (;;) {
      const rooms = await this.#store.listRetentionRooms(after, ROOMS_PER_PAGE);
      for (const room of rooms) {
        const days = this.effectiveDays(room.retentionDays);
        if (days === null || room.purgedSeq >= room.lastSeq) continue;
        const before = now - days * DAY_MS;
        let touched = false;
        for (;;) {
          if (job.signal.aborted) return;
          const result = await this.#store.purgeMessagesBefore(room.id, before, this.#options.batch);
          if (result.tombstoned > 0) {
            pass.tombstoned += result.tombstoned;
            touched = true;
            this.#options.onPurged(room.id, result.throughSeq);
          }
          if (!result.more) break;
        }
        if (touched) pass.rooms++;
      }
      const last = rooms.at(-1);
      if (last === undefined || rooms.length < ROOMS_PER_PAGE) return;
      after = last.id;
    }
  }

  async #serverAudit(job: Job, now: number, pass: RetentionPass): Promise<void> {
    const days = this.#options.serverAuditDays ?? 0;
    if (days === 0) return;
    const before = now - days * DAY_MS;
    for (;;) {
      if (job.signal.aborted) return;
      const pruned = await this.#store.pruneServerAudit(before, this.#options.batch);
      pass.auditPruned += pruned;
      if (pruned < this.#options.batch) return;
    }
  }

  #policy(days: number | null): RetentionPolicy {
    const server = this.#options.serverDays > 0 ? this.#options.serverDays : null;
    return { days, serverDays: server, effectiveDays: this.effectiveDays(days) };
  }
}

