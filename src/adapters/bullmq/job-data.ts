/**
 * The BullMQ job wire: what Parley keeps in a BullMQ job and how it reads it back, in one place.
 *
 * - `data`: `{ v: 1, payload, key, backoff: [baseMs, maxMs] }`. The payload is the caller's JSON
 *   object; the key and the backoff ride along because a worker (any process) needs them and
 *   BullMQ's own options have no room for them.
 * - `name`: the token of the enqueue that stored the job. BullMQ answers an add whose jobId
 *   exists with that job's id and nothing else; reading the name back tells an enqueue whether
 *   it was its own (`created`). Jobs of a repeat schedule are named after the schedule.
 * - `jobId`: for a job with an idempotency key, derived from the key (BullMQ refuses custom ids
 *   that are integers or hold ':'); BullMQ's own counter otherwise.
 */
import { createHash } from 'node:crypto';
import { failureMessage } from '../../jobs/errors.js';
import type { JobPayload } from '../../ports.js';

export interface BullJobData {
  readonly v: 1;
  readonly payload: JobPayload;
  readonly key: string | null;
  readonly backoff: readonly [number, number];
}

export interface DecodedJobData {
  payload: JobPayload;
  key: string | null;
  backoff: { baseMs: number; maxMs: number };
}

/** The name of Parley's backoff strategy in BullMQ job options (the worker's `settings.backoffStrategy`). */
export const BACKOFF_TYPE = 'parley-full-jitter';

/** `payloadJson` is the checked payload (validate.ts): parsed again, so what is stored is plain JSON. */
export function encodeJobData(payloadJson: string, key: string | null, backoff: { baseMs: number; maxMs: number }): BullJobData {
  return { v: 1, payload: JSON.parse(payloadJson) as JobPayload, key, backoff: [backoff.baseMs, backoff.maxMs] };
}

const isFiniteNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);

/** Throws on data Parley did not write (a job added to the queue by another tool). */
export function decodeJobData(data: unknown): DecodedJobData {
  const d = data as Partial<Record<keyof BullJobData, unknown>> | null;
  if (d === null || typeof d !== 'object' || d.v !== 1) throw new Error('Not a Parley job: its data has no version 1 envelope.');
  const { payload, key, backoff } = d;
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) throw new Error('Not a Parley job: its payload is not an object.');
  if (key !== null && typeof key !== 'string') throw new Error('Not a Parley job: its key is not a string.');
  if (!Array.isArray(backoff) || !isFiniteNumber(backoff[0]) || !isFiniteNumber(backoff[1])) throw new Error('Not a Parley job: its backoff is malformed.');
  return { payload: payload as JobPayload, key, backoff: { baseMs: backoff[0], maxMs: backoff[1] } };
}

/** Decodes, or says why not in a form fit for a dead job's error. */
export function tryDecodeJobData(data: unknown): DecodedJobData | { error: string } {
  try {
    return decodeJobData(data);
  } catch (error) {
    return { error: failureMessage(error) };
  }
}

/** A key's BullMQ jobId: 'k' and 128 bits of its SHA-256 (never an integer, never a ':'). */
export const jobIdForKey = (key: string): string => `k${createHash('sha256').update(key).digest('hex').slice(0, 32)}`;

/**
 * A repeat schedule's BullMQ scheduler id. BullMQ builds the ids of its runs as
 * `repeat:<schedulerId>:<millis>` and takes a scheduler id with four ':' for a legacy one, so
 * ':' (and '%') are escaped.
 */
export const schedulerId = (name: string): string => name.replace(/[%:]/g, (c) => (c === '%' ? '%25' : '%3A'));
