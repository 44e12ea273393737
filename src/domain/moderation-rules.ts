/**
 * The rules of moderation and room settings. Pure: the store locks the room, reads the state
 * these rules need (`ModerationState`) and writes what they decide (`ModerationPlan`) in the
 * same transaction (src/adapters/sql/moderation.ts), so a decision is never taken on a state
 * another action has changed since.
 *
 * Ranks are owner > admin > member. An actor acts only on members of a lower rank, and grants
 * only roles below its own (so only the owner makes or unmakes admins). Direct-message rooms
 * have no moderation. A user who is not a member has the rank of a member (they may be banned
 * before they join).
 */
import type { ModerationAction } from '../ports.js';
import { MODERATION_KINDS } from '../protocol/event-kinds.js';
import type { EventKind, ForbiddenReason, ModerationDetails, ModerationKind, Role, Visibility } from './types.js';

export const RANK: Readonly<Record<Role, number>> = { member: 0, admin: 1, owner: 2 };

/** Whether `actor` ranks above `subject`. */
export const outranks = (actor: Role, subject: Role): boolean => RANK[actor] > RANK[subject];

/** A ban or mute ending at `until` (null: never) is in force at `at`. */
export const inForce = (until: number | null, at: number): boolean => until === null || until > at;

/** Events after which the member they name is no longer in the room. */
export const endsMembership = (kind: EventKind): boolean => kind === 'member_left' || kind === 'member_kicked' || kind === 'member_banned';

export const isModeration = (kind: EventKind): kind is ModerationKind => (MODERATION_KINDS as readonly string[]).includes(kind);

/** What the rules read, inside the action's transaction (the room locked). */
export interface ModerationState {
  room: { visibility: Visibility; name: string; topic: string; archived: boolean };
  actorRole: Role | null;
  /** For actions on a member: that user, or null when there is no such user. */
  subject: { role: Role | null; banned: boolean; muted: boolean } | null;
}

export type ModerationPlan =
  | { status: 'refused'; code: 'not_found' }
  | { status: 'refused'; code: 'forbidden'; reason: ForbiddenReason }
  | { status: 'noop' }
  | {
      status: 'apply';
      details: ModerationDetails;
      /** The member's row is deleted (kicked, or banned while a member). */
      removeMember: boolean;
      /** The member's new role. */
      role: Role | null;
      /** A ban or mute to put in force (`until` and `reason`) or to lift (null). */
      restriction: { kind: 'ban' | 'mute'; set: { until: number | null; reason: string | null } | null } | null;
      /** The room's new settings. */
      room: { name?: string; topic?: string; archived?: boolean } | null;
    };

const refused = (reason: ForbiddenReason): ModerationPlan => ({ status: 'refused', code: 'forbidden', reason });
const apply = (p: Partial<Omit<Extract<ModerationPlan, { status: 'apply' }>, 'status'>>): ModerationPlan => ({
  status: 'apply',
  details: {},
  removeMember: false,
  role: null,
  restriction: null,
  room: null,
  ...p,
});

export function planModeration(state: ModerationState, actorId: string, action: ModerationAction): ModerationPlan {
  const actor = state.actorRole;
  if (actor === null) return refused('not_member');
  if (state.room.visibility === 'dm') return refused('dm');
  if (actor === 'member') return refused('role');

  if (action.kind === 'room_updated') {
    const room: { name?: string; topic?: string; archived?: boolean } = {};
    if (action.name !== undefined && action.name !== state.room.name) room.name = action.name;
    if (action.topic !== undefined && action.topic !== state.room.topic) room.topic = action.topic;
    if (action.archived !== undefined && action.archived !== state.room.archived) room.archived = action.archived;
    if (Object.keys(room).length === 0) return { status: 'noop' };
    return apply({ details: { ...room }, room });
  }

  const subject = state.subject;
  if (subject === null) return { status: 'refused', code: 'not_found' };
  // Oneself is of one's own rank: nobody moderates themselves.
  if (action.memberId === actorId || !outranks(actor, subject.role ?? 'member')) return refused('rank');
  switch (action.kind) {
    case 'member_kicked':
      if (subject.role === null) return { status: 'refused', code: 'not_found' };
      return apply({ details: { reason: action.reason }, removeMember: true });
    case 'member_banned':
      return apply({
        details: { until: action.until, reason: action.reason },
        removeMember: subject.role !== null,
        restriction: { kind: 'ban', set: { until: action.until, reason: action.reason } },
      });
    case 'member_unbanned':
      return subject.banned ? apply({ restriction: { kind: 'ban', set: null } }) : { status: 'noop' };
    case 'member_muted':
      if (subject.role === null) return { status: 'refused', code: 'not_found' };
      return apply({ details: { until: action.until, reason: action.reason }, restriction: { kind: 'mute', set: { until: action.until, reason: action.reason } } });
    case 'member_unmuted':
      return subject.muted ? apply({ restriction: { kind: 'mute', set: null } }) : { status: 'noop' };
    case 'member_role_changed':
      if (subject.role === null) return { status: 'refused', code: 'not_found' };
      if (!outranks(actor, action.role)) return refused('rank');
      if (subject.role === action.role) return { status: 'noop' };
      return apply({ details: { role: action.role }, role: action.role });
  }
}
