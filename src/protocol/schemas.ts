/**
 * One schema per wire message (REST bodies and queries, WebSocket frames), built once from the
 * configured limits. Objects are strict: an unknown field is a validation error, so a typo in a
 * client never passes silently. Every string goes through the text rules of text.ts: no string
 * reaches a service, the store or another client without passing them.
 */
import { EVENT_KINDS } from './event-kinds.js';
import { z } from 'zod';
import { validationFailed } from '../errors.js';
import {
  CLIENT_MSG_ID_MAX,
  CURSOR_MAX,
  DISPLAY_NAME_MAX,
  HISTORY_LIMIT_DEFAULT,
  HISTORY_LIMIT_MAX,
  MEMBERS_PAGE_DEFAULT,
  MEMBERS_PAGE_MAX,
  PASSWORD_MAX,
  PASSWORD_MIN,
  ROOM_NAME_MAX,
  SEARCH_LIMIT_DEFAULT,
  SEARCH_LIMIT_MAX,
  SEARCH_QUERY_MAX,
  SEQ_MAX,
  STATUS_TEXT_MAX,
  TOPIC_MAX,
  USER_SEARCH_LIMIT_DEFAULT,
  USER_SEARCH_LIMIT_MAX,
  USER_SEARCH_QUERY_MAX,
  USERNAME_PATTERN,
} from './limits.js';
import { EMOJI_MAX_UNITS, isReactionEmoji } from './emoji.js';
import { type TextKind, textProblem } from './text.js';

/** Length in Unicode code points, so an emoji counts as one character. */
const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** A string that passes the text rules of its kind (text.ts). */
const text = (kind: TextKind) =>
  z.string().superRefine((value, ctx) => {
    const problem = textProblem(value, kind);
    if (problem !== null) ctx.addIssue({ code: 'custom', message: problem });
  });

const id = text('wire').min(1).max(64);
// -0 is an integer to JSON and to zod; it becomes 0 here so it is stored and echoed as 0.
const seqFrom = (min: number) =>
  z
    .number()
    .int()
    .min(min)
    .max(SEQ_MAX)
    .transform((n) => n + 0);
const seq = seqFrom(0);
const requestId = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
/** Characters of a moderator's reason. */
const MODERATION_REASON_MAX = 500;
/** The longest ban or mute with an end, seconds (ten years); longer is for ever. */
const RESTRICTION_MAX_S = 10 * 365 * 24 * 3600;

/** Query-string integers arrive as strings. */
const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,16}$/, 'must be a non-negative integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const emoji = text('wire')
  .min(1)
  .max(EMOJI_MAX_UNITS + 2)
  .refine(isReactionEmoji, 'must be one emoji, or a :shortcode: of 1–32 of a-z 0-9 _ + -')
  .describe('One emoji (a single grapheme: 👍, 👍🏽, 🇫🇷, 👨‍👩‍👧), or a `:shortcode:` of 1–32 of a-z 0-9 _ + - (`:+1:`).');
const threadRoot = z
  .number()
  .int()
  .min(1)
  .max(SEQ_MAX)
  .describe('Send the message as a reply in the thread of this top-level message of the room (not deleted, not itself a reply).');

const username = text('wire').regex(USERNAME_PATTERN, 'must be 3–32 of a-z 0-9 _ . -');
// Lengths checked by a refinement are also stated in `meta`, for the API reference (JSON Schema
// counts code points too); `meta` checks nothing.
const password = text('wire')
  .refine((s) => codePoints(s) >= PASSWORD_MIN && codePoints(s) <= PASSWORD_MAX, `must be ${PASSWORD_MIN}–${PASSWORD_MAX} characters`)
  .meta({ minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX });
const displayName = text('name')
  .trim()
  .refine((s) => codePoints(s) >= 1 && codePoints(s) <= DISPLAY_NAME_MAX, `must be 1–${DISPLAY_NAME_MAX} characters`)
  .meta({ minLength: 1, maxLength: DISPLAY_NAME_MAX, description: 'Shown to others; no control characters, not blank, not resembling another user\'s username. Default: the username.' });
const clientMsgId = text('wire').min(1).max(CLIENT_MSG_ID_MAX);
const statusText = text('name')
  .trim()
  .refine((s) => codePoints(s) >= 1 && codePoints(s) <= STATUS_TEXT_MAX, `must be 1–${STATUS_TEXT_MAX} characters`)
  .meta({ minLength: 1, maxLength: STATUS_TEXT_MAX, description: 'One line, not blank, no control characters; null clears the status.' });
