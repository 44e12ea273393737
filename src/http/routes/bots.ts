/** Bots: accounts a user owns for their programs, with tokens shown once. */
import { botView } from '../../domain/views.js';
import { responses } from '../../protocol/responses.js';
import type { HttpContext } from '../context.js';
import type { RestApi } from '../route.js';

export function botRoutes(api: RestApi, ctx: HttpContext): void {
  const { bots } = ctx.services;
  const { rest } = ctx.schemas;
  const tag = 'Bots';

  api.route({
    method: 'POST',
    path: '/api/v1/bots',
    operationId: 'createBot',
    tag,
    summary: 'Create a bot',
    description:
      'A bot is a user account of the caller\'s, for their programs: it uses the REST and WebSocket API as people do, with `Authorization: Bearer <token>` ' +
      '(or `?token=` on the WebSocket upgrade), and acts only in the rooms a member adds it to. The token is shown this once. ' +
      'Its names follow the rules of people\'s (`conflict` with `details.field`); a user may own `BOTS_PER_USER_MAX` bots (`forbidden` past it). Bots cannot create bots.',
    auth: true,
    body: rest.createBot,
    bodyName: 'bot',
    status: 201,
    response: responses.BotToken,
    errors: ['conflict'],
    handler: async ({ session, body }) => {
      const { bot, token } = await bots.create(session.user, body);
      return { bot: botView(bot), token };
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/bots',
    operationId: 'listBots',
    tag,
    summary: 'My bots',
    description: 'Without their tokens, which are never shown again.',
    auth: true,
    status: 200,
    response: responses.Bots,
    errors: [],
    handler: async ({ session }) => ({ bots: (await bots.list(session.user)).map(botView) }),
  });

  api.route({
    method: 'POST',
    path: '/api/v1/bots/:botId/token',
    operationId: 'rotateBotToken',
    tag,
    summary: 'A new token for my bot',
    description:
      'Every earlier token of the bot stops working at once, on every server: REST refuses it (`unauthorized`) and its WebSocket connections are closed with 1008. ' +
      'The new token is shown this once.',
    auth: true,
    params: rest.botParams,
    status: 200,
    response: responses.BotToken,
    errors: ['not_found'],
    handler: async ({ session, params }) => {
      const { bot, token } = await bots.rotateToken(session.user, params.botId);
      return { bot: botView(bot), token };
    },
  });

  api.route({
    method: 'DELETE',
    path: '/api/v1/bots/:botId',
    operationId: 'deleteBot',
    tag,
    summary: 'Delete my bot',
    description:
      'Its tokens are revoked as a new token revokes them, its incoming webhooks are deleted, and it leaves every room it is in (`member_left`). ' +
      'Its messages stay, still naming it, and its username stays taken.',
    auth: true,
    params: rest.botParams,
    status: 204,
    errors: ['not_found'],
    handler: async ({ session, params }) => {
      await bots.delete(session.user, params.botId);
    },
  });
}
