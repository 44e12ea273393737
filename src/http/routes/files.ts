/**
 * Files: uploads (through the server, or straight to object storage and confirmed), the files
 * of messages and their thumbnails (with Range), signed links, and avatars.
 *
 * Whatever is served is served as data, never as a page of this origin: `nosniff`, a sandboxing
 * CSP, and `Content-Disposition: attachment` for anything but a safe raster image.
 */
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { AppError, validationFailed } from '../../errors.js';
import type { FileToServe, FileVariant } from '../../files/files.js';
import { responses } from '../../protocol/responses.js';
import { authenticate, type HttpContext } from '../context.js';
import { parseRange } from '../range.js';
import type { RestApi } from '../route.js';

/** What a file answer may do in a browser: nothing (no script, no plugin, no form, no same-origin access). */
const FILE_CSP = "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; sandbox";

/** The body of an upload: the raw request stream (the octet-stream parser passes it through). */
function uploadBody(request: FastifyRequest): { body: Readable; declaredSize: number | null } {
  const body = request.body as Readable | undefined;
  if (body === undefined || body === null || typeof (body as Readable).pipe !== 'function') {
    throw validationFailed('Send the file\'s bytes as the request body with Content-Type: application/octet-stream.');
  }
  const length = request.headers['content-length'];
  const declaredSize = length === undefined ? null : Number(length);
  return { body, declaredSize: declaredSize !== null && Number.isSafeInteger(declaredSize) ? declaredSize : null };
}

/**
 * Runs an upload handler. A refusal answered before the body was read closes the connection,
 * so a client is not made to send (nor the server to drain) the rest of a large file.
 */
async function receiving<T>(request: FastifyRequest, reply: FastifyReply, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!request.raw.complete) reply.header('connection', 'close');
    throw error;
  }
}

