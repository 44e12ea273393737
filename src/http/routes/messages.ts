/** History, sending, editing, deleting, read markers and search. */
import type { FastifyInstance } from 'fastify';
import { messageView } from '../../domain/views.js';
import { validationFailed } from '../../errors.js';
import { parse } from '../../protocol/schemas.js';
import { type HttpContext, authenticate } from '../context.js';

export function messageRoutes(app: FastifyInstance, ctx: HttpContext): void {
  const { messages, search } = ctx.services;
  const { rest } = ctx.schemas;

  app.get('/api/v1/rooms/:roomId/messages', async (request) => {
    const { user } = await authenticate(ctx, request);
    const { roomId } = parse(rest.roomParams, request.params, 'path');
    const query = parse(rest.historyQuery, request.query, 'query');
    if (query.before !== undefined && query.after !== undefined) throw validationFailed('Use before or after, not both.');
    const page = await messages.history(user.id, roomId, query);
    return { messages: page.messages.map(messageView), hasMore: page.hasMore };
  });

  app.post('/api/v1/rooms/:roomId/messages', async (request, reply) => {
    const { user } = await authenticate(ctx, request);
    const { roomId } = parse(rest.roomParams, request.params, 'path');
    const input = parse(rest.postMessage, request.body, 'message');
    const { message } = await messages.send(user.id, roomId, input.body, input.clientMsgId ?? null);
    return reply.status(201).send({ message: messageView(message) });
  });

  app.patch('/api/v1/rooms/:roomId/messages/:seq', async (request) => {
    const { user } = await authenticate(ctx, request);
    const { roomId, seq } = parse(rest.messageParams, request.params, 'path');
    const input = parse(rest.editMessage, request.body, 'edit');
    return { message: messageView(await messages.edit(user.id, roomId, seq, input.body)) };
  });

  app.delete('/api/v1/rooms/:roomId/messages/:seq', async (request, reply) => {
    const { user } = await authenticate(ctx, request);
    const { roomId, seq } = parse(rest.messageParams, request.params, 'path');
    await messages.delete(user.id, roomId, seq);
    return reply.status(204).send();
  });

  app.post('/api/v1/rooms/:roomId/read', async (request, reply) => {
    const { user } = await authenticate(ctx, request);
    const { roomId } = parse(rest.roomParams, request.params, 'path');
    const input = parse(rest.read, request.body, 'read marker');
    await messages.markRead(user.id, roomId, input.seq);
    return reply.status(204).send();
  });

  app.get('/api/v1/search', async (request) => {
    const { user } = await authenticate(ctx, request);
    const query = parse(rest.searchQuery, request.query, 'query');
    const result = await search.search(user.id, query.q, query.roomId, query.limit);
    return { hits: result.hits.map((h) => ({ message: messageView(h.message), highlight: h.highlight })), truncated: result.truncated };
  });
}
