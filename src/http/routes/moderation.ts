/** Moderation and room settings: rename, topic, archive; kick, ban, mute, roles; bans, mutes and the audit log. */
import { auditView, restrictionView, roomView } from '../../domain/views.js';
import { responses } from '../../protocol/responses.js';
import type { HttpContext } from '../context.js';
import type { RestApi } from '../route.js';

const RANKS =
  'Admins and the owner only (`forbidden`, reason `role`), each acting on members of a lower rank (owner > admin > member; reason `rank`, also for oneself). ' +
  'Not in direct-message rooms (reason `dm`).';

export function moderationRoutes(api: RestApi, ctx: HttpContext): void {
  const { moderation } = ctx.services;
  const { rest } = ctx.schemas;
  const tag = 'Moderation';

  api.route({
    method: 'PATCH',
    path: '/api/v1/rooms/:roomId',
    operationId: 'updateRoom',
    tag,
    summary: 'Rename a room or set its topic',
    description: `${RANKS} Members see a \`room_updated\` event naming what changed; a change to what it is already changes nothing.`,
    auth: true,
    params: rest.roomParams,
    body: rest.updateRoom,
    bodyName: 'room settings',
    status: 200,
    response: responses.RoomResult,
    errors: ['not_found'],
    handler: async ({ session, params, body }) => ({ room: roomView(await moderation.update(session.user, params.roomId, body)) }),
  });

  for (const archived of [true, false]) {
    api.route({
      method: 'POST',
      path: `/api/v1/rooms/:roomId/${archived ? 'archive' : 'unarchive'}`,
      operationId: archived ? 'archiveRoom' : 'unarchiveRoom',
      tag,
      summary: archived ? 'Archive a room' : 'Open an archived room again',
      description: archived
        ? `${RANKS} An archived room stays readable; sends, edits, reactions and joins are \`forbidden\` (reason \`archived\`). A \`room_updated\` event with \`changes.archived\`.`
        : `${RANKS} A \`room_updated\` event with \`changes.archived: false\`.`,
      auth: true,
      params: rest.roomParams,
      status: 200,
      response: responses.RoomResult,
      errors: ['not_found'],
      handler: async ({ session, params }) => ({ room: roomView(await moderation.setArchived(session.user, params.roomId, archived)) }),
    });
  }

  api.route({
    method: 'POST',
    path: '/api/v1/rooms/:roomId/members/:userId/kick',
    operationId: 'kickMember',
    tag,
    summary: 'Remove a member from a room',
    description: `${RANKS} A \`member_kicked\` event; the member's subscriptions end at it on every node, and they may join (or be added) again. Someone who is not a member is \`not_found\`.`,
    auth: true,
    params: rest.memberParams,
    body: rest.kick,
    bodyName: 'kick',
    status: 204,
    errors: ['not_found'],
    handler: async ({ session, params, body }) => {
      await moderation.kick(session.user, params.roomId, params.userId, body?.reason);
    },
  });

  api.route({
    method: 'PUT',
    path: '/api/v1/rooms/:roomId/bans/:userId',
    operationId: 'banUser',
    tag,
    summary: 'Ban a user from a room',
    description:
      `${RANKS} For \`durationS\` seconds, or for ever. A \`member_banned\` event; a member is removed at once (their subscriptions end on every node), ` +
      'and joining or being added is `forbidden` (reason `banned`) until it ends. Banning again replaces the ban. A user who is not a member may be banned too.',
    auth: true,
    params: rest.memberParams,
    body: rest.restrict,
    bodyName: 'ban',
    status: 204,
    errors: ['not_found'],
    handler: async ({ session, params, body }) => {
      await moderation.ban(session.user, params.roomId, params.userId, body ?? {});
    },
  });

  api.route({
    method: 'DELETE',
    path: '/api/v1/rooms/:roomId/bans/:userId',
    operationId: 'unbanUser',
    tag,
    summary: 'Lift a ban',
    description: `${RANKS} A \`member_unbanned\` event; lifting a ban that is not in force changes nothing.`,
    auth: true,
    params: rest.memberParams,
    status: 204,
    errors: ['not_found'],
    handler: async ({ session, params }) => {
      await moderation.unban(session.user, params.roomId, params.userId);
    },
  });

  api.route({
    method: 'PUT',
    path: '/api/v1/rooms/:roomId/mutes/:userId',
    operationId: 'muteMember',
    tag,
    summary: 'Mute a member',
    description: `${RANKS} For \`durationS\` seconds, or for ever. A \`member_muted\` event; the member still reads, but sending and reacting are \`forbidden\` (reason \`muted\`), also after leaving and joining again. Muting again replaces the mute.`,
    auth: true,
    params: rest.memberParams,
    body: rest.restrict,
    bodyName: 'mute',
    status: 204,
    errors: ['not_found'],
    handler: async ({ session, params, body }) => {
      await moderation.mute(session.user, params.roomId, params.userId, body ?? {});
    },
  });

  api.route({
    method: 'DELETE',
    path: '/api/v1/rooms/:roomId/mutes/:userId',
    operationId: 'unmuteMember',
    tag,
    summary: 'Lift a mute',
    description: `${RANKS} A \`member_unmuted\` event; lifting a mute that is not in force changes nothing.`,
    auth: true,
    params: rest.memberParams,
    status: 204,
    errors: ['not_found'],
    handler: async ({ session, params }) => {
      await moderation.unmute(session.user, params.roomId, params.userId);
    },
  });

  api.route({
    method: 'PUT',
    path: '/api/v1/rooms/:roomId/members/:userId/role',
    operationId: 'setMemberRole',
    tag,
    summary: "Change a member's role",
    description: `${RANKS} Only roles below one's own are given or taken, so only the owner makes or unmakes admins. A \`member_role_changed\` event; the role they have already changes nothing.`,
    auth: true,
    params: rest.memberParams,
    body: rest.setRole,
    bodyName: 'role',
    status: 204,
    errors: ['not_found'],
    handler: async ({ session, params, body }) => {
      await moderation.setRole(session.user, params.roomId, params.userId, body.role);
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/rooms/:roomId/restrictions',
    operationId: 'listRestrictions',
    tag,
    summary: "A room's bans and mutes in force",
    description: 'Admins and the owner only (`forbidden`, reason `role`); not in direct-message rooms (reason `dm`).',
    auth: true,
    params: rest.roomParams,
    status: 200,
    response: responses.Restrictions,
    errors: ['not_found', 'forbidden'],
    handler: async ({ session, params }) => ({ restrictions: (await moderation.restrictions(session.user, params.roomId)).map(restrictionView) }),
  });

  api.route({
    method: 'GET',
    path: '/api/v1/rooms/:roomId/audit',
    operationId: 'listAudit',
    tag,
    summary: "A room's audit log",
    description: 'Every moderation action, newest first, paged by `before` (the `nextBefore` of the previous page). Admins and the owner only (`forbidden`, reason `role`).',
    auth: true,
    params: rest.roomParams,
    query: rest.auditQuery,
    status: 200,
    response: responses.AuditPage,
    errors: ['not_found', 'forbidden'],
    handler: async ({ session, params, query }) => {
      const page = await moderation.audit(session.user, params.roomId, query.before, query.limit);
      return { entries: page.entries.map(auditView), nextBefore: page.nextBefore };
    },
  });
}
