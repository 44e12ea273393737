/** History, sending, editing, deleting, read markers and search. */
import { messageView } from '../../domain/views.js';
import { validationFailed } from '../../errors.js';
import { responses } from '../../protocol/responses.js';
import type { HttpContext } from '../context.js';
import type { RestApi } from '../route.js';

export function messageRoutes(api: RestApi, ctx: HttpContext): void {
  const { messages, search } = ctx.services;
  const { rest } = ctx.schemas;
  const tag = 'Messages';
  // A member of a public room who left, or never joined, is `forbidden`; anyone but a member of
  // a private room or DM is told it does not exist.
  const memberOnly = ['not_found', 'forbidden'] as const;

  api.route({
    method: 'GET',
    path: '/api/v1/rooms/:roomId/messages',
    operationId: 'listMessages',
    tag,
    summary: 'A page of history',
    description:
      'Newest first with `before` (or neither), oldest first with `after`; `before` and `after` together are `validation_failed`. ' +
      'Deleted messages are tombstones. To fill a gap after a subscribe answered `recovered: false`, page with `after`. ' +
      'Thread replies are in history with `threadRoot` unless `topLevel=true`; messages carry their `reactions` as the caller sees them.',
    auth: true,
    params: rest.roomParams,
    query: rest.historyQuery,
    status: 200,
    response: responses.MessagePage,
    errors: memberOnly,
    handler: async ({ session, params, query }) => {
      if (query.before !== undefined && query.after !== undefined) throw validationFailed('Use before or after, not both.');
      const page = await messages.history(session.user.id, params.roomId, query);
      return { messages: page.messages.map(messageView), hasMore: page.hasMore };
    },
  });

  api.route({
    method: 'POST',
    path: '/api/v1/rooms/:roomId/messages',
    operationId: 'sendMessage',
    tag,
    summary: 'Send a message',
    description:
      'The same send as over the WebSocket, answered once the message is durable. The same `clientMsgId` from the same author in the same room ' +
      'answers the first message again and stores nothing new: retry with it. Shares the per-user send rate limit with edits and deletes. ' +
      'With `threadRoot` it is a reply in that thread: a `threadRoot` that is no live top-level message of the room is `validation_failed` naming it.',
    auth: true,
    params: rest.roomParams,
    body: rest.postMessage,
    bodyName: 'message',
    status: 201,
    response: responses.MessageResult,
    errors: [...memberOnly, 'rate_limited'],
    handler: async ({ session, params, body }) => {
      const { message } = await messages.send(session.user.id, params.roomId, body.body, body.clientMsgId ?? null, body.attachments ?? [], body.threadRoot ?? null);
      return { message: messageView(message) };
    },
  });

  api.route({
    method: 'PATCH',
    path: '/api/v1/rooms/:roomId/messages/:seq',
    operationId: 'editMessage',
    tag,
    summary: 'Edit a message',
    description: 'Its author only; a deleted message cannot be edited (`not_found`).',
    auth: true,
    params: rest.messageParams,
    body: rest.editMessage,
    bodyName: 'edit',
    status: 200,
    response: responses.MessageResult,
    errors: [...memberOnly, 'rate_limited'],
    handler: async ({ session, params, body }) => ({ message: messageView(await messages.edit(session.user.id, params.roomId, params.seq, body.body)) }),
  });

  api.route({
    method: 'DELETE',
    path: '/api/v1/rooms/:roomId/messages/:seq',
    operationId: 'deleteMessage',
    tag,
    summary: 'Delete a message',
    description: 'Its author or the room\'s owner. The message becomes a tombstone: it keeps its seq, its body is emptied.',
    auth: true,
    params: rest.messageParams,
    status: 204,
    errors: [...memberOnly, 'rate_limited'],
    handler: async ({ session, params }) => {
      await messages.delete(session.user.id, params.roomId, params.seq);
    },
  });

  api.route({
    method: 'POST',
    path: '/api/v1/rooms/:roomId/read',
    operationId: 'markRead',
    tag,
    summary: 'Move my read marker',
    description: 'The marker only moves forward; the user\'s WebSocket connections get a `read` event.',
    auth: true,
    params: rest.roomParams,
    body: rest.read,
    bodyName: 'read marker',
    status: 204,
    errors: memberOnly,
    handler: async ({ session, params, body }) => {
      await messages.markRead(session.user.id, params.roomId, body.seq);
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/search',
    operationId: 'search',
    tag,
    summary: 'Search messages',
    description:
      'Full-text search over the rooms the caller is a member of (or only `roomId`), newest first. Each word of `q` must match the start of a word, ' +
      'case- and accent-insensitively; a `q` with no word is `validation_failed`. A search examines a bounded number of matches (`truncated`), ' +
      'and is `unavailable` when it runs too long or too many run at once.',
    auth: true,
    query: rest.searchQuery,
    status: 200,
    response: responses.SearchResult,
    errors: memberOnly,
    handler: async ({ session, query }) => {
      const result = await search.search(session.user.id, query.q, query.roomId, query.limit);
      return { hits: result.hits.map((h) => ({ message: messageView(h.message), highlight: h.highlight })), truncated: result.truncated, index: { pending: result.pending } };
    },
  });
}
