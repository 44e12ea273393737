/**
 * The envelope of every bus message: one line before the payload of src/protocol/bus-codec.ts,
 * carrying what travels beside it (publish time, W3C traceparent) and the envelope's version.
 * The receiving side strips it before any handler sees the payload, so the payload is still the
 * exact bytes written to sockets.
 *
 * Versions (a node writes CURRENT, or PREVIOUS when BUS_ENVELOPE_VERSION says so during a
 * rolling upgrade, and reads both):
 *
 *   2 (current)   `~2:<publish ms>[ <traceparent>]\n<payload>`
 *   1 (previous)  `~<publish ms>[ <traceparent>]\n<payload>`, or the bare payload (no envelope:
 *                 what the earlier release's `parley worker` published)
 *
 * The one rule every later version keeps: a versioned envelope starts with `~<version>:`, so a
 * node reads the version from the first few bytes and drops what it does not read (the caller
 * counts it and treats it as a possible loss) without looking at the rest. A release that
 * changes the envelope or the payload codec incompatibly takes the next version; it reads its
 * own and the one before, never older.
 *
 * A node of the earlier release reads a version 2 message as one of its own without a publish
 * time (`2:<ms>` is no number to it): the payload and the traceparent come through.
 */
export const BUS_ENVELOPE_CURRENT = 2;
export const BUS_ENVELOPE_PREVIOUS = 1;
/** The versions a node may be told to write (BUS_ENVELOPE_VERSION). */
export const BUS_ENVELOPE_WRITABLE: readonly number[] = [BUS_ENVELOPE_CURRENT, BUS_ENVELOPE_PREVIOUS];

const TILDE = 0x7e;
const COLON = 0x3a;
const SPACE = 0x20;
const NEWLINE = 0x0a;
const ZERO = 0x30;
const NINE = 0x39;

export interface EnvelopeFields {
  publishedAtMs: number;
  traceparent?: string | null;
  /** BUS_ENVELOPE_CURRENT unless told otherwise (a rolling upgrade). */
  version?: number;
}

export function wrapEnvelope(payload: string, fields: EnvelopeFields): string {
  const version = fields.version ?? BUS_ENVELOPE_CURRENT;
  const trace = fields.traceparent === null || fields.traceparent === undefined ? '' : ` ${fields.traceparent}`;
  if (version === BUS_ENVELOPE_CURRENT) return `~${BUS_ENVELOPE_CURRENT}:${fields.publishedAtMs}${trace}\n${payload}`;
  if (version === BUS_ENVELOPE_PREVIOUS) return `~${fields.publishedAtMs}${trace}\n${payload}`;
  throw new Error(`bus envelope: version ${version} cannot be written (${BUS_ENVELOPE_WRITABLE.join(' or ')})`);
}

export type Opened =
  | { ok: true; version: number; payload: string; publishedAtMs: number | null; traceparent: string | null }
  /** A message this node does not read: `version` is the one it named. */
  | { ok: false; version: number };

/** Reads the digits at `from`; `end` is where they stop, `value` null when there are none. */
function digitsAt(message: string, from: number): { value: number | null; end: number } {
  let value = 0;
  let i = from;
  for (; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < ZERO || c > NINE) break;
    value = value * 10 + (c - ZERO);
  }
  return { value: i === from ? null : value, end: i };
}

/** The header after the time: ` <traceparent>` (up to a space or the newline at `nl`), or nothing. */
function traceAt(message: string, from: number, nl: number): string | null {
  if (message.charCodeAt(from) !== SPACE) return null;
  const space = message.indexOf(' ', from + 1);
  return message.slice(from + 1, space < 0 || space > nl ? nl : space);
}

/**
 * Opens a message: reads its version from the first bytes, no more than its header line, and
 * never the payload. A message without an envelope is a version 1 payload.
 */
export function openEnvelope(message: string): Opened {
  if (message.charCodeAt(0) !== TILDE) return { ok: true, version: BUS_ENVELOPE_PREVIOUS, payload: message, publishedAtMs: null, traceparent: null };
  const head = digitsAt(message, 1);
  if (message.charCodeAt(head.end) === COLON) {
    // A versioned envelope: `head` is its version.
    const version = head.value ?? -1;
    if (version !== BUS_ENVELOPE_CURRENT) return { ok: false, version };
    const nl = message.indexOf('\n', head.end);
    if (nl < 0) return { ok: false, version };
    const at = digitsAt(message, head.end + 1);
    return { ok: true, version, payload: message.slice(nl + 1), publishedAtMs: at.value, traceparent: traceAt(message, at.end, nl) };
  }
  // Version 1, read as the earlier release read it. A `~` line without a newline passes whole
  // (no payload of the codec starts with `~`: the handler refuses it).
  const nl = message.indexOf('\n', head.end);
  if (nl < 0) return { ok: true, version: BUS_ENVELOPE_PREVIOUS, payload: message, publishedAtMs: null, traceparent: null };
  const next = message.charCodeAt(head.end);
  if (head.value !== null && (next === SPACE || next === NEWLINE)) {
    return { ok: true, version: BUS_ENVELOPE_PREVIOUS, payload: message.slice(nl + 1), publishedAtMs: head.value, traceparent: traceAt(message, head.end, nl) };
  }
  const [at, traceparent] = message.slice(1, nl).split(' ');
  const ms = Number(at);
  return { ok: true, version: BUS_ENVELOPE_PREVIOUS, payload: message.slice(nl + 1), publishedAtMs: at !== '' && Number.isFinite(ms) ? ms : null, traceparent: traceparent ?? null };
}
