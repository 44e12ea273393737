/** Rooms, membership and direct messages. */
import { memberRoomView, profileView, roomView, userView } from '../../domain/views.js';
import { responses } from '../../protocol/responses.js';
import type { HttpContext } from '../context.js';
import type { RestApi } from '../route.js';

export function roomRoutes(api: RestApi, ctx: HttpContext): void {
  const { rooms } = ctx.services;
  const { rest } = ctx.schemas;
  const tag = 'Rooms';

  api.route({
    method: 'POST',
    path: '/api/v1/rooms',
    operationId: 'createRoom',
    tag,
    summary: 'Create a room',
    description: 'The creator is its owner and first member: their `member_joined` is seq 1 of its stream. A bot cannot create rooms (`forbidden`).',
    auth: true,
    body: rest.createRoom,
    bodyName: 'room',
    status: 201,
    response: responses.RoomResult,
    errors: [],
    handler: async ({ session, body }) => ({ room: roomView(await rooms.create(session.user, body)) }),
  });

  api.route({
    method: 'GET',
    path: '/api/v1/rooms',
    operationId: 'listMyRooms',
    tag,
    summary: 'The rooms I am a member of',
    description: 'By latest activity, each with my read marker and unread count.',
    auth: true,
    status: 200,
    response: responses.MyRooms,
    errors: [],
    handler: async ({ session }) => ({ rooms: (await rooms.listMine(session.user.id)).map(memberRoomView) }),
  });

  api.route({
    method: 'GET',
    path: '/api/v1/rooms/public',
    operationId: 'listPublicRooms',
    tag,
    summary: 'Discover public rooms',
    description:
      'By name. A `q` of 3 characters or more matches any part of the name, case-insensitively; one of 1 or 2 characters matches the start of the name. ' +
      'Not for bots (`forbidden`): a bot acts only in the rooms a member added it to.',
    auth: true,
    query: rest.publicRoomsQuery,
    status: 200,
    response: responses.PublicRooms,
    errors: ['forbidden'],
    handler: async ({ session, query }) => ({ rooms: (await rooms.listPublic(session.user, query.q, query.limit)).map(roomView) }),
  });

  api.route({
    method: 'GET',
    path: '/api/v1/rooms/:roomId',
    operationId: 'getRoom',
    tag,
    summary: 'A room',
    description:
      'A public room to anyone; a private room or DM to its members only (to anyone else it does not exist: 404, not 403). ' +
      'A bot sees only the rooms it is in: another public room is `forbidden` to it.',
    auth: true,
    params: rest.roomParams,
    status: 200,
    response: responses.RoomResult,
    errors: ['not_found', 'forbidden'],
    handler: async ({ session, params }) => ({ room: roomView(await rooms.get(session.user, params.roomId)) }),
  });

  api.route({
    method: 'POST',
    path: '/api/v1/rooms/:roomId/join',
    operationId: 'joinRoom',
    tag,
    summary: 'Join a public room',
    description:
      'Joining a room one is in already changes nothing. Private rooms and DMs are `not_found`: a member adds you instead. A bot cannot join rooms (`forbidden`): a member adds it.',
    auth: true,
    params: rest.roomParams,
    status: 200,
    response: responses.RoomResult,
    errors: ['not_found'],
    handler: async ({ session, params }) => ({ room: roomView(await rooms.join(session.user, params.roomId)) }),
  });

  api.route({
    method: 'POST',
    path: '/api/v1/rooms/:roomId/leave',
    operationId: 'leaveRoom',
    tag,
    summary: 'Leave a room',
    description: 'A DM cannot be left (`conflict`).',
    auth: true,
    params: rest.roomParams,
    status: 204,
    errors: ['not_found', 'forbidden', 'conflict'],
    handler: async ({ session, params }) => {
      await rooms.leave(session.user.id, params.roomId);
    },
  });

  api.route({
    method: 'POST',
    path: '/api/v1/rooms/:roomId/members',
    operationId: 'addMember',
    tag,
    summary: 'Add a user to a room',
    description:
      'Any member may add someone (a person or a bot); adding a member who is in already changes nothing. DMs have exactly their two people (`forbidden`). ' +
      'A bot cannot add members (`forbidden`); a deleted bot is `not_found`.',
    auth: true,
    params: rest.roomParams,
    body: rest.username,
    bodyName: 'member',
    status: 200,
    response: responses.UserResult,
    errors: ['not_found', 'forbidden'],
    handler: async ({ session, params, body }) => ({ user: userView(await rooms.addMember(session.user, params.roomId, body.username)) }),
  });

  api.route({
    method: 'GET',
    path: '/api/v1/rooms/:roomId/members',
    operationId: 'listMembers',
    tag,
    summary: 'The members of a room',
    description:
      'Members see them in any room of theirs, people in any public room too; a bot only in its rooms (`forbidden` for another public room). ' +
      'In join order, a page at a time (`limit`, default 500; `next` is the `after` of the following page), each with their role, profile and whether they are online now. ' +
      'Follow `presence` and `user_updated` events to keep the list live.',
    auth: true,
    params: rest.roomParams,
    query: rest.membersQuery,
    status: 200,
    response: responses.Members,
    errors: ['not_found', 'forbidden'],
    handler: async ({ session, params, query }) => {
      const page = await rooms.members(session.user, params.roomId, query);
      const now = Date.now();
      return {
        members: page.members.map((m) => ({
          user: profileView(m.user, now),
          role: m.member.role,
          online: m.online,
          ...(m.muted === undefined ? {} : { mutedUntil: m.muted.until === null ? null : new Date(m.muted.until).toISOString() }),
        })),
        next: page.next,
      };
    },
  });

  api.route({
    method: 'POST',
    path: '/api/v1/dms',
    operationId: 'openDm',
    tag,
    summary: 'The direct-message room with a user',
    description:
      'The one DM room of the caller and that user, created on first use. One\'s own username is `validation_failed`. ' +
      'Bots have no DMs (`forbidden`), neither opening one nor as the other user: add a bot to a room instead.',
    auth: true,
    body: rest.username,
    bodyName: 'direct message',
    status: 200,
    response: responses.RoomResult,
    errors: ['not_found'],
    handler: async ({ session, body }) => ({ room: roomView(await rooms.openDm(session.user, body.username)) }),
  });
}
