/** Every HTTP error leaves in the one error shape; nothing else reaches a client. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorBody, internalBody } from '../errors.js';

/**
 * Maps Fastify's own errors (body parsing, limits, routing) onto the catalogue. Their messages
 * are never passed on: some quote the URL, and no answer carries input back.
 */
function fromFastify(error: FastifyError): AppError | null {
  switch (error.code) {
    case 'FST_ERR_BAD_URL':
      return new AppError('validation_failed', 'The URL is malformed: a percent-escape is invalid or does not encode UTF-8.');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError('validation_failed', 'A path segment of the URL is too long.');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large', 'The request body is too large.');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('validation_failed', 'The body must be JSON (Content-Type: application/json).');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('validation_failed', 'The JSON body is empty.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('validation_failed', 'The Content-Length does not match the body.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new AppError('validation_failed', 'The body is not valid JSON.');
  }
  const status = error.statusCode;
  if (status === 413) return new AppError('payload_too_large', 'The request body is too large.');
  if (status === 404 || status === 405) return new AppError('not_found', 'No such endpoint.');
  if (status === 403) return new AppError('forbidden', 'This may not be fetched.');
  if (status === 503) return new AppError('unavailable', 'The server is not ready; retry shortly.', undefined, 1);
  if (status !== undefined && status >= 400 && status < 500) return new AppError('validation_failed', 'The request is malformed.');
  return null;
}

/**
 * Fastify's `frameworkErrors`: errors met while routing, before any hook (a malformed escape in
 * the path, an over-long path parameter). Fastify would answer them in its own shape, quoting
 * the URL.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  void errorHandler(error, request, reply);
}

export function sendError(reply: FastifyReply, error: AppError): FastifyReply {
  if (error.retryAfterSeconds !== undefined) reply.header('Retry-After', String(error.retryAfterSeconds));
  return reply.status(error.status).send(error.toBody());
}

export function errorHandler(error: FastifyError | AppError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const known = error instanceof AppError ? error : fromFastify(error as FastifyError);
  if (known !== null) return sendError(reply, known);
  request.log.error({ err: error }, 'request failed');
  const body: ErrorBody = internalBody();
  return reply.status(500).send(body);
}
