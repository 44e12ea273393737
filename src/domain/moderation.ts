/**
 * Moderation and room settings: rename a room, set its topic, archive it; kick, ban, mute and
 * give roles to members; read the room's bans, mutes and audit log. Only admins and the owner
 * act, each on lower ranks (src/domain/moderation-rules.ts); direct-message rooms have none.
 *
 * Every action is a stream event of the room, committed with its audit entry by the store in
 * one transaction, then handed to the stream writer: membership caches of every node drop the
 * member at once, and a kicked or banned member's subscriptions end at that event on every node.
 */
import { notFound, refused } from '../errors.js';
import type { ModerationAction, Store } from '../ports.js';
import type { Access } from './access.js';
import type { Actor } from './actor.js';
import type { StreamWriter } from './stream-writer.js';
import type { AuditRecord, RestrictionRecord, RoomRecord } from './types.js';

export interface RestrictionInput {
  /** Seconds it lasts; for ever when absent. */
  durationS?: number | undefined;
  reason?: string | undefined;
}

export class Moderation {
  readonly #store: Store;
  readonly #access: Access;
  readonly #writer: StreamWriter;

  constructor(store: Store, access: Access, writer: StreamWriter) {
    this.#store = store;
    this.#access = access;
    this.#writer = writer;
  }

  /** Renames the room or sets its topic (admins and the owner). */
  update(actor: Actor, roomId: string, settings: { name?: string | undefined; topic?: string | undefined }): Promise<RoomRecord> {
    return this.#act(actor, roomId, {
      kind: 'room_updated',
      ...(settings.name !== undefined ? { name: settings.name } : {}),
      ...(settings.topic !== undefined ? { topic: settings.topic } : {}),
    });
  }

  /** Archives the room (readable, refusing sends, edits, reactions and joins) or opens it again. */
  setArchived(actor: Actor, roomId: string, archived: boolean): Promise<RoomRecord> {
    return this.#act(actor, roomId, { kind: 'room_updated', archived });
  }

  /**
   * Archives the room or opens it again as a server administrator (the caller checked the role):
   * as its owner would, member or not. The event names the administrator as its actor.
   */
  async setArchivedAsServerAdmin(adminId: string, roomId: string, archived: boolean): Promise<RoomRecord> {
    const outcome = await this.#store.moderate({ roomId, actorId: adminId, at: Date.now(), action: { kind: 'room_updated', archived }, asServerAdmin: true });
    if (outcome.status === 'refused') throw outcome.code === 'not_found' ? notFound('No such room.') : refused(outcome.reason);
    if (outcome.status === 'appended') this.#writer.committed(outcome.event);
    return outcome.room;
  }

  async kick(actor: Actor, roomId: string, userId: string, reason: string | undefined): Promise<void> {
    await this.#act(actor, roomId, { kind: 'member_kicked', memberId: userId, reason: reason ?? null });
  }

  /** Bans `userId` (removing them when a member) until the duration ends, or for ever. */
  async ban(actor: Actor, roomId: string, userId: string, input: RestrictionInput): Promise<void> {
    const at = Date.now();
    await this.#act(actor, roomId, { kind: 'member_banned', memberId: userId, until: untilOf(at, input), reason: input.reason ?? null }, at);
  }

  async unban(actor: Actor, roomId: string, userId: string): Promise<void> {
    await this.#act(actor, roomId, { kind: 'member_unbanned', memberId: userId });
  }

  /** Mutes a member (they read, but cannot send or react) until the duration ends, or for ever. */
  async mute(actor: Actor, roomId: string, userId: string, input: RestrictionInput): Promise<void> {
    const at = Date.now();
    await this.#act(actor, roomId, { kind: 'member_muted', memberId: userId, until: untilOf(at, input), reason: input.reason ?? null }, at);
  }

  async unmute(actor: Actor, roomId: string, userId: string): Promise<void> {
    await this.#act(actor, roomId, { kind: 'member_unmuted', memberId: userId });
  }

  async setRole(actor: Actor, roomId: string, userId: string, role: 'admin' | 'member'): Promise<void> {
    await this.#act(actor, roomId, { kind: 'member_role_changed', memberId: userId, role });
  }

  /** The bans and mutes in force (admins and the owner). */
  async restrictions(actor: Actor, roomId: string): Promise<RestrictionRecord[]> {
    await this.#requireModerator(actor, roomId);
    return this.#store.listRestrictions(roomId, Date.now());
  }

  /** A page of the audit log, newest first, and the cursor of the next (admins and the owner). */
  async audit(actor: Actor, roomId: string, before: number | undefined, limit: number): Promise<{ entries: AuditRecord[]; nextBefore: number | null }> {
    await this.#requireModerator(actor, roomId);
    // One more than asked tells whether an older page exists.
    const entries = await this.#store.listAudit(roomId, before, limit + 1);
    const page = entries.slice(0, limit);
    return { entries: page, nextBefore: entries.length > limit ? (page.at(-1)?.seq ?? null) : null };
  }

  /**
   * Authorization first (a member, of a room that is no DM, of a role that moderates), from the
   * cached membership; the store checks again, ranks included, inside the action's transaction.
   */
  async #requireModerator(actor: Actor, roomId: string): Promise<void> {
    const role = await this.#access.requireMember(roomId, actor.id);
    if ((await this.#access.room(roomId)).visibility === 'dm') throw refused('dm');
    if (role === 'member') throw refused('role', 'Only the room\'s admins and owner moderate it.');
  }

  async #act(actor: Actor, roomId: string, action: ModerationAction, at = Date.now()): Promise<RoomRecord> {
    await this.#requireModerator(actor, roomId);
    const outcome = await this.#store.moderate({ roomId, actorId: actor.id, at, action });
    if (outcome.status === 'refused') throw outcome.code === 'not_found' ? notFound(action.kind === 'room_updated' ? 'No such room.' : 'No such member of this room.') : refused(outcome.reason);
    if (outcome.status === 'appended') this.#writer.committed(outcome.event);
    return outcome.room;
  }
}

const untilOf = (at: number, input: RestrictionInput): number | null => (input.durationS === undefined ? null : at + input.durationS * 1000);
