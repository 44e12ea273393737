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
const AUDIT_ENTRIES = 4_000;
/** Messages in every other room. */
const SMALL_ROOM_MESSAGES = 10;
/** Members of the big room: u1..u1000, all but BEHIND near the end of it. */
const BIG_ROOM_MEMBERS = 1_000;
/** A member of the big room who has read nothing of it. */
export const BEHIND = 'u5';
/** The root of a thread of the big room, followed by every member; its replies follow it. */
const THREAD_ROOT = 40_001;
const THREAD_REPLIES = 5_000;
/** A message of the big room every member reacted to. */
const REACTED = 48_001;

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
    // Moderation (migration 13): bans and mutes all over, and a long audit log in the big room.
    `${series(USERS)} INSERT INTO room_restrictions (room_id, user_id, kind, until, reason, created_by, created_at)
      SELECT 'r' || (1 + i % ${ROOMS}), 'u' || i, CASE WHEN i % 2 = 0 THEN 'ban' ELSE 'mute' END, NULL, NULL, 'u1', i FROM n`,
    `${series(AUDIT_ENTRIES)} INSERT INTO audit_log (room_id, seq, action, actor_id, member_id, data, created_at)
      SELECT CASE WHEN i % 2 = 0 THEN '${BIG_ROOM}' ELSE 'r' || (1 + i % ${ROOMS}) END, i, 'member_muted', 'u1', 'u' || (2 + i % 100), NULL, i FROM n`,
    // Threads and reactions (migration 12): a thread of THREAD_REPLIES replies in the big room
    // followed by every member, and a message every member reacted to.
    `UPDATE messages SET thread_root = ${THREAD_ROOT} WHERE room_id = '${BIG_ROOM}' AND seq > ${THREAD_ROOT} AND seq <= ${THREAD_ROOT + THREAD_REPLIES}`,
    `UPDATE messages SET reply_count = ${THREAD_REPLIES}, last_reply_at = ${THREAD_ROOT + THREAD_REPLIES} WHERE room_id = '${BIG_ROOM}' AND seq = ${THREAD_ROOT}`,
    `${series(BIG_ROOM_MEMBERS)} INSERT INTO thread_follows (room_id, root_seq, user_id, following, last_read_seq)
      SELECT '${BIG_ROOM}', ${THREAD_ROOT}, 'u' || i, 1, ${THREAD_ROOT} FROM n`,
    `${series(BIG_ROOM_MEMBERS)} INSERT INTO reactions (room_id, seq, emoji, user_id, created_at)
      SELECT '${BIG_ROOM}', ${REACTED}, CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, 'u' || i, i FROM n`,
    // Every message of the other rooms has its author's reaction, and its room's members follow its first message.
    `INSERT INTO reactions (room_id, seq, emoji, user_id, created_at) SELECT room_id, seq, 'x', author_id, 0 FROM messages WHERE room_id <> '${BIG_ROOM}'`,
    `INSERT INTO thread_follows (room_id, root_seq, user_id, following, last_read_seq) SELECT room_id, 1, user_id, 1, 0 FROM members WHERE room_id <> '${BIG_ROOM}'`,
    `INSERT INTO reaction_counts (room_id, seq, emoji, count, first_at) SELECT room_id, seq, emoji, count(*), min(created_at) FROM reactions GROUP BY room_id, seq, emoji`,
  ];
}

/** PostgreSQL may sort a VALUES list to join it (a semi-join made unique): the batch's own values, not a table. */
const VALUES_SORT = 'sort?';

/** A (room, user) membership is found by either index of members: both have the two columns. */
const MEMBER_KEY = 'members_pkey(room_id,user_id)|members_user(room_id,user_id)';

/** A room's members walked in join order, from its start or from a page's cursor. */
const MEMBERS_BY_JOIN = 'members_room_joined(room_id)|members_room_joined(room_id,joined_at)';

