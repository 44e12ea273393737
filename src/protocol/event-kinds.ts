/**
 * The kinds of room stream events, in one list: the wire types, the validators, the bus codec
 * and webhook filters all read it. Plain data, so the client SDK can import it.
 */
/** Moderation and room settings: an admin's or the owner's actions, each in the room's audit log too. */
export const MODERATION_KINDS = [
  'room_updated',
  'member_kicked',
  'member_banned',
  'member_unbanned',
  'member_muted',
  'member_unmuted',
  'member_role_changed',
] as const;

export const EVENT_KINDS = [
  'message',
  'edit',
  'delete',
  'member_joined',
  'member_left',
  'reaction_added',
  'reaction_removed',
  ...MODERATION_KINDS,
] as const;
