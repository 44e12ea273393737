/** PATCH /me (profile), GET /users (search), GET /users/:userId. */
import { refuseBots } from '../../domain/actor.js';
import { profileView } from '../../domain/views.js';
import { responses } from '../../protocol/responses.js';
import type { HttpContext } from '../context.js';
import type { RestApi } from '../route.js';

export function peopleRoutes(api: RestApi, ctx: HttpContext): void {
  const { people } = ctx.services;
  const { rest } = ctx.schemas;
  const tag = 'People';

  api.route({
    method: 'PATCH',
    path: '/api/v1/me',
    operationId: 'updateMe',
    tag,
    summary: 'Change my profile',
    description:
      'Sets the display name, the status line (`null` clears it) and when the status stops showing; fields left out stay as they are. ' +
      "A display name that reads as another user's username is `conflict` (`details.field`: `displayName`). " +
      'Members of my rooms are told live (`user_updated`). Limited per user (PROFILE_RATE_PER_MIN). The avatar: `PUT /api/v1/me/avatar`.',
    auth: true,
    body: rest.updateProfile,
    bodyName: 'profile',
    status: 200,
    response: responses.UserResult,
    errors: ['conflict', 'rate_limited'],
    handler: async ({ session, body }) => ({ user: profileView(await people.updateProfile(session.user.id, body)) }),
  });

  api.route({
    method: 'GET',
    path: '/api/v1/users',
    operationId: 'searchUsers',
    tag,
    summary: 'Find users',
    description:
      'For invitations and direct messages: users whose username starts with `q` (a leading `@` is ignored), by username, then users whose display name starts with it ' +
      '(case and look-alike letters folded), a page at a time. Bots are marked `bot`; deleted bots are not listed. Not for bots (`forbidden`).',
    auth: true,
    query: rest.userSearchQuery,
    status: 200,
    response: responses.UserPage,
    errors: ['forbidden'],
    handler: async ({ session, query }) => {
      refuseBots(session.user, 'search for users');
      const page = await people.search(query.q, query.after, query.limit);
      const now = Date.now();
      return { users: page.users.map((u) => profileView(u, now)), next: page.next };
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/users/:userId',
    operationId: 'getUser',
    tag,
    summary: 'A user',
    description: 'Any signed-in user sees any user\'s profile. A deleted bot is `not_found`.',
    auth: true,
    params: rest.userParams,
    status: 200,
    response: responses.UserResult,
    errors: ['not_found'],
    handler: async ({ params }) => ({ user: profileView(await people.get(params.userId)) }),
  });
}
