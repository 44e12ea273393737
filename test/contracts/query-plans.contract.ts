/**
 * Issue 10: the statements on the store's paths whose cost must follow their result, not a
 * table, and the index each must use, on a database of realistic size: a room of BIG_ROOM
 * messages, thousands of users and rooms. The statements are the ones the store runs, captured
 * from its query builder; each must be named below with its indexes (so a new statement on the
 * path, or a change that loses an index, fails here).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/ports.js';
import { type CapturedQuery, checkPlans, type Dialect, type Expectation, type Explain, type QueryRecorder } from '../support/query-plans.js';

export interface PlanFixture {
  dialect: Dialect;
  store: Store;
  recorder: QueryRecorder;
  explain: Explain;
  /** Runs SQL on a connection of its own (seeding). */
  exec(sql: string): Promise<void>;
  /**
   * Rows of each table a read statement examined, where the store can tell (PostgreSQL's
   * EXPLAIN ANALYZE; SQLite has no such counter in this build: there the plans alone are checked,
   * and the statements are the same SQL).
   */
  rowsExamined?(query: CapturedQuery): Promise<Map<string, number>>;
  /** What the database does to keep its statistics (PostgreSQL's autovacuum analyzes; SQLite runs none). */
  analyze(): Promise<void>;
  cleanup(): Promise<void>;
}

export const BIG_ROOM = 'big';
/** Messages in the big room. */
export const BIG_ROOM_MESSAGES = 50_000;
const USERS = 5_000;
const ROOMS = 3_000;
/** Public rooms without members or messages, for the directory search. */
const DIRECTORY_ROOMS = 30_000;
/** Bots, ten for each of the first hundred users, each with a token. */
const BOTS = 1_000;
/** Incoming webhooks, one for each room r1..r3000, posting as the bots. */
const WEBHOOKS = 3_000;
/** Messages in every other room. */
const SMALL_ROOM_MESSAGES = 10;
/** Members of the big room: u1..u1000, all but BEHIND near the end of it. */
const BIG_ROOM_MEMBERS = 1_000;
/** A member of the big room who has read nothing of it. */
export const BEHIND = 'u5';

const series = (n: number) => `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${n})`;

