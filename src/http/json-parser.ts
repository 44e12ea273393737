/**
 * Request bodies: JSON in UTF-8, and nothing else. Fastify's own parsers go, text/plain first:
 * a cross-site form or `fetch(…, {mode: 'no-cors'})` can send text/plain with a victim's cookie
 * and no preflight, while a JSON body needs one that this server never grants. Invalid UTF-8 is
 * refused rather than replaced with U+FFFD (which would store text the client never sent), and
 * malformed JSON is a validation error.
 */
import type { FastifyInstance } from 'fastify';
import { validationFailed } from '../errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** `application/json`, or a structured `application/…+json` type, with or without parameters. */
const JSON_MEDIA_TYPE = /^\s*application\/(?:[\w!#$%&'*+.^`|~-]+\+)?json\s*(?:;|$)/i;
const CHARSET = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i;

/** True when a Content-Type header names JSON (parameters allowed). */
export function isJsonContentType(header: string | undefined): boolean {
  return header !== undefined && JSON_MEDIA_TYPE.test(header);
}

/** Why a JSON Content-Type cannot be accepted (a charset other than UTF-8), or null. */
export function charsetProblem(header: string): string | null {
  const match = CHARSET.exec(header);
  if (match === null) return null;
  const charset = (match[1] ?? match[2] ?? '').toLowerCase();
  return charset === 'utf-8' || charset === 'utf8' ? null : 'The body must be UTF-8: charset, when given, must be utf-8.';
}

export function registerJsonParser(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const parseJson = (request: { headers: { 'content-type'?: string | undefined } }, body: Buffer, done: (error: Error | null, body?: unknown) => void) => {
    const problem = charsetProblem(request.headers['content-type'] ?? '');
    if (problem !== null) return done(validationFailed(problem), undefined);
    if (body.length === 0) return done(null, undefined);
    let text: string;
    try {
      text = utf8.decode(body);
    } catch {
      return done(validationFailed('The body is not valid UTF-8.'), undefined);
    }
    try {
      done(null, JSON.parse(text));
    } catch {
      done(validationFailed('The body is not valid JSON.'), undefined);
    }
  };
  // Fastify matches a string type on the media type alone, so parameters (charset) reach the parser.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, parseJson);
  app.addContentTypeParser(/^application\/[\w!#$%&'*+.^`|~-]+\+json(?:;|$)/i, { parseAs: 'buffer' }, parseJson);
  // An upload's bytes reach the routes that take them as the stream they arrive on, unread.
  app.addContentTypeParser('application/octet-stream', (request, payload, done) => {
    if ((request.routeOptions.config as { rawBody?: boolean } | undefined)?.rawBody === true) return done(null, payload);
    if (request.is404) return done(null, undefined);
    done(validationFailed('The body must be JSON (Content-Type: application/json).'), undefined);
  });
  // Any other type (or a body without a type) is refused before its body is read; an unknown
  // route still answers 404.
  app.addContentTypeParser('*', (request, _payload, done) => {
    if (request.is404) return done(null, undefined);
    const raw = (request.routeOptions.config as { rawBody?: boolean } | undefined)?.rawBody === true;
    done(validationFailed(raw ? 'Send the file as Content-Type: application/octet-stream.' : 'The body must be JSON (Content-Type: application/json).'), undefined);
  });
}