/** Every statement of a group-committed batch, and of the membership check before a send. */
const SEND_PATH: Expectation[] = [
  {
    name: 'lock the batch rooms (seq allocation)',
    match: /^select "id", "last_seq", "last_activity_at", "archived_at" from "rooms" where "id" in/,
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
    name: 'mutes of the senders, bans of the joiners',
    match: /^select "room_id", "user_id", "kind", "until" from "room_restrictions" where \(room_id, user_id, kind\) IN \(VALUES/,
    sqlite: ['PRIMARY KEY(room_id,user_id,kind)'],
    postgres: ['room_restrictions_pkey(kind,room_id,user_id)', VALUES_SORT],
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
    match: /^WITH v \(id, last_seq, last_activity_at\) AS \(VALUES/,
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
  {
    name: 'a session with its user (authentication)',
    match: /^select "users"\.\*, "sessions"\."created_at" as "session_created_at"/,
    sqlite: ['sqlite_autoindex_sessions_1(token_hash)', 'sqlite_autoindex_users_1(id)'],
    postgres: ['sessions_pkey(token_hash)', 'users_pkey(id)'],
  },
  { name: 'expired sessions (the expired ones only)', match: /^delete from "sessions" where "expires_at" <= /, sqlite: ['sessions_expires_at(expires_at)'], postgres: ['sessions_expires_at(expires_at)'] },
  { name: 'a room', match: /^select \* from "rooms" where "id" = /, sqlite: ['sqlite_autoindex_rooms_1(id)'], postgres: ['rooms_pkey(id)'] },
  { name: 'a membership', match: /^select \* from "members" where "room_id" = \S+ and "user_id" = /, sqlite: ['PRIMARY KEY(room_id,user_id)'], postgres: [MEMBER_KEY] },
  {
    // The room's members in join order (migration 14's index: no sort), all of them or a page.
    name: "a room's members",
    match: /^select "mb"\.\*, "u"\."username"/,
    sqlite: [MEMBERS_BY_JOIN, 'sqlite_autoindex_users_1(id)'],
    // A small room's members may be read by a bitmap of the index and sorted (its result only).
    postgres: [MEMBERS_BY_JOIN, 'users_pkey(id)', 'sort?'],
  },
  {
    // Finding 3: the ids of a room's members (the membership cache's list), no user rows.
    name: "a room's member ids",
    match: /^select "r"\."last_seq", "mb"\."user_id" from "rooms" as "r" left join "members"/,
    sqlite: ['sqlite_autoindex_rooms_1(id)', 'PRIMARY KEY(room_id)|members_room_joined(room_id)'],
    postgres: ['rooms_pkey(id)', 'members_pkey(room_id)|members_room_joined(room_id)'],
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

/** People (migration 14): user search walks one range of a name index in code-point order per part; member pages walk the join-order index. */
const PEOPLE: Expectation[] = [
  {
    name: 'user search: username prefixes',
    match: /^select \* from "users" where "username"(?: COLLATE "C")? >= /,
    sqlite: ['sqlite_autoindex_users_2(username)'],
    postgres: ['users_username_prefix(username)'],
  },
  {
    name: 'user search: display-name prefixes',
    match: /^select \* from "users" where "display_name_folded"(?: COLLATE "C")? >= /,
    sqlite: ['users_display_name_folded(display_name_folded)', 'sort?'],
    postgres: ['users_display_name_prefix(display_name_folded)'],
  },
  {
    name: "a page of a room's members",
    match: /^select "mb"\.\*, "u"\."username"/,
    sqlite: [MEMBERS_BY_JOIN, 'sqlite_autoindex_users_1(id)'],
    postgres: [MEMBERS_BY_JOIN, 'users_pkey(id)'],
  },
];

const MODERATION: Expectation[] = [
  { name: 'lock the room (seq allocation)', match: /^select \* from "rooms" where "id" = /, sqlite: ['sqlite_autoindex_rooms_1(id)'], postgres: ['rooms_pkey(id)'] },
  { name: 'the roles of the actor and the member', match: /^select "user_id", "role" from "members" where "room_id" = /, sqlite: ['PRIMARY KEY(room_id,user_id)'], postgres: [MEMBER_KEY] },
  { name: 'the actor and the member as authors', match: /^select "id", "username", "display_name", "bot_owner_id" from "users" where "id" in/, sqlite: ['sqlite_autoindex_users_1(id)'], postgres: ['users_pkey(id)'] },
  {
    name: "the member's bans and mutes",
    match: /^select "kind", "until" from "room_restrictions" where "room_id" = /,
    sqlite: ['PRIMARY KEY(room_id,user_id)'],
    postgres: ['room_restrictions_pkey(room_id,user_id)'],
  },
  { name: 'insert the event', match: /^insert into "events"/, sqlite: [], postgres: [] },
  { name: 'insert the audit entry', match: /^insert into "audit_log"/, sqlite: [], postgres: [] },
  { name: 'remove the member', match: /^delete from "members"/, sqlite: ['PRIMARY KEY(room_id,user_id)'], postgres: [MEMBER_KEY] },
  {
    name: 'replace the ban',
    match: /^delete from "room_restrictions"/,
    sqlite: ['PRIMARY KEY(room_id,user_id,kind)'],
    postgres: ['room_restrictions_pkey(kind,room_id,user_id)'],
  },
  { name: 'insert the ban', match: /^insert into "room_restrictions"/, sqlite: [], postgres: [] },
  { name: 'advance the room', match: /^update "rooms" set "last_seq" = /, sqlite: ['sqlite_autoindex_rooms_1(id)'], postgres: ['rooms_pkey(id)'] },
  {
    name: "a room's bans and mutes",
    match: /from "room_restrictions" as "r" inner join/,
    // The room's few restrictions, sorted newest first.
    sqlite: ['PRIMARY KEY(room_id)', 'sqlite_autoindex_users_1(id)', 'sort'],
    postgres: ['room_restrictions_pkey(room_id)', 'users_pkey(id)', 'sort'],
  },
  {
    name: "a page of a room's audit log",
    match: /from "audit_log" as "a" inner join/,
    // Walked newest first along the key: a page reads about the page, however long the log.
    sqlite: ['PRIMARY KEY(room_id)|PRIMARY KEY(room_id,seq)', 'sqlite_autoindex_users_1(id)'],
    postgres: ['audit_log_pkey(room_id)|audit_log_pkey(room_id,seq)', 'users_pkey(id)'],
  },
];

/** Threads and reactions: the batch's extra reads and writes, and the reads of threads and reactions. */
const THREADS: Expectation[] = [
  ...SEND_PATH.filter((e) => !['earlier sends with the same clientMsgId (dedupe)', 'delete a membership (leave)', 'insert a membership (join)', 'membership check before a send (cache miss)'].includes(e.name)),
  {
    name: 'distinct emoji of the messages reacted to (their counts)',
    match: /^select "room_id", "seq", "emoji" from "reaction_counts"/,
    sqlite: ['PRIMARY KEY(room_id,seq)'],
    postgres: ['reaction_counts_pkey(room_id,seq)', VALUES_SORT],
  },
  {
    name: 'the reactions of the batch that exist',
    match: /^select "room_id", "seq", "emoji", "user_id" from "reactions"/,
    sqlite: ['PRIMARY KEY(room_id,seq,user_id,emoji)'],
    postgres: ['reactions_pkey(emoji,room_id,seq,user_id)', VALUES_SORT],
  },
  { name: 'insert reactions', match: /^insert into "reactions"/, sqlite: [], postgres: [] },
  { name: 'delete a reaction', match: /^delete from "reactions"/, sqlite: ['PRIMARY KEY(room_id,seq,user_id,emoji)'], postgres: ['reactions_pkey(emoji,room_id,seq,user_id)'] },
  { name: 'count a reaction (upsert)', match: /^insert into "reaction_counts"/, sqlite: [], postgres: [] },
  {
    name: 'drop a count at zero',
    match: /^delete from "reaction_counts"/,
    sqlite: ['PRIMARY KEY(room_id,seq,emoji)'],
    postgres: ['reaction_counts_pkey(emoji,room_id,seq)'],
  },
  { name: 'follow a thread (upsert)', match: /^insert into "thread_follows"/, sqlite: [], postgres: [] },
  {
    // The page's counts only (at most the bound per message), however many reacted.
    name: 'reaction counts of a page',
    match: /^select "seq", "emoji", "count" from "reaction_counts"/,
    sqlite: ['PRIMARY KEY(room_id,seq)', 'sort?'],
    postgres: ['reaction_counts_pkey(room_id,seq)', 'sort?'],
  },
  {
    name: "the reader's own reactions to a page",
    match: /^select "seq", "emoji" from "reactions"/,
    sqlite: ['PRIMARY KEY(room_id,seq,user_id)'],
    postgres: ['reactions_pkey(room_id,seq,user_id)'],
  },
  {
    name: 'a thread root',
    match: /"m"\."thread_root" is null$/,
    sqlite: ['sqlite_autoindex_messages_2(room_id,seq)', 'sqlite_autoindex_users_1(id)'],
    postgres: ['messages_pkey(room_id,seq)', 'users_pkey(id)'],
  },
  {
    name: 'a page of a thread',
    match: /"m"\."thread_root" = /,
    sqlite: ['messages_thread(room_id,thread_root,seq)', 'sqlite_autoindex_users_1(id)'],
    postgres: ['messages_thread(room_id,seq,thread_root)', 'users_pkey(id)'],
  },
  {
    // As the newest page of history, skipping replies as it walks.
    name: 'the newest top-level page',
    match: /"m"\."thread_root" is null order by/,
    sqlite: ['sqlite_autoindex_messages_2(room_id)', 'sqlite_autoindex_users_1(id)'],
    postgres: ['messages_pkey(room_id)', 'users_pkey(id)'],
  },
  { name: 'the room head for a follow', match: /^select "last_seq" from "rooms" where "id" = /, sqlite: ['sqlite_autoindex_rooms_1(id)'], postgres: ['rooms_pkey(id)'] },
  {
    name: 'a thread read marker',
    match: /^select "last_read_seq" from "thread_follows"/,
    sqlite: ['PRIMARY KEY(room_id,root_seq,user_id)'],
    postgres: ['thread_follows_pkey(room_id,root_seq,user_id)|thread_follows_user(room_id,root_seq,user_id)'],
  },
  {
    // The user's followed threads, sorted by activity, each with a walk of at most 2 × (cap + 1) replies.
    name: 'followed threads with bounded unread counts',
    match: /^select "m"\."room_id", .* from "thread_follows" as "f" inner join "members"/,
    sqlite: ['thread_follows_user(user_id)', 'PRIMARY KEY(room_id,user_id)', 'sqlite_autoindex_messages_2(room_id,seq)', 'sqlite_autoindex_users_1(id)', 'messages_thread(room_id,thread_root,seq)', 'sort'],
    // PostgreSQL may join the user's memberships whole (members_user by user): their number, as GET /rooms reads.
    postgres: ['thread_follows_user(user_id)', `${MEMBER_KEY}|members_user(user_id)`, 'messages_pkey(room_id,seq)', 'users_pkey(id)', 'messages_thread(room_id,seq,thread_root)', 'sort'],
  },
  {
    name: 'followers of a thread',
    match: /^select "f"\."user_id" from "thread_follows"/,
    sqlite: ['PRIMARY KEY(room_id,root_seq)', 'PRIMARY KEY(room_id,user_id)'],
    // PostgreSQL may join the room's members whole: at most the room's size, as the follower list is.
    postgres: ['thread_follows_pkey(room_id,root_seq)', `${MEMBER_KEY}|members_pkey(room_id)`, 'sort?'],
  },
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
        await fx.store.findSessionUser('no-such-token');
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

    it('people: user search and member pages read about their page through an index, whatever the number of users and members', async () => {
      const pages: string[][] = [];
      const queries = await fx.recorder.record(async () => {
        // "user1": 1,111 usernames match; a page of 20, then the next from its cursor.
        const first = await fx.store.searchUsers({ username: 'user1', folded: 'user1', after: null, limit: 20 });
        pages.push(first.users.map((u) => u.username));
        assert.ok(first.next !== null);
        const second = await fx.store.searchUsers({ username: 'user1', folded: 'user1', after: first.next, limit: 20 });
        pages.push(second.users.map((u) => u.username));
        // Display names only ("user 12…": no username has a space).
        const names = await fx.store.searchUsers({ username: 'user 12', folded: 'user 12', after: null, limit: 20 });
        pages.push(names.users.map((u) => u.displayName));
        const more = await fx.store.searchUsers({ username: 'user 12', folded: 'user 12', after: names.next, limit: 20 });
        pages.push(more.users.map((u) => u.displayName));
        const members = await fx.store.listMembers(BIG_ROOM, { after: null, limit: 50 });
        const last = members.at(-1)?.member;
        assert.ok(last !== undefined);
        const next = await fx.store.listMembers(BIG_ROOM, { after: { joinedAt: last.joinedAt, userId: last.userId }, limit: 50 });
        pages.push([...members, ...next].map((m) => m.member.userId));
      });
      const sorted = (xs: string[] | undefined) => [...(xs ?? [])].sort();
      assert.equal(pages[0]?.length, 20);
      assert.deepEqual(pages[0], sorted(pages[0]));
      assert.ok((pages[1]?.[0] ?? '') > (pages[0]?.at(-1) ?? ''), 'the second page follows the first');
      assert.equal(pages[2]?.length, 20);
      assert.ok(pages[2]?.every((n) => n.startsWith('User 12')));
      assert.equal(new Set([...(pages[2] ?? []), ...(pages[3] ?? [])]).size, (pages[2]?.length ?? 0) + (pages[3]?.length ?? 0));
      assert.equal(new Set(pages[4]).size, 100);
      await assertPlans(queries, PEOPLE);
      if (fx.rowsExamined !== undefined) {
        for (const query of queries.filter((q) => /^select /.test(q.sql))) {
          const examined = [...(await fx.rowsExamined(query)).values()].reduce((a, b) => a + b, 0);
          assert.ok(examined <= 150, `${examined} rows examined by ${query.sql.slice(0, 120)}`);
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

    it('moderation: an action locks its room and reads and writes its own rows; restrictions and the audit log read through indexes', async () => {
      const queries = await fx.recorder.record(async () => {
        const banned = await fx.store.moderate({ roomId: BIG_ROOM, actorId: 'u1', at: Date.now(), action: { kind: 'member_banned', memberId: 'u9', until: null, reason: 'spam' } });
        assert.equal(banned.status, 'appended');
        assert.equal((await fx.store.moderate({ roomId: 'r2', actorId: 'u2', at: Date.now(), action: { kind: 'room_updated', topic: 'x' } })).status, 'refused');
        assert.ok((await fx.store.listRestrictions('r7', Date.now())).length > 0);
        assert.equal((await fx.store.listAudit(BIG_ROOM, undefined, 51)).length, 51);
        assert.equal((await fx.store.listAudit(BIG_ROOM, 1_000, 51)).length, 51);
      });
      await assertPlans(queries, MODERATION);
      if (fx.rowsExamined !== undefined) {
        for (const query of queries.filter((q) => /^select /.test(q.sql))) {
          const examined = [...(await fx.rowsExamined(query)).values()].reduce((a, b) => a + b, 0);
          assert.ok(examined <= 200, `${examined} rows examined by ${query.sql.slice(0, 120)}`);
        }
      }
    });

    it('threads and reactions: a batch with replies and reactions, thread pages, follows and reactions read through indexes', async () => {
      const at = BIG_ROOM_MESSAGES + 10;
      const queries = await fx.recorder.record(async () => {
        const outcomes = await fx.store.append([
          { kind: 'message', roomId: BIG_ROOM, userId: 'u1', id: 'reply-plan', body: 'a reply', clientMsgId: null, at, threadRoot: THREAD_ROOT },
          { kind: 'reaction_added', roomId: BIG_ROOM, userId: 'u3', target: REACTED, emoji: 'c', maxPerMessage: 20, at },
          { kind: 'reaction_removed', roomId: BIG_ROOM, userId: 'u2', target: REACTED, emoji: 'a', at },
          { kind: 'delete', roomId: BIG_ROOM, userId: 'u3', target: THREAD_ROOT + 1, at },
        ]);
        assert.deepEqual(
          outcomes.map((o) => o.status),
          ['appended', 'appended', 'appended', 'appended'],
        );
        const reactions = await fx.store.reactionsOf(BIG_ROOM, [REACTED, REACTED + 1, REACTED + 2], 'u2');
        assert.deepEqual(reactions[0]?.reactions.map((r) => [r.emoji, r.count, r.me]), [
          ['b', 500, false],
          ['a', 499, false],
          ['c', 1, false],
        ]);
        assert.deepEqual((await fx.store.reactionsOf(BIG_ROOM, [REACTED], 'u4'))[0]?.reactions.map((r) => r.me), [false, true, false]);
        assert.equal((await fx.store.readThread(BIG_ROOM, THREAD_ROOT, 0, 50))?.replies.length, 50);
        await fx.store.readHistory({ roomId: BIG_ROOM, limit: 50, topLevel: true });
        await fx.store.setThreadFollow(BIG_ROOM, THREAD_ROOT, 'u9', false);
        await fx.store.markThreadRead(BIG_ROOM, THREAD_ROOT, 'u9', THREAD_ROOT + 10);
        const followed = await fx.store.listFollowedThreads(BEHIND, null, 50, 999);
        assert.equal(followed.threads[0]?.unread, 999);
        assert.equal((await fx.store.listThreadFollowers(BIG_ROOM, THREAD_ROOT)).length, BIG_ROOM_MEMBERS - 1);
      });
      await assertPlans(queries, THREADS);
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
