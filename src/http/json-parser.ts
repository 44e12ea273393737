/**
 * Strict JSON bodies: invalid UTF-8 is refused rather than silently replaced with U+FFFD
 * (which would store text the client never sent), and malformed JSON is a validation error.
 */
import type { FastifyInstance } from 'fastify';
import { validationFailed } from '../errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function registerJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(/^application\/(.+\+)?json$/i, { parseAs: 'buffer' }, (_request, body: Buffer, done) => {
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
  });
}
