/** Rooms, membership and direct messages. */
import type { FastifyInstance } from 'fastify';
import { memberRoomView, roomView, userView } from '../../domain/views.js';
import { parse } from '../../protocol/schemas.js';
import { type HttpContext, authenticate } from '../context.js';

export function roomRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { rooms } = ctx.services;
  const { rest } = ctx.schemas;
  const roomId = (params: unknown) => parse(rest.roomParams, params, 'path').roomId;

  app.post('/api/v1/rooms', async (request, reply) => {
    const { user } = await authenticate(ctx, request);
    const input = parse(rest.createRoom, request.body, 'room');
    const room = await rooms.create(user.id, input);
    return reply.status(201).send({ room: roomView(room) });
  });

  app.get('/api/v1/rooms', async (request) => {
    const { user } = await authenticate(ctx, request);
    return { rooms: (await rooms.listMine(user.id)).map(memberRoomView) };
  });

  app.get('/api/v1/rooms/public', async (request) => {
    await authenticate(ctx, request);
    const query = parse(rest.publicRoomsQuery, request.query, 'query');
    return { rooms: (await rooms.listPublic(query.q, query.limit)).map(roomView) };
  });

  app.get('/api/v1/rooms/:roomId', async (request) => {
    const { user } = await authenticate(ctx, request);
    return { room: roomView(await rooms.get(user.id, roomId(request.params))) };
  });

  app.post('/api/v1/rooms/:roomId/join', async (request) => {
    const { user } = await authenticate(ctx, request);
    return { room: roomView(await rooms.join(user.id, roomId(request.params))) };
  });

  app.post('/api/v1/rooms/:roomId/leave', async (request, reply) => {
    const { user } = await authenticate(ctx, request);
    await rooms.leave(user.id, roomId(request.params));
    return reply.status(204).send();
  });

  app.post('/api/v1/rooms/:roomId/members', async (request) => {
    const { user } = await authenticate(ctx, request);
    const id = roomId(request.params);
    const input = parse(rest.username, request.body, 'member');
    const added = await rooms.addMember(user.id, id, input.username);
    return { user: userView(added) };
  });

  app.get('/api/v1/rooms/:roomId/members', async (request) => {
    const { user } = await authenticate(ctx, request);
    const members = await rooms.members(user.id, roomId(request.params));
    return { members: members.map((m) => ({ user: userView(m.user), role: m.member.role, online: m.online })) };
  });

  app.post('/api/v1/dms', async (request) => {
    const { user } = await authenticate(ctx, request);
    const input = parse(rest.username, request.body, 'direct message');
    return { room: roomView(await rooms.openDm(user.id, input.username)) };
  });
}
