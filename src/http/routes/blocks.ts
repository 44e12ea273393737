/** Blocks: whom I blocked; a blocked user's mentions notify me of nothing, and neither of us can message the other directly. */
import { responses } from '../../protocol/responses.js';
import type { HttpContext } from '../context.js';
import type { RestApi } from '../route.js';

export function blockRoutes(api: RestApi, ctx: HttpContext): void {
  const { blocks } = ctx.services;
  const { rest } = ctx.schemas;
  const tag = 'Blocks';

  api.route({
    method: 'GET',
    path: '/api/v1/me/blocks',
    operationId: 'listBlocks',
    tag,
    summary: 'Users I blocked',
    auth: true,
    status: 200,
    response: responses.Blocks,
    errors: [],
    handler: async ({ session }) => ({ blocks: await blocks.list(session.user.id) }),
  });

  api.route({
    method: 'PUT',
    path: '/api/v1/me/blocks/:userId',
    operationId: 'blockUser',
    tag,
    summary: 'Block a user',
    description:
      'Their messages notify me of nothing (mentions, @room, any level), and neither of us can open or send to a direct-message room with the other (403 `forbidden`, `details.reason: "blocked"`). Blocking again changes nothing.',
    auth: true,
    params: rest.userParams,
    status: 204,
    errors: ['not_found'],
    handler: async ({ session, params }) => {
      await blocks.block(session.user.id, params.userId);
    },
  });

  api.route({
    method: 'DELETE',
    path: '/api/v1/me/blocks/:userId',
    operationId: 'unblockUser',
    tag,
    summary: 'Unblock a user',
    description: 'Unblocking someone not blocked changes nothing.',
    auth: true,
    params: rest.userParams,
    status: 204,
    errors: [],
    handler: async ({ session, params }) => {
      await blocks.unblock(session.user.id, params.userId);
    },
  });
}
