/** GET /api/v1/openapi.json and GET /api/v1/docs: the API reference, as data and as a page. */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PARLEY_VERSION } from '../../paths.js';
import { buildOpenApi, type OpenApiDocument } from '../openapi.js';
import { REFERENCE_PAGE_CSP, renderReferencePage } from '../reference-page.js';
import type { RestApi } from '../route.js';

const etagOf = (text: string): string => `"${createHash('sha256').update(text).digest('base64url').slice(0, 32)}"`;

/** True when the request's If-None-Match names `etag` (or `*`): the client's copy is current. */
export function notModified(request: FastifyRequest, etag: string): boolean {
  const header = request.headers['if-none-match'];
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

interface Built {
  document: OpenApiDocument;
  documentEtag: string;
  page: string;
  pageEtag: string;
}

export function referenceRoutes(api: RestApi): void {
  // Built on the first request, once every route is declared; the same until the server restarts.
  let built: Built | null = null;
  const reference = (): Built => {
    if (built === null) {
      const document = buildOpenApi(api.routes, { version: PARLEY_VERSION });
      const page = renderReferencePage(document);
      built = { document, documentEtag: etagOf(JSON.stringify(document)), page, pageEtag: etagOf(page) };
    }
    return built;
  };
  // Revalidated on each use: a deploy may change it, and a 304 costs next to nothing.
  const cacheable = (reply: FastifyReply, etag: string) => reply.header('ETag', etag).header('Cache-Control', 'no-cache');
  const unchanged = 'The copy named by If-None-Match is current (no body).';

  api.route({
    method: 'GET',
    path: '/api/v1/openapi.json',
    operationId: 'getOpenApi',
    tag: 'Reference',
    summary: 'This document',
    description: 'The OpenAPI 3.1 description of the REST API. Cacheable: send the `ETag` back as `If-None-Match` to revalidate.',
    auth: false,
    status: 200,
    response: z.looseObject({ openapi: z.literal('3.1.0') }).describe('An OpenAPI 3.1 document.'),
    errors: [],
    otherAnswers: { 304: unchanged },
    handler: async ({ request, reply }) => {
      const { document, documentEtag } = reference();
      cacheable(reply, documentEtag);
      if (notModified(request, documentEtag)) return reply.status(304).send();
      return document;
    },
  });

  api.route({
    method: 'GET',
    path: '/api/v1/docs',
    operationId: 'getApiReference',
    tag: 'Reference',
    summary: 'The API reference, as a page',
    description: 'This document rendered as one self-contained HTML page, for people.',
    auth: false,
    status: 200,
    response: z.string().describe('An HTML page.'),
    contentType: 'text/html; charset=utf-8',
    errors: [],
    otherAnswers: { 304: unchanged },
    handler: async ({ request, reply }) => {
      const { page, pageEtag } = reference();
      cacheable(reply, pageEtag);
      reply.header('Content-Security-Policy', REFERENCE_PAGE_CSP);
      if (notModified(request, pageEtag)) return reply.status(304).send();
      return page;
    },
  });
}
