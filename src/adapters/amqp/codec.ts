/**
 * The one codec of a job as a RabbitMQ message. The body is the payload's JSON; the headers
 * carry the rest, so that a retry, a trip through a delay bucket or a dead letter is the same
 * body republished with other headers. Messages are persistent (delivery mode 2) and carry the
 * job id as `messageId`.
 *
 * Pure: no I/O, unit-tested in test/adapters/amqp-codec.test.ts.
 */
import type { Message, MessageProperties, Options } from 'amqplib';
import type { JobPayload } from '../../ports.js';

/** A job between runs. */
export interface JobMessage {
  id: string;
  key: string | null;
  /** The payload's JSON. */
  payload: string;
  /** The run the next delivery makes: 1 for the first. In a dead letter, the last run made. */
  attempt: number;
  /** Runs allowed in all. */
  attempts: number;
  backoff: { baseMs: number; maxMs: number };
  /** Epoch ms. */
  enqueuedAt: number;
  /** Not to run before this, epoch ms; 0 when ready. */
  runAt: number;
}

/** How a dead job died. */
export interface Death {
  error: string;
  failedAt: number;
}

export interface DecodedJob extends JobMessage {
  /** The payload parsed. */
  value: JobPayload;
  /** Set on dead letters. */
  death: Death | null;
}

const HEADER = {
  key: 'x-parley-key',
  attempt: 'x-parley-attempt',
  attempts: 'x-parley-attempts',
  backoffBaseMs: 'x-parley-backoff-base-ms',
  backoffMaxMs: 'x-parley-backoff-max-ms',
  enqueuedAt: 'x-parley-enqueued-at',
  runAt: 'x-parley-run-at',
  error: 'x-parley-error',
  failedAt: 'x-parley-failed-at',
} as const;

export interface EncodedMessage {
  content: Buffer;
  options: Options.Publish;
}

export function encodeJob(job: JobMessage, death: Death | null = null): EncodedMessage {
  const headers: Record<string, string | number> = {
    [HEADER.attempt]: job.attempt,
    [HEADER.attempts]: job.attempts,
    [HEADER.backoffBaseMs]: job.backoff.baseMs,
    [HEADER.backoffMaxMs]: job.backoff.maxMs,
    [HEADER.enqueuedAt]: job.enqueuedAt,
  };
  if (job.key !== null) headers[HEADER.key] = job.key;
  if (job.runAt > 0) headers[HEADER.runAt] = job.runAt;
  if (death !== null) {
    headers[HEADER.error] = death.error;
    headers[HEADER.failedAt] = death.failedAt;
  }
  return {
    content: Buffer.from(job.payload, 'utf8'),
    options: { persistent: true, messageId: job.id, contentType: 'application/json', headers },
  };
}

const int = (value: unknown): number | null => {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : null;
};

/** The job a message carries, or null when it is not one of ours (a foreign or damaged message). */
export function decodeJob(message: Pick<Message, 'content'> & { properties: Pick<MessageProperties, 'messageId' | 'headers'> }): DecodedJob | null {
  const id = message.properties.messageId;
  const headers = message.properties.headers ?? {};
  const attempt = int(headers[HEADER.attempt]);
  const attempts = int(headers[HEADER.attempts]);
  const baseMs = int(headers[HEADER.backoffBaseMs]);
  const maxMs = int(headers[HEADER.backoffMaxMs]);
  const enqueuedAt = int(headers[HEADER.enqueuedAt]);
  const runAt = headers[HEADER.runAt] === undefined ? 0 : int(headers[HEADER.runAt]);
  const key = headers[HEADER.key];
  if (typeof id !== 'string' || id === '' || attempt === null || attempts === null || baseMs === null || maxMs === null || enqueuedAt === null || runAt === null) return null;
  if (key !== undefined && typeof key !== 'string') return null;
  const payload = message.content.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return null;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const error = headers[HEADER.error];
  const failedAt = int(headers[HEADER.failedAt]);
  return {
    id,
    key: key ?? null,
    payload,
    value: value as JobPayload,
    attempt,
    attempts,
    backoff: { baseMs, maxMs },
    enqueuedAt,
    runAt,
    death: typeof error === 'string' && failedAt !== null ? { error, failedAt } : null,
  };
}