const cursor = text('wire').min(1).max(CURSOR_MAX);
const webhookName = text('name')
  .trim()
  .refine((s) => codePoints(s) >= 1 && codePoints(s) <= DISPLAY_NAME_MAX, `must be 1–${DISPLAY_NAME_MAX} characters`)
  .meta({ minLength: 1, maxLength: DISPLAY_NAME_MAX, description: 'Held to the rules of display names. Without `botId`, the display name of the bot made for the webhook.' });

/** Notification ids: opaque to clients, digits on the wire so they order. */
const notificationId = z
  .string()
  .regex(/^\d{1,16}$/, 'must be a notification id')
  .transform(Number)
  .pipe(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER));
const email = text('wire')
  .max(254)
  .regex(/^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/, 'must be an e-mail address');

export interface SchemaLimits {
  messageMaxChars: number;
  /** UPLOAD_MAX_FILES_PER_MESSAGE; default 10. */
  maxFilesPerMessage?: number;
}

export function buildSchemas(limits: SchemaLimits) {
  const body = text('body')
    .refine((s) => codePoints(s) <= limits.messageMaxChars, `must be at most ${limits.messageMaxChars} characters`)
    .meta({ minLength: 1, maxLength: limits.messageMaxChars, description: 'Not blank; no control characters but tab, LF and CR; no bidirectional overrides.' });

  const maxFiles = limits.maxFilesPerMessage ?? 10;
  const attachments = z
    .array(id)
    .min(1)
    .max(maxFiles)
    .describe(`Ids of uploads of the sender's to this room (POST /api/v1/rooms/{roomId}/uploads), not attached yet, in the order to show them; at most ${maxFiles}.`);
  /** A message's text: it may be empty when the message carries attachments. */
  const sendBody = z.union([z.literal(''), body]).describe('The text: not blank unless there are attachments; no control characters but tab, LF and CR; no bidirectional overrides.');
  const textOrFiles = (m: { body: string; attachments?: string[] | undefined }, ctx: z.core.$RefinementCtx) => {
    if (m.body === '' && (m.attachments === undefined || m.attachments.length === 0)) ctx.addIssue({ code: 'custom', path: ['body'], message: 'must not be blank (unless the message has attachments)' });
  };

  const roomName = text('name')
    .trim()
    .refine((s) => codePoints(s) >= 1 && codePoints(s) <= ROOM_NAME_MAX, `must be 1–${ROOM_NAME_MAX} characters`)
    .meta({ minLength: 1, maxLength: ROOM_NAME_MAX, description: 'No control characters, not blank.' });
  const topic = text('topic')
    .refine((s) => codePoints(s) <= TOPIC_MAX, `must be at most ${TOPIC_MAX} characters`)
    .meta({ maxLength: TOPIC_MAX });
  const reason = text('topic')
    .refine((s) => codePoints(s) <= MODERATION_REASON_MAX, `must be at most ${MODERATION_REASON_MAX} characters`)
    .meta({ maxLength: MODERATION_REASON_MAX, description: 'Why, as the moderator puts it: shown to the room in the event, and kept in the audit log.' });
  const restrict = z
    .strictObject({
      durationS: z
        .number()
        .int()
        .min(1)
        .max(RESTRICTION_MAX_S)
        .optional()
        .describe(`Seconds it lasts, 1 to ${RESTRICTION_MAX_S} (ten years); for ever when absent.`),
      reason: reason.optional(),
    })
    .optional();

  const rest = {
    updateRoom: z
      .strictObject({ name: roomName.optional(), topic: topic.optional() })
      .refine((b) => b.name !== undefined || b.topic !== undefined, { message: 'must name `name`, `topic` or both' }),
    memberParams: z.strictObject({ roomId: id, userId: id }),
    kick: z.strictObject({ reason: reason.optional() }).optional(),
    restrict,
    setRole: z.strictObject({ role: z.enum(['admin', 'member']).describe('`admin` is granted, and taken back, by the owner only.') }),
    auditQuery: z.strictObject({
      before: queryInt(1, SEQ_MAX).optional().describe('Entries of events with a lower seq (the `nextBefore` of the previous page).'),
      limit: queryInt(1, 100).default(50),
    }),
    register: z.strictObject({ username, password, displayName: displayName.optional() }),
    login: z.strictObject({ username: text('wire').min(1).max(64), password: text('wire').min(1).max(PASSWORD_MAX * 4) }),
    createRoom: z.strictObject({ name: roomName, visibility: z.enum(['public', 'private']), topic: topic.optional() }),
    username: z.strictObject({ username: text('wire').min(1).max(64) }),
    updateProfile: z
      .strictObject({
        displayName: displayName.optional(),
        statusText: statusText.nullable().optional(),
        statusExpiresAt: z.iso
          .datetime()
          .nullable()
          .optional()
          .describe('When the status stops showing (in the future); null or absent: until changed. Only with `statusText`.'),
      })
      .superRefine((p, ctx) => {
        if (p.displayName === undefined && p.statusText === undefined) ctx.addIssue({ code: 'custom', path: [], message: 'must change displayName or statusText' });
        if (p.statusExpiresAt != null && (p.statusText === undefined || p.statusText === null)) ctx.addIssue({ code: 'custom', path: ['statusExpiresAt'], message: 'needs a statusText in the same request' });
      }),
    userSearchQuery: z.strictObject({
      q: text('wire').min(1).max(USER_SEARCH_QUERY_MAX).describe('The start of a username (without @), or of a display name (compared as names are: case and look-alike letters folded).'),
      after: cursor.optional().describe('The `next` of the previous page.'),
      limit: queryInt(1, USER_SEARCH_LIMIT_MAX).default(USER_SEARCH_LIMIT_DEFAULT),
    }),
    membersQuery: z.strictObject({
      after: cursor.optional().describe('The `next` of the previous page.'),
      limit: queryInt(1, MEMBERS_PAGE_MAX).default(MEMBERS_PAGE_DEFAULT),
      seen: queryInt(0, SEQ_MAX).optional().describe('The highest seq of the room the client has seen (delivered, acknowledged or read): the answer includes the room at least up to it, also where reads are served by database replicas.'),
    }),
    postMessage: z
      .strictObject({
        body: sendBody,
        clientMsgId: clientMsgId.optional().describe('An idempotency key: a retry with it stores nothing new.'),
        attachments: attachments.optional(),
        threadRoot: threadRoot.optional(),
      })
      .superRefine(textOrFiles),
    uploadQuery: z.strictObject({ name: text('wire').min(1).max(1_000).describe('The file name, as the user knows it (a label: the type is decided by the content).') }),
    directUpload: z.strictObject({
      name: text('wire').min(1).max(1_000).describe('The file name, as the user knows it.'),
      size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).describe('The exact size of the file, bytes: the presigned PUT takes exactly this many.'),
    }),
    uploadParams: z.strictObject({ uploadId: id }),
    fileParams: z.strictObject({ fileId: id }),
    userParams: z.strictObject({ userId: id }),
    fileQuery: z.strictObject({
      user: id.optional().describe('A signed link\'s user, as the link gives it.'),
      expires: z.string().regex(/^\d{1,16}$/).optional().describe('A signed link\'s expiry, as the link gives it.'),
      signature: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/).optional().describe('A signed link\'s signature, as the link gives it.'),
    }),
    editMessage: z.strictObject({ body }),
    read: z.strictObject({ seq }),
    roomParams: z.strictObject({ roomId: id }),
    adminUsersQuery: z.strictObject({
      q: text('wire').max(32).optional().describe('Users whose username starts with this (compared lower-cased).'),
      state: z.enum(['active', 'disabled', 'deleted', 'bot']).optional().describe('Only people who may log in (`active`), disabled accounts, deleted ones, or bots.'),
      after: text('wire').min(1).max(64).optional().describe('`next` of the previous page.'),
      limit: queryInt(1, 200).default(50),
    }),
    adminCreateUser: z.strictObject({
      username,
      password: password.optional().describe('Default: one is made and answered, shown this once.'),
      displayName: displayName.optional(),
      admin: z.boolean().optional().describe('Make them a server administrator too.'),
    }),
    adminPassword: z.strictObject({ password: password.optional().describe('Default: one is made and answered, shown this once.') }),
    adminRole: z.strictObject({ role: z.enum(['admin']).nullable().describe('`admin`, or null to take the role away.') }),
    adminRoomsQuery: z.strictObject({
      q: text('wire').max(100).optional().describe('Rooms whose name contains this (case-insensitive).'),
      after: cursor.optional().describe('`next` of the previous page.'),
      limit: queryInt(1, 200).default(50),
    }),
    adminAuditQuery: z.strictObject({
      before: queryInt(1, Number.MAX_SAFE_INTEGER).optional().describe('`nextBefore` of the previous page.'),
      limit: queryInt(1, 200).default(50),
    }),
    adminQueueParams: z.strictObject({ queue: id }),
    adminDeadJobParams: z.strictObject({ queue: id, jobId: id }),
    adminDeadQuery: z.strictObject({ limit: queryInt(1, 1000).default(100) }),
    exportParams: z.strictObject({ exportId: id }),
    webhookParams: z.strictObject({ roomId: id, webhookId: id }),
    createWebhook: z.strictObject({
      url: text('wire').min(1).max(2_000).describe('https, on a public address (unless the server allows private endpoints).'),
      events: z
        .array(z.enum(EVENT_KINDS))
        .min(1)
        .max(EVENT_KINDS.length)
        .optional()
        .describe('The event kinds to send; all when absent.'),
    }),
    deliveriesQuery: z.strictObject({ limit: queryInt(1, 100).default(50) }),
    createExport: z.strictObject({ format: z.enum(['ndjson', 'html']).describe('ndjson: one message (its wire shape) a line; html: a readable, self-contained page.') }),
    downloadQuery: z.strictObject({
      expires: z.string().regex(/^\d{1,16}$/).describe('As the link gives it.'),
      signature: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/).describe('As the link gives it.'),
    }),
    createBot: z.strictObject({ username, displayName: displayName.optional() }),
    botParams: z.strictObject({ botId: id }),
    createIncomingWebhook: z.strictObject({
      name: webhookName,
      botId: id.optional().describe("One of the caller's bots, a member of the room already, to post as. Without it, a new bot of the caller's, named after the webhook, is made and added to the room."),
    }),
    incomingWebhookParams: z.strictObject({ roomId: id, hookId: id }),
    // A URL segment is at most 200 characters (the router's limit); any string is looked up, so a wrong one is not_found.
    hookParams: z.strictObject({ token: text('wire').min(1).max(200).describe("The webhook's secret, as its URL gives it.") }),
    // The secret goes in the path only: a query string (where it could be mistaken for the place of a secret) is refused.
    noQuery: z.strictObject({}),
    postToHook: z.strictObject({
      text: body.describe('The message, as `text` of a Slack incoming webhook: not blank; no control characters but tab, LF and CR; no bidirectional overrides.'),
      clientMsgId: clientMsgId.optional().describe('An idempotency key: a retry with it stores nothing new.'),
    }),
    setRetention: z.strictObject({
      days: z.number().int().min(1).max(36_500).nullable().describe("Delete messages older than this many days; null: the server's policy. At most the server's, when it has one."),
    }),
    messageParams: z.strictObject({ roomId: id, seq: queryInt(1, SEQ_MAX) }),
    historyQuery: z.strictObject({
      before: queryInt(1, SEQ_MAX).optional().describe('Messages with a lower seq, newest first.'),
      after: queryInt(0, SEQ_MAX).optional().describe('Messages with a higher seq, oldest first.'),
      limit: queryInt(1, HISTORY_LIMIT_MAX).default(HISTORY_LIMIT_DEFAULT),
      topLevel: z
        .enum(['true', 'false'])
        .transform((v) => v === 'true')
        .pipe(z.boolean())
        .optional()
        .describe('true: top-level messages only (thread replies left out).'),
      seen: queryInt(0, SEQ_MAX).optional().describe('The highest seq of the room the client has seen (delivered, acknowledged or read): the answer includes the room at least up to it, also where reads are served by database replicas.'),
    }),
    threadParams: z.strictObject({ roomId: id, seq: queryInt(1, SEQ_MAX).describe("The thread's root: a top-level message.") }),
    threadQuery: z.strictObject({
      after: queryInt(0, SEQ_MAX).default(0).describe('Replies with a higher seq, oldest first.'),
      limit: queryInt(1, HISTORY_LIMIT_MAX).default(HISTORY_LIMIT_DEFAULT),
      seen: queryInt(0, SEQ_MAX).optional().describe('The highest seq of the room the client has seen (delivered, acknowledged or read): the answer includes the room at least up to it, also where reads are served by database replicas.'),
    }),
    threadsQuery: z.strictObject({
      cursor: text('wire').min(1).max(400).optional().describe('`nextCursor` of the previous page.'),
      limit: queryInt(1, 100).default(50),
    }),
    reactionParams: z.strictObject({ roomId: id, seq: queryInt(1, SEQ_MAX), emoji }),
    publicRoomsQuery: z.strictObject({
      q: text('wire').max(ROOM_NAME_MAX).optional().describe('A part of the name (the start of it when shorter than 3 characters).'),
      limit: queryInt(1, 100).default(50),
    }),
    analyticsQuery: z.strictObject({
      from: z.string().max(40).optional().describe('First day (YYYY-MM-DD, UTC) or time (ISO-8601) of the report; default: 30 days before `to`.'),
      to: z.string().max(40).optional().describe('End of the report, excluded: a day (its start, UTC) or a time; default: now. At most 3,660 days after `from`.'),
      roomId: id.optional().describe('messages only: this room only.'),
      limit: queryInt(1, 1000).default(100).describe('Rows at most (messages, busiest-rooms).'),
    }),
    searchQuery: z.strictObject({
      q: text('wire').min(1).max(SEARCH_QUERY_MAX).describe('Words, each matching the start of a word of the message; at most 8.'),
      roomId: id.optional().describe('Search this room only.'),
      limit: queryInt(1, SEARCH_LIMIT_MAX).default(SEARCH_LIMIT_DEFAULT),
    }),
    notificationsQuery: z.strictObject({
      before: notificationId.optional().describe('Notifications older than this id, newest first (the default order).'),
      after: notificationId.optional().describe('Notifications newer than this id, oldest first.'),
      limit: queryInt(1, 100).default(50),
    }),
    readNotifications: z.strictObject({ upTo: notificationId.describe('Every notification up to this id is read (the marker never moves back).') }),
    roomNotifications: z.strictObject({
      level: z.enum(['all', 'mentions', 'none']).describe('all: every message; mentions: @username, @room and followed threads; none: nothing.'),
      mutedUntil: z.iso.datetime().nullable().optional().describe('Nothing of the room notifies until then; null or absent: not muted.'),
    }),
    setEmail: z.strictObject({ email: email.nullable().describe('Where digests go; null removes it.') }),
    notificationSettings: z.strictObject({ emailDigest: z.boolean().describe('Mail a digest of mentions missed while offline.') }),
  };

  const frame = z.discriminatedUnion('type', [
    z.strictObject({ id: requestId, type: z.literal('subscribe'), roomId: id, since: seq.optional(), presence: z.enum(['full', 'batch', 'none']).optional() }),
    z.strictObject({ id: requestId, type: z.literal('unsubscribe'), roomId: id }),
    z
      .strictObject({ id: requestId, type: z.literal('send'), roomId: id, body: sendBody, clientMsgId: clientMsgId.optional(), attachments: attachments.optional(), threadRoot: threadRoot.optional() })
      .superRefine(textOrFiles),
    z.strictObject({ id: requestId, type: z.literal('edit'), roomId: id, seq: seqFrom(1), body }),
    z.strictObject({ id: requestId, type: z.literal('delete'), roomId: id, seq: seqFrom(1) }),
    z.strictObject({ id: requestId, type: z.literal('read'), roomId: id, seq }),
    z.strictObject({ id: requestId, type: z.literal('react'), roomId: id, seq: seqFrom(1), emoji }),
    z.strictObject({ id: requestId, type: z.literal('unreact'), roomId: id, seq: seqFrom(1), emoji }),
    z.strictObject({ type: z.literal('typing'), roomId: id }),
    z.strictObject({ type: z.literal('ping') }),
  ]);

  return { rest, frame };
}

export type Schemas = ReturnType<typeof buildSchemas>;
export type Frame = z.infer<Schemas['frame']>;

/**
 * A field name as an answer may repeat it: the name itself when it is plainly a name, else
 * `(unnamed)`, so that an answer never carries other input back.
 */
export const fieldName = (name: string): string => (/^[A-Za-z0-9_$-]{1,64}$/.test(name) ? name : '(unnamed)');

/** Each problem as `{path, message}`; an unknown field is one problem per field, named when its name is plain. */
function issuesOf(error: z.ZodError): Array<{ path: string; message: string }> {
  return error.issues.flatMap((issue) => {
    const at = issue.path.map(String);
    if (issue.code !== 'unrecognized_keys') return [{ path: at.join('.'), message: issue.message }];
    return issue.keys.map((key) => ({ path: [...at, fieldName(key)].join('.'), message: 'is not a known field' }));
  });
}

/** Parses or throws validation_failed with each problem's path, for the client to show. */
export function parse<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = issuesOf(result.error).slice(0, 10);
  const first = issues[0];
  const where = first && first.path !== '' ? `${first.path}: ` : '';
  throw validationFailed(`Invalid ${what}: ${where}${first?.message ?? 'malformed'}.`, { issues });
}
