/** The pure rules of moderation (src/domain/moderation-rules.ts): one test per rule. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inForce, type ModerationState, outranks, planModeration } from '../../src/domain/moderation-rules.js';
import type { Role } from '../../src/domain/types.js';
import type { ModerationAction } from '../../src/ports.js';

const state = (actorRole: Role | null, subjectRole: Role | null = 'member', extra: Partial<ModerationState> = {}): ModerationState => ({
  room: { visibility: 'public', name: 'Room', topic: '', archived: false },
  actorRole,
  subject: { role: subjectRole, banned: false, muted: false },
  ...extra,
});
const outcome = (s: ModerationState, action: ModerationAction, actorId = 'actor'): string => {
  const plan = planModeration(s, actorId, action);
  return plan.status === 'refused' ? (plan.code === 'forbidden' ? `forbidden:${plan.reason}` : 'not_found') : plan.status;
};
const kick: ModerationAction = { kind: 'member_kicked', memberId: 'm', reason: null };

describe('moderation rules', () => {
  it('ranks: owner > admin > member, strictly', () => {
    assert.equal(outranks('owner', 'admin'), true);
    assert.equal(outranks('admin', 'member'), true);
    assert.equal(outranks('admin', 'admin'), false);
    assert.equal(outranks('member', 'owner'), false);
  });

  it('only admins and the owner act, never in a DM, never as non-members', () => {
    assert.equal(outcome(state('member'), kick), 'forbidden:role');
    assert.equal(outcome(state(null), kick), 'forbidden:not_member');
    assert.equal(outcome(state('owner', 'member', { room: { visibility: 'dm', name: 'dm', topic: '', archived: false } }), kick), 'forbidden:dm');
    assert.equal(outcome(state('admin'), kick), 'apply');
  });

  it('an actor acts only on lower ranks, and never on themselves', () => {
    assert.equal(outcome(state('admin', 'admin'), kick), 'forbidden:rank');
    assert.equal(outcome(state('admin', 'owner'), kick), 'forbidden:rank');
    assert.equal(outcome(state('owner', 'admin'), kick), 'apply');
    assert.equal(outcome(state('owner', 'owner'), { ...kick, memberId: 'actor' }), 'forbidden:rank');
  });

  it('roles are given and taken below one\'s own rank: only the owner makes admins', () => {
    const makeAdmin: ModerationAction = { kind: 'member_role_changed', memberId: 'm', role: 'admin' };
    assert.equal(outcome(state('admin'), makeAdmin), 'forbidden:rank');
    assert.equal(outcome(state('owner'), makeAdmin), 'apply');
    assert.equal(outcome(state('owner', 'admin'), { ...makeAdmin, role: 'member' }), 'apply');
    assert.equal(outcome(state('owner', 'admin'), makeAdmin), 'noop');
    assert.equal(outcome(state('owner', null), makeAdmin), 'not_found');
  });

  it('kicks and mutes need a member; bans do not, and remove a member', () => {
    assert.equal(outcome(state('admin', null), kick), 'not_found');
    assert.equal(outcome(state('admin', null), { kind: 'member_muted', memberId: 'm', until: null, reason: null }), 'not_found');
    const ban: ModerationAction = { kind: 'member_banned', memberId: 'm', until: 5, reason: 'x' };
    const outsider = planModeration(state('admin', null), 'actor', ban);
    assert.ok(outsider.status === 'apply' && !outsider.removeMember);
    const member = planModeration(state('admin'), 'actor', ban);
    assert.ok(member.status === 'apply' && member.removeMember);
    assert.deepEqual(member.restriction, { kind: 'ban', set: { until: 5, reason: 'x' } });
    assert.deepEqual(member.details, { until: 5, reason: 'x' });
    assert.equal(outcome({ ...state('admin'), subject: null }, ban), 'not_found');
  });

  it('lifting what is not in force, and settings as they are, change nothing', () => {
    assert.equal(outcome(state('admin'), { kind: 'member_unbanned', memberId: 'm' }), 'noop');
    assert.equal(outcome(state('admin'), { kind: 'member_unmuted', memberId: 'm' }), 'noop');
    assert.equal(outcome({ ...state('admin'), subject: { role: 'member', banned: false, muted: true } }, { kind: 'member_unmuted', memberId: 'm' }), 'apply');
    assert.equal(outcome(state('admin'), { kind: 'room_updated', name: 'Room', archived: false }), 'noop');
    const renamed = planModeration(state('admin'), 'actor', { kind: 'room_updated', name: 'New', topic: '' });
    assert.ok(renamed.status === 'apply');
    assert.deepEqual(renamed.details, { name: 'New' });
  });

  it('a restriction is in force until its end; without one, for ever', () => {
    assert.equal(inForce(null, 10), true);
    assert.equal(inForce(11, 10), true);
    assert.equal(inForce(10, 10), false);
  });
});
