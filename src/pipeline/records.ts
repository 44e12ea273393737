/**
 * What the event log holds (docs/architecture.md, "The event pipeline"): JSON records with a
 * version, of two families.
 *
 * - `stream.<kind>`: a committed stream event, id `room:<roomId>:<seq>` (so the relay's repeats
 *   are stored once), `{v, type: 'stream', event}`. For messages and edits `event.message` is
 *   the message as it was when relayed (a message deleted by then has an empty body).
 * - `ops.<name>`: an operational event (connections, logins, job outcomes), id
 *   `ops:<node>:<uuid>`, `{v, type: 'ops', name, at, node, ...fields}`.
 *
 * A consumer reads the versions it knows and skips the others (a newer node's records during a
 * rolling upgrade).
 */
import { randomUUID } from 'node:crypto';
import type { StreamEventRecord } from '../domain/types.js';
import type { LogEntry, LogRecord } from '../ports.js';

export const RECORD_VERSION = 1;

export interface StreamRecord {
  v: 1;
  type: 'stream';
  event: StreamEventRecord;
}

export type OpsName = 'delivery.latency' | 'connection.opened' | 'connection.closed' | 'login.succeeded' | 'login.failed' | 'user.registered' | 'job.completed' | 'job.failed' | 'job.dead';

export interface OpsRecord {
  v: 1;
  type: 'ops';
  name: OpsName;
  at: number;
  node: string;
  [field: string]: unknown;
}

export function streamRecord(event: StreamEventRecord): LogRecord {
  const { wasNotMember: _, ...stored } = event;
  return { id: `room:${event.roomId}:${event.seq}`, subject: `stream.${event.kind}`, data: JSON.stringify({ v: RECORD_VERSION, type: 'stream', event: stored } satisfies StreamRecord) };
}

export function opsRecord(name: OpsName, fields: Record<string, unknown>, node: string, at: number): LogRecord {
  return { id: `ops:${node}:${randomUUID()}`, subject: `ops.${name}`, data: JSON.stringify({ ...fields, v: RECORD_VERSION, type: 'ops', name, at, node } satisfies OpsRecord) };
}

/** The record of an entry, or undefined for one this version does not read (counted by callers). */
export function decodeRecord(entry: LogEntry): StreamRecord | OpsRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(entry.data);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const r = value as { v?: unknown; type?: unknown; event?: { roomId?: unknown; seq?: unknown } };
  if (r.v !== RECORD_VERSION) return undefined;
  if (r.type === 'stream' && typeof r.event?.roomId === 'string' && typeof r.event.seq === 'number') return value as StreamRecord;
  if (r.type === 'ops') return value as OpsRecord;
  return undefined;
}
