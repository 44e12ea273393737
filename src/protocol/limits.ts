/** Input limits of the wire contract that are not configurable (PROTOCOL.md). */
// Both cases spelled out rather than an `i` flag, which JSON Schema (the API reference) cannot carry.
export const USERNAME_PATTERN = /^[A-Za-z0-9_.-]{3,32}$/;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;
export const DISPLAY_NAME_MAX = 64;
export const ROOM_NAME_MAX = 80;
export const TOPIC_MAX = 500;
/** A status line, code points. */
export const STATUS_TEXT_MAX = 100;
export const USER_SEARCH_LIMIT_MAX = 100;
export const USER_SEARCH_LIMIT_DEFAULT = 20;
/** A user search query, characters: as long as a display name. */
export const USER_SEARCH_QUERY_MAX = 64;
export const MEMBERS_PAGE_MAX = 1000;
export const MEMBERS_PAGE_DEFAULT = 500;
/** A page cursor the server gave, characters. */
export const CURSOR_MAX = 1024;
export const CLIENT_MSG_ID_MAX = 64;
export const HISTORY_LIMIT_MAX = 100;
export const HISTORY_LIMIT_DEFAULT = 50;
export const SEARCH_QUERY_MAX = 200;
export const SEARCH_LIMIT_MAX = 100;
export const SEARCH_LIMIT_DEFAULT = 20;
/** Seq values fit in a JavaScript number exactly. */
export const SEQ_MAX = Number.MAX_SAFE_INTEGER;
