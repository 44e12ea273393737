/**
 * The checks every job backend makes before enqueueing: the same answers whichever runs.
 * Callers are Parley's own code, so a failure here is a bug, reported as `validation_failed`.
 */
import { validationFailed } from '../errors.js';
import { DEFAULT_JOB_ATTEMPTS, DEFAULT_JOB_BACKOFF, type EnqueueOptions, type JobPayload, QUEUE_NAME } from '../ports.js';

/** A payload's JSON may be this long: jobs carry ids, not documents. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
export const MAX_KEY_LENGTH = 200;
export const MAX_ATTEMPTS = 100;
/** The shortest period of a repeatable job. */
export const MIN_REPEAT_MS = 100;

export interface CheckedEnqueue {
  payload: string;
  key: string | null;
  delayMs: number;
  attempts: number;
  backoff: { baseMs: number; maxMs: number };
}

export function checkQueueName(queue: string): void {
  if (!QUEUE_NAME.test(queue)) throw validationFailed(`Queue names are lower-case letters, digits and dashes: ${JSON.stringify(queue.slice(0, 80))}`);
}

export function encodePayload(payload: JobPayload): string {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw validationFailed('A job payload is a JSON object.');
  const json = JSON.stringify(payload);
  if (Buffer.byteLength(json) > MAX_PAYLOAD_BYTES) throw validationFailed(`A job payload is at most ${MAX_PAYLOAD_BYTES} bytes of JSON.`);
  return json;
}

export function checkEnqueue(queue: string, payload: JobPayload, options: EnqueueOptions = {}): CheckedEnqueue {
  checkQueueName(queue);
  const key = options.key ?? null;
  if (key !== null && (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH)) {
    throw validationFailed(`A job key is 1 to ${MAX_KEY_LENGTH} characters.`);
  }
  const delayMs = options.delayMs ?? 0;
  if (!Number.isFinite(delayMs) || delayMs < 0) throw validationFailed('A job delay is a non-negative number of milliseconds.');
  const attempts = options.attempts ?? DEFAULT_JOB_ATTEMPTS;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > MAX_ATTEMPTS) throw validationFailed(`A job has 1 to ${MAX_ATTEMPTS} attempts.`);
  const backoff = options.backoff ?? DEFAULT_JOB_BACKOFF;
  if (!(Number.isFinite(backoff.baseMs) && backoff.baseMs >= 0 && Number.isFinite(backoff.maxMs) && backoff.maxMs >= backoff.baseMs)) {
    throw validationFailed('A job backoff has 0 <= baseMs <= maxMs.');
  }
  return { payload: encodePayload(payload), key, delayMs: Math.floor(delayMs), attempts, backoff: { baseMs: Math.floor(backoff.baseMs), maxMs: Math.floor(backoff.maxMs) } };
}

export function checkRepeat(queue: string, name: string, everyMs: number, payload: JobPayload): string {
  checkQueueName(queue);
  if (typeof name !== 'string' || name.length === 0 || name.length > 100) throw validationFailed('A repeat name is 1 to 100 characters.');
  if (!Number.isInteger(everyMs) || everyMs < MIN_REPEAT_MS) throw validationFailed(`A repeat period is an integer of at least ${MIN_REPEAT_MS} ms.`);
  return encodePayload(payload);
}

/** The idempotency key of a repeatable job's run in one period. */
export const repeatKey = (name: string, slot: number): string => `repeat:${name}:${slot}`;
