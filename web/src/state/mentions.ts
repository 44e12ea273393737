/**
 * Mention autocompletion, as pure functions of the composer's text and caret: the `@partial`
 * being typed, the room's members it may mean (by username or display name, the username
 * always inserted), and the text with the choice put in.
 */
import type { Member } from '../../../client/index.js';

/** Most suggestions shown at once. */
export const MAX_SUGGESTIONS = 6;

/** The `@partial` just before the caret (after a space or at the start), or null. */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | null {
  const match = /(^|[\s(])@([A-Za-z0-9_.-]{0,32})$/.exec(text.slice(0, caret));
  if (match === null) return null;
  const query = match[2] ?? '';
  return { start: caret - query.length - 1, query };
}

/**
 * The members a query may mean, people first matched by username, others by display name; never
 * me. None when the query is already the one match's whole username: Enter then sends.
 */
export function mentionCandidates(members: readonly Member[], query: string, meId: string): Member[] {
  const q = query.toLowerCase();
  const byUsername = members.filter((m) => m.user.id !== meId && m.user.username.toLowerCase().startsWith(q));
  const byName = members.filter((m) => m.user.id !== meId && !byUsername.includes(m) && m.user.displayName.toLowerCase().startsWith(q));
  const found = [...byUsername, ...byName].slice(0, MAX_SUGGESTIONS);
  return found.length === 1 && found[0]?.user.username.toLowerCase() === q ? [] : found;
}

/** The text with `@username ` in place of the partial from `start` to the caret, and where the caret goes. */
export function insertMention(text: string, start: number, caret: number, username: string): { text: string; caret: number } {
  const inserted = `@${username} `;
  return { text: `${text.slice(0, start)}${inserted}${text.slice(caret)}`, caret: start + inserted.length };
}
