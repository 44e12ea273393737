/** Notifications: the list, the unread count, the read marker, each room's preference, and e-mail digests. */
import { responses } from '../../protocol/responses.js';
import type { HttpContext } from '../context.js';
import type { RestApi } from '../route.js';

export function notificationRoutes(api: RestApi, ctx: HttpContext): void {
  const { notifications } = ctx.services;
  const { rest } = ctx.schemas;
  const tag = 'Notifications';

  api.route({
    method: 'GET',
    path: '/api/v1/notifications',
    operationId: 'listNotifications',
    tag,
    summary: 'My notifications',
    description:
      'Newest first: the first page without a cursor, the next with `before` = the last id of a page. With `after` = an id, the newer ones, oldest first (to catch up). Only rooms I am still a member of; each carries the message as it is now.',
    auth: true,
    query: rest.notificationsQuery,
    status: 200,
    response: responses.NotificationPage,
    errors: [],
    handler: async ({ session, query }) => notifications.list(session.user.id, query),
  });

  api.route({
    method: 'GET',
    path: '/api/v1/notifications/unread-count',
    operationId: 'countUnreadNotifications',
    tag,
    summary: 'How many of my notifications are unread',
    auth: true,
    status: 200,
    response: responses.UnreadNotifications,
    errors: [],
    handler: async ({ session }) => notifications.unreadCount(session.user.id),
  });

  api.route({
    method: 'POST',
    path: '/api/v1/notifications/read',
    operationId: 'readNotifications',
    tag,
    summary: 'Mark my notifications read up to one',
    description: 'The marker only moves forward, and never past my newest notification. My other connections get a `notifications_read` event.',
    auth: true,
    body: rest.readNotifications,
    bodyName: 'read marker',
    status: 204,
    errors: [],
    handler: async ({ session, body }) => {
      await notifications.markRead(session.user.id, body.upTo);
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/rooms/:roomId/notifications',
    operationId: 'getRoomNotifications',
    tag,
    summary: 'My notification preference for a room',
    description: 'Members only. Without one set: `mentions`, or `all` in a direct-message room.',
    auth: true,
    params: rest.roomParams,
    status: 200,
    response: responses.RoomNotificationPrefs,
    errors: ['not_found', 'forbidden'],
    handler: async ({ session, params }) => notifications.roomPrefs(session.user.id, params.roomId),
  });

  api.route({
    method: 'PUT',
    path: '/api/v1/rooms/:roomId/notifications',
    operationId: 'setRoomNotifications',
    tag,
    summary: 'Set my notification preference for a room',
    description: 'Members only. The level, and optionally a mute until a time (nothing of the room notifies before it).',
    auth: true,
    params: rest.roomParams,
    body: rest.roomNotifications,
    bodyName: 'preference',
    status: 200,
    response: responses.RoomNotificationPrefs,
    errors: ['not_found'],
    handler: async ({ session, params, body }) => notifications.setRoomPrefs(session.user.id, params.roomId, body),
  });

  api.route({
    method: 'GET',
    path: '/api/v1/me/email',
    operationId: 'getEmail',
    tag,
    summary: 'My e-mail address',
    auth: true,
    status: 200,
    response: responses.Email,
    errors: [],
    handler: async ({ session }) => notifications.email(session.user.id),
  });

  api.route({
    method: 'PUT',
    path: '/api/v1/me/email',
    operationId: 'setEmail',
    tag,
    summary: 'Set my e-mail address',
    description: 'Where digests of missed mentions go (null removes it). Shown to nobody else.',
    auth: true,
    body: rest.setEmail,
    bodyName: 'e-mail',
    status: 200,
    response: responses.Email,
    errors: [],
    handler: async ({ session, body }) => notifications.setEmail(session.user.id, body.email),
  });

  api.route({
    method: 'GET',
    path: '/api/v1/me/notification-settings',
    operationId: 'getNotificationSettings',
    tag,
    summary: 'My notification settings',
    auth: true,
    status: 200,
    response: responses.NotificationSettings,
    errors: [],
    handler: async ({ session }) => notifications.settings(session.user.id),
  });

  api.route({
    method: 'PUT',
    path: '/api/v1/me/notification-settings',
    operationId: 'setNotificationSettings',
    tag,
    summary: 'Set my notification settings',
    description: 'With `emailDigest` on (the default) and an address set, mentions left unread while I am offline are mailed to me once, as a digest.',
    auth: true,
    body: rest.notificationSettings,
    bodyName: 'settings',
    status: 200,
    response: responses.NotificationSettings,
    errors: [],
    handler: async ({ session, body }) => notifications.setSettings(session.user.id, body),
  });
}