/** Streams `file` (or the range the request asks for) with the headers that keep it inert. */
async function serveFile(ctx: HttpContext, request: FastifyRequest, reply: FastifyReply, file: FileToServe): Promise<FastifyReply> {
  const { files } = ctx.services;
  reply
    .header('etag', file.etag)
    .header('cache-control', 'private, no-cache')
    .header('content-security-policy', FILE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('cross-origin-resource-policy', 'same-origin')
    .header('content-disposition', file.contentDisposition)
    .header('accept-ranges', 'bytes');
  if (request.headers['if-none-match'] === file.etag) return reply.status(304).send();
  // A thumbnail's size is not recorded: it is served whole (it is small), Range or not.
  const range = file.size < 0 ? 'whole' : parseRange(request.headers.range, file.size);
  if (range === 'unsatisfiable') {
    reply.header('content-range', `bytes */${file.size}`);
    throw new AppError('range_not_satisfiable', `The file has ${file.size} bytes; the range asked for lies past its end.`, { size: file.size });
  }
  reply.type(file.contentType);
  // HEAD: the headers only, written here: the object is never opened (Fastify's HEAD handling
  // would read a stream to its end to discard it) and the length is the file's, not 0.
  if (request.method === 'HEAD' && file.size >= 0) {
    const length = range === 'whole' ? file.size : range.end - range.start + 1;
    if (range !== 'whole') reply.header('content-range', `bytes ${range.start}-${range.end}/${file.size}`);
    reply.header('content-length', String(length)).header('x-request-id', request.id);
    reply.hijack();
    reply.raw.writeHead(range === 'whole' ? 200 : 206, reply.getHeaders() as Record<string, string>);
    reply.raw.end();
    return reply;
  }
  const object = await files.read(file, range === 'whole' ? undefined : range);
  if (range !== 'whole') {
    reply.status(206).header('content-range', `bytes ${range.start}-${range.end}/${object.size}`).header('content-length', String(range.end - range.start + 1));
  } else {
    reply.status(200).header('content-length', String(object.size));
  }
  return reply.send(object.body);
}

export function fileRoutes(api: RestApi, ctx: HttpContext): void {
  const { files } = ctx.services;
  const { rest } = ctx.schemas;
  const tag = 'Files';
  const fileAnswer = z.string().describe('The file\'s bytes (or the range asked for, with 206).');

  api.route({
    method: 'POST',
    path: '/api/v1/rooms/:roomId/uploads',
    operationId: 'uploadFile',
    tag,
    summary: 'Upload a file to attach',
    description:
      'Members only. The body is the file\'s bytes, sent as `application/octet-stream` (its Content-Length is checked against what arrives). ' +
      'Its type is decided from its content, never from its name: one not in the server\'s allow-list is refused with 415. ' +
      'Images are re-encoded without their metadata (EXIF, GPS) and given a thumbnail; one with more pixels than the server allows is refused with 413. ' +
      'The upload waits, for its uploader only, to be attached to a message (`attachments` of a send); one never attached is deleted after a while. ' +
      'Counts against the uploader\'s daily quota (429 past it).',
    auth: true,
    params: rest.roomParams,
    query: rest.uploadQuery,
    rawBody: true,
    status: 201,
    response: responses.UploadResult,
    errors: ['not_found', 'forbidden', 'unsupported_media_type', 'rate_limited', 'conflict'],
    handler: ({ session, params, query, request, reply }) =>
      receiving(request, reply, async () => {
        const source = uploadBody(request);
        const upload = await files.upload(session.user.id, params.roomId, query.name, { ...source, signal: abortedWith(request) });
        return { upload };
      }),
  });

  api.route({
    method: 'POST',
    path: '/api/v1/rooms/:roomId/uploads/direct',
    operationId: 'createDirectUpload',
    tag,
    summary: 'Upload a file straight to object storage',
    description:
      'Members only; with S3 storage (otherwise 409: upload through the server). Answers a presigned URL: PUT exactly `size` bytes to it with the headers given, ' +
      'then confirm with `POST /api/v1/uploads/{uploadId}/complete`, which checks the file as an upload through the server is checked. The quota is reserved now.',
    auth: true,
    params: rest.roomParams,
    body: rest.directUpload,
    bodyName: 'upload',
    status: 201,
    response: responses.DirectUploadResult,
    errors: ['not_found', 'forbidden', 'rate_limited', 'conflict'],
    handler: async ({ session, params, body }) => ({ upload: await files.presign(session.user.id, params.roomId, body.name, body.size) }),
  });

  api.route({
    method: 'POST',
    path: '/api/v1/uploads/:uploadId/complete',
    operationId: 'completeDirectUpload',
    tag,
    summary: 'Confirm a direct upload',
    description: 'The file PUT to the presigned URL is checked (size, type, image) and stored; answers the upload, ready to attach. 409 when nothing was PUT yet, or it was confirmed already.',
    auth: true,
    params: rest.uploadParams,
    status: 200,
    response: responses.UploadResult,
    errors: ['not_found', 'unsupported_media_type', 'conflict'],
    handler: async ({ session, params, request }) => ({ upload: await files.complete(session.user.id, params.uploadId, abortedWith(request)) }),
  });

  api.route({
    method: 'DELETE',
    path: '/api/v1/uploads/:uploadId',
    operationId: 'discardUpload',
    tag,
    summary: 'Discard an upload not attached yet',
    description: 'The uploader removes an upload no message carries (a cancelled attachment); its file is deleted. An attached one: delete its message instead (409).',
    auth: true,
    params: rest.uploadParams,
    status: 204,
    errors: ['not_found', 'conflict'],
    handler: async ({ session, params }) => {
      await files.discard(session.user.id, params.uploadId);
    },
  });

  for (const variant of ['file', 'thumbnail'] as const satisfies readonly FileVariant[]) {
    const suffix = variant === 'thumbnail' ? '/thumbnail' : '';
    api.route({
      method: 'GET',
      path: `/api/v1/files/:fileId${suffix}`,
      operationId: variant === 'file' ? 'getFile' : 'getThumbnail',
      tag,
      summary: variant === 'file' ? 'A file of a message' : "An image's thumbnail",
      description:
        (variant === 'file'
          ? 'Members of its room only (and, before it is sent, its uploader), checked on every read. Supports `Range` (206, or 416 past the end) and `If-None-Match`. ' +
            'Safe raster images (PNG, JPEG, GIF, WebP, AVIF) are served inline; everything else as an attachment. '
          : 'WebP, for images larger than the thumbnail size (`thumbnail` of the attachment). ') +
        'Authenticated by the session, or by a signed link (`GET …/link`): its `user`, `expires` and `signature`. A link stops working when its user leaves the room.',
      auth: false,
      params: rest.fileParams,
      query: rest.fileQuery,
      status: 200,
      contentType: 'application/octet-stream',
      response: fileAnswer,
      errors: ['not_found', 'forbidden', 'unauthorized', ...(variant === 'file' ? (['range_not_satisfiable'] as const) : [])],
      otherAnswers: { 206: 'The range asked for.', 304: 'Not modified (If-None-Match).' },
      handler: async ({ params, query, request, reply }) => {
        const userId =
          query.signature !== undefined || query.expires !== undefined || query.user !== undefined
            ? files.verifyLink(params.fileId, variant, { user: query.user ?? '', expires: query.expires ?? '', signature: query.signature ?? '' })
            : (await authenticate(ctx, request)).user.id;
        return serveFile(ctx, request, reply, await files.open(userId, params.fileId, variant));
      },
    });

    api.route({
      method: 'GET',
      path: `/api/v1/files/:fileId${suffix}/link`,
      operationId: variant === 'file' ? 'getFileLink' : 'getThumbnailLink',
      tag,
      summary: variant === 'file' ? 'A signed link to a file' : 'A signed link to a thumbnail',
      description: 'For a client that cannot send the session with the request (a native image view, a download manager): works without it until `expiresAt`, for the caller, while they are a member.',
      auth: true,
      params: rest.fileParams,
      status: 200,
      response: responses.FileLink,
      errors: ['not_found', 'forbidden'],
      handler: async ({ session, params }) => files.link(session.user.id, params.fileId, variant),
    });
  }

  // Avatars
  const avatarDescription = 'An image (PNG, JPEG, GIF, WebP or AVIF) as the body, `application/octet-stream`; stored as a 256 × 256 WebP without metadata. Counts against the daily upload quota.';
  api.route({
    method: 'PUT',
    path: '/api/v1/me/avatar',
    operationId: 'setMyAvatar',
    tag,
    summary: 'Set my avatar',
    description: `${avatarDescription} Members of my rooms are told live (\`user_updated\`).`,
    auth: true,
    rawBody: true,
    status: 204,
    errors: ['unsupported_media_type', 'rate_limited'],
    handler: ({ session, request, reply }) =>
      receiving(request, reply, async () => {
        await files.setAvatar(session.user.id, { userId: session.user.id }, { ...uploadBody(request), signal: abortedWith(request) });
        await ctx.services.people.announce(session.user.id);
      }),
  });
  api.route({
    method: 'DELETE',
    path: '/api/v1/me/avatar',
    operationId: 'removeMyAvatar',
    tag,
    summary: 'Remove my avatar',
    auth: true,
    status: 204,
    errors: [],
    handler: async ({ session }) => {
      await files.removeAvatar(session.user.id, { userId: session.user.id });
      await ctx.services.people.announce(session.user.id);
    },
  });
  api.route({
    method: 'GET',
    path: '/api/v1/users/:userId/avatar',
    operationId: 'getUserAvatar',
    tag,
    summary: "A user's avatar",
    description: 'Any signed-in user sees it. 404 when the user has none (show their initials).',
    auth: true,
    params: rest.userParams,
    status: 200,
    contentType: 'application/octet-stream',
    response: fileAnswer,
    errors: ['not_found'],
    otherAnswers: { 304: 'Not modified (If-None-Match).' },
    handler: async ({ session, params, request, reply }) => serveFile(ctx, request, reply, await files.openAvatar(session.user.id, { userId: params.userId })),
  });
  api.route({
    method: 'PUT',
    path: '/api/v1/rooms/:roomId/avatar',
    operationId: 'setRoomAvatar',
    tag,
    summary: "Set a room's avatar",
    description: `The room's owner only. ${avatarDescription}`,
    auth: true,
    params: rest.roomParams,
    rawBody: true,
    status: 204,
    errors: ['not_found', 'forbidden', 'unsupported_media_type', 'rate_limited'],
    handler: ({ session, params, request, reply }) =>
      receiving(request, reply, async () => {
        await files.setAvatar(session.user.id, { roomId: params.roomId }, { ...uploadBody(request), signal: abortedWith(request) });
      }),
  });
  api.route({
    method: 'DELETE',
    path: '/api/v1/rooms/:roomId/avatar',
    operationId: 'removeRoomAvatar',
    tag,
    summary: "Remove a room's avatar",
    description: "The room's owner only.",
    auth: true,
    params: rest.roomParams,
    status: 204,
    errors: ['not_found', 'forbidden'],
    handler: async ({ session, params }) => {
      await files.removeAvatar(session.user.id, { roomId: params.roomId });
    },
  });
  api.route({
    method: 'GET',
    path: '/api/v1/rooms/:roomId/avatar',
    operationId: 'getRoomAvatar',
    tag,
    summary: "A room's avatar",
    description: 'Members see it, and anyone for a public room. 404 when it has none.',
    auth: true,
    params: rest.roomParams,
    status: 200,
    contentType: 'application/octet-stream',
    response: fileAnswer,
    errors: ['not_found'],
    otherAnswers: { 304: 'Not modified (If-None-Match).' },
    handler: async ({ session, params, request, reply }) => serveFile(ctx, request, reply, await files.openAvatar(session.user.id, { roomId: params.roomId })),
  });
}

/** A signal that aborts when the client goes away mid-upload. */
function abortedWith(request: FastifyRequest): AbortSignal {
  const controller = new AbortController();
  request.raw.once('close', () => {
    if (!request.raw.complete) controller.abort();
  });
  return controller.signal;
}
