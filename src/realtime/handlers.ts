/**
 * Inbound WebSocket frames: parse, validate (one schema per op), call a service, reply.
 * Every request gets exactly one reply; a frame whose id cannot be read gets a reply with
 * `id: null`. No rule of the domain lives here.
 */
import type { RawData } from 'ws';
import type { Config } from '../config.js';
import type { Accepted } from '../domain/messages.js';
import type { Services } from '../domain/services.js';
import { messageView } from '../domain/views.js';
import { AppError, CLOSE, internalBody, rateLimited, validationFailed } from '../errors.js';
import type { Logger } from '../observability/log.js';
import type { Metrics } from '../observability/metrics.js';
import { context, SpanKind, SpanStatusCode, trace, tracer, tracingEnabled } from '../observability/tracing.js';
import { buildSchemas, type Frame, parse, type Schemas } from '../protocol/schemas.js';
import type { Connection } from './connection.js';
import { frameText } from './frame.js';
import { NotAMember, type RoomHub } from './room-hub.js';

export interface HandlerContext {
  services: Services;
  hub: RoomHub;
  config: Config;
  log: Logger;
  metrics: Metrics;
}

/** Sends, edits and deletes one connection may have waiting for acceptance. */
const MAX_LANE = 64;
/** Typing notices are dropped (not refused) past one per room per this many ms. */
const TYPING_INTERVAL_MS = 1000;

const schemaCache = new WeakMap<Config, Schemas>();
const schemasFor = (config: Config): Schemas => {
  let schemas = schemaCache.get(config);
  if (schemas === undefined) {
    schemas = buildSchemas({ messageMaxChars: config.MESSAGE_MAX_CHARS, maxFilesPerMessage: config.UPLOAD_MAX_FILES_PER_MESSAGE });
    schemaCache.set(config, schemas);
  }
  return schemas;
};

/**
 * When each connection last announced typing in each room: only rooms it may type in are
 * remembered (membership is checked first), and at most `limit` of them, so random room ids
 * cost nothing to keep.
 */
const lastTyping = new WeakMap<Connection, Map<string, number>>();

/** Rooms whose last typing notice this connection remembers (bounded by MAX_SUBSCRIPTIONS). */
export function typingRoomsRemembered(conn: Connection): number {
  return lastTyping.get(conn)?.size ?? 0;
}

function typedRecently(conn: Connection, roomId: string, now: number): boolean {
  const at = lastTyping.get(conn)?.get(roomId);
  return at !== undefined && now - at < TYPING_INTERVAL_MS;
}

function forgetTyping(conn: Connection, roomId: string, at: number): void {
  const seen = lastTyping.get(conn);
  if (seen?.get(roomId) === at) seen.delete(roomId);
}

function rememberTyping(conn: Connection, roomId: string, now: number, limit: number): void {
  let seen = lastTyping.get(conn);
  if (seen === undefined) {
    seen = new Map();
    lastTyping.set(conn, seen);
  }
  seen.delete(roomId);
  if (seen.size >= limit) {
    for (const [room, at] of seen) if (now - at >= TYPING_INTERVAL_MS) seen.delete(room);
    // Still full of fresh entries: the oldest goes (insertion order is recency).
    if (seen.size >= limit) seen.delete(seen.keys().next().value as string);
  }
  seen.set(roomId, now);
}

export function handleMessage(ctx: HandlerContext, conn: Connection, data: RawData, isBinary: boolean): void {
  // A frame read after the connection began closing, or after a shutdown stopped reading, is never
  // acted on: whatever is stored is answered before the close.
  if (!conn.isOpen || !conn.reading) return;
  if (!conn.takeFrame()) {
    ctx.metrics.rateLimited.labels('frame').inc();
    conn.close(CLOSE.rateLimited, 'rate limited: too many frames');
    return;
  }
  if (isBinary) {
    ctx.metrics.frameReceived('invalid');
    return replyError(ctx, conn, null, validationFailed('Frames must be JSON text frames.'));
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
  } catch {
    ctx.metrics.frameReceived('invalid');
    return replyError(ctx, conn, null, validationFailed('The frame is not valid JSON.'));
  }
  const id = readId(raw);
  let frame: Frame;
  try {
    frame = parse(schemasFor(ctx.config).frame, raw, 'frame');
  } catch (error) {
    ctx.metrics.frameReceived('invalid');
    return replyError(ctx, conn, id, error);
  }
  ctx.metrics.frameReceived(frame.type);
  // Counted from receipt to reply: a shutdown answers every request it has read before it closes.
  conn.inflight++;
  dispatch(ctx, conn, frame)
    .catch((error: unknown) => replyError(ctx, conn, 'id' in frame ? frame.id : null, error))
    .finally(() => {
      conn.inflight--;
    });
}

function readId(raw: unknown): number | null {
  if (typeof raw !== 'object' || raw === null || !('id' in raw)) return null;
  const id = (raw as { id: unknown }).id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 ? id : null;
}

