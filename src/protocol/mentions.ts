/**
 * Mentions in a message body, found exactly where the Markdown renderer (markdown.ts) shows
 * them: the renderer is run with a mention callback that records each name, so a mention inside
 * a code span or block, an e-mail address or an escaped `\@` is no mention here either, and the
 * two can never disagree. `@room` is the whole room; a user named "room" cannot be mentioned
 * alone. Imports nothing but markdown.ts, so the web app can use it too (autocomplete, highlights).
 */
import { renderMarkdown } from './markdown.js';

/** The name that mentions every member of the room. */
export const ROOM_MENTION = 'room';
/** Distinct usernames taken from one body; more are ignored (a message is no mailing list). */
export const MAX_MENTIONS = 50;

export interface Mentions {
  /** Lower-cased, distinct, in order of first appearance, at most MAX_MENTIONS; never `room`. */
  usernames: string[];
  /** The body mentions `@room`. */
  room: boolean;
}

export function parseMentions(body: string): Mentions {
  const usernames: string[] = [];
  let room = false;
  renderMarkdown(body, {
    mention: (name) => {
      const lower = name.toLowerCase();
      if (lower === ROOM_MENTION) room = true;
      else if (usernames.length < MAX_MENTIONS && !usernames.includes(lower)) usernames.push(lower);
      return null;
    },
  });
  return { usernames, room };
}
