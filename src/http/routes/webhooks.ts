/** Outgoing webhooks of a room: its owner registers, lists, rotates, enables and removes them, and reads their delivery log. */
import { responses } from '../../protocol/responses.js';
import type { HttpContext } from '../context.js';
import type { RestApi } from '../route.js';

export function webhookRoutes(api: RestApi, ctx: HttpContext): void {
  const { webhooks } = ctx.services;
  const { rest } = ctx.schemas;
  const tag = 'Webhooks';
  const ownerOnly = ['not_found', 'forbidden'] as const;

  api.route({
    method: 'POST',
    path: '/api/v1/rooms/:roomId/webhooks',
    operationId: 'createWebhook',
    tag,
    summary: 'Register an outgoing webhook',
    description:
      "The room owner only. Each event of the room from now on is POSTed to the URL as JSON, signed with the secret answered here (shown once): `Parley-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\">`. Retried with backoff until it answers 2xx; disabled after a day of failures. Delivered at least once: deduplicate by the `id` of the body (also `Parley-Delivery`).",
    auth: true,
    params: rest.roomParams,
    body: rest.createWebhook,
    bodyName: 'webhook',
    status: 201,
    response: responses.WebhookWithSecret,
    errors: [...ownerOnly, 'conflict'],
    handler: async ({ session, params, body }) => webhooks.create(session.user.id, params.roomId, body),
  });

  api.route({
    method: 'GET',
    path: '/api/v1/rooms/:roomId/webhooks',
    operationId: 'listWebhooks',
    tag,
    summary: "The room's webhooks",
    description: 'The room owner only. Secrets are never shown again.',
    auth: true,
    params: rest.roomParams,
    status: 200,
    response: responses.Webhooks,
    errors: ownerOnly,
    handler: async ({ session, params }) => ({ webhooks: await webhooks.list(session.user.id, params.roomId) }),
  });

  api.route({
    method: 'DELETE',
    path: '/api/v1/rooms/:roomId/webhooks/:webhookId',
    operationId: 'deleteWebhook',
    tag,
    summary: 'Remove a webhook',
    description: 'The room owner only. Deliveries still queued are dropped.',
    auth: true,
    params: rest.webhookParams,
    status: 204,
    errors: ownerOnly,
    handler: async ({ session, params }) => {
      await webhooks.remove(session.user.id, params.roomId, params.webhookId);
    },
  });

  api.route({
    method: 'POST',
    path: '/api/v1/rooms/:roomId/webhooks/:webhookId/secret',
    operationId: 'rotateWebhookSecret',
    tag,
    summary: "Rotate a webhook's secret",
    description: 'A new secret, shown once. For a grace period the previous secret signs too (a second `v1`), so the receiver can switch without losing a delivery.',
    auth: true,
    params: rest.webhookParams,
    status: 200,
    response: responses.WebhookWithSecret,
    errors: ownerOnly,
    handler: async ({ session, params }) => webhooks.rotateSecret(session.user.id, params.roomId, params.webhookId),
  });

  api.route({
    method: 'POST',
    path: '/api/v1/rooms/:roomId/webhooks/:webhookId/enable',
    operationId: 'enableWebhook',
    tag,
    summary: 'Enable a disabled webhook',
    description: 'Deliveries resume with the events from now on; those it missed while disabled are not sent.',
    auth: true,
    params: rest.webhookParams,
    status: 200,
    response: responses.WebhookResult,
    errors: ownerOnly,
    handler: async ({ session, params }) => ({ webhook: await webhooks.enable(session.user.id, params.roomId, params.webhookId) }),
  });

  api.route({
    method: 'GET',
    path: '/api/v1/rooms/:roomId/webhooks/:webhookId/deliveries',
    operationId: 'listWebhookDeliveries',
    tag,
    summary: "A webhook's latest delivery attempts",
    description: 'Newest first: the event, the attempt, the status the endpoint answered (or why none), how long it took. The latest 100 or so are kept.',
    auth: true,
    params: rest.webhookParams,
    query: rest.deliveriesQuery,
    status: 200,
    response: responses.WebhookDeliveries,
    errors: ownerOnly,
    handler: async ({ session, params, query }) => ({ deliveries: await webhooks.deliveries(session.user.id, params.roomId, params.webhookId, query.limit) }),
  });
}
