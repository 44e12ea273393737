/** Incoming webhooks: secret URLs that post into a room as a bot. */
import { HOOKS_PATH } from '../../domain/incoming-webhooks.js';
import { incomingWebhookView, messageView } from '../../domain/views.js';
import { responses } from '../../protocol/responses.js';
import type { HttpContext } from '../context.js';
import type { RestApi } from '../route.js';

export function incomingWebhookRoutes(api: RestApi, ctx: HttpContext): void {
  const { incomingWebhooks } = ctx.services;
  const { rest } = ctx.schemas;
  const tag = 'Webhooks';
  const memberOnly = ['not_found', 'forbidden'] as const;

  api.route({
    method: 'POST',
    path: '/api/v1/rooms/:roomId/incoming-webhooks',
    operationId: 'createIncomingWebhook',
    tag,
    summary: 'Create an incoming webhook',
    description:
      'Members (not bots) only; not in DMs (`forbidden`). The webhook posts as `botId`, one of the caller\'s bots that is a member of the room (`forbidden` otherwise), ' +
      'or without it as a new bot of the caller\'s, named after the webhook and added to the room (it counts against `BOTS_PER_USER_MAX`; a name that reads as ' +
      'another user\'s username is `conflict` on `name`). The answer carries the webhook\'s URL, shown this once: POST `{"text"}` to it.',
    auth: true,
    params: rest.roomParams,
    body: rest.createIncomingWebhook,
    bodyName: 'webhook',
    status: 201,
    response: responses.IncomingWebhookCreated,
    errors: [...memberOnly, 'conflict'],
    handler: async ({ session, params, body }) => {
      const { webhook, token } = await incomingWebhooks.create(session.user, params.roomId, body);
      return { webhook: incomingWebhookView(webhook), url: `${HOOKS_PATH}/${token}` };
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/rooms/:roomId/incoming-webhooks',
    operationId: 'listIncomingWebhooks',
    tag,
    summary: "A room's incoming webhooks",
    description: 'Members only; without their URLs.',
    auth: true,
    params: rest.roomParams,
    status: 200,
    response: responses.IncomingWebhooks,
    errors: memberOnly,
    handler: async ({ session, params }) => ({ webhooks: (await incomingWebhooks.list(session.user, params.roomId)).map(incomingWebhookView) }),
  });

  api.route({
    method: 'DELETE',
    path: '/api/v1/rooms/:roomId/incoming-webhooks/:hookId',
    operationId: 'deleteIncomingWebhook',
    tag,
    summary: 'Delete an incoming webhook',
    description: "Its creator or the room's owner. Its URL answers `not_found` from then on; its bot stays (delete it with `DELETE /api/v1/bots/{botId}`).",
    auth: true,
    params: rest.incomingWebhookParams,
    status: 204,
    errors: memberOnly,
    handler: async ({ session, params }) => {
      await incomingWebhooks.delete(session.user, params.roomId, params.hookId);
    },
  });

  api.route({
    method: 'POST',
    path: `${HOOKS_PATH}/:token`,
    operationId: 'postToIncomingWebhook',
    tag,
    summary: 'Post a message through an incoming webhook',
    description:
      'For programs, server to server: the secret in the URL is the credential (no token, no cookie, no `Origin`; never in a query string, which is refused). ' +
      'The message is sent as the webhook\'s bot, as any send is: it is live on WebSocket, in history and in search. A retry with the same `clientMsgId` answers ' +
      'the first message and stores nothing new. An unknown or deleted webhook is `not_found`; one whose bot is no longer a member of the room is `forbidden`. ' +
      'Each webhook has its own bucket of the send rate limit (`SEND_RATE_PER_SEC`, `SEND_BURST`).',
    auth: false,
    params: rest.hookParams,
    query: rest.noQuery,
    body: rest.postToHook,
    bodyName: 'webhook message',
    status: 201,
    response: responses.MessageResult,
    errors: ['not_found', 'forbidden', 'rate_limited'],
    handler: async ({ params, body }) => {
      const { message } = await incomingWebhooks.post(params.token, body.text, body.clientMsgId ?? null);
      return { message: messageView(message) };
    },
  });
}