/** The same SQL for both stores: recursive CTEs and ON CONFLICT DO NOTHING exist in both. */
export function seedStatements(): string[] {
  return [
    `${series(USERS)} INSERT INTO users (id, username, display_name, display_name_folded, password_hash, created_at)
      SELECT 'u' || i, 'user' || i, 'User ' || i, 'user ' || i, 'x', 0 FROM n`,
    `INSERT INTO rooms (id, name, visibility, topic, created_at, last_seq, last_activity_at, dm_key)
      VALUES ('${BIG_ROOM}', 'The big room', 'public', '', 0, ${BIG_ROOM_MESSAGES}, ${BIG_ROOM_MESSAGES}, NULL)`,
    `${series(ROOMS)} INSERT INTO rooms (id, name, visibility, topic, created_at, last_seq, last_activity_at, dm_key)
      SELECT 'r' || i, 'Room ' || i || CASE i % 4 WHEN 0 THEN ' garden' WHEN 1 THEN ' kitchen' WHEN 2 THEN ' cellar' ELSE ' attic' END,
        CASE WHEN i % 2 = 0 THEN 'public' ELSE 'private' END, '', 0, ${SMALL_ROOM_MESSAGES}, i, NULL FROM n`,
    `${series(USERS)} INSERT INTO members (room_id, user_id, role, joined_at, last_read_seq)
      SELECT 'r' || (1 + (i - 1) % ${ROOMS}), 'u' || i, 'member', 0, 0 FROM n`,
    `${series(USERS)} INSERT INTO members (room_id, user_id, role, joined_at, last_read_seq)
      SELECT 'r' || (1 + (i - 1 + ${ROOMS / 2}) % ${ROOMS}), 'u' || i, 'member', 0, ${SMALL_ROOM_MESSAGES} FROM n WHERE true ON CONFLICT DO NOTHING`,
    `${series(BIG_ROOM_MEMBERS)} INSERT INTO members (room_id, user_id, role, joined_at, last_read_seq)
      SELECT '${BIG_ROOM}', 'u' || i, CASE WHEN i = 1 THEN 'owner' ELSE 'member' END, 0,
        CASE WHEN 'u' || i = '${BEHIND}' THEN 0 ELSE ${BIG_ROOM_MESSAGES - 10} END FROM n`,
    `${series(BIG_ROOM_MESSAGES)} INSERT INTO events (room_id, seq, kind, target, user_id, created_at)
      SELECT '${BIG_ROOM}', i, 'message', NULL, 'u' || (1 + i % ${BIG_ROOM_MEMBERS}), i FROM n`,
    `${series(BIG_ROOM_MESSAGES)} INSERT INTO messages (room_id, seq, id, author_id, body, created_at, edited_at, deleted, client_msg_id, search_text)
      SELECT '${BIG_ROOM}', i, 'm-big-' || i, 'u' || (1 + i % ${BIG_ROOM_MEMBERS}), 'message ' || i, i, NULL,
        CASE WHEN i % 50 = 0 THEN 1 ELSE 0 END, 'c' || i, '' FROM n`,
    `${series(USERS)} INSERT INTO sessions (token_hash, user_id, created_at, expires_at) SELECT 't' || i, 'u' || i, 0, 1000 + i FROM n`,
    // The room directory: many public rooms nobody talks in, a few of them with a rare word.
    `${series(DIRECTORY_ROOMS)} INSERT INTO rooms (id, name, visibility, topic, created_at, last_seq, last_activity_at, dm_key)
      SELECT 'd' || i, CASE WHEN i % ${DIRECTORY_ROOMS / 10} = 0 THEN 'Quokka club ' || i ELSE 'Lobby ' || i END, 'public', '', 0, 0, 0, NULL FROM n`,
    `${series(ROOMS * SMALL_ROOM_MESSAGES)} INSERT INTO events (room_id, seq, kind, target, user_id, created_at)
      SELECT 'r' || (1 + (i - 1) / ${SMALL_ROOM_MESSAGES}), 1 + (i - 1) % ${SMALL_ROOM_MESSAGES}, 'message', NULL, 'u' || (1 + (i - 1) / ${SMALL_ROOM_MESSAGES} % ${USERS}), i FROM n`,
    `${series(ROOMS * SMALL_ROOM_MESSAGES)} INSERT INTO messages (room_id, seq, id, author_id, body, created_at, edited_at, deleted, client_msg_id, search_text)
      SELECT 'r' || (1 + (i - 1) / ${SMALL_ROOM_MESSAGES}), 1 + (i - 1) % ${SMALL_ROOM_MESSAGES}, 'm-' || i, 'u' || (1 + (i - 1) / ${SMALL_ROOM_MESSAGES} % ${USERS}),
        'message ' || i, i, NULL, 0, 'c' || i, '' FROM n`,
    // Bots (migration 9) and their webhooks.
    `${series(BOTS)} INSERT INTO users (id, username, display_name, display_name_folded, password_hash, created_at, bot_owner_id)
      SELECT 'b' || i, 'bot' || i, 'Bot ' || i, 'bot ' || i, '!bot', i, 'u' || (1 + i % 100) FROM n`,
    `${series(BOTS)} INSERT INTO sessions (token_hash, user_id, created_at, expires_at) SELECT 'bt' || i, 'b' || i, 0, 253402300799999 FROM n`,
    `${series(BOTS)} INSERT INTO members (room_id, user_id, role, joined_at, last_read_seq) SELECT 'r' || i, 'b' || i, 'member', 0, 0 FROM n`,
    `${series(WEBHOOKS)} INSERT INTO incoming_webhooks (id, room_id, bot_id, creator_id, name, token_hash, created_at)
      SELECT 'h' || i, 'r' || i, 'b' || (1 + i % ${BOTS}), 'u' || (1 + i % 100), 'Hook ' || i, 'hs' || i, i FROM n`,
  ];
}

/** PostgreSQL may sort a VALUES list to join it (a semi-join made unique): the batch's own values, not a table. */
const VALUES_SORT = 'sort?';

/** A (room, user) membership is found by either index of members: both have the two columns. */
const MEMBER_KEY = 'members_pkey(room_id,user_id)|members_user(room_id,user_id)';