async function dispatch(ctx: HandlerContext, conn: Connection, frame: Frame): Promise<void> {
  const { services, hub } = ctx;
  const userId = conn.user.id;
  switch (frame.type) {
    case 'ping':
      ctx.metrics.replySent();
      conn.writeJson({ type: 'pong' });
      return;
    case 'typing': {
      const now = Date.now();
      if (typedRecently(conn, frame.roomId, now)) return;
      // The slot is taken before the membership is checked, so a burst of frames read in one
      // turn passes once; it is given back if the check fails, so only rooms one may type in
      // stay remembered (at most MAX_SUBSCRIPTIONS of them).
      rememberTyping(conn, frame.roomId, now, ctx.config.MAX_SUBSCRIPTIONS);
      try {
        await services.messages.typing(conn.user, frame.roomId);
      } catch (error) {
        forgetTyping(conn, frame.roomId, now);
        throw error;
      }
      return;
    }
    case 'subscribe': {
      if (!conn.rooms.has(frame.roomId) && conn.rooms.size >= ctx.config.MAX_SUBSCRIPTIONS) {
        throw validationFailed(`A connection may subscribe to at most ${ctx.config.MAX_SUBSCRIPTIONS} rooms.`, { limit: ctx.config.MAX_SUBSCRIPTIONS });
      }
      // Claimed before anything is awaited, so an unsubscribe or a close that comes while the
      // membership is checked is seen when the subscribe resumes.
      const attempt = hub.claim(conn, frame.roomId);
      try {
        const { asOfSeq } = await services.access.requireMembership(frame.roomId, userId);
        // The membership may be cached from before a leave that raced this subscribe: the hub
        // checks the stream since `asOfSeq` (or the store) once the subscription is registered.
        // The reply carries the room's online members as they are when it turns live.
        await hub.subscribe(conn, frame.roomId, frame.since, asOfSeq, attempt, frame.presence ?? 'full', ({ onlineJson, ...live }) => {
          if (onlineJson === undefined) reply(ctx, conn, frame.id, live);
          else replyWithRaw(ctx, conn, frame.id, live, 'online', onlineJson);
        });
      } catch (error) {
        const answer = error instanceof NotAMember ? await services.access.refusal(frame.roomId) : error;
        hub.release(conn, frame.roomId, attempt, answer);
        throw answer;
      }
      return;
    }
    case 'unsubscribe':
      await hub.unsubscribe(conn, frame.roomId);
      reply(ctx, conn, frame.id, {});
      return;
    case 'read': {
      await services.messages.markRead(userId, frame.roomId, frame.seq);
      reply(ctx, conn, frame.id, {});
      return;
    }
    case 'send':
      return inLane(ctx, conn, frame, () => services.messages.submitSend(userId, frame.roomId, frame.body, frame.clientMsgId ?? null, undefined, frame.attachments ?? [], frame.threadRoot ?? null), (r) => ({ message: messageView(r.message) }));
    case 'edit':
      return inLane(ctx, conn, frame, () => services.messages.submitEdit(userId, frame.roomId, frame.seq, frame.body), (m) => ({ message: messageView(m) }));
    case 'delete':
      return inLane(ctx, conn, frame, () => services.messages.submitDelete(userId, frame.roomId, frame.seq), () => ({}));
    case 'react':
    case 'unreact':
      return inLane(ctx, conn, frame, () => services.messages.submitReaction(userId, frame.roomId, frame.seq, frame.emoji, frame.type === 'react'), () => ({}));
  }
}

/**
 * Runs a change through the connection's lane: the next one is checked and queued only after
 * this one was accepted, so one connection's messages are stored in the order it sent them,
 * while commits still batch across connections. Resolves once the reply is written.
 */
function inLane<T>(
  ctx: HandlerContext,
  conn: Connection,
  frame: { id: number; type: string; roomId: string },
  submit: () => Promise<Accepted<T>>,
  shape: (value: T) => Record<string, unknown>,
): Promise<void> {
  if (conn.laneDepth >= MAX_LANE) throw rateLimited(1000);
  const id = frame.id;
  conn.laneDepth++;
  // With tracing on, the change is one span from the frame to its reply; the store append and
  // the bus publish it causes are its children, and so (through the bus envelope) are the
  // deliveries on other nodes.
  const span = tracingEnabled()
    ? tracer().startSpan(`ws ${frame.type}`, { kind: SpanKind.SERVER, attributes: { 'parley.room.id': frame.roomId, 'parley.user.id': conn.user.id, 'parley.connection.id': conn.id } })
    : null;
  const finish = (error?: unknown) => {
    if (span === null) return;
    if (error !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof AppError ? error.code : 'internal' });
    }
    span.end();
  };
  let answered!: () => void;
  const done = new Promise<void>((resolve) => {
    answered = resolve;
  });
  const run = async () => {
    try {
      const accepted = await submit();
      accepted.result.then(
        (value) => {
          reply(ctx, conn, id, shape(value));
          finish();
          answered();
        },
        (error: unknown) => {
          replyError(ctx, conn, id, error);
          finish(error);
          answered();
        },
      );
    } catch (error) {
      replyError(ctx, conn, id, error);
      finish(error);
      answered();
    } finally {
      conn.laneDepth--;
    }
  };
  const spanContext = span === null ? null : trace.setSpan(context.active(), span);
  conn.lane = conn.lane.then(spanContext === null ? run : () => context.with(spanContext, run));
  return done;
}

function reply(ctx: HandlerContext, conn: Connection, id: number | null, fields: Record<string, unknown>): void {
  ctx.metrics.replySent();
  conn.writeJson({ type: 'reply', id, ok: true, ...fields });
}

/** A reply with one field given as JSON text already (a large list shared by many replies). */
function replyWithRaw(ctx: HandlerContext, conn: Connection, id: number | null, fields: Record<string, unknown>, name: string, json: string): void {
  ctx.metrics.replySent();
  const head = JSON.stringify({ type: 'reply', id, ok: true, ...fields });
  conn.write(frameText(`${head.slice(0, -1)},${JSON.stringify(name)}:${json}}`));
}

function replyError(ctx: HandlerContext, conn: Connection, id: number | null, error: unknown): void {
  ctx.metrics.replySent();
  if (error instanceof AppError) {
    conn.writeJson({ type: 'reply', id, ok: false, ...error.toBody() });
    return;
  }
  ctx.log.error({ err: error }, 'ws request failed');
  conn.writeJson({ type: 'reply', id, ok: false, ...internalBody() });
}
