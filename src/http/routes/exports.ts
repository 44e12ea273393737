/** History exports and retention: the slow-work features a member or an owner asks for. */
import { createReadStream } from 'node:fs';
import { z } from 'zod';
import { responses } from '../../protocol/responses.js';
import type { HttpContext } from '../context.js';
import type { RestApi } from '../route.js';

export function exportRoutes(api: RestApi, ctx: HttpContext): void {
  const { exports, retention } = ctx.services;
  const { rest } = ctx.schemas;
  const memberOnly = ['not_found', 'forbidden'] as const;

  api.route({
    method: 'POST',
    path: '/api/v1/rooms/:roomId/exports',
    operationId: 'createExport',
    tag: 'Exports',
    summary: "Export a room's history",
    description:
      "Members only. The export runs in the background: its progress comes as `job` events on the caller's WebSocket connections, and `GET /api/v1/exports/{exportId}` tells it too. " +
      'It covers the history up to the last seq when asked. While one of your exports of the room is queued or running, it is answered instead of a new one.',
    auth: true,
    params: rest.roomParams,
    body: rest.createExport,
    bodyName: 'export',
    status: 201,
    response: responses.ExportResult,
    errors: memberOnly,
    handler: async ({ session, params, body }) => ({ export: await exports.request(session.user.id, params.roomId, body.format) }),
  });

  api.route({
    method: 'GET',
    path: '/api/v1/exports/:exportId',
    operationId: 'getExport',
    tag: 'Exports',
    summary: 'One of my exports',
    description: 'Its state and progress; once done, a download link that needs no credentials and expires with the file.',
    auth: true,
    params: rest.exportParams,
    status: 200,
    response: responses.ExportResult,
    errors: ['not_found'],
    handler: async ({ session, params }) => ({ export: await exports.get(session.user.id, params.exportId) }),
  });

  api.route({
    method: 'GET',
    path: '/api/v1/exports/:exportId/download',
    operationId: 'downloadExport',
    tag: 'Exports',
    summary: 'Download an export',
    description:
      'The link of a done export (`downloadUrl`): its signature is the credential, until it expires and while its owner is a member of the room. ' +
      'The file is sent as an attachment (NDJSON or HTML), never to be shown inline.',
    auth: false,
    params: rest.exportParams,
    query: rest.downloadQuery,
    status: 200,
    contentType: 'application/octet-stream',
    response: z.string().describe('The export file.'),
    errors: ['not_found', 'forbidden'],
    handler: async ({ params, query, reply }) => {
      const file = await exports.download(params.exportId, query.expires, query.signature);
      return reply
        .status(200)
        .type(file.contentType)
        .header('content-length', String(file.size))
        .header('content-disposition', `attachment; filename="${file.filename}"`)
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('cache-control', 'private, no-store')
        .send(createReadStream(file.file));
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/rooms/:roomId/retention',
    operationId: 'getRetention',
    tag: 'Rooms',
    summary: "A room's retention policy",
    description: 'Members only. Messages older than `effectiveDays` are deleted (tombstoned: gone from history, replay and search).',
    auth: true,
    params: rest.roomParams,
    status: 200,
    response: responses.RetentionResult,
    errors: memberOnly,
    handler: async ({ session, params }) => ({ retention: await retention.policy(session.user.id, params.roomId) }),
  });

  api.route({
    method: 'PUT',
    path: '/api/v1/rooms/:roomId/retention',
    operationId: 'setRetention',
    tag: 'Rooms',
    summary: "Set a room's retention policy",
    description: "The room owner only. A room may keep messages less long than the server's policy, never longer; `days: null` returns to the server's.",
    auth: true,
    params: rest.roomParams,
    body: rest.setRetention,
    bodyName: 'retention',
    status: 200,
    response: responses.RetentionResult,
    errors: memberOnly,
    handler: async ({ session, params, body }) => ({ retention: await retention.setPolicy(session.user.id, params.roomId, body.days) }),
  });
}