/** Every statement of a group-committed batch, and of the membership check before a send. */
const SEND_PATH: Expectation[] = [
  {
    name: 'lock the batch rooms (seq allocation)',
    match: /^select "id", "last_seq", "last_activity_at" from "rooms" where "id" in/,
    sqlite: ['sqlite_autoindex_rooms_1(id)'],
    postgres: ['rooms_pkey(id)'],
  },
  {
    name: 'membership of the senders',
    match: /^select \* from "members" where \(room_id, user_id\) IN \(VALUES/,
    sqlite: ['PRIMARY KEY(room_id,user_id)'],
    postgres: [MEMBER_KEY, VALUES_SORT],
  },
  {
    name: 'the senders as authors',
    match: /^select "id", "username", "display_name", "bot_owner_id" from "users" where "id" in/,
    sqlite: ['sqlite_autoindex_users_1(id)'],
    postgres: ['users_pkey(id)'],
  },
  {
    name: 'earlier sends with the same clientMsgId (dedupe)',
    match: /\(m\.room_id, m\.author_id, m\.client_msg_id\) IN \(VALUES/,
    sqlite: ['messages_client_msg_id(room_id,author_id,client_msg_id)', 'sqlite_autoindex_users_1(id)'],
    postgres: ['messages_client_msg_id(author_id,client_msg_id,room_id)', 'users_pkey(id)', VALUES_SORT],
  },
  {
    name: 'messages edited or deleted',
    match: /\(m\.room_id, m\.seq\) IN \(VALUES/,
    sqlite: ['sqlite_autoindex_messages_2(room_id,seq)', 'sqlite_autoindex_users_1(id)'],
    postgres: ['messages_pkey(room_id,seq)', 'users_pkey(id)', VALUES_SORT],
  },
  { name: 'insert events', match: /^insert into "events"/, sqlite: [], postgres: [] },
  { name: 'insert messages', match: /^insert into "messages"/, sqlite: [], postgres: [] },
  {
    name: 'update an edited or deleted message',
    match: /^update "messages" set/,
    sqlite: ['sqlite_autoindex_messages_2(room_id,seq)'],
    postgres: ['messages_pkey(room_id,seq)'],
  },
  {
    name: 'delete a membership (leave)',
    match: /^delete from "members"/,
    sqlite: ['PRIMARY KEY(room_id,user_id)'],
    postgres: [MEMBER_KEY],
  },
  { name: 'insert a membership (join)', match: /^insert into "members"/, sqlite: [], postgres: [] },
  {
    name: 'advance the rooms (last_seq)',
    match: /^update "rooms" set "last_seq" = CASE/,
    sqlite: ['sqlite_autoindex_rooms_1(id)'],
    postgres: ['rooms_pkey(id)'],
  },
  {
    name: 'membership check before a send (cache miss)',
    match: /^select "r"\."last_seq", "mb"\."role" from "rooms" as "r" left join "members"/,
    sqlite: ['PRIMARY KEY(room_id,user_id)', 'sqlite_autoindex_rooms_1(id)'],
    postgres: [MEMBER_KEY, 'rooms_pkey(id)'],
  },
];

/** GET /rooms: the member's rooms, and per room two walks of the (room, seq) index bounded by the cap. */
const MEMBER_ROOMS: Expectation[] = [
  {
    name: 'my rooms with bounded unread counts',
    match: /^select "r"\.\*, "mb"\."last_read_seq", \(SELECT count\(\*\) FROM \(SELECT x\.deleted/,
    // The member's rooms, sorted by activity: O(rooms).
    sqlite: ['members_user(user_id)', 'sqlite_autoindex_rooms_1(id)', 'sqlite_autoindex_messages_2(room_id,seq)', 'sort'],
    postgres: ['members_user(user_id)', 'rooms_pkey(id)', 'messages_pkey(room_id,seq)', 'sort'],
  },
];

/** The room directory (GET /rooms/public): reads what it lists, or what matches, never every room. */
const ROOM_SEARCH: Expectation[] = [
  {
    name: 'the directory without a query: the first page of the name index',
    match: /^select \* from "rooms" where "visibility" = \S+ order by lower\(name\), "id" limit/,
    sqlite: ['walk(rooms_public_name)'],
    postgres: ['walk(rooms_public_name)'],
  },
  {
    name: 'a query of 3+ characters: its matches counted through the trigram index, up to a cap',
    match: /^SELECT count\(\*\) AS n FROM \(SELECT 1 FROM (?:rooms_name_fts|rooms)/,
    sqlite: ['fts(rooms_name_fts)'],
    postgres: ['rooms_public_name_trgm(lower(name))'],
  },
  {
    // Past the cap, most names match: the first 20 × limit rooms in name order, filtered and sorted (those only).
    name: 'a query of 3+ characters with many matches: the first rooms of the name index',
    match: /^select \* from \(select \* from "rooms" where "visibility" = \S+ order by lower\(name\), "id" limit \S+\) as "w" where lower\(name\) LIKE/,
    sqlite: ['walk(rooms_public_name)', 'sort?'],
    postgres: ['walk(rooms_public_name)', 'sort?'],
  },
  {
    name: 'a query of 3+ characters: the trigram index',
    match: /^select \* from "rooms" where "visibility" = \S+ and (?:TRUE|id IN \(SELECT room_id FROM rooms_name_fts.*\)) and lower\(name\) LIKE/,
    // The rooms that match, sorted by name: their number, not the directory's.
    sqlite: ['fts(rooms_name_fts)', 'sqlite_autoindex_rooms_1(id)', 'sort'],
    postgres: ['rooms_public_name_trgm(lower(name))', 'sort'],
  },
  {
    name: 'a query of 1-2 characters: one range of the name index in code-point order',
    match: /^select \* from "rooms" where "visibility" = \S+ and lower\(name\)(?: COLLATE "C")? >= /,
    sqlite: ['rooms_public_name(<expr>)'],
    postgres: ['rooms_public_name_prefix(lower(name))'],
  },
];

/**
 * The rest of the class: every other read of the store, each reading what it returns (or a
 * bounded page of it) through an index, never a table. (Full-text search bounds itself by
 * SEARCH_MAX_CANDIDATES and has its own tests.)
 */
const READS: Expectation[] = [
  { name: 'a user by id', match: /^select \* from "users" where "id" = /, sqlite: ['sqlite_autoindex_users_1(id)'], postgres: ['users_pkey(id)'] },
  { name: 'a user by username', match: /^select \* from "users" where "username" = /, sqlite: ['sqlite_autoindex_users_2(username)'], postgres: ['users_username_key(username)'] },
  {
    name: 'names that clash (one index per arm of the OR)',
    match: /^select "username", "display_name_folded" from "users" where/,
    sqlite: ['sqlite_autoindex_users_2(username)', 'users_display_name_folded(display_name_folded)'],
    postgres: ['users_username_key(username)', 'users_display_name_folded(display_name_folded)'],
  },
  { name: 'a session', match: /^select \* from "sessions" where "token_hash" = /, sqlite: ['sqlite_autoindex_sessions_1(token_hash)'], postgres: ['sessions_pkey(token_hash)'] },
  { name: 'expired sessions (the expired ones only)', match: /^delete from "sessions" where "expires_at" <= /, sqlite: ['sessions_expires_at(expires_at)'], postgres: ['sessions_expires_at(expires_at)'] },
  { name: 'a room', match: /^select \* from "rooms" where "id" = /, sqlite: ['sqlite_autoindex_rooms_1(id)'], postgres: ['rooms_pkey(id)'] },
  { name: 'a membership', match: /^select \* from "members" where "room_id" = \S+ and "user_id" = /, sqlite: ['PRIMARY KEY(room_id,user_id)'], postgres: [MEMBER_KEY] },
  {
    // The room's members, sorted: its result (issue 10's finding 3 is about how often it runs).
    name: "a room's members",
    match: /^select "mb"\.\*, "u"\."username"/,
    sqlite: ['PRIMARY KEY(room_id)', 'sqlite_autoindex_users_1(id)', 'sort'],
    postgres: ['members_pkey(room_id)', 'users_pkey(id)', 'sort'],
  },
  {
    // Finding 3: the ids of a room's members (the membership cache's list), no user rows.
    name: "a room's member ids",
    match: /^select "r"\."last_seq", "mb"\."user_id" from "rooms" as "r" left join "members"/,
    sqlite: ['sqlite_autoindex_rooms_1(id)', 'PRIMARY KEY(room_id)'],
    postgres: ['rooms_pkey(id)', 'members_pkey(room_id)'],
  },
  { name: "a user's room ids", match: /^select "room_id" from "members" where "user_id" = /, sqlite: ['members_user(user_id)'], postgres: ['members_user(user_id)'] },
  {
    name: 'the read marker and the room (locked)',
    match: /^select "mb"\."last_read_seq", "r"\."last_seq" from "members"/,
    sqlite: ['PRIMARY KEY(room_id,user_id)', 'sqlite_autoindex_rooms_1(id)'],
    postgres: [MEMBER_KEY, 'rooms_pkey(id)'],
  },
  { name: 'move the read marker', match: /^update "members" set "last_read_seq"/, sqlite: ['PRIMARY KEY(room_id,user_id)'], postgres: [MEMBER_KEY] },
  {
    name: 'events after a seq, with their messages and users',
    match: /^select "e"\."room_id", "e"\."seq"/,
    sqlite: ['PRIMARY KEY(room_id,seq)', 'sqlite_autoindex_messages_2(room_id,seq)', 'sqlite_autoindex_users_1(id)'],
    postgres: ['events_pkey(room_id,seq)', 'messages_pkey(room_id,seq)', 'users_pkey(id)'],
  },
  {
    // The newest page: the room's part of the index walked from its end, stopped by the LIMIT.
    name: 'the newest page of history',
    match: /from "messages" as "m" inner join "users" as "u" on "u"\."id" = "m"\."author_id" where "m"\."room_id" = \S+ order by "m"\."seq" desc limit/,
    sqlite: ['sqlite_autoindex_messages_2(room_id)', 'sqlite_autoindex_users_1(id)'],
    postgres: ['messages_pkey(room_id)', 'users_pkey(id)'],
  },
  {
    name: 'a page of history before or after a seq, or one message',
    match: /from "messages" as "m" inner join "users" as "u" on "u"\."id" = "m"\."author_id" where "m"\."room_id" = \S+ and "m"\."seq" [<>=]/,
    sqlite: ['sqlite_autoindex_messages_2(room_id,seq)', 'sqlite_autoindex_users_1(id)'],
    postgres: ['messages_pkey(room_id,seq)', 'users_pkey(id)'],
  },
];

/** Bots and incoming webhooks: each reads its own rows through an index, whatever the number of users and webhooks. */
const BOTS_AND_WEBHOOKS: Expectation[] = [
  {
    name: "an owner's bots",
    match: /^select \* from "users" where "bot_owner_id" = \S+ and "deactivated_at" is null order by "created_at", "id"/,
    sqlite: ['users_bot_owner(bot_owner_id)', 'sort?'],
    postgres: ['users_bot_owner(bot_owner_id)', 'sort?'],
  },
  {
    name: "an owner's bots, counted (the cap)",
    match: /^select count\(\*\) as "n" from "users" where "bot_owner_id" = /,
    sqlite: ['users_bot_owner(bot_owner_id)'],
    postgres: ['users_bot_owner(bot_owner_id)'],
  },
  {
    name: 'names that clash (one index per arm of the OR)',
    match: /^select "username", "display_name_folded" from "users" where/,
    sqlite: ['sqlite_autoindex_users_2(username)', 'users_display_name_folded(display_name_folded)'],
    postgres: ['users_username_key(username)', 'users_display_name_folded(display_name_folded)'],
  },
  { name: 'insert a bot', match: /^insert into "users"/, sqlite: [], postgres: [] },
  { name: 'insert a token', match: /^insert into "sessions"/, sqlite: [], postgres: [] },
  { name: "a user's tokens", match: /^select "token_hash" from "sessions" where "user_id" = /, sqlite: ['sessions_user(user_id)'], postgres: ['sessions_user(user_id)'] },
  { name: "delete a user's tokens", match: /^delete from "sessions" where "user_id" = /, sqlite: ['sessions_user(user_id)'], postgres: ['sessions_user(user_id)'] },
  { name: 'deactivate a bot', match: /^update "users" set "deactivated_at"/, sqlite: ['sqlite_autoindex_users_1(id)'], postgres: ['users_pkey(id)'] },
  { name: "delete a bot's webhooks", match: /^delete from "incoming_webhooks" where "bot_id" = /, sqlite: ['incoming_webhooks_bot(bot_id)'], postgres: ['incoming_webhooks_bot(bot_id)'] },
  { name: "a bot's rooms", match: /^select "room_id" from "members" where "user_id" = \S+ order by/, sqlite: ['members_user(user_id)'], postgres: ['members_user(user_id)', 'sort?'] },
  { name: 'insert a webhook', match: /^insert into "incoming_webhooks"/, sqlite: [], postgres: [] },
  {
    name: 'a webhook by the hash of its secret, with its bot',
    match: /^select "w"\."id".* where "w"\."token_hash" = /,
    sqlite: ['sqlite_autoindex_incoming_webhooks_2(token_hash)', 'sqlite_autoindex_users_1(id)'],
    postgres: ['incoming_webhooks_token_hash_key(token_hash)', 'users_pkey(id)'],
  },
  {
    name: 'a webhook by id, with its bot',
    match: /^select "w"\."id".* where "w"\."id" = /,
    sqlite: ['sqlite_autoindex_incoming_webhooks_1(id)', 'sqlite_autoindex_users_1(id)'],
    postgres: ['incoming_webhooks_pkey(id)', 'users_pkey(id)'],
  },
  {
    name: "a room's webhooks, with their bots",
    match: /^select "w"\."id".* where "w"\."room_id" = /,
    sqlite: ['incoming_webhooks_room(room_id)', 'sqlite_autoindex_users_1(id)', 'sort?'],
    postgres: ['incoming_webhooks_room(room_id)', 'users_pkey(id)', 'sort?'],
  },
  { name: 'delete a webhook', match: /^delete from "incoming_webhooks" where "id" = /, sqlite: ['sqlite_autoindex_incoming_webhooks_1(id)'], postgres: ['incoming_webhooks_pkey(id)'] },
];

/** Notifications: one user has NOTIFIED of them, among OTHERS_NOTIFIED of everybody else; and the blocks checked on the DM send path. */
const NOTIFIED = 5_000;
const OTHERS_NOTIFIED = 100_000;
/**
 * The user's notifications in id order: the whole key with a cursor, its first column (walked in
 * order) without; a count may read the index only, checking `id` against the marker as it goes.
 */
const NOTIFICATIONS_KEY = 'notifications_user(user_id,id)|notifications_user(user_id)|notifications_user(id,user_id)';
const NOTIFICATIONS: Expectation[] = [
  {
    name: 'a page of my notifications, newest first or oldest first, with the message and its author',
    match: /^select "n"\."id", "n"\."room_id", "r"\."name" as "room_name"/,
    sqlite: [NOTIFICATIONS_KEY, 'PRIMARY KEY(room_id,user_id)', 'sqlite_autoindex_rooms_1(id)', 'sqlite_autoindex_users_1(id)', 'sqlite_autoindex_messages_2(room_id,seq)'],
    // Or, for a user with few notifications, their rooms, then their notifications of each (the unique key), sorted: their rows only.
    postgres: [
      `${NOTIFICATIONS_KEY}|notifications_user_id_room_id_seq_key(room_id,user_id)`,
      `${MEMBER_KEY}|members_user(user_id)`,
      'rooms_pkey(id)',
      'users_pkey(id)',
      'messages_pkey(room_id,seq)',
      'sort?',
    ],
  },
  {
    name: 'unread notifications, counted up to the cap',
    match: /^select count\(\*\) as "count" from \(select "n"\."id" from "notifications"/,
    sqlite: [NOTIFICATIONS_KEY, 'PRIMARY KEY(room_id,user_id)'],
    postgres: [NOTIFICATIONS_KEY, `${MEMBER_KEY}|members_user(user_id)`],
  },
  { name: 'my notification settings', match: /^select \* from "notification_settings" where "user_id" = /, sqlite: ['sqlite_autoindex_notification_settings_1(user_id)'], postgres: ['notification_settings_pkey(user_id)'] },
  { name: 'move my read marker', match: /^insert into "notification_settings"/, sqlite: [], postgres: [] },
  { name: "a room's notifier cursor", match: /^select "cursor_seq" from "notification_cursors"/, sqlite: ['sqlite_autoindex_notification_cursors_1(room_id)'], postgres: ['notification_cursors_pkey(room_id)'] },
  { name: 'move the cursor', match: /^insert into "notification_cursors"/, sqlite: [], postgres: [] },
  {
    name: "a room's preferences",
    match: /^select "user_id", "level", "muted_until" from "notification_prefs" where "room_id" = \S+$/,
    sqlite: ['sqlite_autoindex_notification_prefs_1(room_id)'],
    postgres: ['notification_prefs_pkey(room_id)'],
  },
  {
    name: "a member's preference",
    match: /^select "user_id", "level", "muted_until" from "notification_prefs" where "room_id" = \S+ and "user_id" = /,
    sqlite: ['sqlite_autoindex_notification_prefs_1(room_id,user_id)'],
    postgres: ['notification_prefs_pkey(room_id,user_id)'],
  },
  { name: 'write notifications', match: /^insert into "notifications"/, sqlite: [], postgres: [] },
  { name: 'who blocked an author', match: /^select "user_id" from "blocks" where "blocked_id" = \S+$/, sqlite: ['blocks_blocked(blocked_id)'], postgres: ['blocks_blocked(blocked_id)'] },
  {
    name: 'a block either way between two users (a DM send)',
    match: /^select "user_id" from "blocks" where \(\("user_id" = /,
    sqlite: ['sqlite_autoindex_blocks_1(user_id,blocked_id)|blocks_blocked(blocked_id,user_id)'],
    postgres: ['blocks_pkey(user_id,blocked_id)|blocks_blocked(blocked_id,user_id)'],
  },
  {
    name: 'whom I blocked',
    match: /^select "u"\."id", "u"\."username".* from "blocks" as "b"/,
    sqlite: ['sqlite_autoindex_blocks_1(user_id)', 'sqlite_autoindex_users_1(id)', 'sort?'],
    postgres: ['blocks_pkey(user_id)', 'users_pkey(id)', 'sort?'],
  },
];

/** PostgreSQL only: SQLite's writing transaction excludes every other writer without it. */
const OWNER_LOCK: Expectation = { name: 'the owner lock and the name locks (advisory)', match: /^SELECT pg_advisory_xact_lock/, sqlite: [], postgres: [] };

function explainFailure(report: Awaited<ReturnType<typeof checkPlans>>): string {
  return JSON.stringify(report, null, 2);
}

export function queryPlanSuite(name: string, open: () => Promise<PlanFixture>): void {
  describe(`Query plans: ${name}`, () => {
    let fx: PlanFixture;
    before(async () => {
      fx = await open();
      await fx.store.migrate();
      for (const statement of seedStatements()) await fx.exec(statement);
      await fx.analyze();
    });
    after(async () => {
      await fx?.cleanup();
    });

    const assertPlans = async (queries: CapturedQuery[], expectations: Expectation[]) => {
      const report = await checkPlans(queries, expectations, fx.dialect, fx.explain);
      assert.deepEqual(report, { unnamed: [], unmet: [], mismatches: [] }, explainFailure(report));
    };

    it('a send batch (issue 10, finding 1): every statement uses an index that fits its filter, the dedupe lookup all three columns', async () => {
      const at = BIG_ROOM_MESSAGES + 1;
      const message = (userId: string, clientMsgId: string) => ({ kind: 'message' as const, roomId: BIG_ROOM, userId, id: `new-${clientMsgId}-${userId}`, body: 'hi', clientMsgId, at });
      const queries = await fx.recorder.record(async () => {
        const outcomes = await fx.store.append([
          message('u1', 'fresh-1'),
          message('u2', 'fresh-2'),
          // Sent before (seeded): answered as a duplicate, found through the index.
          message('u18', 'c17'),
          { kind: 'edit', roomId: BIG_ROOM, userId: 'u6', target: 5, body: 'edited', at },
          { kind: 'delete', roomId: BIG_ROOM, userId: 'u7', target: 6, at },
          { kind: 'member_joined', roomId: BIG_ROOM, userId: 'u4000', role: 'member', addedBy: null, at },
          { kind: 'member_left', roomId: 'r3', userId: 'u3', at },
        ]);
        assert.deepEqual(
          outcomes.map((o) => o.status),
          ['appended', 'appended', 'duplicate', 'appended', 'appended', 'appended', 'appended'],
        );
        await fx.store.membership(BIG_ROOM, 'u1');
      });
      await assertPlans(queries, SEND_PATH);
      if (fx.rowsExamined !== undefined) {
        // The reads of a batch of 7 requests examine a few rows each, in a room of 50,000 messages.
        for (const query of queries.filter((q) => /^select /.test(q.sql))) {
          const examined = [...(await fx.rowsExamined(query)).values()].reduce((a, b) => a + b, 0);
          assert.ok(examined <= 20, `${examined} rows examined by ${query.sql.slice(0, 120)}`);
        }
      }
    });

    it('the room directory (issue 10, finding 5): its first page, a rare word, a word nowhere, a word everywhere and a short prefix read through indexes', async () => {
      const lists: string[][] = [];
      const queries = await fx.recorder.record(async () => {
        for (const q of [undefined, 'QUOKKA', 'nowhere at all', 'qu', 'lobby']) lists.push((await fx.store.listPublicRooms(q, 50)).map((r) => r.name));
      });
      assert.equal(lists[0]?.length, 50);
      assert.deepEqual(lists[1]?.length, 10);
      assert.ok(lists[1]?.every((n) => n.startsWith('Quokka club ')));
      assert.deepEqual(lists[2], []);
      assert.deepEqual(lists[3], lists[1]);
      await assertPlans(queries, ROOM_SEARCH);

      // A word in most names: counted up to the cap, then the page read in name order (never all matches sorted).
      assert.equal(lists[4]?.length, 50);
      assert.ok(lists[4]?.every((n) => n.startsWith('Lobby ')));
      const everywhere = await fx.recorder.record(() => fx.store.listPublicRooms('lobby', 50));
      assert.equal(everywhere.length, 2);
      if (fx.rowsExamined !== undefined) {
        for (const query of queries.filter((q) => /^select /i.test(q.sql))) {
          const examined = [...(await fx.rowsExamined(query)).values()].reduce((a, b) => a + b, 0);
          // The count stops at 20 × 50 + 1; a page of a word in most names reads about the page.
          assert.ok(examined <= 20 * 50 + 1, `${examined} rows examined by ${query.sql.slice(0, 120)}`);
        }
      }
    });

    it('the rest of the class: every other read of the store goes through an index that fits it', async () => {
      const queries = await fx.recorder.record(async () => {
        await fx.store.findUserById('u1');
        await fx.store.findUserByUsername('USER1');
        await fx.store.findNameConflict('user2', 'user 3');
        await fx.store.findSession('no-such-token');
        await fx.store.deleteExpiredSessions(0);
        await fx.store.findRoom(BIG_ROOM);
        await fx.store.findMember(BIG_ROOM, 'u1');
        await fx.store.listMembers('r7');
        await fx.store.listMemberIds('r7');
        await fx.store.listMemberRoomIds('u1');
        await fx.store.advanceReadMarker(BIG_ROOM, 'u1', BIG_ROOM_MESSAGES - 5);
        await fx.store.readEvents(BIG_ROOM, BIG_ROOM_MESSAGES - 100, 50);
        await fx.store.readHistory({ roomId: BIG_ROOM, limit: 50 });
        await fx.store.readHistory({ roomId: BIG_ROOM, before: 25_000, limit: 50 });
        await fx.store.readHistory({ roomId: BIG_ROOM, after: 25_000, limit: 50 });
        await fx.store.findMessage(BIG_ROOM, 25_000);
      });
      await assertPlans(queries, READS);
      if (fx.rowsExamined !== undefined) {
        // Pages of 50 in a room of 50,000 messages: each read examines about what it returns.
        for (const query of queries.filter((q) => /^select /.test(q.sql))) {
          const examined = [...(await fx.rowsExamined(query)).values()].reduce((a, b) => a + b, 0);
          assert.ok(examined <= 200, `${examined} rows examined by ${query.sql.slice(0, 120)}`);
        }
      }
    });

    it('bots and incoming webhooks: every statement reads its own rows through an index', async () => {
      const bot = { id: 'b-new', username: 'bot-new', displayName: 'New', passwordHash: '!bot', createdAt: Date.now(), botOwnerId: 'u2' };
      const session = (userId: string, tokenHash: string) => ({ tokenHash, userId, createdAt: 0, expiresAt: 253402300799999 });
      const queries = await fx.recorder.record(async () => {
        assert.equal((await fx.store.listBots('u1')).length, 10);
        assert.equal(await fx.store.createBot(bot, { displayNameFolded: 'new' }, 20, session(bot.id, 'bt-new')), true);
        assert.deepEqual(await fx.store.replaceSessions('b7', session('b7', 'bt-7b')), ['bt7']);
        assert.deepEqual(await fx.store.deactivateBot('b8', Date.now()), { tokenHashes: ['bt8'], roomIds: ['r8'] });
        await fx.store.createIncomingWebhook({ id: 'h-new', roomId: 'r9', botId: 'b9', creatorId: 'u9', name: 'New', tokenHash: 'hs-new', createdAt: Date.now() });
        assert.equal((await fx.store.findIncomingWebhookByToken('hs5'))?.id, 'h5');
        assert.equal((await fx.store.findIncomingWebhook('h5'))?.botId, 'b6');
        assert.deepEqual(
          (await fx.store.listIncomingWebhooks('r9')).map((h) => h.id),
          ['h9', 'h-new'],
        );
        assert.equal(await fx.store.deleteIncomingWebhook('h-new'), true);
      });
      await assertPlans(queries, fx.dialect === 'postgres' ? [...BOTS_AND_WEBHOOKS, OWNER_LOCK] : BOTS_AND_WEBHOOKS);
      if (fx.rowsExamined !== undefined) {
        for (const query of queries.filter((q) => /^select /.test(q.sql))) {
          const examined = [...(await fx.rowsExamined(query)).values()].reduce((a, b) => a + b, 0);
          assert.ok(examined <= 30, `${examined} rows examined by ${query.sql.slice(0, 120)}`);
        }
      }
    });

    it('notifications and blocks: pages, counts and the DM block check read through indexes, whatever the backlog', async () => {
      await fx.exec(`${series(NOTIFIED)} INSERT INTO notifications (user_id, room_id, seq, kind, actor_id, created_at)
        SELECT 'u2', '${BIG_ROOM}', i, 'mention', 'u' || (1 + i % ${BIG_ROOM_MEMBERS}), i FROM n`);
      await fx.exec(`${series(OTHERS_NOTIFIED)} INSERT INTO notifications (user_id, room_id, seq, kind, actor_id, created_at)
        SELECT 'u' || (1 + i % ${USERS}), '${BIG_ROOM}', ${NOTIFIED} + i, 'room_mention', 'u1', i FROM n`);
      await fx.exec(`${series(USERS)} INSERT INTO blocks (user_id, blocked_id, created_at) SELECT 'u' || i, 'u' || (1 + i % 50), i FROM n`);
      await fx.exec(`${series(BIG_ROOM_MEMBERS)} INSERT INTO notification_prefs (user_id, room_id, level, muted_until) SELECT 'u' || i, '${BIG_ROOM}', 'all', NULL FROM n WHERE i % 10 = 0`);
      await fx.exec(`${series(USERS)} INSERT INTO notification_prefs (user_id, room_id, level, muted_until) SELECT 'u' || i, 'r' || (1 + (i - 1) % ${ROOMS}), 'mentions', NULL FROM n`);
      await fx.exec(`${series(ROOMS)} INSERT INTO notification_cursors (room_id, cursor_seq) SELECT 'r' || i, ${SMALL_ROOM_MESSAGES} FROM n`);
      await fx.exec(`${series(USERS)} INSERT INTO notification_settings (user_id, read_up_to, email, email_digest, digest_sent_up_to) SELECT 'u' || i, 0, NULL, 1, 0 FROM n`);
      await fx.analyze();
      const queries = await fx.recorder.record(async () => {
        // A user with a few notifications among many: their pages, never a walk of everyone's.
        const page = await fx.store.listNotifications('u3', { limit: 10 });
        assert.equal(page.length, 10);
        assert.equal((await fx.store.listNotifications('u3', { before: page[9]?.id as number, limit: 10 })).length, 10);
        assert.equal((await fx.store.listNotifications('u3', { after: 0, limit: 10 })).length, 10);
        const settings = await fx.store.notificationSettings('u2');
        assert.equal(await fx.store.countUnreadNotifications('u2', settings.readUpTo, 1000), 1000);
        await fx.store.advanceNotificationsRead('u2', 10);
        await fx.store.advanceNotificationCursor(BIG_ROOM, await fx.store.notificationCursor(BIG_ROOM));
        assert.equal((await fx.store.listNotifyPrefs(BIG_ROOM)).length, BIG_ROOM_MEMBERS / 10);
        await fx.store.findNotifyPref(BIG_ROOM, 'u10');
        await fx.store.insertNotifications([{ userId: 'u3', roomId: BIG_ROOM, seq: 7, kind: 'mention', actorId: 'u1', createdAt: 1 }]);
        assert.equal((await fx.store.blockersOf('u7')).length, USERS / 50);
        assert.equal(await fx.store.blockedEitherWay('u1', 'u2'), true);
        assert.equal(await fx.store.blockedEitherWay('u3', 'u4000'), false);
        assert.equal((await fx.store.listBlocks('u9')).length, 1);
      });
      await assertPlans(queries, NOTIFICATIONS);
      if (fx.rowsExamined !== undefined) {
        for (const query of queries.filter((q) => /^select /.test(q.sql))) {
          const examined = [...(await fx.rowsExamined(query)).values()].reduce((a, b) => a + b, 0);
          // Pages of 51 and a count capped at 1,000 (+1): never the whole backlog, nor the table.
          assert.ok(examined <= 3 * 1_001 + 300, `${examined} rows examined by ${query.sql.slice(0, 120)}`);
        }
      }
    });

    it('GET /rooms (issue 10, finding 2): unread counted by a walk of the (room, seq) index bounded by the cap, for a member 50,000 behind', async () => {
      let rooms: Awaited<ReturnType<Store['listMemberRooms']>> = [];
      const queries = await fx.recorder.record(async () => {
        rooms = await fx.store.listMemberRooms(BEHIND, 999);
      });
      const big = rooms.find((r) => r.room.id === BIG_ROOM);
      assert.deepEqual({ unread: big?.unread, capped: big?.unreadCapped }, { unread: 999, capped: true });
      await assertPlans(queries, MEMBER_ROOMS);
      if (fx.rowsExamined !== undefined) {
        // Two walks of at most 2 × (cap + 1) + 1 messages per room, not the 50,000 of the backlog.
        const examined = (await fx.rowsExamined(queries[0] as CapturedQuery)).get('messages') ?? 0;
        const bound = rooms.length * 2 * (2 * (999 + 1) + 1);
        assert.ok(examined <= bound, `${examined} messages examined for ${rooms.length} rooms (bound ${bound})`);
        assert.ok(examined < BIG_ROOM_MESSAGES / 4, `${examined} messages examined`);
      }
    });
  });
}
