/** Every HTTP error leaves in the one error shape; nothing else reaches a client. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, type ErrorBody, internalBody } from '../errors.js';

/** Maps Fastify's own errors (body parsing, limits, routing) onto the catalogue. */
function fromFastify(error: FastifyError): AppError | null {
  switch (error.code) {
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
  if (status === 404) return new AppError('not_found', 'No such endpoint.');
  if (status !== undefined && status >= 400 && status < 500) return new AppError('validation_failed', 'The request is malformed.');
  return null;
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
