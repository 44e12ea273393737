/** Threads (a page of one, follow, read marker, the followed list) and reactions. */
import { followedThreadView, threadPageView } from '../../domain/views.js';
import { responses } from '../../protocol/responses.js';
import type { HttpContext } from '../context.js';
import type { RestApi } from '../route.js';

export function threadRoutes(api: RestApi, ctx: HttpContext): void {
  const { messages, threads } = ctx.services;
  const { rest } = ctx.schemas;
  // As for messages: a public room the caller is not in is `forbidden`; any other room they may not see, and any seq that names no thread, `not_found`.
  const memberOnly = ['not_found', 'forbidden'] as const;

  api.route({
    method: 'GET',
    path: '/api/v1/rooms/:roomId/threads/:seq',
    operationId: 'getThread',
    tag: 'Threads',
    summary: 'A page of a thread',
    description:
      'The root (a top-level message) and its replies oldest first, after `after`, like history paged with `after`. A seq that names a reply, or no message, is `not_found`. ' +
      'Replies are `message` events of the room stream carrying `threadRoot`: a subscription to the room receives them in order with everything else.',
    auth: true,
    params: rest.threadParams,
    query: rest.threadQuery,
    status: 200,
    response: responses.ThreadPage,
    errors: memberOnly,
    handler: async ({ session, params, query }) => threadPageView(await threads.thread(session.user.id, params.roomId, params.seq, query.after, query.limit, query.seen)),
  });

  api.route({
    method: 'PUT',
    path: '/api/v1/rooms/:roomId/threads/:seq/follow',
    operationId: 'followThread',
    tag: 'Threads',
    summary: 'Follow a thread',
    description: "The root's author and everyone who replies follow a thread by themselves. A first follow counts only later replies as unread. Idempotent.",
    auth: true,
    params: rest.threadParams,
    status: 204,
    errors: memberOnly,
    handler: async ({ session, params }) => {
      await threads.follow(session.user.id, params.roomId, params.seq, true);
    },
  });

  api.route({
    method: 'DELETE',
    path: '/api/v1/rooms/:roomId/threads/:seq/follow',
    operationId: 'unfollowThread',
    tag: 'Threads',
    summary: 'Stop following a thread',
    description: 'Later replies by others do not make the caller follow it again; replying does. Idempotent.',
    auth: true,
    params: rest.threadParams,
    status: 204,
    errors: memberOnly,
    handler: async ({ session, params }) => {
      await threads.follow(session.user.id, params.roomId, params.seq, false);
    },
  });

  api.route({
    method: 'POST',
    path: '/api/v1/rooms/:roomId/threads/:seq/read',
    operationId: 'markThreadRead',
    tag: 'Threads',
    summary: 'Move my read marker of a thread',
    description: "The marker only moves forward (never past the room's last seq); replies after it by others count as unread. Marking does not follow.",
    auth: true,
    params: rest.threadParams,
    body: rest.read,
    bodyName: 'read marker',
    status: 200,
    response: responses.ThreadRead,
    errors: memberOnly,
    handler: async ({ session, params, body }) => ({ lastReadSeq: await threads.markRead(session.user.id, params.roomId, params.seq, body.seq) }),
  });

  api.route({
    method: 'GET',
    path: '/api/v1/threads',
    operationId: 'listFollowedThreads',
    tag: 'Threads',
    summary: 'The threads I follow',
    description: 'In rooms the caller is a member of, latest activity first, with unread counts; paged with `cursor` (`nextCursor` of the previous page).',
    auth: true,
    query: rest.threadsQuery,
    status: 200,
    response: responses.FollowedThreads,
    errors: [],
    handler: async ({ session, query }) => {
      const page = await threads.followed(session.user.id, query.cursor, query.limit);
      return { threads: page.threads.map(followedThreadView), nextCursor: page.next };
    },
  });

  api.route({
    method: 'PUT',
    path: '/api/v1/rooms/:roomId/messages/:seq/reactions/:emoji',
    operationId: 'addReaction',
    tag: 'Reactions',
    summary: 'React to a message',
    description:
      'The emoji goes URL-encoded in the path. Appends a `reaction_added` event, unless the caller reacted so already (then nothing is appended: idempotent). ' +
      'A deleted message is `not_found`; a new emoji past the per-message bound (REACTIONS_PER_MESSAGE_MAX) is `conflict` with `details.reason` `too_many_reactions`. ' +
      'Shares the send rate limit.',
    auth: true,
    params: rest.reactionParams,
    status: 204,
    errors: [...memberOnly, 'conflict', 'rate_limited'],
    handler: async ({ session, params }) => {
      await messages.react(session.user.id, params.roomId, params.seq, params.emoji, true);
    },
  });

  api.route({
    method: 'DELETE',
    path: '/api/v1/rooms/:roomId/messages/:seq/reactions/:emoji',
    operationId: 'removeReaction',
    tag: 'Reactions',
    summary: 'Take back a reaction',
    description: 'Appends a `reaction_removed` event, unless the caller has no such reaction (then nothing is appended: idempotent).',
    auth: true,
    params: rest.reactionParams,
    status: 204,
    errors: [...memberOnly, 'rate_limited'],
    handler: async ({ session, params }) => {
      await messages.react(session.user.id, params.roomId, params.seq, params.emoji, false);
    },
  });
}
