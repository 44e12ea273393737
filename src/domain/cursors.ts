/**
 * Page cursors as clients see them: opaque strings (base64url of a small JSON array) that the
 * server alone reads. A cursor that does not decode is the client's mistake: `validation_failed`.
 */
import { validationFailed } from '../errors.js';
import { textProblem } from '../protocol/text.js';
import type { MemberCursor, UserSearchCursor } from './types.js';

const encode = (parts: ReadonlyArray<string | number>): string => Buffer.from(JSON.stringify(parts)).toString('base64url');

const badCursor = (what: string) => validationFailed(`Invalid query: ${what}: not a cursor this server gave.`, { issues: [{ path: what, message: 'not a cursor this server gave' }] });

function decode(cursor: string, what: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor(what);
  }
  if (!Array.isArray(value)) throw badCursor(what);
  return value;
}

// A cursor's strings go to the store as parameters: held to the rules of names (no NUL, which
// PostgreSQL text cannot hold, no control character, valid Unicode).
const isText = (v: unknown): v is string => typeof v === 'string' && v.length <= 256 && textProblem(v, 'name') === null;

export function encodeMemberCursor(c: MemberCursor): string {
  return encode([c.joinedAt, c.userId]);
}

/** `field`: the query parameter it came in, named by the error. */
export function decodeMemberCursor(cursor: string, field = 'after'): MemberCursor {
  const [joinedAt, userId, ...rest] = decode(cursor, field);
  if (typeof joinedAt !== 'number' || !Number.isSafeInteger(joinedAt) || !isText(userId) || rest.length > 0) throw badCursor(field);
  return { joinedAt, userId };
}

export function encodeUserCursor(c: UserSearchCursor): string {
  return encode(c.phase === 'username' ? ['u', c.username] : ['d', c.folded, c.id]);
}

export function decodeUserCursor(cursor: string, field = 'after'): UserSearchCursor {
  const parts = decode(cursor, field);
  const [phase, a, b] = parts;
  if (phase === 'u' && parts.length === 2 && isText(a)) return { phase: 'username', username: a };
  if (phase === 'd' && parts.length === 3 && isText(a) && isText(b)) return { phase: 'displayName', folded: a, id: b };
  throw badCursor(field);
}
